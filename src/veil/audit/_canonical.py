"""The canonical bytes of an audit event (``veil-audit-event/1``): what a leaf hashes.

An event's leaf is SHA-256(0x00 ‖ canonical bytes). The bytes are a version
line and a newline (⏎ below), then the event row as compact JSON with sorted
keys::

    veil-audit-event/1⏎{"at_ms":1764417600000,"client_ip":null,…,"seq":42,"tag":"vault:order:viewed"}

* Every column of ``audit_events`` is a key (`EVENT_FIELDS`), ``seq`` and
  ``at_ms`` included, so the leaf commits to the row as stored: its sequence
  number, its time, and ``null`` for an empty column.
* Values are JSON strings, integers or ``null``; nothing else occurs.
* Keys are sorted, there is no whitespace, and non-ASCII text is written as
  UTF-8, not escaped. For these value types this is exactly RFC 8785 (JSON
  Canonicalization Scheme): any JCS library reproduces the bytes from the
  JSON object.

Adding a column to ``audit_events`` changes the format: it becomes
``veil-audit-event/2`` with the new key, and verifiers keep reading /1 leaves.
A test fails when the table and `EVENT_FIELDS` disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from veil.errors import InvalidInput

__all__ = [
    "EVENT_FIELDS",
    "EVENT_FORMAT",
    "canonical_event",
    "canonical_event_values",
    "parse_event",
]

EVENT_FORMAT = "veil-audit-event/1"
EVENT_FIELDS = (
    "seq",
    "at_ms",
    "tag",
    "principal_id",
    "role",
    "order_id",
    "subject_id",
    "fields",
    "decision",
    "policy_ids",
    "reason",
    "purpose",
    "request_id",
    "client_ip",
    "detail",
)
_INTEGER_FIELDS = frozenset({"seq", "at_ms"})
_PREFIX = EVENT_FORMAT.encode("ascii") + b"\n"
_SORTED_FIELDS = tuple(sorted(EVENT_FIELDS))
# For each key in sorted order: where its value sits in EVENT_FIELDS order, the
# key as written, and whether the value is an integer.
_KEYS = tuple(
    (EVENT_FIELDS.index(name), f'"{name}":', name in _INTEGER_FIELDS) for name in _SORTED_FIELDS
)
# The standard library's own string encoder for ``ensure_ascii=False``: escapes
# only '"', '\\' and control characters, exactly as RFC 8785 does.
_quote = json.encoder.encode_basestring


def canonical_event(row: Mapping[str, Any]) -> bytes:
    """Return the canonical bytes of one ``audit_events`` row.

    Args:
        row: The row's columns by name (a mapping, or SQLAlchemy's ``row._mapping``).

    Raises:
        InvalidInput: A column is missing or holds a value of the wrong type.
    """
    try:
        values = [row[name] for name in EVENT_FIELDS]
    except KeyError as exc:
        raise InvalidInput(f"an audit event needs the column {exc.args[0]}") from None
    return canonical_event_values(values)


def canonical_event_values(values: Sequence[Any]) -> bytes:
    """Return the canonical bytes of a row given as its values in `EVENT_FIELDS` order.

    The integrator's and the exporter's path: they select the columns in that
    order, and building a mapping per row would cost as much as the encoding.

    Raises:
        InvalidInput: A value has the wrong type, or there are not exactly as many
            values as fields.
    """
    if len(values) != len(EVENT_FIELDS):
        raise InvalidInput(f"an audit event has {len(EVENT_FIELDS)} columns")
    # Written out by hand rather than with json.dumps(sort_keys=True): it runs
    # once per event in the integrator, and this is half the cost. A test holds
    # the two to the same bytes.
    parts = []
    for position, key, integer in _KEYS:
        value = values[position]
        if integer:
            if type(value) is not int:
                raise InvalidInput(f"audit event column {key[1:-2]} must be an integer")
            parts.append(key + str(value))
        elif value is None:
            parts.append(key + "null")
        elif type(value) is str:
            parts.append(key + _quote(value))
        else:
            raise InvalidInput(f"audit event column {key[1:-2]} must be text or null")
    return _PREFIX + ("{" + ",".join(parts) + "}").encode("utf-8")


def parse_event(data: bytes) -> dict[str, Any]:
    """Return the row an event's canonical bytes hold; refuse any other spelling.

    Raises:
        InvalidInput: The bytes are not a canonical ``veil-audit-event/1`` event.
    """
    if not data.startswith(_PREFIX):
        raise InvalidInput(f"not a {EVENT_FORMAT} event")
    try:
        document = json.loads(data[len(_PREFIX) :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(f"a {EVENT_FORMAT} event holds one JSON object") from None
    if not isinstance(document, dict) or tuple(sorted(document)) != _SORTED_FIELDS:
        raise InvalidInput(f"a {EVENT_FORMAT} event has exactly the keys {EVENT_FIELDS}")
    if canonical_event(document) != data:
        raise InvalidInput(f"the event is not spelled canonically ({EVENT_FORMAT})")
    return document
