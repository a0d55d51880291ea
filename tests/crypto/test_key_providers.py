"""The `KeyProvider` conformance suite: every implementation runs the same tests.

A new provider joins by adding one branch to the `key_provider` fixture.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from veil.crypto import KeyProvider, LocalKeyFile
from veil.errors import DecryptionFailed, VeilError
from veil.testing import InMemoryKeyProvider

CONTEXT = b"veil-dek\x00sub_conformance"
# A data key as the keyring hands it over: a 16-byte id and a 32-byte secret.
DEK = bytes(range(48))


@pytest.fixture(
    params=["local-file", "in-memory", pytest.param("pkcs11", marks=pytest.mark.softhsm)]
)
def key_provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyProvider]:
    if request.param == "local-file":
        yield LocalKeyFile.create(tmp_path / "veil.key")
    elif request.param == "in-memory":
        yield InMemoryKeyProvider()
    else:
        yield request.getfixturevalue("pkcs11_provider")


def test_satisfies_the_protocol(key_provider: KeyProvider) -> None:
    assert isinstance(key_provider, KeyProvider)
    assert key_provider.name


def test_starts_with_one_version(key_provider: KeyProvider) -> None:
    assert list(key_provider.versions()) == [1]
    assert key_provider.current_version() == 1


def test_wrap_unwrap_round_trip(key_provider: KeyProvider) -> None:
    version = key_provider.current_version()
    wrapped = key_provider.wrap(version, DEK, CONTEXT)

    assert key_provider.unwrap(version, wrapped, CONTEXT) == DEK


def test_wrapped_key_is_versioned_random_and_opaque(key_provider: KeyProvider) -> None:
    version = key_provider.current_version()
    first = key_provider.wrap(version, DEK, CONTEXT)
    second = key_provider.wrap(version, DEK, CONTEXT)

    assert first[0] == second[0] == 0x01
    assert len(first) == 1 + 12 + len(DEK) + 16
    assert first != second
    assert DEK[:16] not in first


def test_another_context_fails(key_provider: KeyProvider) -> None:
    version = key_provider.current_version()
    wrapped = key_provider.wrap(version, DEK, CONTEXT)

    with pytest.raises(DecryptionFailed):
        key_provider.unwrap(version, wrapped, b"veil-dek\x00sub_someone_else")


def test_every_flipped_byte_fails(key_provider: KeyProvider) -> None:
    version = key_provider.current_version()
    wrapped = key_provider.wrap(version, DEK, CONTEXT)

    for position in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            key_provider.unwrap(version, bytes(tampered), CONTEXT)


@pytest.mark.parametrize("keep", [0, 1, 13, 28, -1])
def test_truncated_or_extended_wrapped_key_fails(key_provider: KeyProvider, keep: int) -> None:
    version = key_provider.current_version()
    wrapped = key_provider.wrap(version, DEK, CONTEXT)

    with pytest.raises(DecryptionFailed):
        key_provider.unwrap(version, wrapped[:keep], CONTEXT)
    with pytest.raises(DecryptionFailed):
        key_provider.unwrap(version, wrapped + b"\x00", CONTEXT)


def test_add_version_moves_current_and_keeps_old_versions(key_provider: KeyProvider) -> None:
    old = key_provider.current_version()
    wrapped_old = key_provider.wrap(old, DEK, CONTEXT)

    new = key_provider.add_version()

    assert new == old + 1
    assert key_provider.current_version() == new
    assert list(key_provider.versions()) == [old, new]
    assert key_provider.unwrap(old, wrapped_old, CONTEXT) == DEK
    wrapped_new = key_provider.wrap(new, DEK, CONTEXT)
    assert key_provider.unwrap(new, wrapped_new, CONTEXT) == DEK
    # Each version is its own key: a wrap under one does not open under the other.
    with pytest.raises(DecryptionFailed):
        key_provider.unwrap(old, wrapped_new, CONTEXT)
    with pytest.raises(DecryptionFailed):
        key_provider.unwrap(new, wrapped_old, CONTEXT)


def test_unknown_version_fails(key_provider: KeyProvider) -> None:
    wrapped = key_provider.wrap(key_provider.current_version(), DEK, CONTEXT)

    with pytest.raises(DecryptionFailed):
        key_provider.unwrap(99, wrapped, CONTEXT)
    with pytest.raises(VeilError):
        key_provider.wrap(99, DEK, CONTEXT)


def test_wraps_keys_of_other_lengths(key_provider: KeyProvider) -> None:
    # Blind-index keys and check values are 32 bytes, not 48.
    version = key_provider.current_version()
    secret = secrets.token_bytes(32)

    assert key_provider.unwrap(version, key_provider.wrap(version, secret, b"x"), b"x") == secret
