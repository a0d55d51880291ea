"""Field encryption with per-subject data keys (DEKs), bound to where the field lives.

Blob format, version 1::

    0x01 | key id (16 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext + tag

The associated data is the header plus ``subject | record | field``, so a
ciphertext copied into another row, another subject or another column does not
open: the tag fails and the caller sees `DecryptionFailed`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.errors import DecryptionFailed

__all__ = ["DataKey", "FieldRef", "blob_key_id", "open_field", "seal_field"]

_FORMAT_V1 = 0x01
_KEY_ID_BYTES = 16
_NONCE_BYTES = 12
_HEADER_BYTES = 1 + _KEY_ID_BYTES
_MIN_BLOB = _HEADER_BYTES + _NONCE_BYTES + 16


@dataclass(frozen=True, slots=True)
class DataKey:
    """A subject's data key: its public id (carried in every blob) and its secret."""

    key_id: bytes
    secret: bytes
    # The AES-GCM context, built once per key: a view opens several fields.
    _cipher: AESGCM | None = field(default=None, repr=False, compare=False)

    @property
    def cipher(self) -> AESGCM:
        """Return the AES-256-GCM context of this key."""
        if self._cipher is None:
            object.__setattr__(self, "_cipher", AESGCM(self.secret))
        return self._cipher  # type: ignore[return-value]

    @classmethod
    def generate(cls) -> DataKey:
        """Return a fresh random 256-bit data key with a random 128-bit id."""
        return cls(secrets.token_bytes(_KEY_ID_BYTES), secrets.token_bytes(32))

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id.hex()}, secret=<redacted>)"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """Where a ciphertext lives: the subject it belongs to, the record and the field."""

    subject: str
    record: str
    field: str

    def aad(self) -> bytes:
        """Return the associated-data bytes binding a ciphertext to this place."""
        return f"{self.subject}\x00{self.record}\x00{self.field}".encode()


def seal_field(key: DataKey, plaintext: bytes, where: FieldRef) -> bytes:
    """Encrypt `plaintext` for the field `where` under the subject's data key."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    header = bytes([_FORMAT_V1]) + key.key_id
    sealed = key.cipher.encrypt(nonce, plaintext, header + where.aad())
    return header + nonce + sealed


def open_field(key: DataKey, blob: bytes, where: FieldRef) -> bytes:
    """Decrypt a blob `seal_field` made for the same field, or raise `DecryptionFailed`."""
    if len(blob) < _MIN_BLOB or blob[0] != _FORMAT_V1:
        raise DecryptionFailed("ciphertext is malformed")
    header = blob[:_HEADER_BYTES]
    if header[1:] != key.key_id:
        raise DecryptionFailed("ciphertext was sealed under another key")
    nonce = blob[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
    try:
        return key.cipher.decrypt(nonce, blob[_HEADER_BYTES + _NONCE_BYTES :], header + where.aad())
    except InvalidTag:
        raise DecryptionFailed("ciphertext does not open for this field") from None


def blob_key_id(blob: bytes) -> bytes:
    """Return the key id a blob names, without decrypting it."""
    if len(blob) < _MIN_BLOB or blob[0] != _FORMAT_V1:
        raise DecryptionFailed("ciphertext is malformed")
    return blob[1:_HEADER_BYTES]
