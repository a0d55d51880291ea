"""Keyed hashing for the watch: signed webhook bodies and keyed references.

A webhook body is signed as HMAC-SHA256(secret, ``"<unix seconds>." + body``)
and sent as ``X-Veil-Signature: t=<unix seconds>,v1=<hex>`` (the Stripe shape,
which SIEM receivers already know). The timestamp inside the MAC lets a
receiver refuse replays older than its tolerance.

A keyed reference names a value that must not be stored (a client IP, say)
without making it recoverable: HMAC-SHA256 under a deployment key, truncated.
"""

from __future__ import annotations

import hashlib
import hmac

from veil.crypto._signing import SignatureInvalid

__all__ = [
    "WEBHOOK_SIGNATURE_HEADER",
    "keyed_reference",
    "sign_webhook",
    "verify_webhook",
]

WEBHOOK_SIGNATURE_HEADER = "X-Veil-Signature"
_SCHEME = "v1"
_REFERENCE_CONTEXT = b"veil-watch-reference\x00"


def sign_webhook(secret: bytes, body: bytes, *, timestamp: int) -> str:
    """Return the ``X-Veil-Signature`` value for `body` sent at `timestamp` (unix seconds)."""
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    return f"t={timestamp},{_SCHEME}={_mac(secret, body, timestamp)}"


def verify_webhook(
    secret: bytes, body: bytes, header: str, *, now: int, tolerance_seconds: int = 300
) -> None:
    """Check a webhook signature header; raise `SignatureInvalid` if it does not hold.

    Malformed, wrongly keyed and stale signatures are one error on purpose.
    """
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureInvalid("webhook signature is malformed") from None
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureInvalid("webhook signature is stale")
    expected = _mac(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, given) for given in parts.get(_SCHEME, [])):
        raise SignatureInvalid("webhook signature does not verify")


def keyed_reference(key: bytes, value: str, *, length: int = 16) -> str:
    """Return a stable, non-reversible hex reference to `value` under `key`."""
    if not key:
        raise ValueError("a reference key must not be empty")
    mac = hmac.new(key, _REFERENCE_CONTEXT + value.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:length]


def _mac(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
