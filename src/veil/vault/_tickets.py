"""Support tickets: opened on one order, assigned to one agent, closed. Always audited.

A ticket holds ids and times only. While it is open, its agent gets the
masked view of that one order (``view.agent.ticket`` in ``staff.cedar``) and
may ask for purpose-bound reveals on it; nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, insert, select, update

from veil.audit import AuditTag, append_events
from veil.errors import Conflict, InvalidInput, NotFound, VeilError
from veil.ids import IdKind, is_id, new_id
from veil.policy import Deny, TicketFacts, decide_staff_order, decide_ticket
from veil.store import PRINCIPALS, TICKETS
from veil.vault._model import Caller, RequestMeta
from veil.vault._staff import (
    StaffAudit,
    knows_order,
    load_ticket,
    order_row,
    refusal_for,
    ticket_facts,
    ticket_view,
)
from veil.vault._vault import Vault, _order_facts

__all__ = ["assign_ticket", "close_ticket", "my_tickets", "open_ticket", "ticket_of"]

_NO_META = RequestMeta()
_MAX_LISTED = 200
_TAGS = {
    "view_ticket": AuditTag.TICKET_VIEWED,
    "assign_ticket": AuditTag.TICKET_ASSIGNED,
    "close_ticket": AuditTag.TICKET_CLOSED,
}
# What a ticket action changes, given the connection, the ticket row and the time.
_Change = Callable[[Connection, Any, int], dict[str, Any]]


def open_ticket(
    vault: Vault,
    caller: Caller,
    order_id: str,
    *,
    agent_id: str | None = None,
    meta: RequestMeta = _NO_META,
) -> dict[str, Any]:
    """Open a ticket on one order for `agent_id` (an agent naming nobody opens it for themselves).

    Raises:
        NotFound: the order is absent, or the caller may not know it.
        AccessDenied: the caller knows the order but may not open this ticket.
        InvalidInput: `agent_id` is missing (service) or not an active agent.
        Conflict: that agent already has an open ticket on the order.
    """
    now_ms = vault._now_ms()
    audit = StaffAudit(caller, now_ms, meta)
    assignee = agent_id or (caller.principal_id if caller.role == "agent" else "")
    origin = "agent" if caller.role == "agent" else "service"
    ticket = TicketFacts(new_id(IdKind.TICKET), order_id, assignee, origin, now_ms)
    outcome: dict[str, Any] | VeilError
    with vault._transaction() as connection:
        row = order_row(connection, order_id)
        if row is None:
            outcome = NotFound("no such order")
            valid_id = order_id if is_id(order_id, IdKind.ORDER) else None
            record = audit.record(AuditTag.TICKET_DENIED, reason="not found", order_id=valid_id)
        else:
            facts = _order_facts(row)
            [decision] = decide_staff_order(
                vault.policy, caller.facts(), ("open_ticket",), facts, now_ms=now_ms, ticket=ticket
            )
            on_order = {"order_id": order_id, "subject_id": row.subject_id}
            if isinstance(decision, Deny):
                known = knows_order(vault.policy, connection, caller, facts, now_ms)
                outcome = refusal_for(decision.reason, known)
                record = audit.record(AuditTag.TICKET_DENIED, decision, **on_order)
            else:
                _check_assignee(connection, assignee)
                existing = connection.scalar(
                    select(TICKETS.c.id).where(
                        TICKETS.c.order_id == order_id,
                        TICKETS.c.agent_id == assignee,
                        TICKETS.c.closed_ms.is_(None),
                    )
                )
                if existing is not None:
                    outcome = Conflict(
                        f"the agent already has an open ticket on this order: {existing}"
                    )
                    record = audit.record(
                        AuditTag.TICKET_DENIED,
                        decision,
                        reason="the agent already has an open ticket on this order",
                        detail={"ticket_id": existing},
                        **on_order,
                    )
                else:
                    values = {
                        "id": ticket.id,
                        "order_id": order_id,
                        "agent_id": assignee,
                        "origin": origin,
                        "opened_by": caller.principal_id,
                        "opened_ms": now_ms,
                        "closed_by": None,
                        "closed_ms": None,
                    }
                    connection.execute(insert(TICKETS).values(**values))
                    outcome = ticket_view(SimpleNamespace(**values), now_ms)
                    record = audit.record(
                        AuditTag.TICKET_OPENED,
                        decision,
                        detail={"ticket_id": ticket.id, "agent_id": assignee, "origin": origin},
                        **on_order,
                    )
        append_events(connection, [record])
    if isinstance(outcome, VeilError):
        raise outcome
    return outcome


def ticket_of(
    vault: Vault, caller: Caller, ticket_id: str, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Return one ticket (ids, status, times) to its agent, the platform or an admin."""
    return _on_ticket(vault, caller, ticket_id, "view_ticket", meta)


