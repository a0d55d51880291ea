"""Each party's view of an order at each moment of its life (both backends)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests._city import City, build_city
from veil.errors import AccessDenied, NotFound
from veil.testing import FixedClock
from veil.vault import Vault


@pytest.fixture
def city(vault: Vault) -> City:
    return build_city(vault)


def test_rider_sees_building_before_pickup_and_door_after(city: City) -> None:
    order_id = city.order_in("rider_assigned")
    rider = city.riders[0]
    before = city.vault.view_order(rider, order_id)
    assert before["address"] == {
        "province": "北京市",
        "city": "北京市",
        "district": "朝阳区",
        "street": "建国路88号",
        "building": "华贸酒店",
        "landmark": "前台",
    }
    assert before["customer"] == {"name": "许*"}  # the phone is a virtual number (numbers)
    assert before["contact"]["channel"] == "in_app"  # this rider registered no phone
    assert "subject_id" not in before
    city.move(order_id, "pickup")
    after = city.vault.view_order(rider, order_id)
    assert after["address"]["room"] == "1203"
    assert after["address"]["floor"] == "12层"


def test_rider_window_closes_after_grace(city: City, clock: FixedClock) -> None:
    order_id = city.order_in("delivered")
    rider = city.riders[0]
    clock.advance(minutes=15)
    assert city.vault.view_order(rider, order_id)["address"]["room"] == "1203"
    clock.advance(milliseconds=1)
    with pytest.raises(AccessDenied, match="delivery window closed"):
        city.vault.view_order(rider, order_id)


def test_reassigned_rider_is_refused_at_once(city: City) -> None:
    order_id = city.order_in("rider_assigned", rider=0)
    city.move(order_id, "assign", rider=1)
    with pytest.raises(AccessDenied, match="reassigned"):
        city.vault.view_order(city.riders[0], order_id)
    assert city.vault.view_order(city.riders[1], order_id)["state"] == "rider_assigned"


def test_stranger_rider_gets_404_like_absent(city: City) -> None:
    order_id = city.order_in("picked_up", rider=0)
    with pytest.raises(NotFound) as foreign:
        city.vault.view_order(city.riders[2], order_id)
    with pytest.raises(NotFound) as absent:
        city.vault.view_order(city.riders[2], "ord_" + "a" * 26)
    assert foreign.value.message == absent.value.message


def test_merchant_sees_surname_and_district_only(city: City) -> None:
    order_id = city.order_in("picked_up", subject=1)
    view = city.vault.view_order(city.merchants[0], order_id)
    assert view["customer"] == {"name": "欧阳**"}
    assert view["address"] == {"province": "广东省", "city": "广州市", "district": "天河区"}
    with pytest.raises(NotFound):
        city.vault.view_order(city.merchants[1], order_id)


def test_service_sees_tokens_and_no_pii(city: City) -> None:
    order_id = city.order_in("picked_up")
    view = city.vault.view_order(city.service, order_id)
    assert view["subject_id"] == city.subjects[0]
    assert "customer" not in view
    assert "address" not in view
    assert "note" not in view


def test_customer_sees_own_order_in_full(city: City) -> None:
    order_id = city.order_in("delivered")
    view = city.vault.view_order(city.customers[0], order_id)
    assert view["customer"] == {"name": "许昕", "phone": "+8613800138001"}
    assert view["note"] == "到了打电话"
    with pytest.raises(NotFound):
        city.vault.view_order(city.customers[1], order_id)


@pytest.mark.parametrize("role", ["agent", "analyst", "admin"])
def test_staff_have_no_standing_access(city: City, role: str) -> None:
    order_id = city.order_in("picked_up")
    with pytest.raises(NotFound):
        city.vault.view_order(city.staff[role], order_id)


def test_every_view_and_denial_is_audited(city: City) -> None:
    from sqlalchemy import select

    from veil.store import AUDIT_EVENTS

    order_id = city.order_in("picked_up")
    city.vault.view_order(city.riders[0], order_id)
    with pytest.raises(NotFound):
        city.vault.view_order(city.riders[1], order_id)
    with city.vault.engine.connect() as connection:
        rows = connection.execute(
            select(AUDIT_EVENTS)
            .where(AUDIT_EVENTS.c.order_id == order_id)
            .order_by(AUDIT_EVENTS.c.seq)
        ).all()
    views = [r for r in rows if r.tag.startswith("vault:order:view")]
    assert [(r.principal_id, r.decision) for r in views] == [
        (city.riders[0].principal_id, "allow"),
        (city.riders[1].principal_id, "deny"),
    ]
    assert views[0].fields == "order.state name.masked phone.virtual address.full note.redacted"
    assert views[0].policy_ids == "view.rider.to-door"


def test_clock_edges_at_pickup(city: City, clock: FixedClock) -> None:
    order_id = city.order_in("rider_assigned")
    assert "room" not in city.vault.view_order(city.riders[0], order_id)["address"]
    clock.advance(seconds=1)
    city.move(order_id, "pickup")
    assert city.vault.view_order(city.riders[0], order_id)["address"]["room"] == "1203"
    assert clock.now() > dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
