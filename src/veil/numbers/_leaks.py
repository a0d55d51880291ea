"""Leak signals and the alerts they raise: evidence that a virtual number left its holder.

A signal is written when a number is called by someone it was not issued to,
or by its former holder after it ended. It names the binding's holder, the
rider or merchant the number was handed to, and an alert (``veil.watch``)
tells a security lead. Repeated calls about one binding touch the open alert
instead of raising a new one, and count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, literal_column, select

from veil.audit import AuditRecord, AuditTag
from veil.ids import IdKind, new_id
from veil.numbers._actor import Actor
from veil.store import ALERTS, LEAK_SIGNALS, Prepared
from veil.watch import raise_alert, touch_alert

__all__ = [
    "EXHAUSTED_ALERT",
    "LEAK_ALERT",
    "PRESSURE_ALERT",
    "BindingFacts",
    "pool_alert",
    "record_leak",
]

LEAK_ALERT = "numbers.leak_signal"
PRESSURE_ALERT = "numbers.pool_pressure"
EXHAUSTED_ALERT = "numbers.pool_exhausted"

_SIGNAL_COLUMNS = (
    "id",
    "at_ms",
    "kind",
    "binding_id",
    "order_id",
    "holder_id",
    "holder_role",
    "x_number",
    "caller_digest",
    "call_id",
    "alert_id",
)
_INSERT_SIGNAL = Prepared(
    insert(LEAK_SIGNALS).values({name: bindparam(name) for name in _SIGNAL_COLUMNS})
)
# The newest earlier signal about this binding and holder: its alert, and how many.
_EARLIER = Prepared(
    select(LEAK_SIGNALS.c.alert_id, func.count().label("signals"))
    .where(
        LEAK_SIGNALS.c.binding_id == bindparam("b"),
        LEAK_SIGNALS.c.holder_id == bindparam("h"),
        LEAK_SIGNALS.c.kind == bindparam("k"),
    )
    .group_by(LEAK_SIGNALS.c.alert_id)
    .order_by(func.max(LEAK_SIGNALS.c.at_ms).desc())
    .limit(literal_column("1"))
    .offset(literal_column("0"))
)
_ALERT_STATUS = Prepared(select(ALERTS.c.status).where(ALERTS.c.id == bindparam("a")))

_SEVERITY = {"stranger": "high", "former_holder": "medium"}
# An alert a security lead has not closed yet takes further signals.
_STILL_OPEN = ("open", "acknowledged")
_REASON = {
    "stranger": "a caller the number was not issued to",
    "former_holder": "the former holder called after the number ended",
}


@dataclass(frozen=True, slots=True)
class BindingFacts:
    """The parts of a binding a leak signal records."""

    id: str
    order_id: str
    holder_id: str
    holder_role: str
    x_number: str


def record_leak(
    connection: Connection,
    binding: BindingFacts,
    *,
    kind: str,
    caller_digest: bytes | None,
    call_row_id: str,
    candidates: int,
    now_ms: int,
    actor: Actor,
) -> list[AuditRecord]:
    """Write a signal naming the binding's holder; raise or touch its alert; return audit rows."""
    signal_id = new_id(IdKind.LEAK_SIGNAL)
    earlier = _EARLIER.first(connection, {"b": binding.id, "h": binding.holder_id, "k": kind})
    open_alert = None
    if earlier is not None and earlier.alert_id is not None:
        status = _ALERT_STATUS.first(connection, {"a": earlier.alert_id})
        if status is not None and status.status in _STILL_OPEN:
            open_alert = earlier.alert_id
    evidence: dict[str, Any] = {
        "binding_id": binding.id,
        "order_id": binding.order_id,
        "holder_role": binding.holder_role,
        "signal": kind,
        "last_signal_id": signal_id,
        "last_call_id": call_row_id,
        # With a number shared by several bindings, a stranger's call names
        # each of them; attribution weighs a signal by 1 / candidates.
        "candidates": candidates,
    }
    records: list[AuditRecord] = []
    if open_alert is not None:
        evidence["signals"] = int(earlier.signals) + 1 if earlier is not None else 1
        touch_alert(connection, open_alert, now_ms, evidence)
        alert_id = open_alert
    else:
        evidence["signals"] = 1
        alert_id = raise_alert(
            connection,
            kind=LEAK_ALERT,
            severity=_SEVERITY[kind],
            principal_id=binding.holder_id,
            evidence=evidence,
            now_ms=now_ms,
        )
        records.append(
            actor.record(
                AuditTag.ALERT_RAISED,
                now_ms,
                principal_id=binding.holder_id,
                role=binding.holder_role,
                order_id=binding.order_id,
                detail={"alert_id": alert_id, "kind": LEAK_ALERT, "severity": _SEVERITY[kind]},
            )
        )
    _INSERT_SIGNAL.run_many(
        connection,
        [
            {
                "id": signal_id,
                "at_ms": now_ms,
                "kind": kind,
                "binding_id": binding.id,
                "order_id": binding.order_id,
                "holder_id": binding.holder_id,
                "holder_role": binding.holder_role,
                "x_number": binding.x_number,
                "caller_digest": caller_digest,
                "call_id": call_row_id,
                "alert_id": alert_id,
            }
        ],
    )
    records.insert(
        0,
        actor.record(
            AuditTag.LEAK_SIGNAL,
            now_ms,
            decision="deny",
            principal_id=binding.holder_id,
            role=binding.holder_role,
            order_id=binding.order_id,
            reason=_REASON[kind],
            detail={
                "signal_id": signal_id,
                "binding_id": binding.id,
                "call_id": call_row_id,
                "alert_id": alert_id,
                "candidates": candidates,
            },
        ),
    )
    return records


def pool_alert(
    connection: Connection,
    *,
    kind: str,
    city: str,
    evidence: dict[str, Any],
    now_ms: int,
    actor: Actor,
) -> list[AuditRecord]:
    """Raise a pool alert for `city`, or touch the open one; return the audit rows of a new one."""
    severity = "high" if kind == EXHAUSTED_ALERT else "medium"
    # Alert evidence is ASCII without digit runs (veil.watch enforces it): the
    # city is kept as escapes, and no number goes in.
    city_ref = city.encode("ascii", "backslashreplace").decode("ascii")
    for alert_id, stored in connection.execute(
        select(ALERTS.c.id, ALERTS.c.evidence).where(
            ALERTS.c.kind == kind, ALERTS.c.status.in_(_STILL_OPEN)
        )
    ):
        if json.loads(stored).get("city") == city_ref:
            touch_alert(connection, alert_id, now_ms, evidence)
            return []
    alert_id = raise_alert(
        connection,
        kind=kind,
        severity=severity,
        principal_id=None,
        evidence={"city": city_ref, **evidence},
        now_ms=now_ms,
    )
    return [
        actor.record(
            AuditTag.ALERT_RAISED,
            now_ms,
            detail={"alert_id": alert_id, "kind": kind, "severity": severity, "city": city_ref},
        )
    ]
