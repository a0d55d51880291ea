"""The keyring: wraps and unwraps subjects' data keys through a `KeyProvider`, with a cache."""

from __future__ import annotations

from veil.crypto._cache import DataKeyCache
from veil.crypto._envelope import DataKey
from veil.crypto._keys import KeyProvider
from veil.errors import DecryptionFailed

__all__ = ["Keyring", "WrappedKey"]

_ID_AND_SECRET = 16 + 32


class WrappedKey:
    """A data key as stored: the KEK version that wrapped it and the wrapped bytes."""

    __slots__ = ("kek_version", "wrapped")

    def __init__(self, kek_version: int, wrapped: bytes) -> None:
        self.kek_version = kek_version
        self.wrapped = wrapped


class Keyring:
    """Turns stored `WrappedKey`s into `DataKey`s and back, caching the results."""

    def __init__(self, provider: KeyProvider, cache: DataKeyCache) -> None:
        self.provider = provider
        self.cache = cache

    def wrap(self, subject_id: str, key: DataKey) -> WrappedKey:
        """Wrap `key` for `subject_id` under the provider's current KEK version."""
        version = self.provider.current_version()
        wrapped = self.provider.wrap(version, key.key_id + key.secret, _context(subject_id))
        return WrappedKey(version, wrapped)

    def unwrap(self, subject_id: str, stored: WrappedKey) -> DataKey:
        """Return the data key of `subject_id`, from the cache or by unwrapping `stored`."""
        cached = self.cache.get(subject_id)
        if cached is not None:
            return cached
        raw = self.provider.unwrap(stored.kek_version, stored.wrapped, _context(subject_id))
        if len(raw) != _ID_AND_SECRET:
            raise DecryptionFailed("unwrapped key has the wrong length")
        key = DataKey(raw[:16], raw[16:])
        self.cache.put(subject_id, key)
        return key

    def rewrap(self, subject_id: str, stored: WrappedKey) -> WrappedKey:
        """Re-wrap a stored data key under the current KEK without touching field data."""
        raw = self.provider.unwrap(stored.kek_version, stored.wrapped, _context(subject_id))
        version = self.provider.current_version()
        return WrappedKey(version, self.provider.wrap(version, raw, _context(subject_id)))


def _context(subject_id: str) -> bytes:
    return b"veil-dek\x00" + subject_id.encode("ascii")
