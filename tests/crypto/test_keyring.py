"""The keyring and its data-key cache: fewer KEK calls, same keys, bounded memory."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

import pytest

from veil.crypto import DataKey, DataKeyCache, KeyProvider, Keyring, WrappedKey
from veil.errors import DecryptionFailed
from veil.testing import InMemoryKeyProvider


class CountingProvider:
    """A real in-memory provider that counts the KEK operations asked of it."""

    def __init__(self) -> None:
        self.inner = InMemoryKeyProvider()
        self.calls: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return "counting"

    def versions(self) -> Sequence[int]:
        return self.inner.versions()

    def current_version(self) -> int:
        return self.inner.current_version()

    def add_version(self) -> int:
        return self.inner.add_version()

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        self.calls["wrap"] += 1
        return self.inner.wrap(version, key, context)

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        self.calls["unwrap"] += 1
        return self.inner.unwrap(version, wrapped, context)


def _keyring(provider: KeyProvider, **cache: float) -> Keyring:
    return Keyring(
        provider,
        DataKeyCache(
            max_entries=int(cache.get("max_entries", 100)),
            ttl_seconds=cache.get("ttl_seconds", 60.0),
        ),
    )


def test_counting_provider_is_a_key_provider() -> None:
    assert isinstance(CountingProvider(), KeyProvider)


def test_wrap_then_unwrap_returns_the_key() -> None:
    keyring = _keyring(InMemoryKeyProvider())
    key = DataKey.generate()

    stored = keyring.wrap("sub_1", key)

    assert stored.kek_version == 1
    assert _keyring(keyring.provider).unwrap("sub_1", stored) == key


def test_cache_hit_skips_the_provider() -> None:
    provider = CountingProvider()
    keyring = _keyring(provider)
    key = DataKey.generate()
    stored = keyring.wrap("sub_1", key)

    first = keyring.unwrap("sub_1", stored)
    second = keyring.unwrap("sub_1", stored)

    assert first == second == key
    assert provider.calls["unwrap"] == 1


def test_evicted_subject_is_unwrapped_again() -> None:
    provider = CountingProvider()
    keyring = _keyring(provider)
    stored = keyring.wrap("sub_1", DataKey.generate())
    keyring.unwrap("sub_1", stored)

    keyring.cache.evict("sub_1")
    keyring.unwrap("sub_1", stored)

    assert provider.calls["unwrap"] == 2


def test_wrapped_key_is_bound_to_its_subject() -> None:
    keyring = _keyring(InMemoryKeyProvider())
    stored = keyring.wrap("sub_1", DataKey.generate())

    with pytest.raises(DecryptionFailed):
        keyring.unwrap("sub_2", stored)
    with pytest.raises(DecryptionFailed):
        keyring.rewrap("sub_2", stored)


def test_rewrap_moves_to_the_new_kek_and_keeps_the_key() -> None:
    provider = InMemoryKeyProvider()
    keyring = _keyring(provider)
    key = DataKey.generate()
    old = keyring.wrap("sub_1", key)
    provider.add_version()

    fresh = keyring.rewrap("sub_1", old)

    assert fresh.kek_version == 2
    assert fresh.wrapped != old.wrapped
    # A cold keyring proves the new wrapping alone yields the key.
    assert _keyring(provider).unwrap("sub_1", fresh) == key
    assert _keyring(provider).unwrap("sub_1", old) == key


def test_rewrap_under_a_kek_version_that_is_gone_fails() -> None:
    keyring = _keyring(InMemoryKeyProvider())
    stored = keyring.wrap("sub_1", DataKey.generate())

    with pytest.raises(DecryptionFailed):
        keyring.rewrap("sub_1", WrappedKey(7, stored.wrapped))


def test_cache_forgets_keys_after_the_ttl() -> None:
    cache = DataKeyCache(max_entries=10, ttl_seconds=0.05)
    key = DataKey.generate()
    cache.put("sub_1", key)
    assert cache.get("sub_1") == key

    time.sleep(0.1)

    assert cache.get("sub_1") is None
    assert len(cache) == 0


def test_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = DataKeyCache(max_entries=2, ttl_seconds=60)
    keys = {name: DataKey.generate() for name in ("sub_a", "sub_b", "sub_c")}
    cache.put("sub_a", keys["sub_a"])
    cache.put("sub_b", keys["sub_b"])
    cache.get("sub_a")

    cache.put("sub_c", keys["sub_c"])

    assert len(cache) == 2
    assert cache.get("sub_b") is None
    assert cache.get("sub_a") == keys["sub_a"]
    assert cache.get("sub_c") == keys["sub_c"]


def test_cache_clear_forgets_everything() -> None:
    cache = DataKeyCache(max_entries=10, ttl_seconds=60)
    cache.put("sub_a", DataKey.generate())
    cache.put("sub_b", DataKey.generate())

    cache.clear()

    assert len(cache) == 0
    assert cache.get("sub_a") is None
