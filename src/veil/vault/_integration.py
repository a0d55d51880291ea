"""The audit integrator, configured from settings (``veil serve`` and ``veil audit integrate``)."""

from __future__ import annotations

from sqlalchemy import Engine

from veil.audit import Integrator, load_signing_key
from veil.clock import Clock
from veil.config import Settings
from veil.errors import ConfigurationError

__all__ = ["integrator_from_settings"]


def integrator_from_settings(
    settings: Settings, engine: Engine, *, clock: Clock | None = None
) -> Integrator:
    """Return the integrator of the configured log, signing with its key on disk.

    Raises:
        ConfigurationError: The signing key does not exist (run `veil init`) or is unusable.
    """
    path = settings.audit_signing_key
    if not path.exists():
        raise ConfigurationError(
            f"audit signing key {path} does not exist; run `veil init` or set"
            " VEIL_AUDIT_SIGNING_KEY"
        )
    return Integrator(
        engine,
        signer=load_signing_key(path),
        origin=settings.audit_origin,
        witness_dir=settings.audit_witness_dir,
        clock=clock,
    )
