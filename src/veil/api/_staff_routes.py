"""Staff routes: tickets, purpose-bound reveals, quotas, break-glass, analytics, policies.

Transport only: each route parses, calls one vault use-case, serializes. The
rules are in ``staff.cedar``; the error model and statuses are the app's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from veil.api._app import Auth, Meta
from veil.api._staff_schemas import BreakGlassIn, RevealIn, TicketAssignIn, TicketIn
from veil.policy import PURPOSES, REVEALABLE_FIELDS
from veil.vault import (
    MAX_ANALYTICS_ROWS,
    Vault,
    approve_break_glass,
    assign_ticket,
    close_ticket,
    export_orders,
    list_break_glass,
    my_tickets,
    open_ticket,
    policy_status,
    quota_of,
    reload_policies,
    request_break_glass,
    reveal_order,
    revoke_break_glass,
    ticket_of,
)

__all__ = ["router"]

router = APIRouter()


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


# ---- tickets ----


@router.post("/v1/tickets", status_code=201, tags=["support"])
def create_ticket(body: TicketIn, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Open a support ticket on one order: the platform for any agent, an agent for themselves."""
    return open_ticket(_vault(request), who, body.order_id, agent_id=body.agent_id, meta=meta)


@router.get("/v1/tickets/{ticket_id}", tags=["support"])
def get_ticket(ticket_id: str, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """One ticket (ids, status, times): to its agent, the platform and admins."""
    return ticket_of(_vault(request), who, ticket_id, meta=meta)


@router.post("/v1/tickets/{ticket_id}/assign", tags=["support"])
def reassign_ticket(
    ticket_id: str, body: TicketAssignIn, who: Auth, meta: Meta, request: Request
) -> dict[str, Any]:
    """Hand an open ticket to another agent (the platform or an admin)."""
    return assign_ticket(_vault(request), who, ticket_id, body.agent_id, meta=meta)


@router.post("/v1/tickets/{ticket_id}/close", tags=["support"])
def end_ticket(ticket_id: str, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Close a ticket: its agent loses the order's view and reveals at once."""
    return close_ticket(_vault(request), who, ticket_id, meta=meta)


@router.get("/v1/me/tickets", tags=["support"])
def own_tickets(who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """The calling agent's open tickets."""
    return {"tickets": my_tickets(_vault(request), who, meta=meta)}


# ---- reveals and quotas ----


@router.get("/v1/purposes", tags=["support"])
def purposes(who: Auth) -> dict[str, Any]:
    """The closed list of reveal purposes, and the fields a reveal may name."""
    del who  # Authenticated like every data route; the list itself is public documentation.
    return {
        "purposes": [{"purpose": name, "description": text} for name, text in PURPOSES.items()],
        "fields": list(REVEALABLE_FIELDS),
    }


@router.post("/v1/orders/{order_id}/reveal", tags=["support"])
def reveal(
    order_id: str, body: RevealIn, who: Auth, meta: Meta, request: Request
) -> dict[str, Any]:
    """Reveal named fields of one order in full, for a stated purpose, under a daily quota.

    Allowed only when the policies say so for the caller's role, the purpose,
    the ticket (or break-glass grant) and the order's state. The answer names
    the policies that allowed it and carries a reveal id (``rvl_…``); the
    audit log has the same.
    """
    return reveal_order(
        _vault(request),
        who,
        order_id,
        fields=body.fields,
        purpose=body.purpose,
        ticket_id=body.ticket_id,
        meta=meta,
    )


@router.get("/v1/me/quota", tags=["support"])
def my_quota(who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """The caller's reveal quota today, and their role's, with when it resets."""
    return quota_of(_vault(request), who, meta=meta)


# ---- break-glass ----


@router.post("/v1/break-glass", status_code=201, tags=["break-glass"])
def ask_break_glass(body: BreakGlassIn, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Ask for emergency access to one order (admins, safety officers); raises an alert."""
    return request_break_glass(
        _vault(request),
        who,
        body.order_id,
        justification=body.justification,
        minutes=body.minutes,
        meta=meta,
    )


@router.get("/v1/break-glass", tags=["break-glass"])
def pending_break_glass(who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Grants pending or in force: all for admins, their own for safety officers."""
    return {"grants": list_break_glass(_vault(request), who, meta=meta)}


@router.post("/v1/break-glass/{grant_id}/approve", tags=["break-glass"])
def approve(grant_id: str, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Approve a request (an admin other than the requester); access starts now."""
    return approve_break_glass(_vault(request), who, grant_id, meta=meta)


@router.post("/v1/break-glass/{grant_id}/revoke", tags=["break-glass"])
def revoke(grant_id: str, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """End a grant or withdraw a request now (the requester or an admin)."""
    return revoke_break_glass(_vault(request), who, grant_id, meta=meta)


# ---- analysts ----


@router.get("/v1/analytics/orders", tags=["analytics"])
def analytics_orders(
    *,
    who: Auth,
    meta: Meta,
    request: Request,
    since: Annotated[dt.datetime, Query(description="Orders created at or after (ISO 8601).")],
    until: Annotated[dt.datetime, Query(description="Orders created before (ISO 8601).")],
    state: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ANALYTICS_ROWS)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Pseudonymous orders for analysts: per-analyst pseudonyms, district level, no contacts."""
    return export_orders(
        _vault(request),
        who,
        since=since,
        until=until,
        state=state,
        limit=limit,
        offset=offset,
        meta=meta,
    )


# ---- policy administration ----


@router.get("/v1/admin/policies", tags=["admin"])
def policies(who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """The policy set in force: digest, policy ids, quotas (admins)."""
    return policy_status(_vault(request), who, meta=meta)


@router.post("/v1/admin/policies/reload", tags=["admin"])
def reload(who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Reload the policy directory; a bad file is refused (422) and the old set stays (admins)."""
    return reload_policies(_vault(request), who, meta=meta)
