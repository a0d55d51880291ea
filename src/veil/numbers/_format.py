"""How virtual numbers and times look to people and to JSON."""

from __future__ import annotations

import datetime as dt
import re

from veil.crypto import normalize_phone
from veil.errors import InvalidInput

__all__ = ["display_number", "e164_or_none", "iso_ms", "parse_x_number"]

# Shapes that are already canonical, or canonical with "+86" in front (a
# mainland mobile written nationally): the router sees these on every call,
# and libphonenumber's full parse costs more than the rest of the decision.
# Anything else goes through it. A number that is not a possible number
# passes the E.164 shape unchecked, but then it matches no stored digest.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_CN_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def display_number(e164: str) -> str:
    """Group a mainland number the way riders read it: ``+86 170 0000 0001``."""
    if e164.startswith("+86") and len(e164) == 14:
        national = e164[3:]
        return f"+86 {national[:3]} {national[3:7]} {national[7:]}"
    return e164


def parse_x_number(raw: str, region: str = "CN") -> str:
    """Return a virtual number in E.164 form, or raise `InvalidInput`."""
    if not raw or len(raw) > 32:
        raise InvalidInput("a virtual number is 1 to 32 characters")
    return normalize_phone(raw, region)


def e164_or_none(raw: str, region: str = "CN") -> str | None:
    """Return a caller's or callee's number in E.164 form, or None if it is not a number."""
    if not raw or len(raw) > 32:
        return None
    if _E164.fullmatch(raw):
        return raw
    if region == "CN" and _CN_MOBILE.fullmatch(raw):
        return "+86" + raw
    try:
        return normalize_phone(raw, region)
    except InvalidInput:
        return None


def iso_ms(epoch_ms: int) -> str:
    """Render epoch milliseconds as an ISO 8601 UTC timestamp."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
