"""Blind index: find a customer by phone without storing the phone in clear.

The index value is HMAC-SHA256(index key v, E.164 phone). Index keys are
versioned; lookups compute one digest per live version, so an index-key rotation
never makes a customer unfindable.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import phonenumbers

from veil.errors import InvalidInput

__all__ = ["BlindIndex", "normalize_phone"]


def normalize_phone(raw: str, default_region: str = "CN") -> str:
    """Return `raw` in E.164 form (``+8613812345678``) or raise `InvalidInput`.

    The error message never repeats the number: it may be real.
    """
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("phone number could not be parsed") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInput("phone number is not a possible number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


class BlindIndex:
    """Keyed digests of normalized phone numbers, one key per version."""

    def __init__(self, keys: Mapping[int, bytes]) -> None:
        if not keys:
            raise ValueError("a blind index needs at least one key version")
        self._keys = dict(keys)

    @property
    def current_version(self) -> int:
        """Return the version new digests are written with."""
        return max(self._keys)

    def digest(self, e164: str, version: int | None = None) -> tuple[int, bytes]:
        """Return ``(version, digest)`` of an E.164 phone under one key version."""
        used = self.current_version if version is None else version
        mac = hmac.new(self._keys[used], e164.encode("ascii"), hashlib.sha256).digest()
        return used, mac

    def lookup_digests(self, e164: str) -> list[tuple[int, bytes]]:
        """Return the digest under every live version, for a lookup during rotation."""
        return [self.digest(e164, version) for version in sorted(self._keys)]
