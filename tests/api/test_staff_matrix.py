"""The access matrix: every staff-access route × every role × own / foreign / absent × every state.

Each row of `EXPECTED` reads as a rule: who gets what, on whose object, in
which state of the order. A cell is one HTTP status for every state, or a
`by_state(...)` when the state matters. "Own" is the caller's relation to the
object; "foreign" the same kind of object belonging to somebody else;
"absent" a well-formed id that names nothing:

    role      own order                          foreign order
    service   any order (the platform owns all)  any order
    rider     assigned to them (from assignment)  assigned to another rider
    merchant  their shop's order                 another shop's
    customer  their own order                    another customer's
    agent     an open ticket of theirs on it     another agent's open ticket on it
    analyst   (none exists)                      —
    auditor   (none exists)                      —
    security  (none exists)                      —
    admin     their approved break-glass on it   another admin's approved grant on it
    safety    their approved break-glass on it   another safety officer's grant on it

Ticket routes take the ticket on the own / foreign order (agent-1's / agent-2's);
break-glass routes take the caller's own request (admin-1's for roles that
cannot ask) / another requester's. Every call, allowed or not, leaves an
audit row, and no error carries customer data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from tests._staff_city import JUSTIFICATION, StaffCity, build_staff_city
from tests.api._http import TestClient, absent, assert_no_pii, bearer, error_of
from veil.api._staff_routes import router
from veil.ids import IdKind
from veil.store import AUDIT_EVENTS
from veil.vault import ROLES as VAULT_ROLES
from veil.vault import Vault

STATES = ("created", "accepted", "rider_assigned", "picked_up", "delivered", "cancelled")
# Every role Veil knows; a role added without rows below fails the first assertion.
ROLES = tuple(VAULT_ROLES)
RELATIONS = ("own", "foreign", "absent")
OUT_FOR_DELIVERY = ("rider_assigned", "picked_up")


def by_state(default: int, **states: int) -> dict[str, int]:
    """One status per order state: `default`, except where named."""
    assert set(states) <= set(STATES)
    return {state: states.get(state, default) for state in STATES}


def out_for_delivery(inside: int, outside: int) -> dict[str, int]:
    return by_state(outside, **dict.fromkeys(OUT_FOR_DELIVERY, inside))


# A rider is assigned from rider_assigned on; `cancelled` orders here were
# assigned before they were cancelled.
RIDER_KNOWS = {"rider_assigned": 403, "picked_up": 403, "delivered": 403, "cancelled": 403}

Cell = int | dict[str, int]
# route -> role -> (own, foreign, absent)
EXPECTED: dict[str, dict[str, tuple[Cell, Cell, Cell]]] = {
    # GET /v1/orders/{id}: each party's view; staff only through a ticket or a grant.
    "view": {
        "service": (200, 200, 404),
        "rider": (
            by_state(404, rider_assigned=200, picked_up=200, delivered=200, cancelled=403),
            404,
            404,
        ),
        "merchant": (200, 404, 404),
        "customer": (200, 404, 404),
        "agent": (200, 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (200, 404, 404),
        "safety": (200, 404, 404),
    },
    # POST /v1/orders/{id}/reveal: agents on their ticket while the order is out
    # (phone, delivery failed); admins and safety officers through their grant;
    # nobody else. Those who know the order hear 403, the others 404.
    "reveal": {
        "service": (403, 403, 404),
        "rider": (by_state(404, **RIDER_KNOWS), 404, 404),
        "merchant": (403, 404, 404),
        "customer": (403, 404, 404),
        "agent": (out_for_delivery(200, 403), 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (200, 404, 404),
        "safety": (200, 404, 404),
    },
    # POST /v1/tickets: the platform for any agent, an agent for themselves (409
    # if they already hold an open ticket on the order).
    "open_ticket": {
        "service": (201, 201, 404),
        "rider": (by_state(404, **RIDER_KNOWS), 404, 404),
        "merchant": (403, 404, 404),
        "customer": (403, 404, 404),
        "agent": (409, 201, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (403, 404, 404),
        "safety": (403, 404, 404),
    },
    # POST /v1/break-glass: admins and safety officers, one live request per order.
    "request_break_glass": {
        "service": (403, 403, 404),
        "rider": (by_state(404, **RIDER_KNOWS), 404, 404),
        "merchant": (403, 404, 404),
        "customer": (403, 404, 404),
        "agent": (403, 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (409, 201, 404),
        "safety": (409, 201, 404),
    },
    # GET /v1/tickets/{id}: its agent, the platform, admins.
    "get_ticket": {
        "service": (200, 200, 404),
        "rider": (404, 404, 404),
        "merchant": (404, 404, 404),
        "customer": (404, 404, 404),
        "agent": (200, 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (200, 200, 404),
        "safety": (404, 404, 404),
    },
    # POST /v1/tickets/{id}/close: its agent, the platform, admins.
    "close_ticket": {
        "service": (200, 200, 404),
        "rider": (404, 404, 404),
        "merchant": (404, 404, 404),
        "customer": (404, 404, 404),
        "agent": (200, 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (200, 200, 404),
        "safety": (404, 404, 404),
    },
    # POST /v1/tickets/{id}/assign: the platform and admins; its agent may not.
    "assign_ticket": {
        "service": (200, 200, 404),
        "rider": (404, 404, 404),
        "merchant": (404, 404, 404),
        "customer": (404, 404, 404),
        "agent": (403, 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (200, 200, 404),
        "safety": (404, 404, 404),
    },
    # POST /v1/break-glass/{id}/approve: a second, different admin.
    "approve_break_glass": {
        "service": (404, 404, 404),
        "rider": (404, 404, 404),
        "merchant": (404, 404, 404),
        "customer": (404, 404, 404),
        "agent": (404, 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (403, 200, 404),
        "safety": (403, 404, 404),
    },
    # POST /v1/break-glass/{id}/revoke: the requester, or any admin.
    "revoke_break_glass": {
        "service": (404, 404, 404),
        "rider": (404, 404, 404),
        "merchant": (404, 404, 404),
        "customer": (404, 404, 404),
        "agent": (404, 404, 404),
        "analyst": (404, 404, 404),
        "auditor": (404, 404, 404),
        "security": (404, 404, 404),
        "admin": (200, 200, 404),
        "safety": (200, 404, 404),
    },
}
# Security officers handle the watch's alerts and have no staff access to orders:
# each of their cells is the auditor's.
for _row in EXPECTED.values():
    _row["security"] = _row["auditor"]

# Routes that change what they touch get a fresh world for every call.
MUTATING = {
    "open_ticket",
    "request_break_glass",
    "close_ticket",
    "assign_ticket",
    "approve_break_glass",
    "revoke_break_glass",
}
ACTING = {
    "service": "backend",
    "rider": "rider-1",
    "merchant": "merchant-1",
    "customer": "customer-0",
    "agent": "agent-1",
    "analyst": "analyst-1",
    "admin": "admin-1",
    "safety": "safety-1",
    "auditor": "auditor-1",
    "security": "security-1",
}


@dataclass
class World:
    """The objects of one matrix row, made on first use: orders, tickets, grants."""

    staff: StaffCity
    state: str
    pending: bool = False
    made: dict[str, str] = field(default_factory=dict)

    def _once(self, name: str, make: Callable[[], str]) -> str:
        if name not in self.made:
            self.made[name] = make()
        return self.made[name]

    def order(self, relation: str) -> str:
        if relation == "absent":
            return absent(IdKind.ORDER)
        n = 0 if relation == "own" else 1
        return self._once(
            f"order-{relation}",
            lambda: self.staff.city.order_in(self.state, rider=n, subject=n, merchant=n),
        )

    def ticket(self, relation: str) -> str:
        if relation == "absent":
            return absent(IdKind.TICKET)
        n = 0 if relation == "own" else 1
        return self._once(f"ticket-{relation}", lambda: self.staff.ticket(self.order(relation), n))

    def grant(self, relation: str, role: str) -> str:
        if relation == "absent":
            return absent(IdKind.BREAK_GLASS)
        requesters = self.staff.safety if role == "safety" else self.staff.admins
        requester = requesters[0] if relation == "own" else requesters[1]
        return self._once(
            f"grant-{relation}-{requester.principal_id}",
            lambda: self.staff.grant(self.order(relation), requester, approve=not self.pending),
        )

    def relate(self, role: str, relation: str) -> None:
        """Give the acting principal its relation to the order (a ticket, a grant)."""
        if relation == "absent":
            return
        if role == "agent":
            self.ticket(relation)
        elif role in {"admin", "safety"}:
            self.grant(relation, role)


def request_for(world: World, route: str, role: str, relation: str) -> tuple[str, str, Any]:
    """Return (method, path, JSON body) of the matrix call, making its objects first."""
    agent_3 = world.staff.agents[2].principal_id
    if route in {"view", "reveal", "open_ticket", "request_break_glass"}:
        world.relate(role, relation)
        order_id = world.order(relation)
        reveal: dict[str, Any] = {
            "fields": ["phone"],
            "purpose": "safety_incident"
            if role in {"admin", "safety"}
            else "delivery_failed_contact_customer",
        }
        if role == "agent" and relation != "absent":
            reveal["ticket_id"] = world.ticket(relation)
        ticket = (
            {"order_id": order_id}
            if role == "agent"
            else {"order_id": order_id, "agent_id": agent_3}
        )
        return {
            "view": ("GET", f"/v1/orders/{order_id}", None),
            "reveal": ("POST", f"/v1/orders/{order_id}/reveal", reveal),
            "open_ticket": ("POST", "/v1/tickets", ticket),
            "request_break_glass": (
                "POST",
                "/v1/break-glass",
                {"order_id": order_id, "justification": JUSTIFICATION},
            ),
        }[route]
    if route in {"get_ticket", "close_ticket", "assign_ticket"}:
        ticket_id = world.ticket(relation)
        return {
            "get_ticket": ("GET", f"/v1/tickets/{ticket_id}", None),
            "close_ticket": ("POST", f"/v1/tickets/{ticket_id}/close", None),
            "assign_ticket": ("POST", f"/v1/tickets/{ticket_id}/assign", {"agent_id": agent_3}),
        }[route]
    # Break-glass routes: the caller's own request if they can make one, else admin-1's.
    grant_id = world.grant(relation, "safety" if role == "safety" else "admin")
    verb = "approve" if route == "approve_break_glass" else "revoke"
    return ("POST", f"/v1/break-glass/{grant_id}/{verb}", None)


def audit_count(vault: Vault) -> int:
    with vault.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AUDIT_EVENTS)) or 0)


@pytest.fixture
def staff(vault: Vault) -> StaffCity:
    staff = build_staff_city(vault)
    staff.agents.append(staff.city.principal("agent", "agent-3"))
    if "auditor" in ROLES:
        staff.city.principal("auditor", "auditor-1")
    if "security" in ROLES:
        staff.city.principal("security", "security-1")
    return staff


def expected_status(route: str, role: str, relation: str, state: str) -> int:
    cell = EXPECTED[route][role][RELATIONS.index(relation)]
    return cell if isinstance(cell, int) else cell[state]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("route", sorted(EXPECTED))
def test_the_access_matrix(client: TestClient, staff: StaffCity, route: str, state: str) -> None:
    assert set(ROLES) <= set(EXPECTED[route]), "a role has no row in the matrix"
    shared = World(staff, state, pending=route == "approve_break_glass")
    mismatches = []
    for role in ROLES:
        for relation in RELATIONS:
            world = (
                World(staff, state, pending=route == "approve_break_glass")
                if route in MUTATING
                else shared
            )
            before = audit_count(staff.vault)
            method, path, body = request_for(world, route, role, relation)
            key = bearer(staff.city.keys[ACTING[role]])
            response = client.request(method, path, headers=key, json=body)
            want = expected_status(route, role, relation, state)
            if response.status_code != want:
                mismatches.append(
                    f"{route} {role:<8} {relation:<7} {state:<14} want {want} got"
                    f" {response.status_code}: {response.text[:120]}"
                )
                continue
            if want >= 400:
                error_of(response, want)
                assert_no_pii(response)
            assert audit_count(staff.vault) > before, (route, role, relation, "not audited")
    assert mismatches == []


# ---------------------------------------------------------------- routes without an object

# route -> roles allowed (everyone else: 403, audited).
BY_ROLE: dict[str, tuple[str, str, set[str]]] = {
    "my_quota": ("GET", "/v1/me/quota", set(ROLES)),
    "purposes": ("GET", "/v1/purposes", set(ROLES)),
    "my_tickets": ("GET", "/v1/me/tickets", {"agent"}),
    "list_break_glass": ("GET", "/v1/break-glass", {"admin", "safety"}),
    "analytics": (
        "GET",
        "/v1/analytics/orders?since=2026-11-29T00:00:00Z&until=2026-11-30T00:00:00Z",
        {"analyst"},
    ),
    "policies": ("GET", "/v1/admin/policies", {"admin"}),
    "reload": ("POST", "/v1/admin/policies/reload", {"admin"}),
}


@pytest.mark.parametrize("route", sorted(BY_ROLE))
def test_routes_without_an_object_by_role(client: TestClient, staff: StaffCity, route: str) -> None:
    method, path, allowed = BY_ROLE[route]
    staff.city.order_in("delivered")
    got = {}
    for role in ROLES:
        response = client.request(method, path, headers=bearer(staff.city.keys[ACTING[role]]))
        got[role] = response.status_code
        if response.status_code == 403:
            error_of(response, 403, "forbidden")
    assert got == {role: 200 if role in allowed else 403 for role in ROLES}


def test_the_matrix_covers_every_staff_route() -> None:
    paths = {
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    covered_by_matrix = {
        ("GET", "/v1/orders/{order_id}"),
        ("POST", "/v1/orders/{order_id}/reveal"),
        ("POST", "/v1/tickets"),
        ("POST", "/v1/break-glass"),
        ("GET", "/v1/tickets/{ticket_id}"),
        ("POST", "/v1/tickets/{ticket_id}/close"),
        ("POST", "/v1/tickets/{ticket_id}/assign"),
        ("POST", "/v1/break-glass/{grant_id}/approve"),
        ("POST", "/v1/break-glass/{grant_id}/revoke"),
    }
    covered_by_role = {(method, path.split("?")[0]) for method, path, _ in BY_ROLE.values()}
    assert paths <= covered_by_matrix | covered_by_role
