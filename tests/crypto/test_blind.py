"""Blind index: one phone, one digest per key version, and no phone digits in errors."""

from __future__ import annotations

import pytest

from veil.crypto import BlindIndex, normalize_phone
from veil.errors import InvalidInput

SAME_PHONE = ["+86 138 1234 5678", "13812345678", "0086-138-1234-5678"]
KEY_1 = bytes(32)
KEY_2 = bytes(range(32))


@pytest.mark.parametrize("raw", SAME_PHONE)
def test_spellings_of_one_phone_normalize_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+8613812345678"


def test_spellings_of_one_phone_share_a_digest() -> None:
    index = BlindIndex({1: KEY_1})

    digests = {index.digest(normalize_phone(raw)) for raw in SAME_PHONE}

    assert len(digests) == 1


def test_known_answer() -> None:
    # HMAC-SHA256 computed with `openssl dgst -sha256 -mac HMAC`: digests are
    # stored, so changing how they are made would make every customer unfindable.
    assert BlindIndex({1: KEY_1}).digest("+8613812345678") == (
        1,
        bytes.fromhex("33357091159f1d21633a9fccab38decf6ea38837ed52b0c04584fd31ab097914"),
    )
    assert BlindIndex({1: KEY_2}).digest("+8613812345678") == (
        1,
        bytes.fromhex("74f72ba305b51050f0d5a5ec21ff7fbb345ccc5da83e92b117dc5e42f9fc233e"),
    )


def test_different_keys_and_versions_give_different_digests() -> None:
    index = BlindIndex({1: KEY_1, 2: KEY_2})
    other = BlindIndex({1: KEY_2})

    _, under_1 = index.digest("+8613812345678", version=1)
    _, under_2 = index.digest("+8613812345678", version=2)
    _, elsewhere = other.digest("+8613812345678", version=1)

    assert under_1 != under_2
    assert under_1 != elsewhere
    assert index.digest("+8613812345679", version=1)[1] != under_1


def test_new_digests_use_the_highest_version() -> None:
    index = BlindIndex({2: KEY_2, 1: KEY_1})

    assert index.current_version == 2
    assert index.digest("+8613812345678") == index.digest("+8613812345678", version=2)


def test_lookup_digests_cover_every_version() -> None:
    index = BlindIndex({2: KEY_2, 1: KEY_1, 3: bytes([7]) * 32})

    lookups = index.lookup_digests("+8613812345678")

    assert [version for version, _ in lookups] == [1, 2, 3]
    assert lookups == [index.digest("+8613812345678", version=v) for v in (1, 2, 3)]
    assert len({digest for _, digest in lookups}) == 3


def test_an_index_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        BlindIndex({})


@pytest.mark.parametrize(
    "raw", ["", "not a phone", "12", "+86 1", "1381234567890123456", "+999 12345"]
)
def test_garbage_phones_are_invalid_and_not_echoed(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_phone(raw)

    # No digit at all, so no part of the number can leak into a log line.
    assert not any(ch.isdigit() for ch in repr(caught.value))
    # The parser's own exception, which may quote the input, is not chained.
    assert caught.value.__cause__ is None
