"""Privacy numbers over HTTP: the routing webhook, reports, bindings, a merchant's request."""

from __future__ import annotations

import pytest

from tests._city import City
from tests.api._http import TestClient, absent, bearer, error_of
from tests.numbers._numbers_city import ALICE_PHONE, RIDER_PHONES, STRANGER, build_numbers_city
from veil.testing import FixedClock
from veil.vault import Vault


@pytest.fixture
def city(vault: Vault) -> City:
    return build_numbers_city(vault)


def _x(client: TestClient, city: City, label: str, order_id: str) -> str:
    response = client.get(f"/v1/orders/{order_id}", headers=bearer(city.keys[label]))
    assert response.status_code == 200, response.text
    shown = response.json()["contact"]["virtual_number"]
    return "+" + shown.replace(" ", "").lstrip("+")


def _route(client: TestClient, city: City, caller: str, x: str, event: str) -> dict[str, object]:
    response = client.post(
        "/v1/telephony/route",
        headers=bearer(city.keys["backend"]),
        json={"caller": caller, "called_x": x, "kind": "call", "provider_event_id": event},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_rider_view_carries_a_virtual_number_not_the_phone(
    client: TestClient, city: City
) -> None:
    order_id = city.order_in("picked_up")
    view = client.get(f"/v1/orders/{order_id}", headers=bearer(city.keys["rider-1"])).json()
    assert view["customer"] == {"name": "许*"}
    assert view["contact"]["virtual_number"].startswith("+86 170 ")
    assert "8001" not in str(view)


def test_a_call_is_connected_during_delivery_and_rejected_after(
    client: TestClient, city: City, clock: FixedClock
) -> None:
    order_id = city.order_in("picked_up")
    x = _x(client, city, "rider-1", order_id)
    during = _route(client, city, RIDER_PHONES[0], x, "evt-1")
    assert during["action"] == "connect"
    assert during["connect_to"] == ALICE_PHONE
    assert during["caller_id"] == x
    city.move(order_id, "deliver")
    clock.advance(minutes=15, seconds=1)
    after = _route(client, city, RIDER_PHONES[0], x, "evt-2")
    assert after == {
        "action": "reject",
        "call_id": after["call_id"],
        "reason": "the number's binding has ended",
        "duplicate": False,
    }
    # The provider delivers evt-1 again: same answer.
    assert _route(client, city, RIDER_PHONES[0], x, "evt-1")["connect_to"] == ALICE_PHONE


def test_a_stranger_is_rejected(client: TestClient, city: City) -> None:
    order_id = city.order_in("rider_assigned")
    x = _x(client, city, "rider-1", order_id)
    answer = _route(client, city, STRANGER, x, "evt-s")
    assert (answer["action"], answer["reason"]) == (
        "reject",
        "the caller is not a party of this number",
    )


def test_the_webhook_refuses_other_roles_and_bad_bodies(client: TestClient, city: City) -> None:
    body = {"caller": STRANGER, "called_x": "+8617000000001", "provider_event_id": "e"}
    error_of(client.post("/v1/telephony/route", json=body), 401)
    rider = client.post("/v1/telephony/route", headers=bearer(city.keys["rider-1"]), json=body)
    error_of(rider, 403)
    service = bearer(city.keys["backend"])
    for bad in (
        {**body, "kind": "fax"},
        {**body, "provider_event_id": ""},
        {**body, "extra": 1},
        {"caller": STRANGER},
    ):
        error_of(client.post("/v1/telephony/route", headers=service, json=bad), 422)


def test_reports_record_times_and_repeat_harmlessly(client: TestClient, city: City) -> None:
    service = bearer(city.keys["backend"])
    report = {
        "provider_event_id": "rep-1",
        "call_id": "call-9",
        "started_at": "2026-11-29T12:00:05Z",
        "ended_at": "2026-11-29T12:01:05Z",
    }
    first = client.post("/v1/telephony/report", headers=service, json=report)
    again = client.post("/v1/telephony/report", headers=service, json=report)
    assert first.json() == {"call_id": "call-9", "status": "recorded"}
    assert again.json() == {"call_id": "call-9", "status": "duplicate"}
    backwards = {**report, "provider_event_id": "rep-2", "ended_at": "2026-11-29T11:00:00Z"}
    error_of(client.post("/v1/telephony/report", headers=service, json=backwards), 422)


def test_aliyun_receipts_are_recorded(client: TestClient, city: City) -> None:
    receipt = [
        {
            "call_id": "ali-1",
            "start_time": "2026-11-29 20:00:05",
            "release_time": "2026-11-29 20:01:05",
        }
    ]
    service = bearer(city.keys["backend"])
    response = client.post("/v1/telephony/receipts/aliyun", headers=service, json=receipt)
    assert response.status_code == 200
    assert response.json()["recorded"] == 1
    again = client.post("/v1/telephony/receipts/aliyun", headers=service, json=receipt)
    assert again.json()["recorded"] == 0


def test_the_service_reads_an_order_bindings(client: TestClient, city: City) -> None:
    order_id = city.order_in("rider_assigned")
    service = bearer(city.keys["backend"])
    response = client.get(f"/v1/numbers/bindings?order={order_id}", headers=service)
    assert response.status_code == 200
    [binding] = response.json()["bindings"]
    assert binding["status"] == "live"
    assert binding["holder_id"] == city.riders[0].principal_id
    assert binding["virtual_number"].startswith("+86 170")
    error_of(client.get(f"/v1/numbers/bindings?order={absent()}", headers=service), 404)
    error_of(client.get("/v1/numbers/bindings?order=x", headers=service), 404)
    rider = bearer(city.keys["rider-1"])
    error_of(client.get(f"/v1/numbers/bindings?order={order_id}", headers=rider), 403)


def test_a_merchant_asks_for_a_number_before_pickup(client: TestClient, city: City) -> None:
    order_id = city.order_in("accepted")
    merchant = bearer(city.keys["merchant-1"])
    response = client.post(f"/v1/orders/{order_id}/contact", headers=merchant)
    assert response.status_code == 200, response.text
    assert response.json()["contact"]["virtual_number"].startswith("+86 170")
    other = bearer(city.keys["merchant-2"])
    error_of(client.post(f"/v1/orders/{order_id}/contact", headers=other), 404)
    error_of(client.post(f"/v1/orders/{absent()}/contact", headers=merchant), 404)
    city.move(order_id, "assign", rider=0)
    city.move(order_id, "pickup")
    error_of(client.post(f"/v1/orders/{order_id}/contact", headers=merchant), 403)
