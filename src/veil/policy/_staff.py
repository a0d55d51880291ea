"""Staff decisions: tickets and break-glass grants as Cedar entities, reveals with purposes.

The relationship facts (this agent holds this ticket on this order; this admin
asked for this grant) are built here as entities from store facts; the rules
about them live in ``staff.cedar``. An admin or safety officer is a Cedar
child of every grant they requested, so a policy says ``principal in
context.break_glass`` for "the caller asked for this grant".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from veil.policy._engine import (
    _VAULT,
    Decision,
    OrderFacts,
    PolicyEngine,
    PrincipalFacts,
    _order_entity,
    _principal_entity,
)

__all__ = [
    "ORDER_ACTIONS",
    "BreakGlassFacts",
    "TicketFacts",
    "decide_break_glass",
    "decide_staff_order",
    "decide_ticket",
    "decide_vault_action",
]

# The actions whose resource is an order (the others take a ticket, a grant or the vault).
ORDER_ACTIONS = frozenset(
    {"know_order", "view_order", "reveal", "open_ticket", "request_break_glass"}
)
TICKET_ACTIONS = frozenset({"view_ticket", "assign_ticket", "close_ticket"})
BREAK_GLASS_ACTIONS = frozenset({"view_break_glass", "approve_break_glass", "revoke_break_glass"})
_REQUESTER_ROLES = frozenset({"admin", "safety"})


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What policies may know about a support ticket."""

    id: str
    order_id: str
    assignee_id: str
    origin: str
    opened_ms: int
    closed_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BreakGlassFacts:
    """What policies may know about a break-glass grant.

    While the grant is pending, `expires_ms` is when the request lapses; once
    approved, it is when the access ends.
    """

    id: str
    order_id: str
    requester_id: str
    requester_role: str
    requested_ms: int
    expires_ms: int
    approver_id: str | None = None
    approved_ms: int | None = None
    revoked_ms: int | None = None


def _ref(entity_type: str, entity_id: str) -> dict[str, Any]:
    return {"__entity": {"type": entity_type, "id": entity_id}}


def _ticket_entity(ticket: TicketFacts) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "order": _ref("Veil::Order", ticket.order_id),
        "assignee": _ref("Veil::Agent", ticket.assignee_id),
        "origin": ticket.origin,
        "opened_ms": ticket.opened_ms,
    }
    if ticket.closed_ms is not None:
        attrs["closed_ms"] = ticket.closed_ms
    return {"uid": {"type": "Veil::Ticket", "id": ticket.id}, "attrs": attrs, "parents": []}


def _grant_entity(grant: BreakGlassFacts) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "order": _ref("Veil::Order", grant.order_id),
        "requester_role": grant.requester_role,
        "requested_ms": grant.requested_ms,
        "expires_ms": grant.expires_ms,
    }
    if grant.approver_id is not None:
        attrs["approver"] = _ref("Veil::Admin", grant.approver_id)
    for name in ("approved_ms", "revoked_ms"):
        value = getattr(grant, name)
        if value is not None:
            attrs[name] = value
    return {"uid": {"type": "Veil::BreakGlass", "id": grant.id}, "attrs": attrs, "parents": []}


def _staff_principal(principal: PrincipalFacts, grant: BreakGlassFacts | None) -> dict[str, Any]:
    entity = _principal_entity(principal)
    if (
        grant is not None
        and principal.role in _REQUESTER_ROLES
        and grant.requester_id == principal.id
    ):
        entity["parents"] = [{"type": "Veil::BreakGlass", "id": grant.id}]
    return entity


def decide_staff_order(
    engine: PolicyEngine,
    principal: PrincipalFacts,
    actions: Iterable[str],
    order: OrderFacts,
    *,
    now_ms: int,
    ticket: TicketFacts | None = None,
    break_glass: BreakGlassFacts | None = None,
    purpose: str | None = None,
    fields: Sequence[str] = (),
) -> list[Decision]:
    """Decide order actions with the caller's ticket or grant (and, for reveals, the purpose).

    `actions` must all take the same context: ``reveal`` alone (with `purpose`
    and `fields`), or any of ``know_order``, ``view_order``, ``open_ticket``,
    ``request_break_glass``.
    """
    entities = [_staff_principal(principal, break_glass), _order_entity(order)]
    context: dict[str, Any] = {"now_ms": now_ms}
    if purpose is None:
        context["rider_grace_ms"] = engine.rider_grace_ms
    else:
        context["purpose"] = purpose
        context["fields"] = list(fields)
    if ticket is not None:
        entities.append(_ticket_entity(ticket))
        context["ticket"] = _ref("Veil::Ticket", ticket.id)
    if break_glass is not None:
        entities.append(_grant_entity(break_glass))
        context["break_glass"] = _ref("Veil::BreakGlass", break_glass.id)
    resource = {"type": "Veil::Order", "id": order.id}
    return engine.evaluate(principal, actions, resource, entities, context)


def decide_ticket(
    engine: PolicyEngine,
    principal: PrincipalFacts,
    actions: Iterable[str],
    ticket: TicketFacts,
    *,
    now_ms: int,
) -> list[Decision]:
    """Decide ticket actions (``view_ticket``, ``assign_ticket``, ``close_ticket``)."""
    entities = [_principal_entity(principal), _ticket_entity(ticket)]
    resource = {"type": "Veil::Ticket", "id": ticket.id}
    return engine.evaluate(principal, actions, resource, entities, {"now_ms": now_ms})


def decide_break_glass(
    engine: PolicyEngine,
    principal: PrincipalFacts,
    actions: Iterable[str],
    grant: BreakGlassFacts,
    *,
    now_ms: int,
) -> list[Decision]:
    """Decide grant actions (``view_break_glass``, ``approve_…``, ``revoke_break_glass``)."""
    entities = [_staff_principal(principal, grant), _grant_entity(grant)]
    resource = {"type": "Veil::BreakGlass", "id": grant.id}
    return engine.evaluate(principal, actions, resource, entities, {"now_ms": now_ms})


def decide_vault_action(
    engine: PolicyEngine, principal: PrincipalFacts, action: str, *, now_ms: int
) -> Decision:
    """Decide a vault-wide action (the same as `PolicyEngine.decide_vault`)."""
    entities = [_principal_entity(principal)]
    return engine.evaluate(principal, (action,), dict(_VAULT), entities, {"now_ms": now_ms})[0]
