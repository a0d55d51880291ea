"""Orders over HTTP: object-level checks, transitions, windows, batches, "my orders"."""

from __future__ import annotations

import httpx

from tests._city import City
from tests.api._http import (
    TestClient,
    absent,
    assert_no_pii,
    bearer,
    error_of,
    without_request_id,
)
from veil.ids import IdKind
from veil.testing import FixedClock


def _get(client: TestClient, city: City, label: str, order_id: str) -> httpx.Response:
    return client.get(f"/v1/orders/{order_id}", headers=bearer(city.keys[label]))


def _event(client: TestClient, city: City, order_id: str, body: object) -> httpx.Response:
    return client.post(
        f"/v1/orders/{order_id}/events", headers=bearer(city.keys["backend"]), json=body
    )


# ---------------------------------------------------------------- whose ids


def test_another_partys_order_is_byte_for_byte_an_absent_one(
    client: TestClient, city: City
) -> None:
    order_id = city.order_in("picked_up", rider=0, merchant=0, subject=0)
    for label in ("rider-3", "merchant-2", "customer-1", "agent-1", "analyst-1", "admin-1"):
        foreign = _get(client, city, label, order_id)
        missing = _get(client, city, label, absent())
        error_of(foreign, 404, "not_found")
        assert without_request_id(foreign) == without_request_id(missing), label
        assert_no_pii(foreign)


def test_an_id_of_another_type_is_an_absent_order(client: TestClient, city: City) -> None:
    city.order_in("picked_up")
    # Real subject and principal ids, used where an order id belongs.
    for real in (city.subjects[0], city.riders[0].principal_id, absent(IdKind.REQUEST)):
        for label in ("backend", "rider-1", "customer-0"):
            response = _get(client, city, label, real)
            error_of(response, 404, "not_found")
            assert without_request_id(response) == without_request_id(
                _get(client, city, label, absent())
            )
        error_of(_event(client, city, real, {"event": "accept"}), 404, "not_found")


MALFORMED_ORDER_IDS = [
    "x",
    "ord_",
    "ord_" + "A" * 26,
    "ord_" + "1" * 26,
    "ord_" + "a" * 27,
    "ORD_" + "a" * 26,
    "ord_" + "a" * 300,
    "ord_%00" + "a" * 23,
    "%E8%AE%B8%E6%98%95",
    "..%2F..%2Fetc%2Fpasswd",
    "%ff%fe",
    "%ED%A0%80",
]


def test_malformed_order_ids_are_404_not_500(client: TestClient, city: City) -> None:
    for order_id in MALFORMED_ORDER_IDS:
        error_of(_get(client, city, "backend", order_id), 404, "not_found")
        error_of(_get(client, city, "rider-1", order_id), 404, "not_found")
        error_of(_event(client, city, order_id, {"event": "accept"}), 404, "not_found")


def test_the_owner_sees_the_view_that_strangers_cannot(client: TestClient, city: City) -> None:
    order_id = city.order_in("picked_up")
    view = _get(client, city, "rider-1", order_id)
    assert view.status_code == 200
    assert view.json()["address"]["room"] == "1203"
    assert view.json()["customer"] == {"name": "许*"}  # no phone: a virtual number, if any
    assert view.json()["contact"]["virtual_number"] is None  # this rider registered no phone


def test_only_the_service_posts_events_and_the_refusal_hides_existence(
    client: TestClient, city: City
) -> None:
    order_id = city.order_in("rider_assigned")
    for label in ("rider-1", "merchant-1", "customer-0", "admin-1"):
        headers = bearer(city.keys[label])
        real = client.post(
            f"/v1/orders/{order_id}/events", headers=headers, json={"event": "pickup"}
        )
        fake = client.post(
            f"/v1/orders/{absent()}/events", headers=headers, json={"event": "pickup"}
        )
        error_of(real, 403, "forbidden")
        assert without_request_id(real) == without_request_id(fake)
    assert _get(client, city, "backend", order_id).json()["state"] == "rider_assigned"


# ---------------------------------------------------------------- transitions


ILLEGAL = {
    "created": ["pickup", "deliver", "assign"],
    "accepted": ["accept", "pickup", "deliver"],
    "rider_assigned": ["accept", "deliver"],
    "picked_up": ["accept", "assign", "pickup"],
    "delivered": ["accept", "assign", "pickup", "deliver", "cancel"],
    "cancelled": ["accept", "assign", "pickup", "deliver", "cancel"],
}


