"""The vocabulary of redaction: entity types, findings, results, and the Recognizer protocol."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "PLACEHOLDERS",
    "EntityType",
    "Finding",
    "Language",
    "Recognizer",
    "Redaction",
    "Span",
]

Language = Literal["zh", "en"]
"""The language of the placeholders a redaction writes."""

Span = tuple[int, int]
"""A half-open ``(start, end)`` range of character offsets."""


class EntityType(enum.StrEnum):
    """The kinds of personal data a recognizer can find."""

    PHONE = "phone"
    ID_CARD = "id_card"
    BANK_CARD = "bank_card"
    PLATE = "plate"
    EMAIL = "email"
    WECHAT = "wechat"
    QQ = "qq"
    ADDRESS = "address"
    NAME = "name"


PLACEHOLDERS: dict[Language, dict[EntityType, str]] = {
    "zh": {
        EntityType.PHONE: "[电话]",
        EntityType.ID_CARD: "[身份证]",
        EntityType.BANK_CARD: "[银行卡]",
        EntityType.PLATE: "[车牌]",
        EntityType.EMAIL: "[邮箱]",
        EntityType.WECHAT: "[微信]",
        EntityType.QQ: "[QQ]",
        EntityType.ADDRESS: "[地址]",
        EntityType.NAME: "[姓名]",
    },
    "en": {
        EntityType.PHONE: "[PHONE]",
        EntityType.ID_CARD: "[ID]",
        EntityType.BANK_CARD: "[BANK_CARD]",
        EntityType.PLATE: "[PLATE]",
        EntityType.EMAIL: "[EMAIL]",
        EntityType.WECHAT: "[WECHAT]",
        EntityType.QQ: "[QQ]",
        EntityType.ADDRESS: "[ADDRESS]",
        EntityType.NAME: "[NAME]",
    },
}
"""The typed placeholder that replaces each kind of finding, per language."""


@runtime_checkable
class Recognizer(Protocol):
    """Finds one kind of personal data in normalised text.

    A recognizer sees the note after NFKC normalisation (full-width digits and
    letters are already ASCII) and returns half-open spans into *that* text; the
    redactor maps them back to the original. Recognizers must be pure and
    stateless so one instance can serve many threads.

    Attributes:
        name: A unique, stable name (the registry rejects duplicates); it is
            reported on each finding so an operator can tell which rule fired.
        entity_type: The kind of data every span it returns holds.
    """

    @property
    def name(self) -> str:
        """The recognizer's unique name."""
        ...

    @property
    def entity_type(self) -> EntityType:
        """The kind of data this recognizer finds."""
        ...

    def find(self, text: str) -> Iterable[Span]:
        """Return the spans of `text` (already normalised) that hold personal data."""
        ...


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted range of the original text.

    Attributes:
        start: Offset of the first redacted character in the original text.
        end: Offset one past the last redacted character in the original text.
        entity_type: What the range held.
        recognizer: The name of the recognizer whose span decided the type.
    """

    start: int
    end: int
    entity_type: EntityType
    recognizer: str


@dataclass(frozen=True, slots=True)
class Redaction:
    """The result of redacting one text.

    Attributes:
        text: The text with every finding replaced by its typed placeholder.
        findings: The replaced ranges of the original text, in order and disjoint.
    """

    text: str
    findings: tuple[Finding, ...]
