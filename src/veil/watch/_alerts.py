"""Alert records: something a security lead must look at, with evidence and a status.

An alert is written in the transaction of the event that caused it (a
break-glass request), or in its own transaction when a detector's finding
crosses a threshold. Evidence holds ids, counts and times, never plaintext PII;
`safe_evidence` enforces it on the way in. Status moves open → acknowledged →
closed, each step with who and why.

One alert per incident: a finding names its incident (`Finding.dedup_key`,
kind and principal); while that incident's alert is open or acknowledged,
further findings update it (last seen, hits, counters, the latest events)
instead of raising another. A closed incident that recurs is a new alert.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, text, update

from veil.audit import AuditRecord, AuditTag, append_events
from veil.errors import Conflict, NotFound
from veil.ids import IdKind, is_id, new_id
from veil.store import ALERTS
from veil.watch._detectors import Finding

__all__ = [
    "ALERT_STATUSES",
    "SEVERITIES",
    "AlertChange",
    "acknowledge_alert",
    "alert_document",
    "close_alert",
    "list_alerts",
    "load_alert",
    "raise_alert",
    "record_finding",
    "safe_evidence",
    "touch_alert",
]

SEVERITIES = ("low", "medium", "high", "critical")
ALERT_STATUSES = ("open", "acknowledged", "closed")
_MAX_EVENTS = 20

# Evidence keys look like Veil's own field names; values are numbers, booleans,
# ids, or short ASCII sentences without a run of seven digits (a phone, ID or
# card number). Anything else is replaced, so a bug upstream cannot leak.
_KEY = re.compile(r"[a-z][a-z0-9_]{0,47}")
_ID = re.compile(r"[a-z]{3}_[a-z2-7]{26}")
_DIGIT_RUN = re.compile(r"\d{7}")
_REDACTED = "[redacted]"


def safe_evidence(value: Any) -> Any:
    """Return `value` with every key or string that could carry PII dropped or replaced."""
    if isinstance(value, Mapping):
        return {
            str(k): safe_evidence(v) for k, v in value.items() if _KEY.fullmatch(str(k)) is not None
        }
    if isinstance(value, list | tuple):
        return [safe_evidence(v) for v in value[:50]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _safe_text(value) if isinstance(value, str) else _REDACTED


def _safe_text(value: str) -> str:
    if _ID.fullmatch(value):
        return value
    if len(value) > 200 or not value.isascii() or _DIGIT_RUN.search(value):
        return _REDACTED
    return value


def raise_alert(
    connection: Connection,
    *,
    kind: str,
    severity: str,
    principal_id: str | None,
    evidence: Mapping[str, object],
    now_ms: int,
    summary: str = "",
    dedup_key: str | None = None,
    response: str | None = None,
) -> str:
    """Insert an open alert inside the caller's transaction; return its id (``alr_…``)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    alert_id = new_id(IdKind.ALERT)
    connection.execute(
        insert(ALERTS).values(
            id=alert_id,
            kind=kind,
            severity=severity,
            principal_id=principal_id,
            first_seen_ms=now_ms,
            last_seen_ms=now_ms,
            evidence=json.dumps(safe_evidence(dict(evidence)), sort_keys=True),
            status="open",
            dedup_key=dedup_key,
            summary=safe_evidence(summary[:200]),
            response=response,
            hits=1,
            version=1,
            notified_version=0,
            notify_attempts=0,
            notify_next_ms=0,
        )
    )
    return alert_id