def test_illegal_transitions_are_409_with_a_clear_message(client: TestClient, city: City) -> None:
    for state, events in ILLEGAL.items():
        order_id = city.order_in(state)
        for event in events:
            body: dict[str, str] = {"event": event}
            if event == "assign":
                body["rider_id"] = city.riders[1].principal_id
            error = error_of(_event(client, city, order_id, body), 409, "conflict")
            assert error["message"] == f"cannot {event} an order in state '{state}'"
        assert _get(client, city, "backend", order_id).json()["state"] == state


def test_the_whole_life_of_an_order_over_http(client: TestClient, city: City) -> None:
    order_id = city.order()
    rider = city.riders[0].principal_id
    for body, state in [
        ({"event": "accept"}, "accepted"),
        ({"event": "assign", "rider_id": rider}, "rider_assigned"),
        ({"event": "pickup"}, "picked_up"),
        ({"event": "deliver"}, "delivered"),
    ]:
        response = _event(client, city, order_id, body)
        assert response.status_code == 200, response.text
        assert response.json() == {"order_id": order_id, "state": state}
    timeline = _get(client, city, "backend", order_id).json()["timeline"]
    assert set(timeline) == {"created", "accepted", "assigned", "picked_up", "delivered"}


def test_reassignment_before_pickup_is_allowed_and_same_rider_twice_is_not(
    client: TestClient, city: City
) -> None:
    order_id = city.order_in("rider_assigned", rider=0)
    same = _event(
        client, city, order_id, {"event": "assign", "rider_id": city.riders[0].principal_id}
    )
    assert (
        error_of(same, 409, "conflict")["message"] == "the order is already assigned to this rider"
    )
    other = _event(
        client, city, order_id, {"event": "assign", "rider_id": city.riders[1].principal_id}
    )
    assert other.status_code == 200
    error = error_of(_get(client, city, "rider-1", order_id), 403, "forbidden")
    assert error["message"] == "order was reassigned to another rider"
    assert _get(client, city, "rider-2", order_id).status_code == 200


def test_bad_event_bodies_are_422_and_change_nothing(client: TestClient, city: City) -> None:
    created, accepted = city.order_in("created"), city.order_in("accepted")
    merchant = city.merchants[0].principal_id
    cases = [
        (created, {"event": "teleport"}, "event must be one of"),
        (created, {"event": ""}, "event must be one of"),
        (accepted, {"event": "assign"}, "rider_id must name an active rider"),
        (accepted, {"event": "assign", "rider_id": "prn_" + "a" * 26}, "active rider"),
        (accepted, {"event": "assign", "rider_id": "x" * 40}, "active rider"),
        (accepted, {"event": "assign", "rider_id": merchant}, "active rider"),
        (created, {"event": "accept", "rider_id": "prn_" + "a" * 26}, "only accepted with"),
    ]
    for order_id, body, fragment in cases:
        error = error_of(_event(client, city, order_id, body), 422, "invalid_input")
        assert fragment in error["message"], body
    assert _get(client, city, "backend", created).json()["state"] == "created"
    assert _get(client, city, "backend", accepted).json()["state"] == "accepted"


def test_a_disabled_rider_cannot_be_assigned(client: TestClient, city: City) -> None:
    order_id = city.order_in("accepted")
    city.vault.disable_principal(city.riders[0].principal_id)
    body = {"event": "assign", "rider_id": city.riders[0].principal_id}
    error_of(_event(client, city, order_id, body), 422, "invalid_input")


# ---------------------------------------------------------------- windows


def test_expired_window_is_403_delivery_window_closed(
    client: TestClient, city: City, clock: FixedClock
) -> None:
    order_id = city.order_in("delivered")
    clock.advance(minutes=15)
    assert _get(client, city, "rider-1", order_id).status_code == 200
    clock.advance(milliseconds=1)
    error = error_of(_get(client, city, "rider-1", order_id), 403, "forbidden")
    assert error["message"] == "delivery window closed"
    assert_no_pii(_get(client, city, "rider-1", order_id))
    # Other parties keep their own views.
    assert _get(client, city, "merchant-1", order_id).status_code == 200


def test_cancelled_order_closes_the_riders_view(client: TestClient, city: City) -> None:
    order_id = city.order_in("cancelled")
    error = error_of(_get(client, city, "rider-1", order_id), 403, "forbidden")
    assert error["message"] == "order was cancelled"


# ---------------------------------------------------------------- batches


