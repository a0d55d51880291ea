"""Malformed, mistyped, unknown and oversized input: a clear 4xx, never a 500, never an echo."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from tests._city import City
from tests.api._http import MAX_BODY, TestClient, assert_no_pii, bearer, error_of

NAME = "诸葛孔明"
PHONE = "13900139456"


def _post(client: TestClient, city: City, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**bearer(city.keys["backend"]), **kwargs.pop("headers", {})}
    return client.post(path, headers=headers, **kwargs)


POST_ROUTES = ["/v1/subjects", "/v1/subjects/lookup", "/v1/orders", "/v1/orders/batch"]
JSON = {"Content-Type": "application/json"}


MALFORMED = [
    b"{",
    b'{"name": "' + NAME.encode() + b'", "phones": ["' + PHONE.encode() + b'"]',
    b"{'name': 'x'}",
    b'{"name": NaN}',
    b"\xff\xfe\x00{",
    b"null",
    b"[]",
    b'"just a string"',
    b"12345",
    b"",
]


def test_malformed_json_is_422_on_every_post_route(client: TestClient, city: City) -> None:
    paths = [*POST_ROUTES, "/v1/orders/views", f"/v1/orders/{city.order()}/events"]
    for raw in MALFORMED:
        for path in paths:
            response = _post(client, city, path, content=raw, headers=JSON)
            error_of(response, 422, "invalid_input")
            assert_no_pii(response, NAME, PHONE)


WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/subjects", {"name": 12, "phones": [PHONE]}, "name"),
    ("/v1/subjects", {"name": NAME, "phones": PHONE}, "phones"),
    ("/v1/subjects", {"name": NAME, "phones": [13900139456]}, "phones.0"),
    ("/v1/subjects", {"name": NAME, "phones": []}, "phones"),
    ("/v1/subjects", {"name": NAME, "phones": [PHONE] * 6}, "phones"),
    ("/v1/subjects", {"name": "", "phones": [PHONE]}, "name"),
    ("/v1/subjects", {"name": NAME * 30, "phones": [PHONE]}, "name"),
    ("/v1/subjects", {"name": NAME, "phones": [PHONE], "addresses": {"room": "1"}}, "addr"),
    ("/v1/subjects", {"name": [NAME], "phones": [PHONE]}, "name"),
    ("/v1/subjects/lookup", {"phone": None}, "phone"),
    ("/v1/subjects/lookup", {"phone": {"e164": PHONE}}, "phone"),
    ("/v1/orders", {"subject_id": None, "merchant_id": "x"}, "subject_id"),
    ("/v1/orders", {"subject_id": "s", "merchant_id": "m", "address_index": -1}, "address"),
    ("/v1/orders", {"subject_id": "s", "merchant_id": "m", "address_index": 1.5}, "address"),
    ("/v1/orders", {"subject_id": "s", "merchant_id": "m", "note": "长" * 501}, "note"),
    ("/v1/orders/batch", {"orders": []}, "orders"),
    ("/v1/orders/batch", {"orders": {"subject_id": "s"}}, "orders"),
    ("/v1/orders/views", {"order_ids": "ord_x"}, "order_ids"),
    ("/v1/orders/views", {"order_ids": [1, 2]}, "order_ids"),
]


def test_wrong_types_are_422_naming_the_field_not_the_value(client: TestClient, city: City) -> None:
    for path, body, where in WRONG_TYPES:
        response = _post(client, city, path, json=body)
        error = error_of(response, 422, "invalid_input")
        assert where in error["message"], (body, error)
        assert_no_pii(response, NAME, PHONE)


UNKNOWN_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/subjects", {"name": NAME, "phones": [PHONE], "is_admin": True}, "is_admin"),
    ("/v1/subjects/lookup", {"phone": PHONE, "region": "CN"}, "region"),
    ("/v1/orders/views", {"order_ids": ["x"], "purpose": "curious"}, "purpose"),
    (
        "/v1/subjects",
        {"name": NAME, "phones": [PHONE], "addresses": [{"city": "x", "gps": "1,2"}]},
        "gps",
    ),
]


def test_unknown_fields_are_refused(client: TestClient, city: City) -> None:
    for path, body, field in UNKNOWN_FIELDS:
        error = error_of(_post(client, city, path, json=body), 422, "invalid_input")
        assert field in error["message"], error
    # Nothing was stored.
    error_of(_post(client, city, "/v1/subjects/lookup", json={"phone": PHONE}), 404)


def test_pii_sent_as_a_field_name_is_not_echoed(client: TestClient, city: City) -> None:
    # A confused client that keys its JSON by phone number or name must not get it back.
    body = {"name": "x", "phones": [PHONE], PHONE: NAME, NAME: PHONE}
    response = _post(client, city, "/v1/subjects", json=body)
    error_of(response, 422, "invalid_input")
    assert_no_pii(response, NAME, PHONE)


def test_unknown_event_field_is_refused(client: TestClient, city: City) -> None:
    order_id = city.order()
    body = {"event": "accept", "at": "2026-01-01"}
    error = error_of(_post(client, city, f"/v1/orders/{order_id}/events", json=body), 422)
    assert "at" in error["message"]


def test_oversized_body_with_content_length_is_413(client: TestClient, city: City) -> None:
    body = b'{"name": "' + b"x" * (MAX_BODY + 1) + b'"}'
    for path in POST_ROUTES:
        response = _post(client, city, path, content=body, headers=JSON)
        assert int(response.request.headers["content-length"]) > MAX_BODY
        error = error_of(response, 413, "body_too_large")
        assert str(MAX_BODY) in error["message"]


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


def test_oversized_chunked_body_without_content_length_is_413(
    client: TestClient, city: City
) -> None:
    for path in [*POST_ROUTES, "/v1/orders/views", f"/v1/orders/{city.order()}/events"]:
        # A generator body is sent with Transfer-Encoding: chunked and no Content-Length.
        response = _post(client, city, path, content=_chunks(MAX_BODY * 2), headers=JSON)
        assert "content-length" not in response.request.headers
        assert response.request.headers.get("transfer-encoding") == "chunked"
        error = error_of(response, 413, "body_too_large")
        assert str(MAX_BODY) in error["message"]


def test_a_body_just_under_the_limit_is_parsed(client: TestClient, city: City) -> None:
    # Padding with spaces keeps the JSON valid; the limit is on bytes, not on meaning.
    body = b'{"phone": "' + PHONE.encode() + b'"}'
    padded = body + b" " * (MAX_BODY - len(body))
    response = _post(client, city, "/v1/subjects/lookup", content=padded, headers=JSON)
    error_of(response, 404, "not_found")  # parsed and looked up; nobody has this phone
    chunked = _post(
        client, city, "/v1/subjects/lookup", content=iter([body, b" " * 1000]), headers=JSON
    )
    error_of(chunked, 404, "not_found")


def test_nul_bytes_in_ids_are_refused_as_input_not_as_storage_errors(
    client: TestClient, city: City
) -> None:
    # PostgreSQL refuses NUL in text parameters; that must not surface as a 503.
    service = bearer(city.keys["backend"])
    accepted = city.order_in("accepted")
    merchant = city.merchants[0].principal_id
    assign = {"event": "assign", "rider_id": "prn_\x00"}
    foreign_merchant = {"subject_id": city.subjects[0], "merchant_id": "\x00"}
    responses = [
        (client.delete("/v1/subjects/%00", headers=service), 404),
        (client.delete("/v1/subjects/sub_%00", headers=service), 404),
        (_post(client, city, f"/v1/orders/{accepted}/events", json=assign), 422),
        (_post(client, city, "/v1/orders", json=foreign_merchant), 422),
        (_post(client, city, "/v1/orders/views", json={"order_ids": ["\x00", "ord_\x00"]}), 200),
        (client.get("/v1/orders/ord_%00", headers=service), 404),
    ]
    for response, status in responses:
        assert response.status_code == status, response.text
    note = {"subject_id": city.subjects[0], "merchant_id": merchant, "note": "a\x00b"}
    assert _post(client, city, "/v1/orders", json=note).status_code == 201