def touch_alert(
    connection: Connection, alert_id: str, now_ms: int, evidence: Mapping[str, object]
) -> None:
    """Record that the alert's cause happened again: move `last_seen` and merge `evidence`."""
    row = connection.execute(
        select(ALERTS.c.evidence, ALERTS.c.hits).where(ALERTS.c.id == alert_id)
    ).first()
    if row is None:
        return
    merged = {**json.loads(row.evidence), **safe_evidence(dict(evidence))}
    connection.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id)
        .values(last_seen_ms=now_ms, hits=row.hits + 1, evidence=json.dumps(merged, sort_keys=True))
    )


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What recording a finding did: opened a new alert, or updated (and maybe escalated) one."""

    alert_id: str
    opened: bool
    escalated: bool
    severity: str


def record_finding(
    engine: Engine,
    finding: Finding,
    *,
    response: str,
    now_ms: int,
    reopen_after_ms: int,
) -> AlertChange | None:
    """Open the finding's incident alert, or update the one already open; audit a new one.

    A finding whose incident was closed less than `reopen_after_ms` ago is
    dropped (None): a person just judged it, and its counters were reset.
    """
    key = finding.dedup_key
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes seeing one incident at once must not open two alerts.
            digest = hashlib.sha256(key.encode()).digest()
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:k)"),
                {"k": int.from_bytes(digest[:8], "big", signed=True)},
            )
        row = connection.execute(
            select(ALERTS)
            .where(ALERTS.c.dedup_key == key)
            .order_by(ALERTS.c.first_seen_ms.desc())
            .limit(1)
        ).first()
        if row is not None and row.status != "closed":
            return _update_incident(connection, row, finding, now_ms)
        if (
            row is not None
            and row.closed_ms is not None
            and now_ms - row.closed_ms < reopen_after_ms
        ):
            return None
        alert_id = raise_alert(
            connection,
            kind=finding.kind,
            severity=finding.severity,
            principal_id=finding.principal_id,
            evidence=_evidence(finding),
            now_ms=now_ms,
            summary=finding.summary,
            dedup_key=key,
            response=response,
        )
        append_events(
            connection,
            [
                AuditRecord(
                    AuditTag.ALERT_RAISED,
                    now_ms,
                    "allow",
                    principal_id=finding.principal_id,
                    role=finding.role,
                    reason=finding.kind,
                    detail=json.dumps(
                        {
                            "alert_id": alert_id,
                            "kind": finding.kind,
                            "severity": finding.severity,
                            "response": response,
                        },
                        sort_keys=True,
                    ),
                )
            ],
        )
        return AlertChange(alert_id, opened=True, escalated=False, severity=finding.severity)


def _evidence(finding: Finding) -> dict[str, Any]:
    return {
        "counters": dict(finding.counters),
        "events": [dict(e) for e in finding.events[-_MAX_EVENTS:]],
        "related_principals": list(finding.related),
    }


def _update_incident(
    connection: Connection, row: Row[Any], finding: Finding, now_ms: int
) -> AlertChange:
    evidence = json.loads(row.evidence)
    fresh = safe_evidence(_evidence(finding))
    events = evidence.get("events", [])
    known = {json.dumps(e, sort_keys=True) for e in events}
    events.extend(e for e in fresh["events"] if json.dumps(e, sort_keys=True) not in known)
    related = sorted(set(evidence.get("related_principals", [])) | set(fresh["related_principals"]))
    merged = {
        **evidence,
        "counters": fresh["counters"],
        "events": events[-_MAX_EVENTS:],
        "related_principals": related,
    }
    escalated = SEVERITIES.index(finding.severity) > SEVERITIES.index(row.severity)
    values: dict[str, Any] = {
        "last_seen_ms": now_ms,
        "hits": row.hits + 1,
        "evidence": json.dumps(merged, sort_keys=True),
        "summary": safe_evidence(finding.summary[:200]),
    }
    if escalated:
        # A worse finding is news for the SIEM; a repeat is not.
        values["severity"] = finding.severity
        values["version"] = row.version + 1
    connection.execute(update(ALERTS).where(ALERTS.c.id == row.id).values(**values))
    severity = finding.severity if escalated else row.severity
    return AlertChange(row.id, opened=False, escalated=escalated, severity=severity)


def load_alert(connection: Connection, alert_id: str) -> Row[Any]:
    """Return one alert row, or raise `NotFound`."""
    row = (
        connection.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).first()
        if is_id(alert_id, IdKind.ALERT)
        else None
    )
    if row is None:
        raise NotFound("no such alert")
    return row


def list_alerts(
    connection: Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    principal_id: str | None = None,
    limit: int = 100,
) -> Sequence[Row[Any]]:
    """Return alerts, newest activity first; `status` may also be ``active`` (not closed)."""
    query = select(ALERTS)
    if status == "active":
        query = query.where(ALERTS.c.status != "closed")
    elif status is not None:
        query = query.where(ALERTS.c.status == status)
    if kind is not None:
        query = query.where(ALERTS.c.kind == kind)
    if principal_id is not None:
        query = query.where(ALERTS.c.principal_id == principal_id)
    query = query.order_by(ALERTS.c.last_seen_ms.desc(), ALERTS.c.id).limit(limit)
    return connection.execute(query).all()


def acknowledge_alert(
    connection: Connection, alert_id: str, *, by: str, reason: str, now_ms: int
) -> Row[Any]:
    """Move an open alert to acknowledged, noting who and why; return the updated row."""
    row = load_alert(connection, alert_id)
    if row.status != "open":
        raise Conflict(f"the alert is {row.status}; only an open alert can be acknowledged")
    connection.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id, ALERTS.c.status == "open")
        .values(
            status="acknowledged",
            acknowledged_by=by,
            acknowledged_ms=now_ms,
            acknowledged_reason=reason,
            version=row.version + 1,
        )
    )
    return load_alert(connection, alert_id)


def close_alert(
    connection: Connection, alert_id: str, *, by: str, reason: str, now_ms: int
) -> Row[Any]:
    """Close an open or acknowledged alert, noting who and why; return the updated row."""
    row = load_alert(connection, alert_id)
    if row.status == "closed":
        raise Conflict("the alert is already closed")
    connection.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id, ALERTS.c.status != "closed")
        .values(
            status="closed",
            closed_by=by,
            closed_ms=now_ms,
            closed_reason=reason,
            version=row.version + 1,
        )
    )
    return load_alert(connection, alert_id)


def alert_document(row: Row[Any], *, with_reasons: bool = True) -> dict[str, Any]:
    """Return an alert as JSON-ready data (times as epoch ms).

    The webhook leaves out the operators' free-text reasons (`with_reasons`):
    they are people's words, and the SIEM needs who and when, not why.
    """
    document: dict[str, Any] = {
        "alert_id": row.id,
        "kind": row.kind,
        "severity": row.severity,
        "status": row.status,
        "principal_id": row.principal_id,
        "summary": row.summary,
        "response": row.response,
        "first_seen_ms": row.first_seen_ms,
        "last_seen_ms": row.last_seen_ms,
        "hits": row.hits,
        "evidence": json.loads(row.evidence),
        "acknowledged": _step(row.acknowledged_by, row.acknowledged_ms),
        "closed": _step(row.closed_by, row.closed_ms),
    }
    if with_reasons:
        if document["acknowledged"] is not None:
            document["acknowledged"]["reason"] = row.acknowledged_reason
        if document["closed"] is not None:
            document["closed"]["reason"] = row.closed_reason
    return document


def _step(by: str | None, at_ms: int | None) -> dict[str, Any] | None:
    if at_ms is None:
        return None
    return {"by": by, "at_ms": at_ms}
