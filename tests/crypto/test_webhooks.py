"""Webhook signatures and keyed references: known answers, and every way a signature fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto import SignatureInvalid, keyed_reference, sign_webhook, verify_webhook

BODY = b'{"a":1}'
# HMAC-SHA256(key=b"key", b'1700000000.{"a":1}'), computed independently.
KNOWN = "a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"


def test_known_answer() -> None:
    assert sign_webhook(b"key", BODY, timestamp=1_700_000_000) == f"t=1700000000,v1={KNOWN}"


def test_a_good_signature_verifies_within_the_tolerance() -> None:
    header = sign_webhook(b"key", BODY, timestamp=1_700_000_000)
    verify_webhook(b"key", BODY, header, now=1_700_000_300)
    # A receiver rotating secrets accepts a header carrying several v1 values.
    verify_webhook(b"key", BODY, f"t=1700000000,v1={'0' * 64},v1={KNOWN}", now=1_700_000_000)


@pytest.mark.parametrize(
    ("secret", "body", "header", "now"),
    [
        (b"other", BODY, f"t=1700000000,v1={KNOWN}", 1_700_000_000),
        (b"key", b'{"a":2}', f"t=1700000000,v1={KNOWN}", 1_700_000_000),
        (b"key", BODY, f"t=1700000001,v1={KNOWN}", 1_700_000_000),
        (b"key", BODY, f"t=1700000000,v1={KNOWN}", 1_700_000_301),
        (b"key", BODY, f"v1={KNOWN}", 1_700_000_000),
        (b"key", BODY, "t=soon,v1=abc", 1_700_000_000),
        (b"key", BODY, "t=1700000000", 1_700_000_000),
        (b"key", BODY, "", 1_700_000_000),
    ],
)
def test_every_bad_signature_is_one_error(
    secret: bytes, body: bytes, header: str, now: int
) -> None:
    with pytest.raises(SignatureInvalid):
        verify_webhook(secret, body, header, now=now)


@given(st.binary(min_size=1, max_size=64), st.binary(max_size=512), st.integers(0, 2**40))
def test_sign_then_verify_round_trips(secret: bytes, body: bytes, timestamp: int) -> None:
    verify_webhook(secret, body, sign_webhook(secret, body, timestamp=timestamp), now=timestamp)


def test_a_keyed_reference_is_stable_per_key_and_hides_the_value() -> None:
    key = b"k" * 32
    assert keyed_reference(key, "203.0.113.66") == keyed_reference(key, "203.0.113.66")
    assert keyed_reference(key, "203.0.113.66") != keyed_reference(b"j" * 32, "203.0.113.66")
    assert keyed_reference(key, "203.0.113.66") != keyed_reference(key, "203.0.113.67")
    assert "203" not in keyed_reference(key, "203.0.113.66")
    with pytest.raises(ValueError):
        keyed_reference(b"", "x")
    with pytest.raises(ValueError):
        sign_webhook(b"", BODY, timestamp=0)
