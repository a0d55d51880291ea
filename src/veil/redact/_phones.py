"""Telephone numbers: mainland mobiles in every typed form, landlines, 400/800 lines.

People type a mobile number as ``13812345678``, ``138 1234 5678``,
``138-1234-5678``, ``+86 138…``, ``(+86)138…``, ``0086-138…``, with full-width
digits (folded by NFKC before we look), with Chinese punctuation between the
groups (``138，1234，5678``), or one digit at a time (``1 3 8 1 …``) to slip
past naive filters. The patterns accept up to three separator characters
between any two digits; `_plausible_grouping` then rejects digit runs that are
really lists of prices or decimals (``13.5、15.5、18.5、22``).

Every pattern opens with a literal and checks "not inside a longer number"
with a lookbehind after that first character (see `PatternRecognizer`).
"""

from __future__ import annotations

import re

from veil.redact._model import EntityType
from veil.redact._patterns import CJK, DIGIT_SEP, PatternRecognizer, compile_ascii

__all__ = [
    "chinese_numeral_mobile_recognizer",
    "context_local_phone_recognizer",
    "landline_recognizer",
    "mobile_recognizer",
    "service_number_recognizer",
]

_S = DIGIT_SEP + "{0,3}"
_MOBILE_BODY = rf"1{_S}[3-9](?:{_S}\d){{9}}(?!\d)"
# The country-code prefixes, each its own alternative so that every branch
# starts with a literal character.
_CN_PREFIXES = (
    r"\+\s?86",
    r"0(?<!\d0)0\s?86",
    r"\(\s?(?:\+|00)?\s?86\s?\)",
    r"\[\s?\+?86\s?\]",
    rf"8(?<!\d8)6(?={DIGIT_SEP})",
)
_MOBILE = compile_ascii(
    "|".join(
        [
            *(f"{prefix}{_S}{_MOBILE_BODY}" for prefix in _CN_PREFIXES),
            # Inside a card number typed in fours ("6212 2683 1812 2235") only
            # a number typed whole counts: a grouped "1812 2235…" is the card.
            rf"1(?<!\d1)(?:(?<!\d{{4}}[ \-]\d{{4}}[ \-]1)|(?=\d{{10}}(?!\d))){_MOBILE_BODY[1:]}",
        ]
    )
)
_DIGIT_GROUPS = compile_ascii(r"\d+")


def _plausible_grouping(match: re.Match[str]) -> bool:
    """Accept digit groupings people use for phone numbers, reject lists of numbers.

    A phone number is typed whole, in two to five groups (3-4-4, 3-3-5,
    4-4-3…), or one digit at a time. Anything else with separators, such as
    ``13.5、15.5、18.5、22``, is a list of amounts that happens to contain
    eleven digits.
    """
    typed = match.group()
    if typed.isdigit():
        return True
    groups = _DIGIT_GROUPS.findall(typed)
    if typed[0] != "1":
        groups = groups[1:]  # the country code: 86 or 0086
    return len(groups) <= 5 or all(len(group) == 1 for group in groups)


def mobile_recognizer() -> PatternRecognizer:
    """Mainland mobile numbers (``1[3-9]`` + 9 digits) with optional +86 prefix."""
    return PatternRecognizer(
        name="cn_mobile",
        entity_type=EntityType.PHONE,
        pattern=_MOBILE,
        validate=_plausible_grouping,
        min_digits=11,
        needs=frozenset("1"),  # every mobile number starts with 1
    )


# Area codes: 010 (Beijing), 02x (the big cities), 0xxx elsewhere. Local
# numbers never start with 0 or 1, which is what keeps this off order numbers.
_AREA_TAIL = r"(?:10|2\d|[3-9]\d\d)"
_LOCAL = rf"{_S}[2-9](?:{_S}\d){{6,7}}"
_EXTENSION = r"(?:\s?(?:转分机|转|分机号?|ext\.?|x|-)\s?\d{1,5})?(?!\d)"
_LANDLINE = compile_ascii(
    rf"\+\s?86{_S}{_AREA_TAIL}{_LOCAL}{_EXTENSION}"
    rf"|0(?<!\d0)0\s?86{_S}{_AREA_TAIL}{_LOCAL}{_EXTENSION}"
    rf"|\(\s?0{_AREA_TAIL}\s?\){_LOCAL}{_EXTENSION}"
    rf"|0(?<!\d0){_AREA_TAIL}{_LOCAL}{_EXTENSION}"
)


def landline_recognizer() -> PatternRecognizer:
    """Landlines with an area code: ``010-12345678``, ``(0755)8888 6666``, ``+86 21 …``."""
    return PatternRecognizer(
        name="cn_landline",
        entity_type=EntityType.PHONE,
        pattern=_LANDLINE,
        min_digits=10,
        needs=frozenset("0+"),
    )


_SERVICE = compile_ascii(rf"[48](?<!\d[48])00(?:{_S}\d){{7}}{_EXTENSION}")


def service_number_recognizer() -> PatternRecognizer:
    """Nationwide 400/800 numbers (``400-820-8820``): often a shop's own line, still a contact."""
    return PatternRecognizer(
        name="cn_service_number",
        entity_type=EntityType.PHONE,
        pattern=_SERVICE,
        min_digits=10,
        needs=frozenset("48"),
        contains="00",
    )


# A seven- or eight-digit local number without its area code is only a phone
# number when the customer says so; bare, it could be anything.
_CONTEXT_LOCAL = compile_ascii(
    r"(?:电话|座机|固话|手机|联系方式|tel|Tel|TEL|phone|Phone)(?:号码?)?\s?[:=]?\s?(?:是|为)?\s?"
    rf"(?P<number>[2-9]\d{{2,3}}{DIGIT_SEP}?\d{{4}})(?![\d{CJK}])"
)


def context_local_phone_recognizer() -> PatternRecognizer:
    """Local landline numbers without area code, when introduced by 电话/座机/tel."""
    return PatternRecognizer(
        name="cn_local_phone_in_context",
        entity_type=EntityType.PHONE,
        pattern=_CONTEXT_LOCAL,
        group="number",
        min_digits=7,
        needs=frozenset("电座固手联tTpP"),
    )


_CN_NUMERAL = "零〇一二三四五六七八九幺两"
_CN_MOBILE = compile_ascii(
    rf"[一幺](?<![{_CN_NUMERAL}][一幺])[三四五六七八九](?:{DIGIT_SEP}?[{_CN_NUMERAL}]){{9}}"
    rf"(?![{_CN_NUMERAL}])"
)


def chinese_numeral_mobile_recognizer() -> PatternRecognizer:
    """Mobiles spelled in Chinese numerals (``幺三八一二三四五六七八``) to dodge filters."""
    return PatternRecognizer(
        name="cn_mobile_in_chinese_numerals",
        entity_type=EntityType.PHONE,
        pattern=_CN_MOBILE,
        needs=frozenset("一幺"),
    )
