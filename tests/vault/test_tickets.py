"""Tickets: a masked view of one order for its agent while open; every outcome audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from tests._staff_city import StaffCity, build_staff_city
from veil.errors import AccessDenied, Conflict, InvalidInput, NotFound
from veil.ids import IdKind, is_id, new_id
from veil.store import AUDIT_EVENTS
from veil.testing import FixedClock
from veil.vault import (
    Vault,
    assign_ticket,
    close_ticket,
    my_tickets,
    open_ticket,
    reveal_order,
    ticket_of,
)

PHONE = ["phone"]
FAILED = "delivery_failed_contact_customer"


@pytest.fixture
def staff(vault: Vault) -> StaffCity:
    return build_staff_city(vault)


def audit_rows(vault: Vault, tag_prefix: str) -> list[Any]:
    with vault.engine.connect() as connection:
        return list(
            connection.execute(
                select(AUDIT_EVENTS)
                .where(AUDIT_EVENTS.c.tag.startswith(tag_prefix))
                .order_by(AUDIT_EVENTS.c.seq)
            )
        )


def test_the_platform_opens_a_ticket_that_gives_its_agent_a_masked_view(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    agent = staff.agents[0]
    with pytest.raises(NotFound):
        staff.vault.view_order(agent, order_id)
    ticket = open_ticket(staff.vault, staff.city.service, order_id, agent_id=agent.principal_id)
    assert is_id(ticket["ticket_id"], IdKind.TICKET)
    assert ticket["status"] == "open"
    assert ticket["origin"] == "service"
    view = staff.vault.view_order(agent, order_id)
    assert view["customer"] == {"name": "许*", "phone": "138****8001"}
    assert view["address"] == {"province": "北京市", "city": "北京市", "district": "朝阳区"}
    assert "subject_id" not in view
    # The view is audited with the policy and the ticket it came through.
    [viewed] = [
        r
        for r in audit_rows(staff.vault, "vault:order:viewed")
        if r.principal_id == agent.principal_id
    ]
    assert viewed.policy_ids == "view.agent.ticket"
    assert json.loads(viewed.detail) == {"ticket_id": ticket["ticket_id"]}
    assert viewed.fields == "order.state name.masked phone.masked address.district note.redacted"


def test_a_ticket_gives_nothing_else(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    other = staff.city.order_in("picked_up", subject=1)
    staff.ticket(order_id)
    with pytest.raises(NotFound):
        staff.vault.view_order(staff.agents[0], other)
    # A batch of views does not widen it either.
    outcomes = staff.vault.view_orders(staff.agents[0], [order_id, other])
    assert isinstance(outcomes[other], NotFound)
    assert outcomes[order_id]["state"] == "picked_up"


def test_an_agent_opens_a_ticket_for_themselves_only(staff: StaffCity) -> None:
    order_id = staff.city.order_in("delivered")
    agent, colleague = staff.agents
    ticket = open_ticket(staff.vault, agent, order_id)
    assert ticket["agent_id"] == agent.principal_id
    assert ticket["origin"] == "agent"
    with pytest.raises(AccessDenied, match="for themselves only"):
        open_ticket(staff.vault, agent, order_id, agent_id=colleague.principal_id)
    with pytest.raises(Conflict, match="already has an open ticket"):
        open_ticket(staff.vault, agent, order_id)


@pytest.mark.parametrize("role", ["rider", "merchant", "customer", "analyst", "admin", "safety"])
def test_other_roles_cannot_open_tickets(staff: StaffCity, role: str) -> None:
    order_id = staff.city.order_in("picked_up")
    caller = {
        "rider": staff.city.riders[0],
        "merchant": staff.city.merchants[0],
        "customer": staff.city.customers[0],
        "analyst": staff.analyst,
        "admin": staff.admins[0],
        "safety": staff.safety[0],
    }[role]
    assert caller is not None
    agent_id = staff.agents[0].principal_id
    # Those who know the order hear why; the others cannot tell it from an absent one.
    expected = AccessDenied if role in {"rider", "merchant", "customer"} else NotFound
    with pytest.raises(expected):
        open_ticket(staff.vault, caller, order_id, agent_id=agent_id)
    denied = audit_rows(staff.vault, "staff:ticket:denied")
    assert denied[-1].principal_id == caller.principal_id
    assert denied[-1].decision == "deny"


def test_the_service_must_name_an_active_agent(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    with pytest.raises(InvalidInput, match="agent_id is required"):
        open_ticket(staff.vault, staff.city.service, order_id)
    with pytest.raises(InvalidInput, match="active agent"):
        open_ticket(
            staff.vault, staff.city.service, order_id, agent_id=staff.city.riders[0].principal_id
        )
    staff.vault.disable_principal(staff.agents[1].principal_id)
    with pytest.raises(InvalidInput, match="active agent"):
        open_ticket(
            staff.vault, staff.city.service, order_id, agent_id=staff.agents[1].principal_id
        )


def test_closing_a_ticket_ends_the_view_at_once_and_says_why(
    staff: StaffCity, clock: FixedClock
) -> None:
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    clock.advance(minutes=10)
    staff.vault.view_order(staff.agents[0], order_id)
    closed = close_ticket(staff.vault, staff.agents[0], ticket_id)
    assert closed["status"] == "closed"
    assert closed["closed_by"] == staff.agents[0].principal_id
    with pytest.raises(AccessDenied, match="the support ticket is closed"):
        staff.vault.view_order(staff.agents[0], order_id)
    with pytest.raises(Conflict, match="closed"):
        close_ticket(staff.vault, staff.city.service, ticket_id)
    assert my_tickets(staff.vault, staff.agents[0]) == []


def test_ticket_reads_and_changes_follow_the_policies(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    agent, colleague = staff.agents
    assert ticket_of(staff.vault, agent, ticket_id)["order_id"] == order_id
    assert ticket_of(staff.vault, staff.admins[0], ticket_id)["agent_id"] == agent.principal_id
    with pytest.raises(NotFound):
        ticket_of(staff.vault, colleague, ticket_id)
    with pytest.raises(NotFound):
        ticket_of(staff.vault, staff.city.riders[0], ticket_id)
    with pytest.raises(AccessDenied):
        assign_ticket(staff.vault, agent, ticket_id, colleague.principal_id)
    moved = assign_ticket(staff.vault, staff.city.service, ticket_id, colleague.principal_id)
    assert moved["agent_id"] == colleague.principal_id
    # The hand-over moves the view with it.
    assert staff.vault.view_order(colleague, order_id)["state"] == "picked_up"
    with pytest.raises(NotFound):
        staff.vault.view_order(agent, order_id)
    assert [t["ticket_id"] for t in my_tickets(staff.vault, colleague)] == [ticket_id]
    with pytest.raises(NotFound):
        ticket_of(staff.vault, agent, new_id(IdKind.TICKET))


# ---------------------------------------------------------------- the four denials the issue names


def _four_agents_denied(staff: StaffCity) -> tuple[str, dict[str, tuple[Any, str | None]]]:
    """Set up: an order, and four agents who each lack a proper ticket on it."""
    order_id = staff.city.order_in("picked_up")
    other_order = staff.city.order_in("picked_up", subject=1)
    closed_agent = staff.city.principal("agent", "agent-closed")
    stranger = staff.city.principal("agent", "agent-stranger")
    elsewhere = staff.city.principal("agent", "agent-elsewhere")
    staff.agents.extend([closed_agent, stranger, elsewhere])
    own = staff.ticket(order_id, 0)
    closed = staff.ticket(order_id, 2)
    close_ticket(staff.vault, staff.city.service, closed)
    on_other_order = staff.ticket(other_order, 4)
    return order_id, {
        "no ticket": (staff.agents[1], None),
        "closed ticket": (closed_agent, closed),
        "another agent's ticket": (stranger, own),
        "a ticket on another order": (elsewhere, on_other_order),
    }


def test_agents_without_a_proper_ticket_are_denied_and_audited(staff: StaffCity) -> None:
    order_id, cases = _four_agents_denied(staff)
    expected_reason = {
        "no ticket": "a reveal needs an open support ticket on this order",
        "closed ticket": "the support ticket is closed",
        "another agent's ticket": "the ticket is assigned to another agent",
        "a ticket on another order": "the ticket is for another order",
    }
    for case, (agent, ticket_id) in cases.items():
        with pytest.raises((NotFound, AccessDenied)) as view_error:
            staff.vault.view_order(agent, order_id)
        with pytest.raises((NotFound, AccessDenied)) as reveal_error:
            reveal_order(
                staff.vault, agent, order_id, fields=PHONE, purpose=FAILED, ticket_id=ticket_id
            )
        # Only the agent whose own (closed) ticket names the order learns why.
        if case == "closed ticket":
            assert isinstance(view_error.value, AccessDenied)
            assert isinstance(reveal_error.value, AccessDenied)
        else:
            assert isinstance(view_error.value, NotFound), case
            assert isinstance(reveal_error.value, NotFound), case
        [denied_view] = [
            r
            for r in audit_rows(staff.vault, "vault:order:view_denied")
            if r.principal_id == agent.principal_id
        ]
        assert denied_view.decision == "deny"
        assert denied_view.order_id == order_id
        [denied_reveal] = [
            r
            for r in audit_rows(staff.vault, "staff:order:reveal_denied")
            if r.principal_id == agent.principal_id
        ]
        assert denied_reveal.decision == "deny"
        assert denied_reveal.reason == expected_reason[case], case
        assert denied_reveal.purpose == FAILED
        assert denied_reveal.fields == "phone.full"
        detail = json.loads(denied_reveal.detail)
        assert detail.get("ticket_id") == ticket_id
        assert detail["quota"] == "principal 0/10, role agent 0/200"
        assert is_id(detail["reveal_id"], IdKind.REVEAL)
    # Nothing was revealed, so no quota was used.
    assert audit_rows(staff.vault, "staff:order:revealed") == []
