"""NFKC normalisation that remembers where each character came from.

Customers type full-width digits (``１３８``), full-width punctuation and the odd
circled number; recognizers are written for the NFKC form, and findings must
point into the text the customer typed. `normalize` returns both the normalised
text and, when the two differ in length, a map from each normalised character
to the index of the original character that produced it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from veil.redact._patterns import compile_ascii

__all__ = ["Normalized", "normalize"]

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space fold one-to-one,
# and they are nearly all of what differs in real notes. A note has a few of
# them (its ，and ：), so replacing just those beats translating every character,
# and offsets stay unchanged.
_ONE_TO_ONE = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_ONE_TO_ONE["\u3000"] = " "
_FULL_WIDTH = compile_ascii("[\uff01-\uff5e\u3000]")


def _fold_one_to_one(match: re.Match[str]) -> str:
    return _ONE_TO_ONE[match.group()]


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised text and the way back to the original.

    Attributes:
        text: The NFKC form, folded character by character.
        origin: For each character of `text`, the index of the original
            character it came from; ``None`` when offsets are unchanged.
    """

    text: str
    origin: tuple[int, ...] | None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty span of the normalised text to the original text.

        A span that starts or ends inside the expansion of one original
        character (``⑫`` becomes ``12``) widens to cover that whole character,
        so a mapped span never leaves part of a finding behind.
        """
        if self.origin is None:
            return start, end
        return self.origin[start], self.origin[end - 1] + 1


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    return unicodedata.normalize("NFKC", char)


def normalize(text: str) -> Normalized:
    """Fold `text` to NFKC and keep a map back to the original offsets.

    Characters are folded one at a time rather than the string as a whole: the
    two differ only where combining marks compose, which does not occur in the
    digits, letters and CJK that recognizers read, and per-character folding is
    what makes the offset map exact.
    """
    folded = _FULL_WIDTH.sub(_fold_one_to_one, text)
    if unicodedata.is_normalized("NFKC", folded):
        return Normalized(folded, None)
    parts: list[str] = []
    origin: list[int] = []
    one_to_one = True
    for index, char in enumerate(folded):
        out = _fold(char)
        parts.append(out)
        origin.extend([index] * len(out))
        one_to_one = one_to_one and len(out) == 1
    normalized = "".join(parts)
    if one_to_one:
        return Normalized(normalized, None)
    return Normalized(normalized, tuple(origin))
