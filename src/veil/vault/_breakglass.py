"""Break-glass: emergency access to one order, approved by a second admin, expiring by itself.

An admin or safety officer asks, with a justification; nothing changes until
a different admin approves; from then the requester sees the order's masked
view and may reveal it for ``safety_incident`` or ``law_enforcement_request``
until the grant expires (30 minutes by default, ``quotas.toml``). Every
request raises a high-severity alert in the same transaction, and every
step and every reveal under a grant is marked in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, or_, select, update

from veil.audit import AuditRecord, AuditTag, append_events
from veil.errors import Conflict, InvalidInput, NotFound, VeilError
from veil.ids import IdKind, is_id, new_id
from veil.policy import BreakGlassFacts, Deny, decide_break_glass, decide_staff_order
from veil.store import BREAK_GLASS
from veil.vault._model import Caller, RequestMeta
from veil.vault._staff import (
    StaffAudit,
    grant_facts,
    grant_status,
    knows_order,
    load_grant,
    order_row,
    own_grants,
    refusal_for,
)
from veil.vault._vault import Vault, _order_facts
from veil.vault._views import iso_ms
from veil.watch import raise_alert, touch_alert

__all__ = [
    "approve_break_glass",
    "list_break_glass",
    "request_break_glass",
    "revoke_break_glass",
]

_NO_META = RequestMeta()
# Nine or more digits in a row (spaces and hyphens allowed between them) look
# like a mobile, ID or card number; dates, times and case numbers do not, so
# those are set aside first. The justification is operator text kept beside
# the grant: it must not become a PII store.
_NUMBER_RUN = re.compile(r"\d(?:[\s-]?\d){8,}")
_DATE_OR_TIME = re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}:\d{2}(?::\d{2})?\b")
_MAX_LISTED = 200
_TAGS = {
    "approve_break_glass": AuditTag.BREAK_GLASS_APPROVED,
    "revoke_break_glass": AuditTag.BREAK_GLASS_REVOKED,
}


def request_break_glass(
    vault: Vault,
    caller: Caller,
    order_id: str,
    *,
    justification: str,
    minutes: int | None = None,
    meta: RequestMeta = _NO_META,
) -> dict[str, Any]:
    """Ask for emergency access to one order; it takes effect once another admin approves.

    Raises:
        InvalidInput: the justification is missing, too long, or holds a number
            that looks like a phone or ID number; `minutes` is out of range.
        NotFound: the order is absent (or the caller may not know it).
        AccessDenied: the caller's role may not ask for break-glass.
        Conflict: the caller already has a pending or active grant on this order.
    """
    now_ms = vault._now_ms()
    limits = vault.policy.source.quotas.break_glass
    text = " ".join(justification.split())
    if not 10 <= len(text) <= 500:
        raise InvalidInput("justification must be 10 to 500 characters")
    if _NUMBER_RUN.search(_DATE_OR_TIME.sub(" ; ", text)):
        raise InvalidInput(
            "justification must not contain phone, ID or card numbers; refer to the case instead"
        )
    duration = limits.minutes if minutes is None else minutes
    if not 1 <= duration <= limits.max_minutes:
        raise InvalidInput(f"minutes must be 1 to {limits.max_minutes}")
    audit = StaffAudit(caller, now_ms, meta)
    grant_id = new_id(IdKind.BREAK_GLASS)
    outcome: dict[str, Any] | VeilError
    records: list[AuditRecord] = []
    with vault._transaction() as connection:
        row = order_row(connection, order_id)
        if row is None:
            outcome = NotFound("no such order")
            valid_id = order_id if is_id(order_id, IdKind.ORDER) else None
            records.append(
                audit.record(AuditTag.BREAK_GLASS_DENIED, reason="not found", order_id=valid_id)
            )
        else:
            facts = _order_facts(row)
            on_order = {"order_id": order_id, "subject_id": row.subject_id}
            [decision] = decide_staff_order(
                vault.policy, caller.facts(), ("request_break_glass",), facts, now_ms=now_ms
            )
            current = own_grants(connection, caller, [order_id], now_ms).get(order_id)
            if isinstance(decision, Deny):
                known = knows_order(vault.policy, connection, caller, facts, now_ms)
                outcome = refusal_for(decision.reason, known)
                records.append(audit.record(AuditTag.BREAK_GLASS_DENIED, decision, **on_order))
            elif current is not None and grant_status(current, now_ms) in {"pending", "active"}:
                status = grant_status(current, now_ms)
                outcome = Conflict(f"you already have a {status} grant on this order: {current.id}")
                records.append(
                    audit.record(
                        AuditTag.BREAK_GLASS_DENIED,
                        decision,
                        reason=f"a {status} grant exists",
                        detail={"break_glass_id": current.id},
                        **on_order,
                    )
                )
            else:
                values = {
                    "id": grant_id,
                    "order_id": order_id,
                    "requester_id": caller.principal_id,
                    "requester_role": caller.role,
                    "justification": text,
                    "minutes": duration,
                    "requested_ms": now_ms,
                    "expires_ms": now_ms + limits.approval_window_minutes * 60_000,
                }
                evidence = {
                    "break_glass_id": grant_id,
                    "order_id": order_id,
                    "requester_role": caller.role,
                    "minutes": duration,
                }
                alert_id = raise_alert(
                    connection,
                    kind="break_glass",
                    severity="high",
                    principal_id=caller.principal_id,
                    evidence=evidence,
                    now_ms=now_ms,
                )
                connection.execute(insert(BREAK_GLASS).values(**values, alert_id=alert_id))
                outcome = _grant_view(load_grant(connection, grant_id), now_ms)
                records.append(
                    audit.record(
                        AuditTag.BREAK_GLASS_REQUESTED,
                        decision,
                        detail={
                            "break_glass_id": grant_id,
                            "alert_id": alert_id,
                            "minutes": duration,
                        },
                        **on_order,
                    )
                )
                records.append(
                    audit.record(
                        AuditTag.ALERT_RAISED,
                        detail={"alert_id": alert_id, "kind": "break_glass", "severity": "high"},
                        order_id=order_id,
                    )
                )
        append_events(connection, records)
    if isinstance(outcome, VeilError):
        raise outcome
    return outcome


def approve_break_glass(
    vault: Vault, caller: Caller, grant_id: str, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Approve a pending request: access starts now and lasts the requested minutes.

    Raises:
        NotFound: no such grant (or the caller may not know it).
        AccessDenied: the caller is the requester (a second admin must approve)
            or not an admin.
        Conflict: the request was already approved, was revoked, or lapsed.
    """

    def change(grant: BreakGlassFacts, row: Any, now_ms: int) -> dict[str, Any]:
        status = grant_status(grant, now_ms)
        if status != "pending":
            raise Conflict(f"the request is {status}; only a pending request can be approved")
        return {
            "approver_id": caller.principal_id,
            "approved_ms": now_ms,
            "expires_ms": now_ms + row.minutes * 60_000,
        }

    return _on_grant(vault, caller, grant_id, "approve_break_glass", meta=meta, change=change)