def _views(client: TestClient, city: City, label: str, ids: list[str]) -> httpx.Response:
    return client.post(
        "/v1/orders/views", headers=bearer(city.keys[label]), json={"order_ids": ids}
    )


def test_batch_of_mixed_ids_returns_own_views_and_uniform_404s(
    client: TestClient, city: City, clock: FixedClock
) -> None:
    mine = city.order_in("picked_up", rider=0)
    closed = city.order_in("delivered", rider=0)
    foreign = city.order_in("picked_up", rider=1)
    missing = absent()
    clock.advance(hours=1)
    response = _views(client, city, "rider-1", [mine, foreign, missing, closed, "junk", mine])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"views", "errors"}
    assert list(body["views"]) == [mine]
    assert body["views"][mine]["address"]["room"] == "1203"
    errors = body["errors"]
    assert set(errors) == {foreign, missing, closed, "junk"}
    not_found = {"code": "not_found", "status": 404, "message": "no such order"}
    assert errors[foreign] == errors[missing] == errors["junk"] == not_found
    assert errors[closed] == {
        "code": "forbidden",
        "status": 403,
        "message": "delivery window closed",
    }
    assert_no_pii(response.__class__(200, content=str(errors).encode()))


def test_batch_of_100_is_served_and_101_is_422(client: TestClient, city: City) -> None:
    own = [city.order() for _ in range(3)]
    hundred = own + [absent() for _ in range(97)]
    response = _views(client, city, "merchant-1", hundred)
    assert response.status_code == 200
    assert set(response.json()["views"]) == set(own)
    assert len(response.json()["errors"]) == 97
    error = error_of(_views(client, city, "merchant-1", [*hundred, absent()]), 422, "invalid_input")
    assert "100" in error["message"]


def test_an_empty_batch_is_422(client: TestClient, city: City) -> None:
    error_of(_views(client, city, "rider-1", []), 422, "invalid_input")


def test_a_batch_never_widens_what_a_single_view_shows(client: TestClient, city: City) -> None:
    order_id = city.order_in("rider_assigned", rider=0)
    single = _get(client, city, "rider-1", order_id).json()
    batch = _views(client, city, "rider-1", [order_id]).json()["views"][order_id]
    single.pop("order_id")
    batch.pop("order_id")
    assert batch == single
    assert "room" not in batch["address"]


# ---------------------------------------------------------------- my active orders


def _mine(client: TestClient, city: City, label: str) -> list[dict[str, object]]:
    response = client.get("/v1/me/orders", headers=bearer(city.keys[label]))
    assert response.status_code == 200, response.text
    return list(response.json()["orders"])


def test_my_active_orders_lists_only_the_callers_own(client: TestClient, city: City) -> None:
    rider1_assigned = city.order_in("rider_assigned", rider=0, merchant=0)
    rider1_picked = city.order_in("picked_up", rider=0, merchant=1)
    city.order_in("delivered", rider=0, merchant=0)
    city.order_in("cancelled", rider=0, merchant=0)
    rider2_picked = city.order_in("picked_up", rider=1, merchant=1)
    merchant1_new = city.order_in("created", merchant=0)
    reassigned = city.order_in("rider_assigned", rider=0, merchant=1)
    city.move(reassigned, "assign", rider=2)

    rider1 = {o["order_id"]: o["state"] for o in _mine(client, city, "rider-1")}
    assert rider1 == {rider1_assigned: "rider_assigned", rider1_picked: "picked_up"}
    assert {o["order_id"] for o in _mine(client, city, "rider-2")} == {rider2_picked}
    assert {o["order_id"] for o in _mine(client, city, "rider-3")} == {reassigned}
    merchant1 = {o["order_id"] for o in _mine(client, city, "merchant-1")}
    assert merchant1 == {rider1_assigned, merchant1_new}
    merchant2 = {o["order_id"] for o in _mine(client, city, "merchant-2")}
    assert merchant2 == {rider1_picked, rider2_picked, reassigned}
    for orders in (_mine(client, city, "rider-1"), _mine(client, city, "merchant-2")):
        for order in orders:
            assert set(order) == {"order_id", "state", "created"}


def test_my_active_orders_is_for_riders_and_merchants(client: TestClient, city: City) -> None:
    city.order_in("picked_up")
    for label in ("backend", "customer-0", "agent-1", "analyst-1", "admin-1"):
        response = client.get("/v1/me/orders", headers=bearer(city.keys[label]))
        error_of(response, 403, "forbidden")
