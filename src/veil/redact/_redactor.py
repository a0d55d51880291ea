"""The redactor: run every recognizer, merge what they found, write typed placeholders."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from functools import reduce
from itertools import repeat
from operator import or_

from veil.errors import InvalidInput
from veil.redact._address import (
    admin_address_recognizer,
    place_recognizer,
    postcode_recognizer,
    road_recognizer,
)
from veil.redact._address_detail import (
    address_detail_recognizer,
    door_room_recognizer,
    english_detail_recognizer,
    room_in_context_recognizer,
)
from veil.redact._ids import bank_card_recognizer, resident_id_recognizer
from veil.redact._model import (
    PLACEHOLDERS,
    EntityType,
    Finding,
    Language,
    Recognizer,
    Redaction,
    Span,
)
from veil.redact._names import (
    english_title_name_recognizer,
    name_beside_phone_recognizer,
    name_recognizer,
    titled_name_recognizer,
)
from veil.redact._normalize import normalize
from veil.redact._online import (
    email_recognizer,
    qq_recognizer,
    wechat_recognizer,
    wxid_recognizer,
)
from veil.redact._patterns import Prechecked
from veil.redact._phones import (
    chinese_numeral_mobile_recognizer,
    context_local_phone_recognizer,
    landline_recognizer,
    mobile_recognizer,
    service_number_recognizer,
)
from veil.redact._plates import plate_recognizer
from veil.redact._registry import RecognizerRegistry

__all__ = ["Redactor", "builtin_recognizers", "default_redactor"]

# When two findings of different types overlap and are equally long, the
# earlier type names the merged range: a checksummed ID beats a Luhn-valid
# card, and a phone number beats the WeChat id that happens to equal it.
_TYPE_RANK = {
    entity_type: rank
    for rank, entity_type in enumerate(
        (
            EntityType.ID_CARD,
            EntityType.BANK_CARD,
            EntityType.PHONE,
            EntityType.EMAIL,
            EntityType.WECHAT,
            EntityType.QQ,
            EntityType.PLATE,
            EntityType.ADDRESS,
            EntityType.NAME,
        )
    )
}

# Address pieces separated only by these read as one address ("阳光花园 3栋 1203").
_ADDRESS_GLUE = frozenset(" \t\u3000-/、·")
_MAX_GLUE = 2


def builtin_recognizers() -> list[Recognizer]:
    """Return fresh instances of every recognizer Veil ships, zh-CN first."""
    return [
        mobile_recognizer(),
        landline_recognizer(),
        service_number_recognizer(),
        context_local_phone_recognizer(),
        chinese_numeral_mobile_recognizer(),
        resident_id_recognizer(),
        bank_card_recognizer(),
        plate_recognizer(),
        email_recognizer(),
        wechat_recognizer(),
        wxid_recognizer(),
        qq_recognizer(),
        admin_address_recognizer(),
        road_recognizer(),
        place_recognizer(),
        address_detail_recognizer(),
        room_in_context_recognizer(),
        door_room_recognizer(),
        english_detail_recognizer(),
        postcode_recognizer(),
        name_recognizer(),
        titled_name_recognizer(),
        name_beside_phone_recognizer(),
        english_title_name_recognizer(),
    ]


class Redactor:
    """Replaces personal data in free text with typed placeholders.

    The redactor keeps an immutable snapshot of its recognizers and no other
    state, so one instance may serve any number of threads.

    Args:
        recognizers: The recognizers to run (a registry or any iterable);
            defaults to `builtin_recognizers()`.

    Raises:
        Conflict: Two of the given recognizers share a name.
    """

    def __init__(self, recognizers: Iterable[Recognizer] | None = None) -> None:
        chosen = builtin_recognizers() if recognizers is None else recognizers
        if not isinstance(chosen, RecognizerRegistry):
            chosen = RecognizerRegistry(chosen)
        self._recognizers: tuple[Recognizer, ...] = tuple(chosen)
        # The pre-checks of every recognizer that states them (`Prechecked`)
        # run here, once per note for all of them: each recognizer gets a bit,
        # each character the bits of the recognizers that need it, and a note
        # lights the bits of its characters in one pass over the note.
        plan: list[_Step] = []
        self._needed_by: dict[str, int] = {}
        self._always = 0
        for index, recognizer in enumerate(self._recognizers):
            bit = 1 << index
            scan: Callable[[str], Iterable[Span]]
            if isinstance(recognizer, Prechecked):
                min_digits, needs, scan = recognizer.min_digits, recognizer.needs, recognizer.scan
            else:
                min_digits, needs, scan = 0, frozenset(), recognizer.find
            if needs:
                for char in needs:
                    self._needed_by[char] = self._needed_by.get(char, 0) | bit
            else:
                self._always |= bit
            plan.append((bit, min_digits, scan, recognizer.entity_type, recognizer.name))
        self._plan: dict[int, _Step] = {step[0]: step for step in plan}

    @property
    def recognizers(self) -> tuple[Recognizer, ...]:
        """The recognizers this redactor runs, in order."""
        return self._recognizers

    def find(self, text: str) -> tuple[Finding, ...]:
        """Return the disjoint, ordered findings in `text` (offsets into `text` itself).

        Raises:
            InvalidInput: `text` is not a string.
        """
        if not isinstance(text, str):
            raise InvalidInput("text to redact must be a string")
        findings = self._find_once(text)
        # Recognizers look at their neighbours ("not right after a digit"), so a
        # number typed against another ("京AD12345 0栋" without the space) can
        # hide behind it. Reading the redacted text again, where the neighbour
        # is now a placeholder, finds it; repeating until nothing new turns up
        # is what makes redaction idempotent. Only findings that touch a
        # letter, digit or joiner need it, which real notes rarely do.
        for _ in range(_MAX_EXTRA_PASSES):
            if not _touches_neighbour(text, findings):
                break
            rendered, layout = _render(text, findings, PLACEHOLDERS["zh"])
            extra = self._find_once(rendered)
            if not extra:
                break
            raw = [(f.start, f.end, f.entity_type, f.recognizer) for f in findings]
            raw += [
                (*_to_original(layout, f.start, f.end), f.entity_type, f.recognizer) for f in extra
            ]
            findings = _merge(text, raw)
        return findings

    def _find_once(self, text: str) -> tuple[Finding, ...]:
        if not text:
            return ()
        normalized = normalize(text)
        folded = normalized.text
        raw: list[tuple[int, int, EntityType, str]] = []
        length = len(folded)
        digits = len(_ASCII_DIGIT.findall(folded))
        wanted = reduce(or_, map(self._needed_by.get, folded, repeat(0)), self._always)
        plan = self._plan
        while wanted:
            # Visit only the recognizers whose characters the note has.
            bit = wanted & -wanted
            wanted ^= bit
            _, min_digits, scan, entity_type, name = plan[bit]
            if digits < min_digits:
                continue
            for found_start, found_end in scan(folded):
                start, end = max(found_start, 0), min(found_end, length)
                if start < end:
                    if normalized.origin is not None:
                        start, end = normalized.to_original(start, end)
                    raw.append((start, end, entity_type, name))
        if not raw:
            return ()
        return _merge(text, raw)

    def redact(self, text: str, *, language: Language = "zh") -> Redaction:
        """Replace every finding in `text` with its placeholder; leave the rest untouched.

        Args:
            text: The free text, as the customer typed it.
            language: ``"zh"`` writes ``[电话]``, ``"en"`` writes ``[PHONE]``.

        Raises:
            InvalidInput: `text` is not a string or `language` is unknown.
        """
        placeholders = PLACEHOLDERS.get(language)
        if placeholders is None:
            raise InvalidInput("language must be 'zh' or 'en'")
        findings = self.find(text)
        if not findings:
            return Redaction(text, ())
        return Redaction(_render(text, findings, placeholders)[0], findings)


# One recognizer, ready to run: its bit, its digit pre-check, its scan, and
# what it reports.
_Step = tuple[int, int, Callable[[str], Iterable[Span]], EntityType, str]
_ASCII_DIGIT = re.compile("[0-9]")
# (start, end) of a placeholder in rendered text, and of its finding in the original.
_Layout = list[tuple[int, int, int, int]]
_MAX_EXTRA_PASSES = 2
# A span hidden by a finding's presence starts or ends right next to it, and
# every recognizer's boundary checks are about these characters (a digit
# before a phone, a letter after a plate), so only they call for another pass.
_NEIGHBOURS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
_NEIGHBOURS_WIDE = frozenset(chr(ord(c) + 0xFEE0) for c in _NEIGHBOURS) | frozenset(
    "零〇一二三四五六七八九十两幺"
)


_SEPARATORS = frozenset(" .\u3000\u00a0\t")
_SEPARATOR_RUN = 3


def _touches_neighbour(text: str, findings: tuple[Finding, ...]) -> bool:
    # Looks past a few separators too: recognizers also refuse a number that
    # continues a digit group typed with spaces or dots ("0283 1300 0000 009"
    # right after a card), and the placeholder ends that group.
    for finding in findings:
        for edge, step in ((finding.start - 1, -1), (finding.end, 1)):
            at = edge
            for _ in range(_SEPARATOR_RUN):
                if not (0 <= at < len(text)) or text[at] not in _SEPARATORS:
                    break
                at += step
            if 0 <= at < len(text) and (text[at] in _NEIGHBOURS or text[at] in _NEIGHBOURS_WIDE):
                return True
    return False


def _render(
    text: str, findings: tuple[Finding, ...], placeholders: dict[EntityType, str]
) -> tuple[str, _Layout]:
    parts: list[str] = []
    layout: _Layout = []
    cursor = 0
    length = 0
    for finding in findings:
        kept = text[cursor : finding.start]
        placeholder = placeholders[finding.entity_type]
        parts += [kept, placeholder]
        length += len(kept)
        layout.append((length, length + len(placeholder), finding.start, finding.end))
        length += len(placeholder)
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts), layout


def _to_original(layout: _Layout, start: int, end: int) -> tuple[int, int]:
    """Map a span of rendered text back to the original.

    A span that touches a placeholder covers that placeholder's whole finding.
    """

    def position(at: int, *, is_end: bool) -> int:
        shift = 0
        for rendered_start, rendered_end, original_start, original_end in layout:
            if at < rendered_start:
                break
            if at < rendered_end:
                return original_end if is_end else original_start
            shift += (original_end - original_start) - (rendered_end - rendered_start)
        return at + shift + (1 if is_end else 0)

    return position(start, is_end=False), position(end - 1, is_end=True)


def _merge(text: str, raw: list[tuple[int, int, EntityType, str]]) -> tuple[Finding, ...]:
    """Merge overlapping findings, and address findings that touch, into disjoint ones.

    A merged range takes the type and recognizer of its longest member (ties go
    to the type ranked first in `_TYPE_RANK`), so "微信13812345678" overlapping
    as WeChat id and phone number becomes one ``[电话]``.
    """
    raw.sort(key=lambda item: (item[0], -item[1]))
    merged: list[Finding] = []
    start, end, best = raw[0][0], raw[0][1], raw[0]
    for item in raw[1:]:
        if item[0] < end or (
            item[2] is EntityType.ADDRESS
            and best[2] is EntityType.ADDRESS
            and item[0] - end <= _MAX_GLUE
            and all(char in _ADDRESS_GLUE for char in text[end : item[0]])
        ):
            end = max(end, item[1])
            if _outranks(item, best):
                best = item
            continue
        merged.append(Finding(start, end, best[2], best[3]))
        start, end, best = item[0], item[1], item
    merged.append(Finding(start, end, best[2], best[3]))
    return tuple(merged)


def _outranks(
    candidate: tuple[int, int, EntityType, str], incumbent: tuple[int, int, EntityType, str]
) -> bool:
    candidate_length = candidate[1] - candidate[0]
    incumbent_length = incumbent[1] - incumbent[0]
    if candidate_length != incumbent_length:
        return candidate_length > incumbent_length
    return _TYPE_RANK.get(candidate[2], len(_TYPE_RANK)) < _TYPE_RANK.get(
        incumbent[2], len(_TYPE_RANK)
    )


_default: Redactor | None = None
_default_lock = threading.Lock()


def default_redactor() -> Redactor:
    """Return the process-wide redactor with the built-in recognizers, built on first use."""
    global _default  # noqa: PLW0603 -- a lazily built, immutable singleton
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Redactor()
    return _default