def revoke_break_glass(
    vault: Vault, caller: Caller, grant_id: str, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """End a grant (or withdraw a request) now: the requester or any admin."""

    def change(grant: BreakGlassFacts, _row: Any, now_ms: int) -> dict[str, Any]:
        status = grant_status(grant, now_ms)
        if status not in {"pending", "active"}:
            raise Conflict(f"the grant is already {status}")
        return {"revoked_ms": now_ms, "revoked_by": caller.principal_id}

    return _on_grant(vault, caller, grant_id, "revoke_break_glass", meta=meta, change=change)


def list_break_glass(
    vault: Vault, caller: Caller, *, meta: RequestMeta = _NO_META
) -> list[dict[str, Any]]:
    """List grants pending or in force: every one for admins, their own for safety officers."""
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "list_break_glass", now_ms, meta)
    condition = (BREAK_GLASS.c.expires_ms > now_ms) & BREAK_GLASS.c.revoked_ms.is_(None)
    if caller.role != "admin":
        condition = condition & (BREAK_GLASS.c.requester_id == caller.principal_id)
    with vault._transaction() as connection:
        rows = connection.execute(
            select(BREAK_GLASS)
            .where(condition)
            .order_by(BREAK_GLASS.c.requested_ms, BREAK_GLASS.c.id)
            .limit(_MAX_LISTED)
        ).all()
        record = StaffAudit(caller, now_ms, meta).record(
            AuditTag.BREAK_GLASS_LISTED, detail={"count": len(rows)}
        )
        append_events(connection, [record])
    return [_grant_view(row, now_ms) for row in rows]


