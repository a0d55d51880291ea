"""Long digit strings: resident ID numbers (GB 11643) and bank card numbers (Luhn).

Both are typed whole or in groups (``110101 19900307 851X``,
``6222 0212 3456 7890 123``), and often next to other numbers (a phone, a room
number). `_digit_groups` finds every run of digit groups joined by spaces or
dashes; each recognizer then looks for the longest sub-run of whole groups that
passes its check, so a valid card followed by `` 1203`` is still found.

A number that fails its check is usually not what it seems (an order number, a
tracking number), so checksums are required, except right after a context word
(身份证, 卡号…): a customer who writes "身份证号" before 18 digits means it,
and a typo in one digit does not make the other seventeen less personal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from veil.redact._checksums import id_birth_date, is_valid_resident_id, luhn_ok
from veil.redact._model import EntityType, Span
from veil.redact._patterns import compile_ascii, digit_count

__all__ = ["bank_card_recognizer", "resident_id_recognizer"]

_TAIL_X = r"(?:[ \-]?[Xx×])?"


# Runs of digit groups not inside a longer number. A run without separators
# must be long enough to matter (most are prices, times and room numbers, and
# are dropped without creating a match); grouped runs are counted in Python.
_SHORTEST = 12
_RUNS = compile_ascii(
    rf"\d(?<!\d\d)(?:\d{{{_SHORTEST - 1},}}{_TAIL_X}|\d*(?:[ \-]{{1,2}}\d+)+{_TAIL_X})(?!\d)"
)


@lru_cache(maxsize=64)
def _long_runs(text: str) -> tuple[tuple[int, int, str, int], ...]:
    """``(start, end, run, digits)`` of every run with enough digits for an ID or a card.

    Cached: the ID and card recognizers both read the runs of the same note.
    """
    runs = []
    for run in _RUNS.finditer(text):
        value = run.group()
        digits = len(value) - value.count(" ") - value.count("-")
        if digits >= _SHORTEST:
            runs.append((run.start(), run.end(), value, digits))
    return tuple(runs)


_GROUP = compile_ascii(r"\d+|[Xx×]")

# How far before a number a context word may stand ("身份证号码：" is six characters).
_CONTEXT_WINDOW = 8
# Context words are matched with "(?!])" so that a placeholder ("[身份证]",
# "[银行卡]") is not a context: otherwise redacting one number would vouch for
# its neighbour on the next pass, and redaction would not be idempotent.


@dataclass(frozen=True)
class _DigitRunRecognizer:
    """Finds the longest checked sub-run of digit groups in each run of the note.

    Attributes:
        after_letter: Whether a number may follow an ASCII letter directly.
    """

    name: str
    entity_type: EntityType
    lengths: frozenset[int]
    accept: Callable[[str], bool]
    context: re.Pattern[str]
    accept_in_context: Callable[[str], bool]
    min_digits: int = field(default=13)
    needs: frozenset[str] = field(default=frozenset())
    after_letter: bool = True
    _shortest: int = field(init=False, repr=False, compare=False)
    _longest: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen, so the derived values are set the way dataclasses set fields.
        object.__setattr__(self, "_shortest", min(self.lengths))
        object.__setattr__(self, "_longest", max(self.lengths))

    def find(self, text: str) -> list[Span]:
        """Return the span of every accepted number."""
        if digit_count(text) < self.min_digits:
            return []
        return self.scan(text)

    def scan(self, text: str) -> list[Span]:
        """Like `find`, without the digit-count pre-check (see `Prechecked`)."""
        spans: list[Span] = []
        for start, end, value, digits in _long_runs(text):
            if digits < self._shortest:
                continue
            if value.isdigit():
                # One group, the common case: the whole run or nothing.
                if len(value) in self.lengths and self._accepts(text, start, value):
                    spans.append((start, end))
                continue
            offset = start
            groups = [
                (m.start() + offset, m.end() + offset, m.group()) for m in _GROUP.finditer(value)
            ]
            spans.extend(self._scan(text, groups))
        return spans

    def _scan(self, text: str, groups: list[tuple[int, int, str]]) -> Iterator[Span]:
        i = 0
        while i < len(groups):
            found = None
            digits = ""
            candidates: list[tuple[int, str]] = []
            for j in range(i, len(groups)):
                digits += groups[j][2]
                if len(digits) > self._longest:
                    break
                candidates.append((j, digits))
            for j, number in reversed(candidates):
                if len(number) in self.lengths and self._accepts(text, groups[i][0], number):
                    found = j
                    break
            if found is None:
                i += 1
                continue
            yield groups[i][0], groups[found][1]
            i = found + 1

    def _accepts(self, text: str, start: int, number: str) -> bool:
        if (
            not self.after_letter
            and start > 0
            and text[start - 1].isascii()
            and text[start - 1].isalpha()
        ):
            return False
        number = number.replace("×", "X").upper()
        if self.accept(number):
            return True
        before = text[max(0, start - _CONTEXT_WINDOW) : start]
        return self.context.search(before) is not None and self.accept_in_context(number)


def resident_id_recognizer(*, today: dt.date | None = None) -> _DigitRunRecognizer:
    """18-digit resident ID numbers (checksum, birth date) and 15-digit legacy ones.

    Args:
        today: The latest plausible birth date; defaults to the day the
            recognizer is built.
    """
    latest = today or dt.date.today()

    def in_context(number: str) -> bool:
        # After "身份证", a number with a plausible birth date is taken even if
        # its check character is wrong: one mistyped digit leaks the rest.
        born = id_birth_date(number)
        return (
            born is not None
            and dt.date(1900, 1, 1) <= born <= latest
            and number[:-1].isdigit()
            and (number[-1].isdigit() or number[-1] == "X")
        )

    return _DigitRunRecognizer(
        name="cn_resident_id",
        entity_type=EntityType.ID_CARD,
        lengths=frozenset({15, 18}),
        accept=lambda number: is_valid_resident_id(number, today=latest),
        context=compile_ascii(r"身份证(?!\])|证件"),
        accept_in_context=in_context,
        min_digits=14,
    )


# Issuer prefixes of the shorter card numbers: American Express (15), Diners
# Club (14), old Visa (13). Sixteen to nineteen digits need only Luhn; shorter
# runs of digits are common (tracking numbers), so they also need the prefix.
_SHORT_CARD = compile_ascii(r"3[47]\d{13}|3(?:0[0-5]|[689]\d)\d{11}|4\d{12}")


def _card_accepts(number: str) -> bool:
    if not number.isdigit() or number[0] == "0" or not luhn_ok(number):
        return False
    return len(number) >= 16 or _SHORT_CARD.fullmatch(number) is not None


def bank_card_recognizer() -> _DigitRunRecognizer:
    """Bank card numbers passing Luhn: 16 to 19 digits, or a shorter card issuer's prefix.

    After 卡号 / 银行卡 / 账号, 15 to 19 digits count without Luhn, and 12 to 14
    with it.
    """
    return _DigitRunRecognizer(
        name="bank_card",
        entity_type=EntityType.BANK_CARD,
        lengths=frozenset(range(12, 20)),
        accept=_card_accepts,
        # "SF4783293426588" is a tracking number; a card is never glued to letters.
        after_letter=False,
        context=compile_ascii(r"卡号|储蓄卡|信用卡|借记卡|账号|帐号|卡(?!\])"),
        accept_in_context=lambda number: (
            number.isdigit() and (len(number) >= 15 or luhn_ok(number))
        ),
        min_digits=12,
    )
