"""Shared building blocks: the regex-backed recognizer, separators, numerals, word tries."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol, runtime_checkable

from veil.redact._model import EntityType, Span

__all__ = [
    "CJK",
    "CN_DIGITS",
    "DIGIT_SEP",
    "AnchoredRecognizer",
    "PatternRecognizer",
    "Prechecked",
    "cjk_except",
    "compile_ascii",
    "digit_count",
    "text_profile",
    "trie_pattern",
    "words",
]

CJK = "\u4e00-\u9fff"
"""The CJK Unified Ideographs block, for use inside a character class."""

CN_DIGITS = "零〇一二三四五六七八九十百两"
"""Chinese numerals people use for building, unit and floor numbers."""

DIGIT_SEP = r"[ \t\-‐‑–—_.·•・,、。/|~]"
"""One character people put between digit groups (after NFKC: ``，`` is ``,``)."""


def compile_ascii(pattern: str) -> re.Pattern[str]:
    r"""Compile a recognizer pattern with ``re.ASCII``.

    Recognizers read NFKC text, where every digit and space worth matching is
    ASCII already; ASCII ``\d`` and ``\s`` are cheaper to test than their
    Unicode versions. CJK is always spelled as explicit ranges.
    """
    return re.compile(pattern, re.ASCII)


_ASCII_DIGIT = re.compile("[0-9]")


@lru_cache(maxsize=256)
def text_profile(text: str) -> tuple[frozenset[str], int]:
    """Return the set of characters in `text` and its count of ASCII digits.

    A recognizer called on its own (not through a `Redactor`, which does these
    checks once for all recognizers) asks these two questions before deciding
    whether its regex is worth running. Cached (thread-safely) because a
    caller running several recognizers asks them of the same note.
    """
    return frozenset(text), len(_ASCII_DIGIT.findall(text))


def digit_count(text: str) -> int:
    """Count the ASCII digits in `text`."""
    return text_profile(text)[1]


def cjk_except(excluded: str) -> str:
    """Return a character class of CJK ideographs minus `excluded`.

    Python's `re` has no set difference; spelling the class as ranges keeps
    it one bitmap test per character instead of a lookahead per character.
    """
    holes = sorted({ord(char) for char in excluded if 0x4E00 <= ord(char) <= 0x9FFF})
    ranges: list[str] = []
    low = 0x4E00
    for hole in [*holes, 0xA000]:
        if hole > low:
            ranges.append(chr(low) if hole - 1 == low else f"{chr(low)}-{chr(hole - 1)}")
        low = hole + 1
    return "[" + "".join(ranges) + "]"


_Trie = dict[str, "_Trie"]


def words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list (how the long vocabularies are written)."""
    return tuple(text.split())


def trie_pattern(words: Iterable[str]) -> str:
    """Return a regex alternation of `words` factored into a prefix tree.

    Python's regex engine tries alternatives one by one; a tree-shaped pattern
    turns a scan over hundreds of place names into a few character tests per
    position, and lets the engine skip positions whose first character starts
    no word at all.
    """
    tree: _Trie = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # the empty key marks the end of a word

    def emit(node: _Trie) -> str:
        ends = "" in node
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            body = "(?:" + body + ")?"
        return body

    return "(?:" + emit(tree) + ")"


@runtime_checkable
class Prechecked(Protocol):
    """A recognizer that states its cheap pre-checks so a caller can run them for it.

    Attributes:
        min_digits: The recognizer finds nothing in a note with fewer ASCII digits.
        needs: The recognizer finds nothing in a note without one of these
            characters (empty: no such condition).
    """

    min_digits: int
    needs: frozenset[str]

    def scan(self, text: str) -> list[Span]:
        """Find spans, assuming the pre-checks passed."""
        ...


