"""Masking profiles: how a field looks at each disclosure level, as data.

The preset ``cn-common`` follows mainland practice (hutool's DesensitizedUtil,
Alibaba's console): phone ``138****5678``, name ``张*`` keeping a compound
surname whole (``欧阳**``), address cut to district, building or full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ADDRESS_LEVELS",
    "COMPOUND_SURNAMES",
    "MaskingProfile",
    "disclosure_levels",
    "mask_name",
    "mask_phone",
]

# Two-character surnames (复姓) common enough to matter; a name starting with
# one keeps both characters as its surname.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "百里",
        "呼延",
        "钟离",
        "宗政",
        "濮阳",
        "澹台",
        "公冶",
        "太叔",
        "申屠",
        "闻人",
        "赫连",
        "万俟",
        "司空",
        "第五",
    ]
)

# Which address components each level shows.
ADDRESS_LEVELS: Mapping[str, tuple[str, ...]] = {
    "district": ("province", "city", "district"),
    "building": ("province", "city", "district", "street", "building", "landmark"),
    "full": (
        "province",
        "city",
        "district",
        "street",
        "building",
        "landmark",
        "unit",
        "floor",
        "room",
    ),
}

# Disclosure levels per field, weakest first; a view shows the strongest granted.
_LEVELS: Mapping[str, tuple[str, ...]] = {
    "name": ("masked", "full"),
    # virtual: the party's virtual number (veil.numbers), no form of the real one.
    "phone": ("virtual", "masked", "full"),
    "address": ("district", "building", "full"),
    "note": ("redacted", "original"),
    "order": ("state", "tokens"),
}


def disclosure_levels(grants: frozenset[str]) -> dict[str, str]:
    """Reduce policy grants (``"phone.masked"``...) to the strongest level per field.

    ``order`` is special: ``tokens`` adds to ``state`` rather than replacing it,
    so it is reported as the set it is (``"state"`` or ``"tokens"``) and the view
    builder checks both.
    """
    levels: dict[str, str] = {}
    for grant in grants:
        name, _, level = grant.partition(".")
        order = _LEVELS.get(name)
        if order is None or level not in order:
            continue
        current = levels.get(name)
        if current is None or order.index(level) > order.index(current):
            levels[name] = level
    return levels


def mask_name(name: str) -> str:
    """Keep the surname, star the rest: 张三 → 张*, 欧阳娜娜 → 欧阳**, John Smith → J***."""
    name = name.strip()
    if not name:
        return ""
    if name.isascii():
        return name[0] + "***"
    surname = name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]
    return surname + "*" * max(1, len(name) - len(surname))


def mask_phone(e164: str) -> str:
    """Show the first three and last four digits of the national number: 138****5678."""
    national = e164[3:] if e164.startswith("+86") else e164.lstrip("+")
    if len(national) <= 7:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 7) + national[-4:]


@dataclass(frozen=True)
class MaskingProfile:
    """A named set of masking functions; ``cn-common`` is the only preset today."""

    name: str = "cn-common"

    def name_at(self, name: str, level: str) -> str:
        """Render a person's name at `level` (``masked`` or ``full``)."""
        return name if level == "full" else mask_name(name)

    def phone_at(self, e164: str, level: str) -> str:
        """Render an E.164 phone at `level` (``masked`` or ``full``)."""
        return e164 if level == "full" else mask_phone(e164)

    def address_at(self, address: Mapping[str, Any], level: str) -> dict[str, Any]:
        """Keep only the address components `level` shows."""
        return {key: address[key] for key in ADDRESS_LEVELS[level] if address.get(key)}
