"""Hypothesis throws JSON-ish bodies and odd ids at every route: never a 500, never an echo."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._city import City
from tests.api._http import TestClient, assert_no_pii, bearer

# Planted in bodies so that an error message echoing input would be caught.
NAME = "端木蓉"
PHONE = "13900139777"

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from([NAME, PHONE, "+86 " + PHONE, "", " ", "\x00", "ord_", "sub_", "prn_"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

FIELDS = {
    "/v1/subjects": ["name", "phones", "addresses"],
    "/v1/subjects/lookup": ["phone"],
    "/v1/orders": [
        "subject_id",
        "merchant_id",
        "address",
        "address_index",
        "contact_phone",
        "contact_name",
        "note",
    ],
    "/v1/orders/batch": ["orders"],
    "/v1/orders/views": ["order_ids"],
    "/v1/orders/{order_id}/events": ["event", "rider_id"],
}


def _shaped(fields: list[str], ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Objects with the route's own field names (and sometimes more), random values."""
    value = json_values | ids | st.lists(ids, max_size=3)
    known = st.fixed_dictionaries({}, optional={f: value for f in fields})
    extra = st.dictionaries(st.text(max_size=8), json_values, max_size=2)
    return st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]})


def _body(fields: list[str], ids: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    as_json = (_shaped(fields, ids) | json_values).map(
        lambda value: json.dumps(value, ensure_ascii=False).encode()
    )
    return as_json | st.binary(max_size=64)


def _ids(city: City, order_ids: list[str]) -> st.SearchStrategy[str]:
    real = [*order_ids, *city.subjects, city.riders[0].principal_id, city.merchants[0].principal_id]
    nasty = ["\x00", "sub_\x00", "prn_\x00", "ord_\x00", "' OR 1=1 --", "%", "..", "\u202e"]
    return (
        st.sampled_from(real)
        | st.sampled_from(nasty)
        | st.text(max_size=40)
        | st.from_regex(r"(ord|sub|prn)_[a-z2-7]{26}", fullmatch=True)
    )


def _seed(city: City) -> list[str]:
    return [city.order_in(state) for state in ("created", "rider_assigned", "picked_up")]


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body["error"]) == {"code", "message", "request_id"}
        assert_no_pii(response, NAME, PHONE, "0013 9777")


@pytest.mark.parametrize("label", ["backend", "rider-1"])
def test_random_bodies_to_every_post_route_never_500(
    client: TestClient, city: City, label: str
) -> None:
    order_ids = _seed(city)
    ids = _ids(city, order_ids)
    headers = {**bearer(city.keys[label]), "Content-Type": "application/json"}

    # The service passes every role check, so its requests reach the deepest code.
    @settings(FUZZ, max_examples=100 if label == "backend" else 40)
    @given(
        route=st.sampled_from(sorted(FIELDS)),
        data=st.data(),
        order_id=ids,
    )
    def post(route: str, data: st.DataObject, order_id: str) -> None:
        body = data.draw(_body(FIELDS[route], ids))
        path = route.replace("{order_id}", _quote(order_id))
        _check(client.post(path, content=body, headers=headers))

    post()


@pytest.mark.parametrize("label", ["backend", "rider-1", "merchant-1"])
def test_random_ids_in_paths_never_500(client: TestClient, city: City, label: str) -> None:
    ids = _ids(city, _seed(city))
    headers = bearer(city.keys[label])

    @FUZZ
    @given(some_id=ids, method=st.sampled_from(["GET", "DELETE", "POST"]))
    def call(some_id: str, method: str) -> None:
        quoted = _quote(some_id)
        if method == "GET":
            _check(client.get(f"/v1/orders/{quoted}", headers=headers))
        elif method == "DELETE":
            _check(client.delete(f"/v1/subjects/{quoted}", headers=headers))
        else:
            event = {"event": "cancel", "rider_id": some_id}
            _check(client.post(f"/v1/orders/{quoted}/events", headers=headers, json=event))

    call()


def _quote(value: str) -> str:
    from urllib.parse import quote

    # Percent-encode everything, "/" included, so the id stays one path segment.
    return quote(value, safe="") or "%20"
