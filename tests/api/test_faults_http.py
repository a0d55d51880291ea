"""Faults seen over HTTP: a refused audit row or write is a 503 with no PII and nothing stored."""

from __future__ import annotations

from tests._city import City
from tests.api._http import TestClient, assert_no_pii, bearer, error_of
from tests.vault._faults import refusing


def test_view_with_audit_down_is_503_and_carries_no_pii(client: TestClient, city: City) -> None:
    order_id = city.order_in("picked_up")
    rider = bearer(city.keys["rider-1"])
    with refusing(city.vault.engine, "audit_events", "INSERT"):
        single = client.get(f"/v1/orders/{order_id}", headers=rider)
        batch = client.post("/v1/orders/views", headers=rider, json={"order_ids": [order_id]})
    for response in (single, batch):
        error = error_of(response, 503, "storage_unavailable")
        assert "audit" not in error["message"]
        assert_no_pii(response, "许*", "138****8001", "华贸酒店")
    assert client.get(f"/v1/orders/{order_id}", headers=rider).status_code == 200


def test_order_creation_refused_by_the_database_is_503_and_stores_nothing(
    client: TestClient, city: City
) -> None:
    service = bearer(city.keys["backend"])
    body = {"subject_id": city.subjects[0], "merchant_id": city.merchants[0].principal_id}
    with refusing(city.vault.engine, "orders", "INSERT"):
        response = client.post("/v1/orders", headers=service, json=body)
    error_of(response, 503, "storage_unavailable")
    merchant = bearer(city.keys["merchant-1"])
    assert client.get("/v1/me/orders", headers=merchant).json() == {"orders": []}
