"""Order notes: riders and merchants read the redacted note; the customer, the original."""

from __future__ import annotations

import pytest

from tests._city import City, build_city
from tests.api._http import TestClient
from veil.api import create_app
from veil.errors import AccessDenied
from veil.vault import OrderSpec, Vault

NOTE = "到了打我电话138 1234 5678，3号楼2单元1203，找王女士"


@pytest.fixture
def city(vault: Vault) -> City:
    return build_city(vault)


def _order_with_note(city: City) -> str:
    [order_id] = city.vault.create_orders(
        city.service,
        [OrderSpec(city.subjects[0], city.merchants[0].principal_id, note=NOTE)],
    )
    city.move(order_id, "accept", "assign", "pickup", rider=0)
    return order_id


def test_rider_and_merchant_read_the_redacted_note(city: City) -> None:
    order_id = _order_with_note(city)
    for caller in (city.riders[0], city.merchants[0]):
        note = city.vault.view_order(caller, order_id)["note"]
        assert "[电话]" in note
        assert "138" not in note
        assert "1203" not in note
        assert "王女士" not in note
        assert note.startswith("到了打我电话")


def test_customer_reads_the_original_note(city: City) -> None:
    order_id = _order_with_note(city)
    assert city.vault.view_order(city.customers[0], order_id)["note"] == NOTE


def test_redact_route_is_for_the_service_only(city: City) -> None:
    client = TestClient(create_app(city.vault))
    text = "加我微信 wx_zhang2024 或者打 0086-139-0013-9000"
    ok = client.post(
        "/v1/redact",
        json={"text": text},
        headers={"Authorization": f"Bearer {city.keys['backend']}"},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert "wx_zhang2024" not in body["text"]
    assert "9000" not in body["text"]
    assert {f["type"] for f in body["findings"]} == {"wechat", "phone"}
    assert all(set(f) == {"start", "end", "type"} for f in body["findings"])
    rider = client.post(
        "/v1/redact",
        json={"text": text},
        headers={"Authorization": f"Bearer {city.keys['rider-1']}"},
    )
    assert rider.status_code == 403
    assert "0013" not in rider.text


def test_redact_use_case_refuses_other_roles(city: City) -> None:
    with pytest.raises(AccessDenied):
        city.vault.redact_text(city.riders[0], "13800138000")