@dataclass(frozen=True)
class PatternRecognizer:
    r"""A recognizer made of one compiled regex, an optional check and cheap pre-checks.

    Write `pattern` so that it starts with a literal, a branch of literals or a
    character class, and put lookbehinds after the first character
    (``1(?<!\\d1)`` rather than ``(?<!\\d)1``): only then does Python's regex
    engine skip ahead in C to candidate positions instead of trying the
    pattern at every character, a tenfold difference on a typical note.

    Attributes:
        name: The recognizer's unique name.
        entity_type: The kind of data it finds.
        pattern: The regex; the span reported is that of `group`.
        group: The group whose span is the finding (0 for the whole match), or
            several alternative groups, of which the first that took part wins.
        validate: A check on the match (a checksum, a date, a grouping);
            matches it rejects are dropped.
        min_digits: Skip the regex entirely when the note has fewer ASCII digits.
        needs: Skip the regex unless the note holds at least one of these
            characters (the first characters of its context words, say).
        contains: Skip the regex unless the note contains this string (a
            substring test is cheaper than a scan: "00" for 400/800 numbers).
    """

    name: str
    entity_type: EntityType
    pattern: re.Pattern[str]
    group: int | str | tuple[str, ...] = 0
    validate: Callable[[re.Match[str]], bool] | None = None
    min_digits: int = 0
    needs: frozenset[str] = field(default=frozenset())
    contains: str = ""

    def find(self, text: str) -> list[Span]:
        """Return the spans of `group` in every accepted match."""
        if not self._worth_scanning(text):
            return []
        return self.scan(text)

    def scan(self, text: str) -> list[Span]:
        """Like `find`, without the `min_digits` and `needs` pre-checks.

        The redactor does those checks once per note for all recognizers
        (`Prechecked`) and then calls this directly.
        """
        if self.contains and self.contains not in text:
            return []
        return self._accepted(self._matches(text))

    def _worth_scanning(self, text: str) -> bool:
        if self.min_digits or self.needs:
            chars, digits = text_profile(text)
            if digits < self.min_digits or (self.needs and self.needs.isdisjoint(chars)):
                return False
        return True

    def _matches(self, text: str) -> Iterable[re.Match[str]]:
        return self.pattern.finditer(text)

    def _accepted(self, matches: Iterable[re.Match[str]]) -> list[Span]:
        spans: list[Span] = []
        group, validate = self.group, self.validate
        for match in matches:
            start, end = self._span(match) if isinstance(group, tuple) else match.span(group)
            if start < end and (validate is None or validate(match)):
                spans.append((start, end))
        return spans

    def _span(self, match: re.Match[str]) -> Span:
        if not isinstance(self.group, tuple):
            return match.span(self.group)
        for group in self.group:
            span = match.span(group)
            if span[0] >= 0:
                return span
        return -1, -1


@dataclass(frozen=True)
class AnchoredRecognizer(PatternRecognizer):
    """A pattern recognizer for matches that open with an unbounded run of name characters.

    "阳光花园3栋" starts with any ideographs and is recognisable only by its
    suffix (花园). Scanning for such a pattern tries every position of the
    note; instead this finds the rare `anchor` (the suffix) first, walks back
    over the characters of `before` (at most `lookback` of them) to the
    earliest place the match could start, and tries the pattern only there.
    The result is that of a left-to-right scan.

    Attributes:
        anchor: Finds the characters every match contains (its suffix). Let
            it open with literals and check what must follow the suffix with
            a lookahead ("人民路8号", not "一路顺风"), so rejected anchors cost
            no Python work.
        before: A character class: what may stand between a match's start and
            its anchor.
        lookback: How many characters before the anchor a match may start.
        starts: If set, the pattern is tried only where this matches between
            the earliest start and the anchor (token boundaries), not at every
            character.
        tries: The most start positions tried per anchor.
    """

    anchor: re.Pattern[str] = field(default=re.compile("(?!)"))
    before: str = "."
    lookback: int = 8
    starts: re.Pattern[str] | None = None
    tries: int = 9
    _run_back: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen, so the derived pattern is set the way dataclasses set fields.
        object.__setattr__(self, "_run_back", compile_ascii(f"{self.before}*$"))

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        run_back = self._run_back
        resume = 0
        for anchor in self.anchor.finditer(text):
            at = anchor.start()
            if at < resume:
                continue
            run = run_back.search(text, max(resume, at - self.lookback), at)
            start = at if run is None else run.start()
            for _ in range(self.tries):
                if self.starts is not None:
                    candidate = self.starts.search(text, start, at + 1)
                    if candidate is None:
                        break
                    start = candidate.start()
                match = self.pattern.match(text, start)
                if match is not None:
                    yield match
                    resume = max(match.end(), start + 1)
                    break
                start += 1
                if start > at:
                    break