def assign_ticket(
    vault: Vault, caller: Caller, ticket_id: str, agent_id: str, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Hand an open ticket to another agent (the platform or an admin)."""

    def change(connection: Connection, row: Any, _now_ms: int) -> dict[str, Any]:
        _check_assignee(connection, agent_id)
        if agent_id == row.agent_id:
            raise Conflict("the ticket is already assigned to this agent")
        return {"agent_id": agent_id}

    return _on_ticket(vault, caller, ticket_id, "assign_ticket", meta, change=change)


def close_ticket(
    vault: Vault, caller: Caller, ticket_id: str, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Close a ticket: from this moment on it gives its agent nothing."""

    def change(_connection: Connection, _row: Any, now_ms: int) -> dict[str, Any]:
        return {"closed_ms": now_ms, "closed_by": caller.principal_id}

    return _on_ticket(vault, caller, ticket_id, "close_ticket", meta, change=change)


def my_tickets(
    vault: Vault, caller: Caller, *, meta: RequestMeta = _NO_META
) -> list[dict[str, Any]]:
    """List the calling agent's open tickets (ids and times; at most 200, oldest first)."""
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "list_own_tickets", now_ms, meta)
    with vault._transaction() as connection:
        rows = connection.execute(
            select(TICKETS)
            .where(TICKETS.c.agent_id == caller.principal_id, TICKETS.c.closed_ms.is_(None))
            .order_by(TICKETS.c.opened_ms, TICKETS.c.id)
            .limit(_MAX_LISTED)
        ).all()
        record = StaffAudit(caller, now_ms, meta).record(
            AuditTag.TICKETS_LISTED, detail={"count": len(rows)}
        )
        append_events(connection, [record])
    return [ticket_view(row, now_ms) for row in rows]


def _on_ticket(
    vault: Vault,
    caller: Caller,
    ticket_id: str,
    action: str,
    meta: RequestMeta,
    *,
    change: _Change | None = None,
) -> dict[str, Any]:
    now_ms = vault._now_ms()
    audit = StaffAudit(caller, now_ms, meta)
    outcome: dict[str, Any] | VeilError
    with vault._transaction() as connection:
        row = load_ticket(connection, ticket_id)
        if row is None:
            outcome = NotFound("no such ticket")
            valid_id = ticket_id if is_id(ticket_id, IdKind.TICKET) else None
            record = audit.record(
                AuditTag.TICKET_DENIED,
                reason="not found",
                detail={"ticket_id": valid_id, "action": action},
            )
        else:
            # The second decision says whether the caller may know the ticket (403 vs 404).
            decision, known = decide_ticket(
                vault.policy,
                caller.facts(),
                (action, "view_ticket"),
                ticket_facts(row),
                now_ms=now_ms,
            )
            detail: dict[str, object] = {"ticket_id": row.id, "action": action}
            if isinstance(decision, Deny):
                outcome = refusal_for(decision.reason, known.allowed, "ticket")
                tag = AuditTag.TICKET_DENIED
            elif change is not None and row.closed_ms is not None:
                outcome = Conflict("the ticket is closed")
                tag = AuditTag.TICKET_DENIED
                detail["refused"] = "ticket closed"
            else:
                if change is not None:
                    result = connection.execute(
                        update(TICKETS)
                        .where(TICKETS.c.id == row.id, TICKETS.c.closed_ms.is_(None))
                        .values(**change(connection, row, now_ms))
                    )
                    if result.rowcount == 0:
                        raise Conflict("the ticket changed concurrently; retry")
                    row = load_ticket(connection, row.id)
                    detail["agent_id"] = row.agent_id
                outcome = ticket_view(row, now_ms)
                tag = _TAGS[action]
            reason = "ticket closed" if "refused" in detail else None
            record = audit.record(
                tag, decision, reason=reason, detail=detail, order_id=row.order_id
            )
        append_events(connection, [record])
    if isinstance(outcome, VeilError):
        raise outcome
    return outcome


def _check_assignee(connection: Connection, principal_id: str) -> None:
    if not principal_id:
        raise InvalidInput("agent_id is required: the agent the ticket is for")
    found = is_id(principal_id, IdKind.PRINCIPAL) and connection.scalar(
        select(PRINCIPALS.c.id).where(
            PRINCIPALS.c.id == principal_id,
            PRINCIPALS.c.role == "agent",
            PRINCIPALS.c.status == "active",
        )
    )
    if not found:
        raise InvalidInput("agent_id must name an active agent")
