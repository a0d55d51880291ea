"""Key-encryption keys (KEKs): the `KeyProvider` protocol and the local key file.

A KEK never leaves its provider in a form Veil stores: Veil asks the provider to
wrap and unwrap per-subject data keys (DEKs), and keeps only the wrapped DEKs in
the database. A stolen database without the provider decrypts nothing.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.errors import ConfigurationError, DecryptionFailed

__all__ = [
    "InsecureKeyStorageWarning",
    "KeyProvider",
    "LocalKeyFile",
    "aesgcm_unwrap",
    "aesgcm_wrap",
]

_WRAP_FORMAT = 0x01
_NONCE_BYTES = 12
_KEYFILE_FORMAT = "veil-keyfile/1"


class InsecureKeyStorageWarning(UserWarning):
    """The KEK sits in a file next to the data: fine for a pilot, not for production."""


@runtime_checkable
class KeyProvider(Protocol):
    """Holds versioned KEKs and wraps / unwraps data keys with them.

    Implementations: `LocalKeyFile` (embedded default), `Pkcs11KeyProvider`
    (an HSM or SoftHSM2), and `veil.testing.InMemoryKeyProvider` for tests.
    """

    @property
    def name(self) -> str:
        """A short label for logs and `veil keys status` (e.g. ``local-file``)."""
        ...

    def versions(self) -> Sequence[int]:
        """Return every KEK version this provider holds, ascending."""
        ...

    def current_version(self) -> int:
        """Return the version new wraps use (the highest)."""
        ...

    def add_version(self) -> int:
        """Create a new KEK version and return its number; older versions stay usable."""
        ...

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        """Encrypt `key` under KEK `version`, bound to `context` (e.g. the subject id)."""
        ...

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Reverse `wrap`; raise `DecryptionFailed` on any mismatch."""
        ...


def aesgcm_wrap(kek: bytes, key: bytes, context: bytes) -> bytes:
    """Wrap `key` with AES-256-GCM under `kek`; the format byte and nonce lead the blob."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    header = bytes([_WRAP_FORMAT])
    return header + nonce + AESGCM(kek).encrypt(nonce, key, header + context)


def aesgcm_unwrap(kek: bytes, wrapped: bytes, context: bytes) -> bytes:
    """Reverse `aesgcm_wrap`, collapsing every failure into `DecryptionFailed`."""
    if len(wrapped) < 1 + _NONCE_BYTES + 16 or wrapped[0] != _WRAP_FORMAT:
        raise DecryptionFailed("wrapped key is malformed")
    nonce = wrapped[1 : 1 + _NONCE_BYTES]
    try:
        return AESGCM(kek).decrypt(nonce, wrapped[1 + _NONCE_BYTES :], wrapped[:1] + context)
    except InvalidTag:
        raise DecryptionFailed("wrapped key does not open under this KEK") from None


class LocalKeyFile:
    """KEKs kept in a local JSON file with mode 0600 (the embedded default).

    The file holds every KEK version, base64-encoded. It is the weakest place a
    KEK can live (anyone who copies the file and the database reads everything),
    so opening one emits `InsecureKeyStorageWarning`; production deployments use
    `Pkcs11KeyProvider`.
    """

    def __init__(self, path: Path, keks: dict[int, bytes]) -> None:
        self._path = path
        self._keks = dict(keks)

    @property
    def name(self) -> str:
        """Return ``local-file``."""
        return "local-file"

    @property
    def path(self) -> Path:
        """Return where the key file lives."""
        return self._path

    @classmethod
    def create(cls, path: Path) -> LocalKeyFile:
        """Create a new key file with one fresh KEK; refuse to overwrite an existing file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        provider = cls(path, {1: secrets.token_bytes(32)})
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigurationError(
                f"key file {path} already exists; refusing to overwrite it"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(provider._serialize())
        return provider

    @classmethod
    def open(cls, path: Path) -> LocalKeyFile:
        """Load an existing key file, checking its presence, mode and format."""
        if not path.exists():
            raise ConfigurationError(
                f"key file {path} does not exist; run `veil init` or set VEIL_KEY_FILE"
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"key file {path} has mode {mode:o}; it must be readable by its owner only"
                f" (chmod 600 {path})"
            )
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != _KEYFILE_FORMAT:
                raise ValueError("unknown format")
            keks = {int(v): base64.b64decode(k, validate=True) for v, k in document["keks"].items()}
            if not keks or any(len(k) != 32 for k in keks.values()):
                raise ValueError("bad key length")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"key file {path} is not a Veil key file ({exc})") from None
        warnings.warn(
            f"KEKs are read from the local file {path}; use PKCS#11 (VEIL_KEY_PROVIDER=pkcs11)"
            " in production",
            InsecureKeyStorageWarning,
            stacklevel=2,
        )
        return cls(path, keks)

    def versions(self) -> Sequence[int]:
        """Return the KEK versions in the file, ascending."""
        return sorted(self._keks)

    def current_version(self) -> int:
        """Return the highest KEK version."""
        return max(self._keks)

    def add_version(self) -> int:
        """Append a fresh KEK version and rewrite the file atomically (mode 0600)."""
        version = self.current_version() + 1
        self._keks[version] = secrets.token_bytes(32)
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self._serialize())
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self._path)
        return version

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        """Wrap `key` under KEK `version` with AES-256-GCM."""
        return aesgcm_wrap(self._kek(version), key, context)

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap a key wrapped by `wrap`."""
        return aesgcm_unwrap(self._kek(version), wrapped, context)

    def _kek(self, version: int) -> bytes:
        try:
            return self._keks[version]
        except KeyError:
            raise DecryptionFailed(f"KEK version {version} is not in {self._path}") from None

    def _serialize(self) -> str:
        keks = {str(v): base64.b64encode(k).decode("ascii") for v, k in sorted(self._keks.items())}
        return json.dumps({"format": _KEYFILE_FORMAT, "keks": keks}, indent=2) + "\n"
