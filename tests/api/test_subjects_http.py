"""Subjects over HTTP: create, look up by phone (service only), erase."""

from __future__ import annotations

from typing import Any

import httpx

from tests._city import City
from tests.api._http import TestClient, absent, assert_no_pii, bearer, error_of
from veil.ids import IdKind, is_id

NEW_NAME = "司马相如"
NEW_PHONE = "13900139123"
NEW_ADDRESS = {
    "province": "四川省",
    "city": "成都市",
    "district": "锦江区",
    "street": "春熙路8号",
    "building": "9栋",
    "unit": "1单元",
    "floor": "7层",
    "room": "704",
}


def _service(city: City) -> dict[str, str]:
    return bearer(city.keys["backend"])


def _create(
    client: TestClient, city: City, body: dict[str, Any], label: str = "backend"
) -> httpx.Response:
    return client.post("/v1/subjects", headers=bearer(city.keys[label]), json=body)


def _lookup(client: TestClient, city: City, phone: str, label: str = "backend") -> httpx.Response:
    return client.post(
        "/v1/subjects/lookup", headers=bearer(city.keys[label]), json={"phone": phone}
    )


def test_service_creates_a_subject_and_gets_only_a_token(client: TestClient, city: City) -> None:
    body = {"name": NEW_NAME, "phones": [NEW_PHONE], "addresses": [NEW_ADDRESS]}
    response = _create(client, city, body)
    assert response.status_code == 201
    assert list(response.json()) == ["subject_id"]
    assert is_id(response.json()["subject_id"], IdKind.SUBJECT)
    assert_no_pii(response, NEW_NAME, NEW_PHONE, "春熙路")


PHONE_FORMATS = [
    "+86 139 0013 9123",
    "13900139123",
    "139-0013-9123",
    "+8613900139123",
    "0086 139 0013 9123",
    "(+86) 139 0013 9123",
    "１３９００１３９１２３",  # full-width digits, as typed on a Chinese keyboard
]


def test_lookup_by_phone_finds_the_subject_whatever_the_format(
    client: TestClient, city: City
) -> None:
    body = {"name": NEW_NAME, "phones": ["139 0013 9123"], "addresses": []}
    subject_id = _create(client, city, body).json()["subject_id"]
    for phone in PHONE_FORMATS:
        response = _lookup(client, city, phone)
        assert response.status_code == 200, (phone, response.text)
        assert response.json() == {"subject_ids": [subject_id]}


def test_lookup_returns_every_subject_sharing_a_phone(client: TestClient, city: City) -> None:
    # The test city's first customer has 138 0013 8001; a second one shares it.
    other = _create(client, city, {"name": NEW_NAME, "phones": ["13800138001", NEW_PHONE]})
    found = _lookup(client, city, "+86 13800138001").json()["subject_ids"]
    assert sorted(found) == sorted([city.subjects[0], other.json()["subject_id"]])
    assert _lookup(client, city, NEW_PHONE).json()["subject_ids"] == [other.json()["subject_id"]]


def test_lookup_of_an_unknown_phone_is_404_without_the_number(
    client: TestClient, city: City
) -> None:
    response = _lookup(client, city, "13700137000")
    error_of(response, 404, "not_found")
    assert_no_pii(response, "13700137000", "0013 7000")


def test_unparseable_phones_are_422_without_echo(client: TestClient, city: City) -> None:
    for phone in ["abc", "+86 1", "12345678901234567890", "++86138", "🙂🙂🙂", "12"]:
        response = _lookup(client, city, phone)
        error_of(response, 422, "invalid_input")
        assert phone not in response.text
        created = _create(client, city, {"name": NEW_NAME, "phones": [NEW_PHONE, phone]})
        error_of(created, 422, "invalid_input")
        assert_no_pii(created, phone, NEW_NAME, NEW_PHONE)
    # Nothing was stored by the refused creations.
    error_of(_lookup(client, city, NEW_PHONE), 404, "not_found")


