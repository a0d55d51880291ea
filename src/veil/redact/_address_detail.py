"""Address details: building, unit, floor and room (``3号楼2单元1203``, ``B座12F``, ``3-2-1203``).

A detail is a chain of tokens, each a number (digits, a letter, or Chinese
numerals) and a marker: 号楼 / 栋 / 幢 / 座 (building), 单元 (unit), 层 / 楼
(floor), 室 / 房 / 户 (room). After at least one token a bare number is the room
("3栋1203"), unless a unit of money, time or quantity follows it ("3栋 2份").
The dashed shorthand ``3-2-1203`` (building-unit-room) and ``3-1203室`` count
too. Hotel rooms come with context: ``房间号 1203``, ``1203房``, ``Room 1203``,
``1203门口``.
"""

from __future__ import annotations

import re

from veil.redact._model import EntityType
from veil.redact._patterns import (
    CN_DIGITS,
    AnchoredRecognizer,
    PatternRecognizer,
    compile_ascii,
    words,
)

__all__ = [
    "AFTER_PLACE",
    "CHAIN_START",
    "address_detail_recognizer",
    "door_room_recognizer",
    "english_detail_recognizer",
    "room_in_context_recognizer",
]

_N = rf"(?:\d{{1,4}}|[{CN_DIGITS}]{{1,3}})"
_LETTER = r"[A-Za-z]"
JOIN = r"(?:[ \t]?[\-/、·]?[ \t]?)"
"""What may stand between two address tokens."""

# A token is a number and a marker. Markers: building (号楼 栋 幢 座 号院),
# unit (单元), floor (层 楼), room (室 房 户, after at least two digits); "5号"
# is a building only when another token follows ("5号2单元"). One factored
# alternation reads the number once, which matters: this pattern runs on
# every candidate in every note.
_NEXT_TOKEN = rf"[ \t]?(?:{_N}|{_LETTER})[ \t]?(?:单元|栋|幢|座|层|楼|室)"
_ROOM_MARK = r"(?:室|号房|房间|房(?![子屋东租价])|户)"
_MARK = rf"(?:号楼|号院|号馆|号公寓|栋|幢|座(?![机位谈])|单元|层|楼(?![梯道])|号(?={_NEXT_TOKEN}))"
_TOKEN = (
    rf"(?:{_LETTER}?\d{{2,5}}[ \t]?{_ROOM_MARK}"
    rf"|{_N}[ \t]?{_MARK}"
    rf"|(?:{_LETTER}{{1,2}}\d{{0,2}}|\d{{1,2}}{_LETTER})[ \t]?(?:号楼|栋|幢|座(?![机位谈])|楼|单元)"
    rf"|{_LETTER}区(?=[ \t]?{_N})"
    rf"|第[ \t]?{_N}[ \t]?(?:层|楼)"
    rf"|(?:-|负|[Bb])(?:\d{{1,3}}|[{CN_DIGITS}]{{1,3}})[ \t]?(?:层|楼)"
    r"|\d{1,2}[Ff](?![A-Za-z0-9_])"
    r"|[东西南北中][ \t]?单元)"
)
# A Chinese numeral before 层 is as often "one more layer" (加一层保鲜膜) as a
# floor, so a chain cannot open with one.
_TOKEN_FIRST = rf"(?![{CN_DIGITS}]{{1,3}}[ \t]?层){_TOKEN}"
_ROOM_BARE = (
    rf"(?:(?:{_LETTER}?\d{{3,5}}|\d{{1,3}}-\d{{2,4}})(?![\d\-.:])"
    rf"(?:[ \t]?(?:{_ROOM_MARK}|号(?![楼院]))"
    r"|(?!(?:元|块|分|份|个|杯|点|号|米(?![饭粉线])|km|ml|人|岁|g|斤|克|天|年|月|次|单|毛|角))))"
)
_CHAIN = rf"(?:{_TOKEN_FIRST}(?:{JOIN}{_TOKEN})*(?:{JOIN}{_ROOM_BARE})?)"
_DASHED = (
    r"(?:(?<![\d\-.:/])\d{1,3}-\d{1,2}-\d{2,4}(?:[ \t]?(?:室|号|房))?(?![\d\-.:/])"
    r"|(?<![\d\-.:/])\d{1,3}-\d{3,4}[ \t]?(?:室|房|号(?!楼)))"
)
_DETAIL = compile_ascii(rf"(?<![\dA-Za-z_])(?:{_CHAIN}|{_DASHED})")

AFTER_PLACE = rf"(?:{_CHAIN}|\d{{1,3}}-\d{{1,2}}(?:-\d{{2,4}})?(?![\d\-])|{_ROOM_BARE})"
"""What may follow a place name as its detail: a chain, a dashed number, a bare room."""

CHAIN_START = rf"(?:{_N}|{_LETTER}{{1,2}}\d{{0,2}})[ \t]?(?:号楼|栋|幢|座|单元)"
"""The start of a chain that names a building (what makes "刘路Q座" a road)."""


