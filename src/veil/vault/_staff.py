"""Staff relations: loading tickets and break-glass grants as policy facts.

Shared by the staff use-cases (tickets, reveals, break-glass) and by the view
path, where an agent with an open ticket on an order, or an admin or safety
officer with a grant in force, gets the masked view the policies grant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from veil.audit import AuditRecord, AuditTag
from veil.errors import AccessDenied, NotFound, VeilError
from veil.ids import IdKind, is_id
from veil.policy import (
    BreakGlassFacts,
    Decision,
    Deny,
    OrderFacts,
    PolicyEngine,
    TicketFacts,
    decide_staff_order,
)
from veil.store import BREAK_GLASS, ORDERS, TICKETS
from veil.vault._model import Caller, RequestMeta
from veil.vault._views import iso_ms

__all__ = [
    "REQUESTER_ROLES",
    "STAFF_RELATION_ROLES",
    "StaffAudit",
    "StaffViews",
    "detail_json",
    "grant_facts",
    "grant_status",
    "knows_order",
    "load_grant",
    "load_ticket",
    "order_row",
    "own_grants",
    "own_tickets",
    "refusal_for",
    "ticket_facts",
    "ticket_view",
]

# Roles whose access to an order depends on a ticket (agent) or a grant (admin, safety).
STAFF_RELATION_ROLES = frozenset({"agent", "admin", "safety"})
REQUESTER_ROLES = frozenset({"admin", "safety"})


def ticket_facts(row: Any) -> TicketFacts:
    """Turn a ``tickets`` row into policy facts."""
    return TicketFacts(
        id=row.id,
        order_id=row.order_id,
        assignee_id=row.agent_id,
        origin=row.origin,
        opened_ms=row.opened_ms,
        closed_ms=row.closed_ms,
    )


def grant_facts(row: Any) -> BreakGlassFacts:
    """Turn a ``break_glass`` row into policy facts."""
    return BreakGlassFacts(
        id=row.id,
        order_id=row.order_id,
        requester_id=row.requester_id,
        requester_role=row.requester_role,
        requested_ms=row.requested_ms,
        expires_ms=row.expires_ms,
        approver_id=row.approver_id,
        approved_ms=row.approved_ms,
        revoked_ms=row.revoked_ms,
    )


def order_row(connection: Connection, order_id: str) -> Any:
    """Return the order row (no key material), or None if absent or not an order id."""
    if not is_id(order_id, IdKind.ORDER):
        return None
    return connection.execute(select(ORDERS).where(ORDERS.c.id == order_id)).first()


def load_ticket(connection: Connection, ticket_id: str) -> Any:
    """Return the ticket row, or None if absent (or not shaped like a ticket id)."""
    if not is_id(ticket_id, IdKind.TICKET):
        return None
    return connection.execute(select(TICKETS).where(TICKETS.c.id == ticket_id)).first()


def load_grant(connection: Connection, grant_id: str) -> Any:
    """Return the break-glass row, or None if absent (or not shaped like a grant id)."""
    if not is_id(grant_id, IdKind.BREAK_GLASS):
        return None
    return connection.execute(select(BREAK_GLASS).where(BREAK_GLASS.c.id == grant_id)).first()


def own_tickets(
    connection: Connection, caller: Caller, order_ids: Iterable[str], now_ms: int
) -> dict[str, TicketFacts]:
    """Return, per order, the caller's open ticket on it, else their last closed one."""
    rows = connection.execute(
        select(TICKETS).where(
            TICKETS.c.order_id.in_(list(order_ids)), TICKETS.c.agent_id == caller.principal_id
        )
    ).all()
    best: dict[str, TicketFacts] = {}
    for row in rows:
        facts = ticket_facts(row)
        current = best.get(facts.order_id)
        if current is None or _ticket_rank(facts, now_ms) > _ticket_rank(current, now_ms):
            best[facts.order_id] = facts
    return best


def own_grants(
    connection: Connection, caller: Caller, order_ids: Iterable[str], now_ms: int
) -> dict[str, BreakGlassFacts]:
    """Return, per order, the caller's grant in force, else pending, else their latest."""
    rows = connection.execute(
        select(BREAK_GLASS).where(
            BREAK_GLASS.c.order_id.in_(list(order_ids)),
            BREAK_GLASS.c.requester_id == caller.principal_id,
        )
    ).all()
    best: dict[str, BreakGlassFacts] = {}
    for row in rows:
        facts = grant_facts(row)
        current = best.get(facts.order_id)
        if current is None or _grant_rank(facts, now_ms) > _grant_rank(current, now_ms):
            best[facts.order_id] = facts
    return best


def _ticket_rank(ticket: TicketFacts, now_ms: int) -> tuple[int, int]:
    is_open = ticket.closed_ms is None or ticket.closed_ms > now_ms
    return (1 if is_open else 0, ticket.closed_ms or ticket.opened_ms)


def _grant_rank(grant: BreakGlassFacts, now_ms: int) -> tuple[int, int]:
    return (_GRANT_ORDER[grant_status(grant, now_ms)], grant.requested_ms)


# Which grant speaks for the caller when they hold several on one order.
_GRANT_ORDER = {"active": 4, "pending": 3, "expired": 2, "lapsed": 1, "revoked": 0}


