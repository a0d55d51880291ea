"""The canonical event bytes (``veil-audit-event/1``): a pinned vector, round trips, strictness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.audit import (
    EVENT_FIELDS,
    EVENT_FORMAT,
    canonical_event,
    canonical_event_values,
    leaf_hash,
    parse_event,
)
from veil.errors import InvalidInput
from veil.store import AUDIT_EVENTS

ROW: dict[str, Any] = {
    "seq": 42,
    "at_ms": 1_764_417_600_000,
    "tag": "vault:order:viewed",
    "principal_id": "prn_aaaaaaaaaaaaaaaaaaaaaaaaaa",
    "role": "rider",
    "order_id": "ord_bbbbbbbbbbbbbbbbbbbbbbbbbb",
    "subject_id": "sub_cccccccccccccccccccccccccc",
    "fields": "name.masked phone.masked address.full",
    "decision": "allow",
    "policy_ids": "view.rider.to-door",
    "reason": None,
    "purpose": None,
    "request_id": "req_dddddddddddddddddddddddddd",
    "client_ip": "10.0.0.7",
    "detail": "送到前台",
}

# The documented vector (docs/audit.md): any implementation must produce these bytes.
VECTOR = (
    b"veil-audit-event/1\n"
    b'{"at_ms":1764417600000,"client_ip":"10.0.0.7","decision":"allow",'
    b'"detail":"\xe9\x80\x81\xe5\x88\xb0\xe5\x89\x8d\xe5\x8f\xb0",'
    b'"fields":"name.masked phone.masked address.full",'
    b'"order_id":"ord_bbbbbbbbbbbbbbbbbbbbbbbbbb","policy_ids":"view.rider.to-door",'
    b'"principal_id":"prn_aaaaaaaaaaaaaaaaaaaaaaaaaa","purpose":null,"reason":null,'
    b'"request_id":"req_dddddddddddddddddddddddddd","role":"rider",'
    b'"seq":42,"subject_id":"sub_cccccccccccccccccccccccccc","tag":"vault:order:viewed"}'
)
# SHA-256(0x00 ‖ VECTOR), computed with `printf … | sha256sum`, not with Veil.
VECTOR_LEAF = "499d2961f4688cd3cbad88d27b06579d7fa202e02142ff17142eecb52a60f41c"


def test_the_documented_vector() -> None:
    assert canonical_event(ROW) == VECTOR
    assert leaf_hash(VECTOR).hex() == VECTOR_LEAF


def test_every_audit_events_column_is_in_the_format() -> None:
    # A new column must enter the canonical bytes (and bump the format version),
    # or the tree would not protect it.
    assert set(EVENT_FIELDS) == {column.name for column in AUDIT_EVENTS.columns}
    assert EVENT_FORMAT == "veil-audit-event/1"


def test_the_bytes_are_jcs_sorted_compact_utf8() -> None:
    data = canonical_event({**ROW, "detail": 'a "quote"\n\\ and \x01'})
    body = data.split(b"\n", 1)[1]
    document = json.loads(body)
    assert list(document) == sorted(document)
    # No whitespace between tokens: every space is inside a string value.
    assert b'": ' not in body
    assert b', "' not in body
    assert b'"detail":"a \\"quote\\"\\n\\\\ and \\u0001"' in body


rows = st.fixed_dictionaries(
    {
        name: st.integers(0, 2**53)
        if name in ("seq", "at_ms")
        else st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",))))
        for name in EVENT_FIELDS
    }
)


@given(rows)
def test_the_bytes_are_json_dumps_with_sorted_keys(row: dict[str, Any]) -> None:
    # The reference spelling (RFC 8785 for strings, integers and null).
    reference = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_event(row) == b"veil-audit-event/1\n" + reference.encode("utf-8")


@given(rows)
def test_the_values_path_spells_the_same_bytes(row: dict[str, Any]) -> None:
    assert canonical_event_values([row[name] for name in EVENT_FIELDS]) == canonical_event(row)


def test_the_values_path_needs_every_column() -> None:
    with pytest.raises(InvalidInput):
        canonical_event_values([ROW[name] for name in EVENT_FIELDS][:-1])


@given(rows)
def test_parse_inverts_canonical(row: dict[str, Any]) -> None:
    data = canonical_event(row)
    assert data.startswith(b"veil-audit-event/1\n")
    assert parse_event(data) == row


@pytest.mark.parametrize(
    "data",
    [
        b'{"seq":1}',
        b"veil-audit-event/2\n{}",
        b"veil-audit-event/1\n[]",
        b"veil-audit-event/1\nnot json",
        VECTOR.replace(b'"seq":42', b'"seq": 42'),
        VECTOR.replace(b'{"at_ms":1764417600000,', b'{"at_ms":1764417600000,"extra":1,'),
        VECTOR.replace(b"\xe9\x80\x81\xe5\x88\xb0", b"\\u9001\\u5230"),
        VECTOR.replace(b'"seq":42', b'"seq":"42"'),
    ],
)
def test_parse_refuses_any_other_spelling(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_event(data)


@pytest.mark.parametrize(
    "change", [{"seq": "1"}, {"at_ms": 1.5}, {"at_ms": True}, {"tag": 3}, {"detail": b"x"}]
)
def test_ill_typed_rows_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        canonical_event({**ROW, **change})


def test_a_missing_column_is_refused() -> None:
    row = dict(ROW)
    del row["purpose"]
    with pytest.raises(InvalidInput, match="purpose"):
        canonical_event(row)
