"""Check digits: GB 11643 resident ID numbers (ISO 7064 MOD 11-2) and Luhn for bank cards."""

from __future__ import annotations

import datetime as dt

__all__ = [
    "id_birth_date",
    "id_check_char",
    "is_valid_resident_id",
    "luhn_ok",
]

# GB 11643-1999: weight of position i (0-based, left to right) is 2**(17 - i) mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# The first digit of the region code is a region group (1 north ... 8 Hong Kong,
# Macau, Taiwan and residence permits); 0 and 9 are never issued.
_REGION_FIRST = frozenset("12345678")
# d -> digit sum of 2d: 0 2 4 6 8 1 3 5 7 9.
_DOUBLED = str.maketrans("0123456789", "0246813579")


def id_check_char(first17: str) -> str:
    """Return the 18th character of a resident ID number from its first 17 digits.

    Raises:
        ValueError: `first17` is not 17 ASCII digits.
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_birth_date(number: str) -> dt.date | None:
    """Return the birth date encoded in an 18- or 15-digit ID number, or None if impossible."""
    if len(number) == 18:
        year, month, day = number[6:10], number[10:12], number[12:14]
    elif len(number) == 15:
        # Legacy numbers (issued until 1999) carry a two-digit year in the 1900s.
        year, month, day = "19" + number[6:8], number[8:10], number[10:12]
    else:
        return None
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def is_valid_resident_id(number: str, *, today: dt.date) -> bool:
    """Tell whether `number` is a plausible mainland resident ID number.

    An 18-character number needs a valid check character; a 15-digit legacy
    number has none. Both need an issued region group and a birth date between
    1900 and `today`.
    """
    number = number.upper()
    if len(number) == 18:
        if not number[:17].isdigit() or id_check_char(number[:17]) != number[17]:
            return False
    elif len(number) != 15 or not number.isdigit():
        return False
    if number[0] not in _REGION_FIRST:
        return False
    born = id_birth_date(number)
    return born is not None and dt.date(1900, 1, 1) <= born <= today


def luhn_ok(digits: str) -> bool:
    """Tell whether a string of ASCII digits passes the Luhn (mod 10) check."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    # Every second digit from the right is doubled (digit sum of the double);
    # summing the ASCII bytes in C and removing 48 per digit is much faster
    # than a Python loop, and Luhn runs on every long number in every note.
    kept = digits[-1::-2].encode()
    doubled = digits[-2::-2].translate(_DOUBLED).encode()
    return (sum(kept) + sum(doubled) - 48 * len(digits)) % 10 == 0