def grant_status(grant: BreakGlassFacts, now_ms: int) -> str:
    """Return ``pending``, ``active``, ``expired``, ``lapsed`` (never approved) or ``revoked``."""
    if grant.revoked_ms is not None and grant.revoked_ms <= now_ms:
        return "revoked"
    if grant.approved_ms is None:
        return "pending" if now_ms < grant.expires_ms else "lapsed"
    return "active" if now_ms < grant.expires_ms else "expired"


def ticket_view(row: Any, now_ms: int) -> dict[str, Any]:
    """Return what the API shows of a ticket: ids, origin, status and times."""
    closed = row.closed_ms is not None and row.closed_ms <= now_ms
    return {
        "ticket_id": row.id,
        "order_id": row.order_id,
        "agent_id": row.agent_id,
        "origin": row.origin,
        "status": "closed" if closed else "open",
        "opened_by": row.opened_by,
        "opened": iso_ms(row.opened_ms),
        "closed_by": row.closed_by,
        "closed": iso_ms(row.closed_ms) if row.closed_ms is not None else None,
    }


def refusal_for(reason: str, known: bool, what: str = "order") -> VeilError:
    """Return the error a denied caller gets: the reason if they know the object, else 404."""
    return AccessDenied(reason) if known else NotFound(f"no such {what}")


def detail_json(values: Mapping[str, object]) -> str:
    """Serialize audit details (ids, counts, quota state; never PII), dropping empty values."""
    return json.dumps(
        {k: v for k, v in values.items() if v is not None}, sort_keys=True, ensure_ascii=False
    )


class StaffViews:
    """Decides the views of a staff caller with their own ticket or grant on each order."""

    def __init__(
        self, policy: PolicyEngine, connection: Connection, caller: Caller, now_ms: int
    ) -> None:
        self._policy = policy
        self._connection = connection
        self._caller = caller
        self._principal = caller.facts()
        self._now_ms = now_ms
        self._tickets: dict[str, TicketFacts] = {}
        self._grants: dict[str, BreakGlassFacts] = {}

    def decide(self, facts_by_id: Mapping[str, OrderFacts]) -> dict[str, Decision]:
        """Load the caller's relations to these orders and decide ``view_order`` on each."""
        if facts_by_id:
            if self._caller.role == "agent":
                self._tickets = own_tickets(
                    self._connection, self._caller, facts_by_id, self._now_ms
                )
            else:
                self._grants = own_grants(self._connection, self._caller, facts_by_id, self._now_ms)
        return {
            order_id: self._decide("view_order", facts) for order_id, facts in facts_by_id.items()
        }

    def know(self, facts: OrderFacts) -> Decision:
        """Decide ``know_order`` with the same relations (a 403 or a 404 on denial)."""
        return self._decide("know_order", facts)

    def detail(self, order_id: str) -> str | None:
        """Return the audit detail naming the ticket or grant the decision read."""
        ticket = self._tickets.get(order_id)
        grant = self._grants.get(order_id)
        if ticket is None and grant is None:
            return None
        return detail_json(
            {
                "ticket_id": ticket.id if ticket else None,
                "break_glass_id": grant.id if grant else None,
            }
        )

    def _decide(self, action: str, facts: OrderFacts) -> Decision:
        return decide_staff_order(
            self._policy,
            self._principal,
            (action,),
            facts,
            now_ms=self._now_ms,
            ticket=self._tickets.get(facts.id),
            break_glass=self._grants.get(facts.id),
        )[0]


def knows_order(
    policy: PolicyEngine, connection: Connection, caller: Caller, facts: OrderFacts, now_ms: int
) -> bool:
    """Tell whether the caller may learn that an order exists (a 403 rather than a 404).

    Staff know an order only through their own ticket or grant on it; the
    other roles through the relations in ``orders.cedar``.
    """
    ticket = (
        own_tickets(connection, caller, [facts.id], now_ms).get(facts.id)
        if caller.role == "agent"
        else None
    )
    grant = (
        own_grants(connection, caller, [facts.id], now_ms).get(facts.id)
        if caller.role in REQUESTER_ROLES
        else None
    )
    [known] = decide_staff_order(
        policy,
        caller.facts(),
        ("know_order",),
        facts,
        now_ms=now_ms,
        ticket=ticket,
        break_glass=grant,
    )
    return known.allowed


class StaffAudit:
    """Builds the decision records of one staff request (who, when, from where)."""

    def __init__(self, caller: Caller, now_ms: int, meta: RequestMeta) -> None:
        self.caller = caller
        self.now_ms = now_ms
        self.meta = meta

    def record(
        self,
        tag: AuditTag,
        decision: Decision | None = None,
        *,
        reason: str | None = None,
        detail: Mapping[str, object] | None = None,
        **values: Any,
    ) -> AuditRecord:
        """Return the record of one outcome; denied if `decision` denies or a `reason` is given.

        `values` are further `AuditRecord` fields (order_id, subject_id, purpose...).
        """
        denied = reason is not None or isinstance(decision, Deny)
        if reason is None and isinstance(decision, Deny):
            reason = decision.reason
        return AuditRecord(
            tag=tag,
            at_ms=self.now_ms,
            decision="deny" if denied else "allow",
            principal_id=self.caller.principal_id,
            role=self.caller.role,
            policy_ids=decision.policy_ids if decision is not None else (),
            reason=reason,
            request_id=self.meta.request_id,
            client_ip=self.meta.client_ip,
            detail=detail_json(detail) if detail else None,
            **values,
        )
