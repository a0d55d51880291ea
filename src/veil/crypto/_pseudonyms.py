"""Keyed pseudonyms for analysts: the same customer, a different name for each analyst.

A root secret (wrapped by a KEK, like a data key) derives one HMAC key per
analyst with HKDF-SHA256; a pseudonym is HMAC-SHA256(analyst key, kind ‖ id),
truncated to 128 bits. Within one analyst's exports a customer keeps one
pseudonym, so counts and cohorts work; two analysts' tables cannot be joined
on it, and nobody without the root secret can map a pseudonym back or test a
guess.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["PSEUDONYM_KEY_CONTEXT", "PseudonymKey", "Pseudonymizer"]

# The wrap context of the root secret, so a wrapped data key cannot be passed off as it.
PSEUDONYM_KEY_CONTEXT = b"veil-pseudonym-root"
_ROOT_BYTES = 32
# Version marker in the derivation label: a new scheme gets new pseudonyms.
_INFO = b"veil/pseudonym/v1/"
_PURPOSE_SALT = b"veil/pseudonym/v1/purpose"


class PseudonymKey:
    """One analyst's pseudonym key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def pseudonym(self, kind: str, value: str) -> str:
        """Return the pseudonym of `value` (an id of `kind`): ``psn_`` + 26 base32 characters."""
        message = kind.encode("ascii") + b"\x00" + value.encode("utf-8")
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:16]
        return "psn_" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()


class Pseudonymizer:
    """Derives per-principal `PseudonymKey`s from a root secret."""

    __slots__ = ("_root",)

    def __init__(self, root: bytes) -> None:
        if len(root) != _ROOT_BYTES:
            raise ValueError("a pseudonym root secret is 32 bytes")
        self._root = root

    @staticmethod
    def new_root() -> bytes:
        """Return a fresh root secret (to be wrapped by a KEK before it is stored)."""
        return secrets.token_bytes(_ROOT_BYTES)

    def for_principal(self, principal_id: str) -> PseudonymKey:
        """Return the pseudonym key of one principal (one analyst)."""
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=_INFO + principal_id.encode("ascii"),
        ).derive(self._root)
        return PseudonymKey(derived)

    def for_purpose(self, purpose: str) -> PseudonymKey:
        """Return the one key of a purpose every caller shares (e.g. access-log labels).

        Derived with its own HKDF salt, so no principal's key can equal it,
        whatever string `for_principal` is given.
        """
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=_PURPOSE_SALT,
            info=_INFO + purpose.encode("ascii"),
        ).derive(self._root)
        return PseudonymKey(derived)
