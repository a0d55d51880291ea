"""Vehicle licence plates: ``粤B·12345``, new-energy ``沪AD12345`` / ``京A12345D``."""

from __future__ import annotations

import re

from veil.redact._model import EntityType
from veil.redact._patterns import PatternRecognizer, compile_ascii

__all__ = ["plate_recognizer"]

# Province abbreviations that start a civilian plate, plus 使/领 (embassy, consulate).
_REGIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_PLATE = compile_ascii(
    rf"[{_REGIONS}]\s?(?P<letter>[A-Za-z])\s?[·•・\-. ]?\s?"
    r"(?P<body>[A-Za-z0-9]{6}|[A-Za-z0-9]{5}|[A-Za-z0-9]{4}[挂学警港澳领试超使])"
    # Only a letter right after ends the match; digits may belong to a number
    # typed against the plate, and whether that number gets redacted must not
    # decide whether the plate does (redaction stays idempotent).
    r"(?![A-Za-z])"
)
_ELECTRIC_SMALL = compile_ascii(r"[A-Ka-k][A-Za-z0-9]\d{4}")
_ELECTRIC_LARGE = compile_ascii(r"\d{5}[A-Ka-k]")


def _plausible_body(match: re.Match[str]) -> bool:
    """Check the serial after the region letter against the two plate schemes.

    Ordinary plates have five characters, mostly digits (at most two letters is
    the rule, so at least three digits); new-energy plates have six, with the
    energy letter first (small cars) or last (large vehicles).
    """
    body = match.group("body")
    if len(body) == 6:
        return bool(_ELECTRIC_SMALL.fullmatch(body) or _ELECTRIC_LARGE.fullmatch(body))
    digits = sum(char.isdigit() for char in body)
    return digits >= 3 or (len(body) == 5 and digits >= 2 and not body[:2].isalpha())


def plate_recognizer() -> PatternRecognizer:
    """Mainland licence plates, ordinary (7 characters) and new-energy (8)."""
    return PatternRecognizer(
        name="cn_plate",
        entity_type=EntityType.PLATE,
        pattern=_PLATE,
        validate=_plausible_body,
        min_digits=2,
        needs=frozenset(_REGIONS),
    )
