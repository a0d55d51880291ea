"""The watch over HTTP: a scraper caught and suspended, alerts handled, responses reversed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests._city import City
from tests.api._http import TestClient, assert_no_pii, bearer, error_of
from tests.conftest import build_vault
from tests.watch.conftest import attach
from veil.ids import IdKind, new_id
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import Vault
from veil.watch import Watch, WatchConfig


@pytest.fixture
def vault(engine: Engine, provider: InMemoryKeyProvider, clock: FixedClock) -> Vault:
    watch = Watch(
        engine=engine,
        clock=clock,
        config=WatchConfig.from_overrides(responses={"policy_denials": "record"}),
    )
    return attach(build_vault(engine, provider, clock), watch)


def _scrape(client: TestClient, key: str, count: int = 30) -> list[int]:
    statuses = []
    for _ in range(count):
        response = client.get(f"/v1/orders/{new_id(IdKind.ORDER)}", headers=bearer(key))
        statuses.append(response.status_code)
        if response.status_code == 401:
            break
    return statuses


def test_a_scraping_rider_key_is_stopped_at_the_tenth_miss(client: TestClient, city: City) -> None:
    key = city.keys["rider-1"]
    statuses = _scrape(client, key)
    assert statuses == [404] * 10 + [401]
    error_of(client.get("/v1/me", headers=bearer(key)), 401, "unauthenticated")
    admin = bearer(city.keys["admin-1"])
    [alert] = client.get("/v1/alerts", headers=admin).json()["alerts"]
    assert alert["kind"] == "enumeration"
    assert alert["principal_id"] == city.riders[0].principal_id
    assert alert["response"] == "suspend"
    assert alert["evidence"]["counters"]["distinct_refused"] == 10
    assert len(alert["evidence"]["events"]) == 10


def test_alerts_routes_for_admins_and_security_only(client: TestClient, city: City) -> None:
    _scrape(client, city.keys["rider-2"])
    security = city.principal("security", "security-1")
    sec, admin = bearer(city.keys["security-1"]), bearer(city.keys["admin-1"])
    for label in ("rider-1", "merchant-1", "agent-1", "analyst-1", "backend", "customer-0"):
        error_of(client.get("/v1/alerts", headers=bearer(city.keys[label])), 403, "forbidden")
    alerts = client.get("/v1/alerts?status=open", headers=sec).json()["alerts"]
    alert_id = alerts[0]["alert_id"]
    assert client.get(f"/v1/alerts/{alert_id}", headers=sec).json()["alert_id"] == alert_id
    error_of(client.get(f"/v1/alerts/{new_id(IdKind.ALERT)}", headers=sec), 404)
    error_of(client.get("/v1/alerts?status=maybe", headers=sec), 422)
    error_of(client.post(f"/v1/alerts/{alert_id}/ack", headers=sec, json={"reason": ""}), 422)
    acked = client.post(f"/v1/alerts/{alert_id}/ack", headers=sec, json={"reason": "on it"})
    assert acked.status_code == 200
    assert acked.json()["acknowledged"]["by"] == security.principal_id
    error_of(client.post(f"/v1/alerts/{alert_id}/ack", headers=sec, json={"reason": "again"}), 409)
    closed = client.post(f"/v1/alerts/{alert_id}/close", headers=admin, json={"reason": "done"})
    assert closed.json()["status"] == "closed"
    assert client.get("/v1/alerts?status=active", headers=sec).json() == {"alerts": []}
    assert_no_pii(closed)


def test_an_admin_reinstates_over_http(client: TestClient, city: City) -> None:
    key = city.keys["rider-3"]
    _scrape(client, key)
    rider = city.riders[2].principal_id
    body = {"reason": "phone recovered"}
    city.principal("security", "security-1")
    for label in ("agent-1", "security-1"):  # only admins reverse a response
        response = client.post(
            f"/v1/principals/{rider}/reinstate", headers=bearer(city.keys[label]), json=body
        )
        error_of(response, 403)
    response = client.post(
        f"/v1/principals/{rider}/reinstate", headers=bearer(city.keys["admin-1"]), json=body
    )
    assert response.json() == {"principal_id": rider, "status": "active", "lifted": ["suspend"]}
    assert client.get("/v1/me", headers=bearer(key)).status_code == 200
    error_of(
        client.post(
            f"/v1/principals/{new_id(IdKind.PRINCIPAL)}/reinstate",
            headers=bearer(city.keys["admin-1"]),
            json=body,
        ),
        404,
    )


def test_a_step_up_approval_over_http_needs_a_step_up(client: TestClient, city: City) -> None:
    agent = city.staff["agent"].principal_id
    response = client.post(
        f"/v1/principals/{agent}/step-up/approvals",
        headers=bearer(city.keys["admin-1"]),
        json={"order_id": new_id(IdKind.ORDER), "minutes": 10},
    )
    error_of(response, 409)
    error_of(
        client.post(
            f"/v1/principals/{agent}/step-up/approvals",
            headers=bearer(city.keys["admin-1"]),
            json={"order_id": new_id(IdKind.ORDER), "minutes": 600},
        ),
        422,
    )
