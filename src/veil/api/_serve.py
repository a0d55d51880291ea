"""The ASGI factory `veil serve` hands to uvicorn (one vault per worker process)."""

from __future__ import annotations

from fastapi import FastAPI

from veil.api._app import create_app
from veil.api._audit_routes import run_integrator
from veil.config import Settings
from veil.store import BackgroundCheckpointer
from veil.vault import BindingSweeper, PolicyWatcher, integrator_from_settings, open_vault

__all__ = ["app_from_settings"]


def app_from_settings() -> FastAPI:
    """Open the configured vault and build its app."""
    settings = Settings()
    vault = open_vault(settings)
    if settings.policy_watch_seconds > 0:
        # Each worker watches for itself, so a policy change reaches every one.
        PolicyWatcher(vault, interval=settings.policy_watch_seconds).start()
    if settings.sqlite_checkpoint_seconds > 0 and vault.engine.dialect.name == "sqlite":
        # A checkpoint inside a request's commit stalls it for 100+ ms; do it aside.
        BackgroundCheckpointer(vault.engine, interval=settings.sqlite_checkpoint_seconds).start()
    if settings.numbers_sweep_seconds > 0:
        # Expiry needs no sweep; the sweep returns numbers to the pool and unbinds them
        # at the provider. Workers sweeping at once is harmless (row-guarded updates).
        BindingSweeper(vault, interval=settings.numbers_sweep_seconds).start()
    if vault.watch is not None:
        # Each worker: its Redis worker and revocation listener, the webhook
        # sender and the peer-baseline sweep (alerts are deduplicated in the DB).
        vault.watch.start()
    app = create_app(vault, max_body_bytes=settings.max_body_bytes)
    if settings.audit_integrator and settings.audit_integrator_mode == "thread":
        # Every worker starts one; the log's lock lets one integrate, the others wait.
        # (In "process" mode `veil serve` runs the integrator as its own process.)
        run_integrator(app, integrator_from_settings(settings, vault.engine))
    return app
