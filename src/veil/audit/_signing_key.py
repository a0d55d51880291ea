"""The log's checkpoint-signing key on disk, and its public key next to it.

``veil init`` creates ``VEIL_AUDIT_SIGNING_KEY`` (mode 0600, never overwritten)
and writes the public verifier key beside it with the suffix ``.pub``: the one
file an auditor needs, with an export, to run `veil audit verify`. The key is
named after the log's origin, as C2SP witnesses expect.
"""

from __future__ import annotations

from pathlib import Path

from veil.crypto import NoteSigner, NoteVerifier
from veil.errors import ConfigurationError

__all__ = ["ensure_signing_key", "load_signing_key", "public_key_path"]


def public_key_path(signing_key: Path) -> Path:
    """Return where the public key of `signing_key` is kept (same name, ``.pub``)."""
    return signing_key.with_suffix(".pub")


def ensure_signing_key(path: Path, origin: str) -> bool:
    """Create the signing key at `path` unless it exists; (re)write its public key.

    Returns:
        True if a key was created.

    Raises:
        ConfigurationError: An existing key file is unreadable, too open, or not a key.
    """
    created = not path.exists()
    signer = NoteSigner.create(path, origin) if created else NoteSigner.load(path)
    public = public_key_path(path)
    try:
        current = NoteVerifier.load(public) if public.exists() else None
    except ConfigurationError:
        current = None
    if current != signer.verifier:
        signer.verifier.save(public)
    return created


def load_signing_key(path: Path) -> NoteSigner:
    """Load the signing key (see `veil.crypto.NoteSigner.load` for the checks)."""
    return NoteSigner.load(path)
