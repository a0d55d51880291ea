"""Every /v1 route needs a live API key; only /healthz and the docs are public."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import update

from tests._city import City
from tests.api._http import TestClient, bearer, error_of, without_request_id
from veil.crypto import api_key_digest
from veil.ids import IdKind, new_id
from veil.store import API_KEYS


def _v1_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, concrete path) the app serves under /v1, ids filled in."""
    fillers = {
        "order_id": new_id(IdKind.ORDER),
        "subject_id": new_id(IdKind.SUBJECT),
        "ticket_id": new_id(IdKind.TICKET),
        "grant_id": new_id(IdKind.BREAK_GLASS),
        "alert_id": new_id(IdKind.ALERT),
        "principal_id": new_id(IdKind.PRINCIPAL),
    }
    routes: list[tuple[str, str]] = []
    app: Any = client.app
    # A router added with `include_router` is one entry of the table; list its routes too.
    every = [
        route
        for entry in app.routes
        for route in (
            entry.original_router.routes if hasattr(entry, "original_router") else [entry]
        )
    ]
    for route in every:
        if not isinstance(route, APIRoute) or not route.path.startswith("/v1"):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: fillers[m.group(1)], route.path)
        routes.extend((method, path) for method in sorted(route.methods))
    return routes


BAD_HEADERS = {
    "missing": {},
    "empty bearer": {"Authorization": "Bearer "},
    "garbage bearer": {"Authorization": "Bearer not-a-key"},
    "well-shaped but unknown": {"Authorization": "Bearer veil_" + "A" * 43},
    "garbage x-api-key": {"X-API-Key": "garbage"},
    "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
    "very long": {"Authorization": "Bearer " + "k" * 5000},
}


def test_the_route_table_is_the_one_this_test_knows(client: TestClient) -> None:
    # If a route is added, the parametrised checks below cover it automatically;
    # this keeps the count honest so a vanished route is noticed too.
    assert len(_v1_routes(client)) >= 10


def test_every_v1_route_refuses_a_bad_key(client: TestClient, city: City) -> None:
    for case, method, path in [(c, *r) for c in BAD_HEADERS for r in _v1_routes(client)]:
        response = client.request(method, path, headers=BAD_HEADERS[case], json={})
        error = error_of(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"] == "Bearer"
        # The submitted key is never echoed back.
        for submitted in BAD_HEADERS[case].values():
            token = submitted.split(" ", 1)[-1]
            assert len(token) < 7 or token not in response.text, error


def test_missing_and_unknown_keys_tell_the_same_story_on_every_route(
    client: TestClient, city: City
) -> None:
    bodies = set()
    for method, path in _v1_routes(client):
        response = client.request(method, path, headers=BAD_HEADERS["garbage bearer"], json={})
        bodies.add(without_request_id(response))
    assert len(bodies) == 1


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_a_live_key_is_accepted_in_either_header(
    client: TestClient, city: City, header: str
) -> None:
    key = city.keys["rider-1"]
    headers = bearer(key) if header == "authorization" else {"X-API-Key": key}
    response = client.get("/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"principal_id": city.riders[0].principal_id, "role": "rider"}


def test_bearer_scheme_is_case_insensitive(client: TestClient, city: City) -> None:
    response = client.get("/v1/me", headers={"Authorization": f"bEaReR {city.keys['rider-1']}"})
    assert response.status_code == 200


def test_disabled_principal_is_refused_at_once_even_if_cached(
    client: TestClient, city: City
) -> None:
    headers = bearer(city.keys["rider-1"])
    assert client.get("/v1/me", headers=headers).status_code == 200  # now cached
    city.vault.disable_principal(city.riders[0].principal_id)
    for method, path in _v1_routes(client):
        error_of(client.request(method, path, headers=headers, json={}), 401, "unauthenticated")


def test_revoked_key_is_refused(client: TestClient, city: City) -> None:
    key = city.keys["merchant-1"]
    with city.vault.engine.begin() as connection:
        connection.execute(
            update(API_KEYS).where(API_KEYS.c.key_hash == api_key_digest(key)).values(revoked_ms=1)
        )
    city.vault.forget_cached_callers()
    error = error_of(client.get("/v1/me/orders", headers=bearer(key)), 401, "unauthenticated")
    # The message does not say which of unknown / revoked / disabled it was.
    assert error["message"] == "unknown, revoked or disabled API key"


def test_a_disabled_principals_other_principals_keep_working(
    client: TestClient, city: City
) -> None:
    city.vault.disable_principal(city.riders[0].principal_id)
    assert client.get("/v1/me", headers=bearer(city.keys["rider-2"])).status_code == 200


def test_healthz_and_docs_are_public(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/v1/orders/{order_id}" in paths
    assert "/v1/subjects/lookup" in paths


def test_unknown_paths_and_methods_use_the_error_model(client: TestClient) -> None:
    error_of(client.get("/v1/nothing-here"), 404, "not_found")
    error_of(client.put("/v1/orders"), 405, "method_not_allowed")