def _on_grant(
    vault: Vault,
    caller: Caller,
    grant_id: str,
    action: str,
    *,
    meta: RequestMeta,
    change: Callable[[BreakGlassFacts, Any, int], dict[str, Any]],
) -> dict[str, Any]:
    now_ms = vault._now_ms()
    audit = StaffAudit(caller, now_ms, meta)
    outcome: dict[str, Any] | VeilError
    with vault._transaction() as connection:
        row = load_grant(connection, grant_id)
        if row is None:
            outcome = NotFound("no such break-glass grant")
            valid_id = grant_id if is_id(grant_id, IdKind.BREAK_GLASS) else None
            record = audit.record(
                AuditTag.BREAK_GLASS_DENIED,
                reason="not found",
                detail={"break_glass_id": valid_id, "action": action},
            )
        else:
            grant = grant_facts(row)
            decision, known = decide_break_glass(
                vault.policy, caller.facts(), (action, "view_break_glass"), grant, now_ms=now_ms
            )
            detail: dict[str, object] = {"break_glass_id": grant.id, "action": action}
            reason: str | None = None
            if isinstance(decision, Deny):
                outcome = refusal_for(decision.reason, known.allowed, "break-glass grant")
                record_tag = AuditTag.BREAK_GLASS_DENIED
            else:
                try:
                    values = change(grant, row, now_ms)
                except Conflict as refused:
                    outcome, record_tag, reason = (
                        refused,
                        AuditTag.BREAK_GLASS_DENIED,
                        refused.message,
                    )
                else:
                    result = connection.execute(
                        update(BREAK_GLASS)
                        .where(
                            BREAK_GLASS.c.id == grant.id,
                            BREAK_GLASS.c.revoked_ms.is_(None),
                            or_(
                                BREAK_GLASS.c.approved_ms.is_(None),
                                BREAK_GLASS.c.approved_ms == row.approved_ms,
                            ),
                        )
                        .values(**values)
                    )
                    if result.rowcount == 0:
                        raise Conflict("the grant changed concurrently; retry")
                    row = load_grant(connection, grant.id)
                    if row.alert_id is not None:
                        touch_alert(connection, row.alert_id, now_ms, _alert_news(action, row))
                    outcome = _grant_view(row, now_ms)
                    record_tag = _TAGS[action]
                    detail["expires"] = iso_ms(row.expires_ms)
            record = audit.record(
                record_tag, decision, reason=reason, detail=detail, order_id=row.order_id
            )
        append_events(connection, [record])
    if isinstance(outcome, VeilError):
        raise outcome
    return outcome


def _alert_news(action: str, row: Any) -> dict[str, object]:
    if action == "approve_break_glass":
        return {"approved_by": row.approver_id, "approved_ms": row.approved_ms}
    return {"revoked_by": row.revoked_by, "revoked_ms": row.revoked_ms}


def _grant_view(row: Any, now_ms: int) -> dict[str, Any]:
    grant = grant_facts(row)

    def when(value: int | None) -> str | None:
        return iso_ms(value) if value is not None else None

    return {
        "break_glass_id": row.id,
        "order_id": row.order_id,
        "requester_id": row.requester_id,
        "requester_role": row.requester_role,
        "justification": row.justification,
        "minutes": row.minutes,
        "status": grant_status(grant, now_ms),
        "requested": iso_ms(row.requested_ms),
        "approver_id": row.approver_id,
        "approved": when(row.approved_ms),
        "expires": iso_ms(row.expires_ms),
        "revoked": when(row.revoked_ms),
        "alert_id": row.alert_id,
    }
