"""Alert records: something a security lead must look at, with evidence and a status.

An alert is written in the transaction of the event that caused it (a
break-glass request today), so the event cannot happen without its alert.
Evidence holds ids, counts and times, never plaintext PII. Status moves
open → acknowledged → closed; detection (the watch issue) adds kinds and the
workflow around them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import Connection, insert, select, update

from veil.ids import IdKind, new_id
from veil.store import ALERTS

__all__ = ["SEVERITIES", "raise_alert", "touch_alert"]

SEVERITIES = ("low", "medium", "high", "critical")


def raise_alert(
    connection: Connection,
    *,
    kind: str,
    severity: str,
    principal_id: str | None,
    evidence: Mapping[str, object],
    now_ms: int,
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
            evidence=json.dumps(dict(evidence), sort_keys=True),
            status="open",
        )
    )
    return alert_id


def touch_alert(
    connection: Connection, alert_id: str, now_ms: int, evidence: Mapping[str, object]
) -> None:
    """Record that the alert's cause happened again: move `last_seen` and merge `evidence`."""
    current = connection.scalar(select(ALERTS.c.evidence).where(ALERTS.c.id == alert_id))
    if current is None:
        return
    merged = {**json.loads(current), **evidence}
    connection.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id)
        .values(last_seen_ms=now_ms, evidence=json.dumps(merged, sort_keys=True))
    )