def test_only_the_service_creates_looks_up_and_erases(client: TestClient, city: City) -> None:
    for label in ("rider-1", "merchant-1", "customer-0", "agent-1", "analyst-1", "admin-1"):
        role = label.split("-", maxsplit=1)[0]
        lookup = _lookup(client, city, "13800138001", label)
        assert error_of(lookup, 403, "forbidden")["message"].startswith(f"role {role} ")
        assert city.subjects[0] not in lookup.text
        created = _create(client, city, {"name": NEW_NAME, "phones": [NEW_PHONE]}, label)
        error_of(created, 403, "forbidden")
        url = f"/v1/subjects/{city.subjects[0]}"
        error_of(client.delete(url, headers=bearer(city.keys[label])), 403, "forbidden")
    # Nothing was created or erased behind the refusals.
    assert _lookup(client, city, NEW_PHONE).status_code == 404
    assert _lookup(client, city, "13800138001").json()["subject_ids"] == [city.subjects[0]]


def test_erase_makes_the_subject_unfindable_and_its_orders_contactless(
    client: TestClient, city: City
) -> None:
    order_id = city.order_in("picked_up", subject=0)
    response = client.delete(f"/v1/subjects/{city.subjects[0]}", headers=_service(city))
    assert response.status_code == 204
    assert response.content == b""
    error_of(_lookup(client, city, "13800138001"), 404, "not_found")
    for label in ("rider-1", "customer-0", "merchant-1"):
        view = client.get(f"/v1/orders/{order_id}", headers=bearer(city.keys[label]))
        assert view.status_code == 200
        assert view.json()["erased"] is True
        assert "customer" not in view.json()
        assert "address" not in view.json()
        assert_no_pii(view)
    # The other customer is untouched.
    assert _lookup(client, city, "13800138002").json()["subject_ids"] == [city.subjects[1]]


def test_erase_twice_or_of_unknown_ids_is_404(client: TestClient, city: City) -> None:
    url = f"/v1/subjects/{city.subjects[1]}"
    assert client.delete(url, headers=_service(city)).status_code == 204
    error_of(client.delete(url, headers=_service(city)), 404, "not_found")
    for subject_id in (absent(IdKind.SUBJECT), "sub_", "x", city.riders[0].principal_id):
        response = client.delete(f"/v1/subjects/{subject_id}", headers=_service(city))
        error_of(response, 404, "not_found")


def test_no_new_orders_for_an_erased_subject(client: TestClient, city: City) -> None:
    client.delete(f"/v1/subjects/{city.subjects[0]}", headers=_service(city))
    body = {"subject_id": city.subjects[0], "merchant_id": city.merchants[0].principal_id}
    response = client.post("/v1/orders", headers=_service(city), json=body)
    error_of(response, 422, "invalid_input")


def test_create_order_over_http_with_inline_address(client: TestClient, city: City) -> None:
    body = {
        "subject_id": city.subjects[1],
        "merchant_id": city.merchants[1].principal_id,
        "address": NEW_ADDRESS,
        "contact_phone": "+86 139 0013 9123",
        "contact_name": NEW_NAME,
        "note": "放门口",
    }
    response = client.post("/v1/orders", headers=_service(city), json=body)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    assert response.json()["state"] == "created"
    assert_no_pii(response, NEW_NAME, NEW_PHONE, "春熙路")
    view = client.get(f"/v1/orders/{order_id}", headers=bearer(city.keys["merchant-2"])).json()
    assert view["customer"] == {"name": "司马**"}
    assert view["address"] == {"province": "四川省", "city": "成都市", "district": "锦江区"}
    own = client.get(f"/v1/orders/{order_id}", headers=bearer(city.keys["customer-1"])).json()
    assert own["customer"] == {"name": NEW_NAME, "phone": "+8613900139123"}
    assert own["address"]["room"] == "704"
    assert own["note"] == "放门口"


def test_batch_order_creation_is_all_or_nothing(client: TestClient, city: City) -> None:
    good = {"subject_id": city.subjects[0], "merchant_id": city.merchants[0].principal_id}
    bad = {"subject_id": city.subjects[1], "merchant_id": city.riders[0].principal_id}
    response = client.post("/v1/orders/batch", headers=_service(city), json={"orders": [good, bad]})
    error_of(response, 422, "invalid_input")
    listed = client.get("/v1/me/orders", headers=bearer(city.keys["merchant-1"]))
    assert listed.json() == {"orders": []}
    ok = client.post("/v1/orders/batch", headers=_service(city), json={"orders": [good, good]})
    assert ok.status_code == 201
    assert len(set(ok.json()["order_ids"])) == 2
