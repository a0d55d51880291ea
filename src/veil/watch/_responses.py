"""Automatic responses and their reversal: suspend, step-up, reveal approvals, reinstatement.

A *suspension* sets the principal's status to ``suspended`` (authentication
refuses it from the next request on; the watch also tells every process to
drop its cached API-key lookups) and records a control row naming the alert.
A *step-up* makes every reveal by the principal wait for an *approval*: a
second person (an admin or security officer, never the principal) approves
one reveal of one order, for a few minutes. `reveal_hold` is what the reveal
use-case asks, in its own transaction, before it discloses anything.

Every response and every reversal is an audit event. Only an admin reverses
(`reinstate`); it lifts every control in force and restores ``active`` status.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update

from veil.audit import AuditRecord, AuditTag, append_events
from veil.errors import Conflict, InvalidInput, NotFound
from veil.ids import IdKind, is_id
from veil.store import PRINCIPAL_CONTROLS, PRINCIPALS

__all__ = [
    "CONTROL_KINDS",
    "STEP_UP_REASON",
    "WATCH_ACTOR",
    "approve_reveal",
    "impose",
    "live_controls",
    "reinstate",
    "reveal_hold",
]

WATCH_ACTOR = "watch"
CONTROL_KINDS = ("suspend", "step_up", "approval")
_CONTROLS = PRINCIPAL_CONTROLS
STEP_UP_REASON = "step-up in force: a second approver must approve each reveal by this principal"


def impose(
    engine: Engine,
    principal_id: str,
    control: str,
    *,
    alert_id: str | None,
    reason: str,
    now_ms: int,
) -> bool:
    """Suspend a principal or require step-up, on a finding; return whether anything changed."""
    if control not in ("suspend", "step_up"):
        raise ValueError("control must be suspend or step_up")
    with engine.begin() as connection:
        role = connection.scalar(select(PRINCIPALS.c.role).where(PRINCIPALS.c.id == principal_id))
        if role is None:
            return False
        if any(row.control == control for row in live_controls(connection, principal_id)):
            return False
        if control == "suspend":
            changed = connection.execute(
                update(PRINCIPALS)
                .where(PRINCIPALS.c.id == principal_id, PRINCIPALS.c.status == "active")
                .values(status="suspended")
            ).rowcount
            if not changed:
                return False  # disabled by an operator already, or suspended meanwhile
        connection.execute(
            insert(_CONTROLS).values(
                principal_id=principal_id,
                control=control,
                alert_id=alert_id,
                reason=reason[:200],
                imposed_by=WATCH_ACTOR,
                imposed_ms=now_ms,
            )
        )
        tag = (
            AuditTag.PRINCIPAL_SUSPENDED if control == "suspend" else AuditTag.PRINCIPAL_STEPPED_UP
        )
        append_events(
            connection,
            [
                AuditRecord(
                    tag,
                    now_ms,
                    "allow",
                    principal_id=principal_id,
                    role=role,
                    reason=reason[:200],
                    detail=json.dumps({"alert_id": alert_id, "by": WATCH_ACTOR}, sort_keys=True),
                )
            ],
        )
    return True


def live_controls(connection: Connection, principal_id: str) -> Sequence[Row[Any]]:
    """Return the controls in force on a principal (approvals included), oldest first."""
    return connection.execute(
        select(_CONTROLS)
        .where(_CONTROLS.c.principal_id == principal_id, _CONTROLS.c.lifted_ms.is_(None))
        .order_by(_CONTROLS.c.id)
    ).all()


def reinstate(
    connection: Connection, principal_id: str, *, by: str, reason: str, now_ms: int
) -> dict[str, Any]:
    """Lift every suspension and step-up on a principal (inside the caller's transaction).

    Raises:
        NotFound: no such principal.
        Conflict: nothing to lift (the principal is neither suspended nor stepped up).
    """
    row = (
        connection.execute(
            select(PRINCIPALS.c.role, PRINCIPALS.c.status).where(PRINCIPALS.c.id == principal_id)
        ).first()
        if is_id(principal_id, IdKind.PRINCIPAL)
        else None
    )
    if row is None:
        raise NotFound("no such principal")
    lifted = [
        c for c in live_controls(connection, principal_id) if c.control in ("suspend", "step_up")
    ]
    if not lifted and row.status != "suspended":
        raise Conflict("the principal is neither suspended nor under step-up")
    connection.execute(
        update(_CONTROLS)
        .where(
            _CONTROLS.c.principal_id == principal_id,
            _CONTROLS.c.lifted_ms.is_(None),
            _CONTROLS.c.control.in_(("suspend", "step_up")),
        )
        .values(lifted_by=by, lifted_ms=now_ms, lift_reason=reason[:200])
    )
    status = row.status
    if status == "suspended":
        connection.execute(
            update(PRINCIPALS)
            .where(PRINCIPALS.c.id == principal_id, PRINCIPALS.c.status == "suspended")
            .values(status="active")
        )
        status = "active"
    append_events(
        connection,
        [
            AuditRecord(
                AuditTag.PRINCIPAL_REINSTATED,
                now_ms,
                "allow",
                principal_id=principal_id,
                role=row.role,
                detail=json.dumps(
                    {
                        "by": by,
                        "lifted": sorted({c.control for c in lifted}),
                        "alert_ids": sorted({c.alert_id for c in lifted if c.alert_id}),
                    },
                    sort_keys=True,
                ),
            )
        ],
    )
    return {
        "principal_id": principal_id,
        "status": status,
        "lifted": sorted({c.control for c in lifted}),
    }


def approve_reveal(
    connection: Connection,
    principal_id: str,
    order_id: str,
    *,
    by: str,
    minutes: int,
    now_ms: int,
) -> dict[str, Any]:
    """Let a stepped-up principal make one reveal on one order, for `minutes` (second approver).

    Raises:
        InvalidInput: the approver is the principal itself, or `minutes` is out of range.
        NotFound: no such principal.
        Conflict: the principal is not under step-up.
    """
    if by == principal_id:
        raise InvalidInput("a reveal under step-up needs a second person's approval")
    if not 1 <= minutes <= 60:
        raise InvalidInput("minutes must be 1 to 60")
    if not is_id(order_id, IdKind.ORDER):
        raise InvalidInput("order_id must be an order id (ord_…)")
    role = (
        connection.scalar(select(PRINCIPALS.c.role).where(PRINCIPALS.c.id == principal_id))
        if is_id(principal_id, IdKind.PRINCIPAL)
        else None
    )
    if role is None:
        raise NotFound("no such principal")
    if not any(c.control == "step_up" for c in live_controls(connection, principal_id)):
        raise Conflict("the principal is not under step-up; its reveals need no approval")
    expires_ms = now_ms + minutes * 60_000
    result = connection.execute(
        insert(_CONTROLS).values(
            principal_id=principal_id,
            control="approval",
            order_id=order_id,
            reason="reveal approved by a second person",
            imposed_by=by,
            imposed_ms=now_ms,
            expires_ms=expires_ms,
        )
    )
    [approval_id] = result.inserted_primary_key or (None,)
    append_events(
        connection,
        [
            AuditRecord(
                AuditTag.REVEAL_APPROVED,
                now_ms,
                "allow",
                principal_id=principal_id,
                role=role,
                order_id=order_id,
                detail=json.dumps({"by": by, "expires_ms": expires_ms}, sort_keys=True),
            )
        ],
    )
    return {
        "approval": approval_id,
        "principal_id": principal_id,
        "order_id": order_id,
        "approved_by": by,
        "expires_ms": expires_ms,
    }


def reveal_hold(
    connection: Connection, principal_id: str, order_id: str, now_ms: int
) -> str | None:
    """Return why a reveal must wait (step-up without approval), or None; use up an approval.

    Runs inside the reveal's transaction, so an approval is used at most once.
    """
    controls = live_controls(connection, principal_id)
    if not any(c.control == "step_up" for c in controls):
        return None
    for control in controls:
        if (
            control.control == "approval"
            and control.order_id == order_id
            and control.expires_ms is not None
            and control.expires_ms > now_ms
        ):
            used = connection.execute(
                update(_CONTROLS)
                .where(_CONTROLS.c.id == control.id, _CONTROLS.c.lifted_ms.is_(None))
                .values(lifted_by=principal_id, lifted_ms=now_ms, lift_reason="used")
            ).rowcount
            if used:
                return None
    return STEP_UP_REASON
