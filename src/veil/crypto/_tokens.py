"""API keys: 256 random bits shown once; only a SHA-256 digest is stored.

A key this long cannot be guessed, so a fast unsalted digest is enough to make
a stolen ``api_keys`` table useless (no password-hashing cost on every request).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

__all__ = ["api_key_digest", "new_api_key"]

_PREFIX = "veil_"


def new_api_key() -> str:
    """Return a fresh API key (``veil_`` + 43 base64url characters)."""
    return _PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def api_key_digest(api_key: str) -> bytes:
    """Return the digest under which an API key is stored and looked up."""
    return hashlib.sha256(api_key.encode("utf-8")).digest()
