"""Find and hide personal data that customers type into free text (Chinese first).

A `Redactor` runs a set of `Recognizer`s over the NFKC form of a note, maps what
they find back to the original characters, merges overlaps, and replaces each
finding with a typed placeholder (``[电话]``, ``[地址]``, ``[姓名]``…, or
``[PHONE]``… in English). Everything else in the note is left as typed::

    >>> from veil.redact import default_redactor
    >>> default_redactor().redact("到了打我电话138 1234 5678，3号楼2单元1203").text
    '到了打我电话[电话]，[地址]'

Recognizers are rules and checksums only: no network, no model, so redaction is
cheap enough to run on every order note at ingest. See docs/redact.md for what
each recognizer catches and what it misses.
"""

from veil.redact._checksums import id_check_char, is_valid_resident_id, luhn_ok
from veil.redact._model import (
    PLACEHOLDERS,
    EntityType,
    Finding,
    Language,
    Recognizer,
    Redaction,
    Span,
)
from veil.redact._normalize import Normalized, normalize
from veil.redact._patterns import PatternRecognizer
from veil.redact._redactor import Redactor, builtin_recognizers, default_redactor
from veil.redact._registry import RecognizerRegistry

__all__ = [
    "PLACEHOLDERS",
    "EntityType",
    "Finding",
    "Language",
    "Normalized",
    "PatternRecognizer",
    "Recognizer",
    "RecognizerRegistry",
    "Redaction",
    "Redactor",
    "Span",
    "builtin_recognizers",
    "default_redactor",
    "id_check_char",
    "is_valid_resident_id",
    "luhn_ok",
    "normalize",
]