# Markers that are also everyday words (订单, 5月3号, 2024-05-01, ord_…f…) count
# only when what follows them can continue a detail. Every branch opens with
# its marker, so the engine still skips ahead to markers in C.
_MARKER = compile_ascii(
    r"单(?=元)"
    rf"|号(?=楼|院|馆|公寓|房|[ \t]?[\dA-Za-z{CN_DIGITS}]{{1,4}}[ \t]?(?:单元|栋|幢|座|层|楼|室))"
    rf"|区(?=[ \t]?[\d{CN_DIGITS}])"
    r"|F(?<=\dF)(?![A-Za-z0-9_])|f(?<=\df)(?![A-Za-z0-9_])"
    # A dash counts after one to three digits that are not themselves after a
    # digit or a dash (3-2-1203, not 2024-05-01), or before a basement floor.
    r"|-(?<=(?<![0-9\-])[0-9]-)(?=[0-9])|-(?<=(?<![0-9\-])[0-9]{2}-)(?=[0-9])"
    r"|-(?<=(?<![0-9\-])[0-9]{3}-)(?=[0-9])|-(?=[0-9]{1,3}[ \t]?[层楼])"
    r"|楼|栋|幢|座|层|室|房|户"
)


# Parcel-station pick-up codes are written like building-unit-room ("取件码
# 3-2-8841": shelf, layer, number) and name no place.
_CODE_BEFORE = compile_ascii(r"(?:取件|取货|提货|取餐|验证|核销)码[ \t]?[:#]?[ \t]?$")


def _not_a_code(match: re.Match[str]) -> bool:
    start = match.start()
    return _CODE_BEFORE.search(match.string, max(0, start - 8), start) is None


def address_detail_recognizer() -> AnchoredRecognizer:
    """Building, unit, floor and room chains, found from their markers."""
    return AnchoredRecognizer(
        name="cn_address_detail",
        entity_type=EntityType.ADDRESS,
        pattern=_DETAIL,
        validate=_not_a_code,
        needs=frozenset("楼栋幢座单层室房户号区Ff-"),
        anchor=_MARKER,
        before=rf"[\dA-Za-z{CN_DIGITS}第负\- ]",
        lookback=8,
        starts=compile_ascii(rf"(?<![\dA-Za-z_])[\dA-Za-z{CN_DIGITS}第负\-]"),
    )


def _literal_first(words: list[str], *, ascii_guard: bool = False) -> str:
    """An alternation whose branches open with a literal, so the regex engine can skip ahead."""
    branches = []
    for word in words:
        head = re.escape(word[0])
        guard = f"(?<![A-Za-z0-9_]{head})" if ascii_guard else ""
        branches.append(head + guard + word[1:])
    return "(?:" + "|".join(branches) + ")"


# Words after which a number is a room: a hotel room, a door plate, an office,
# a dormitory or ward ("办公室302", "宿舍 518", "病房12").
_ROOM_WORDS = _literal_first(
    ["房间号", "房间", "房号", "门牌号", "门牌", "办公室", "寝室", "宿舍", "病房", "教室", "会议室"]
)
_ROOM_CONTEXT = compile_ascii(
    rf"{_ROOM_WORDS}[ \t]?(?:号码?)?[ \t]?[:#]?[ \t]?(?:是|为)?[ \t]?"
    rf"(?P<room>{_LETTER}?\d{{2,5}}|\d{{1,3}}-\d{{1,2}}(?:-\d{{2,4}})?)(?!\d)"
)


def room_in_context_recognizer() -> PatternRecognizer:
    """Rooms after 房间号 / 房号 / 门牌号: ``房间号：1203``."""
    return PatternRecognizer(
        name="room_in_context",
        entity_type=EntityType.ADDRESS,
        pattern=_ROOM_CONTEXT,
        group="room",
        min_digits=2,
        needs=frozenset("房门办寝宿病教会"),
    )


_ENGLISH_WORDS = [
    variant
    for word in words("room rm building bldg block blk tower unit apt apartment floor flat suite")
    for variant in (word, word.capitalize(), word.upper())
]
_ENGLISH = compile_ascii(
    rf"{_literal_first(_ENGLISH_WORDS, ascii_guard=True)}\.?[ \t]?#?[ \t]?"
    r"(?P<number>[A-Za-z]?\d{1,5}[A-Za-z]?)(?![A-Za-z0-9])"
)


def english_detail_recognizer() -> PatternRecognizer:
    """English details: ``Room 1203``, ``Building 3``, ``Unit 2``, ``Floor 12``."""
    return PatternRecognizer(
        name="en_address_detail",
        entity_type=EntityType.ADDRESS,
        pattern=_ENGLISH,
        group=0,
        min_digits=1,
        needs=frozenset("rRbBtTuUaAfFsS"),
    )


_DOOR = compile_ascii(r"\d(?<![\d\-]\d)\d{2,3}(?=[ \t]?(?:门口|门前|门外|家门))")


def door_room_recognizer() -> AnchoredRecognizer:
    """A three- or four-digit number right before 门口 is a room: "放1203门口"."""
    return AnchoredRecognizer(
        name="room_at_door",
        entity_type=EntityType.ADDRESS,
        pattern=_DOOR,
        min_digits=3,
        needs=frozenset("门"),
        # Found from the door, which is rarer than digits.
        anchor=compile_ascii(r"门(?=口|前|外)|家门"),
        before=r"[\d ]",
        lookback=5,
    )
