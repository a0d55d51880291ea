"""Request signatures for a telephony provider's RPC API (Alibaba Cloud signature method 1.0).

Alibaba Cloud signs an RPC request as ``Base64(HMAC-SHA1(secret + "&", string_to_sign))``,
where the string to sign is built from the canonicalized query (``veil.numbers``
builds it; building it involves no key). The keyed hash lives here, with Veil's
other keyed hashes. SHA-1 is the provider's choice, not ours: its collision
weakness does not reach HMAC, and the signature only authenticates requests
to the provider.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from veil.crypto._signing import SignatureInvalid

__all__ = ["rpc_signature_v1", "verify_rpc_signature_v1"]


def rpc_signature_v1(access_key_secret: str, string_to_sign: str) -> str:
    """Return the ``Signature`` parameter of an RPC request (HMAC-SHA1, signature version 1.0)."""
    key = (access_key_secret + "&").encode("utf-8")
    mac = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def verify_rpc_signature_v1(access_key_secret: str, string_to_sign: str, signature: str) -> None:
    """Check a request's ``Signature`` (what the provider does), or raise `SignatureInvalid`."""
    expected = rpc_signature_v1(access_key_secret, string_to_sign)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise SignatureInvalid("the request signature does not match")
