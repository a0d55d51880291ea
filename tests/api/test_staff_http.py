"""The support flow over HTTP, and what the staff routes do with bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests._staff_city import JUSTIFICATION, StaffCity, build_staff_city
from tests.api._http import TestClient, assert_no_pii, bearer, error_of
from veil.ids import IdKind, is_id
from veil.policy import DEFAULT_POLICY_DIR, PURPOSES, PolicySource
from veil.vault import Vault


@pytest.fixture
def staff(vault: Vault) -> StaffCity:
    return build_staff_city(vault)


def key(staff: StaffCity, label: str) -> dict[str, str]:
    return bearer(staff.city.keys[label])


def test_a_support_call_from_ticket_to_close(client: TestClient, staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    agent_id = staff.agents[0].principal_id
    opened = client.post(
        "/v1/tickets",
        headers=key(staff, "backend"),
        json={"order_id": order_id, "agent_id": agent_id},
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    assert is_id(ticket_id, IdKind.TICKET)
    agent = key(staff, "agent-1")
    assert (
        client.get("/v1/me/tickets", headers=agent).json()["tickets"][0]["ticket_id"] == ticket_id
    )
    view = client.get(f"/v1/orders/{order_id}", headers=agent).json()
    assert view["customer"]["phone"] == "138****8001"
    revealed = client.post(
        f"/v1/orders/{order_id}/reveal",
        headers=agent,
        json={
            "fields": ["phone"],
            "purpose": "delivery_failed_contact_customer",
            "ticket_id": ticket_id,
        },
    )
    assert revealed.status_code == 200, revealed.text
    body = revealed.json()
    assert body["fields"] == {"phone": "+8613800138001"}
    assert body["policy_ids"] == ["reveal.agent.delivery-failed"]
    assert is_id(body["reveal_id"], IdKind.REVEAL)
    quota = client.get("/v1/me/quota", headers=agent).json()
    assert quota["principal"] == {"limit": 10, "used": 1, "remaining": 9}
    closed = client.post(f"/v1/tickets/{ticket_id}/close", headers=agent)
    assert closed.json()["status"] == "closed"
    denied = client.get(f"/v1/orders/{order_id}", headers=agent)
    assert error_of(denied, 403, "forbidden")["message"] == "the support ticket is closed"


def test_a_break_glass_over_http(client: TestClient, staff: StaffCity) -> None:
    order_id = staff.city.order_in("delivered")
    asked = client.post(
        "/v1/break-glass",
        headers=key(staff, "safety-1"),
        json={"order_id": order_id, "justification": JUSTIFICATION, "minutes": 10},
    )
    assert asked.status_code == 201, asked.text
    grant = asked.json()
    assert grant["status"] == "pending"
    assert is_id(grant["alert_id"], IdKind.ALERT)
    listed = client.get("/v1/break-glass", headers=key(staff, "admin-1")).json()["grants"]
    assert [g["break_glass_id"] for g in listed] == [grant["break_glass_id"]]
    approved = client.post(
        f"/v1/break-glass/{grant['break_glass_id']}/approve", headers=key(staff, "admin-1")
    )
    assert approved.json()["status"] == "active"
    revealed = client.post(
        f"/v1/orders/{order_id}/reveal",
        headers=key(staff, "safety-1"),
        json={"fields": ["address", "name"], "purpose": "law_enforcement_request"},
    )
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["fields"]["address"]["room"] == "1203"
    assert revealed.json()["break_glass_id"] == grant["break_glass_id"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"fields": ["phone"], "purpose": "curiosity"}, "purpose must be one of"),
        (
            {"fields": ["phone", "id_card"], "purpose": "refund_verification"},
            "fields must be among",
        ),
        ({"fields": [], "purpose": "refund_verification"}, "fields"),
        ({"fields": ["phone"]}, "purpose"),
        (
            {"fields": ["phone"], "purpose": "refund_verification", "13800138001": 1},
            "unknown field",
        ),
        ({"fields": "phone", "purpose": "refund_verification"}, "fields"),
    ],
)
def test_bad_reveal_requests_are_422_without_echoing_values(
    client: TestClient, staff: StaffCity, body: dict[str, object], problem: str
) -> None:
    order_id = staff.city.order_in("picked_up")
    response = client.post(
        f"/v1/orders/{order_id}/reveal", headers=key(staff, "agent-1"), json=body
    )
    assert problem in error_of(response, 422, "invalid_input")["message"]
    assert_no_pii(response)


def test_a_justification_with_a_phone_number_is_refused_and_not_echoed(
    client: TestClient, staff: StaffCity
) -> None:
    order_id = staff.city.order_in("picked_up")
    response = client.post(
        "/v1/break-glass",
        headers=key(staff, "admin-1"),
        json={"order_id": order_id, "justification": "caller said her number is 138 0013 8001"},
    )
    error_of(response, 422, "invalid_input")
    assert_no_pii(response, "138 0013 8001")


def test_purposes_are_documented_for_every_caller(client: TestClient, staff: StaffCity) -> None:
    body = client.get("/v1/purposes", headers=key(staff, "rider-1")).json()
    assert [p["purpose"] for p in body["purposes"]] == list(PURPOSES)
    assert body["fields"] == ["name", "phone", "address", "note"]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["RevealIn"]
    assert schema["properties"]["purpose"]["enum"] == list(PURPOSES)


def test_analytics_over_http(client: TestClient, staff: StaffCity) -> None:
    staff.city.order_in("delivered")
    response = client.get(
        "/v1/analytics/orders",
        headers=key(staff, "analyst-1"),
        params={"since": "2026-11-29T00:00:00Z", "until": "2026-11-30T00:00:00Z", "limit": 10},
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["rows"]
    assert row["customer"].startswith("psn_")
    assert_no_pii(response)
    bad = client.get(
        "/v1/analytics/orders", headers=key(staff, "analyst-1"), params={"since": "yesterday"}
    )
    error_of(bad, 422, "invalid_input")


def test_a_bad_policy_reload_over_http_keeps_the_old_set(
    client: TestClient, staff: StaffCity, tmp_path: Path
) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    staff.vault.policy.replace(PolicySource.load(folder))
    admin = key(staff, "admin-1")
    before = client.get("/v1/admin/policies", headers=admin).json()["digest"]
    assert client.post("/v1/admin/policies/reload", headers=admin).json()["changed"] is False
    (folder / "staff.cedar").write_text("permit (principal, action, resource);\n", encoding="utf-8")
    refused = client.post("/v1/admin/policies/reload", headers=admin)
    message = error_of(refused, 422, "invalid_input")["message"]
    assert "no @id annotation" in message
    assert "unchanged" in message
    assert client.get("/v1/admin/policies", headers=admin).json()["digest"] == before
