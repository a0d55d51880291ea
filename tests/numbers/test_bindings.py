"""Bindings follow the order through every transition (both backends)."""

from __future__ import annotations

import time

import pytest

from tests._city import City
from tests.numbers._numbers_city import (
    ALICE_PHONE,
    BEIJING,
    RIDER_PHONES,
    audit_tags,
    bindings,
    call,
    x_of,
)
from veil.errors import AccessDenied, NotFound
from veil.numbers import display_number
from veil.testing import FixedClock
from veil.vault import BindingSweeper, order_bindings, request_contact

GRACE_MS = 15 * 60_000


def test_assignment_binds_a_virtual_number_and_the_view_shows_it(city: City) -> None:
    order_id = city.order_in("rider_assigned")
    view = city.vault.view_order(city.riders[0], order_id)
    assert "phone" not in view["customer"]
    assert view["customer"] == {"name": "许*"}
    x = x_of(view)
    assert x in BEIJING  # the customer's city's pool
    assert view["contact"]["virtual_number"] == display_number(x)
    assert view["contact"]["virtual_number"].startswith("+86 170 ")
    assert view["contact"]["expires_at"].endswith("Z")
    [binding] = bindings(city.vault, order_id)
    assert binding.holder_id == city.riders[0].principal_id
    assert binding.released_ms is None
    assert binding.provider_state == "bound"
    assert "numbers:binding:bound" in audit_tags(city.vault)


def test_the_view_never_holds_the_customer_number_in_any_form(city: City) -> None:
    order_id = city.order_in("picked_up")
    text = repr(city.vault.view_order(city.riders[0], order_id))
    for form in ("13800138001", "138****8001", "8001"):
        assert form not in text


def test_the_binding_lives_through_pickup_and_ends_after_delivery_grace(
    city: City, clock: FixedClock
) -> None:
    order_id = city.order_in("rider_assigned")
    rider = city.riders[0]
    x = x_of(city.vault.view_order(rider, order_id))
    city.move(order_id, "pickup")
    assert x_of(city.vault.view_order(rider, order_id)) == x
    city.move(order_id, "deliver")
    delivered = bindings(city.vault, order_id)[0]
    assert delivered.expires_ms == delivered.created_ms + GRACE_MS  # the clock stood still
    view = city.vault.view_order(rider, order_id)
    assert x_of(view) == x
    assert view["contact"]["expires_at"] == "2026-11-29T12:15:00.000Z"
    clock.advance(minutes=15)
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "e-1").action == "connect"
    clock.advance(seconds=1)
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "e-2").action == "reject"


def test_reassignment_stops_the_old_number_at_once_and_binds_the_new_rider(
    city: City, clock: FixedClock
) -> None:
    order_id = city.order_in("rider_assigned", rider=0)
    old_x = x_of(city.vault.view_order(city.riders[0], order_id))
    clock.advance(seconds=1)
    city.move(order_id, "assign", rider=1)
    with pytest.raises(AccessDenied, match="reassigned"):
        city.vault.view_order(city.riders[0], order_id)
    new_x = x_of(city.vault.view_order(city.riders[1], order_id))
    old, new = bindings(city.vault, order_id)
    assert old.release_reason == "reassigned"
    assert old.released_ms is not None
    assert new.released_ms is None
    assert new.holder_id == city.riders[1].principal_id
    # The customer (A) had old_x with rider 1 moments ago: the cool-down keeps
    # old_x away from A, so a late call from A cannot reach the new rider by it.
    assert new_x != old_x
    assert call(city.vault, city.service, RIDER_PHONES[0], old_x, "old").action == "reject"
    answer = call(city.vault, city.service, RIDER_PHONES[1], new_x, "new")
    assert (answer.action, answer.connect_to) == ("connect", ALICE_PHONE)
    # The new rider picks up and delivers: the old binding stays ended.
    city.move(order_id, "pickup", "deliver")
    assert call(city.vault, city.service, RIDER_PHONES[0], old_x, "old-2").action == "reject"


def test_reassigning_back_to_the_first_rider_issues_a_fresh_binding(
    city: City, clock: FixedClock
) -> None:
    order_id = city.order_in("rider_assigned", rider=0)
    clock.advance(seconds=1)
    city.move(order_id, "assign", rider=1)
    clock.advance(seconds=1)
    city.move(order_id, "assign", rider=0)
    rows = bindings(city.vault, order_id)
    assert [r.holder_id for r in rows] == [
        city.riders[0].principal_id,
        city.riders[1].principal_id,
        city.riders[0].principal_id,
    ]
    assert [r.released_ms is None for r in rows] == [False, False, True]
    assert x_of(city.vault.view_order(city.riders[0], order_id))


@pytest.mark.parametrize("state", ["rider_assigned", "picked_up"])
def test_cancellation_ends_every_binding(city: City, state: str) -> None:
    order_id = city.order_in(state)
    x = x_of(city.vault.view_order(city.riders[0], order_id))
    city.move(order_id, "cancel")
    [binding] = bindings(city.vault, order_id)
    assert binding.release_reason == "cancelled"
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "c").reason == (
        "the number's binding has ended"
    )
    assert call(city.vault, city.service, ALICE_PHONE, x, "c2").action == "reject"


def test_orders_before_assignment_have_no_binding(city: City) -> None:
    for state in ("created", "accepted"):
        assert bindings(city.vault, city.order_in(state)) == []


def test_numbers_return_to_the_pool_when_bindings_end(city: City) -> None:
    orders = [city.order_in("rider_assigned", rider=n) for n in range(3)]
    for order_id in orders:
        city.move(order_id, "cancel")
    status = city.vault.numbers.status
    with city.vault.engine.connect() as connection:
        usage = {c.city: c for c in status(connection, city.vault._now_ms()).cities}
    assert usage["北京市"].live_bindings == 0
    assert usage["北京市"].numbers_in_use == 0
    assert city.vault.numbers.provider.held_count == 0  # type: ignore[attr-defined]


def test_a_rider_without_a_registered_phone_falls_back_to_in_app_contact(city: City) -> None:
    rider = city.principal("rider", "rider-no-phone")
    order_id = city.order()
    city.vault.post_order_event(city.service, order_id, "accept")
    city.vault.post_order_event(city.service, order_id, "assign", rider_id=rider.principal_id)
    contact = city.vault.view_order(rider, order_id)["contact"]
    assert contact["virtual_number"] is None
    assert contact["channel"] == "in_app"
    assert "no phone is registered" in contact["reason"]
    assert "numbers:binding:fallback" in audit_tags(city.vault)


def test_after_expiry_the_view_shows_no_number(city: City, clock: FixedClock) -> None:
    order_id = city.order_in("delivered")
    rider = city.riders[0]
    clock.advance(minutes=15, milliseconds=1)
    with pytest.raises(AccessDenied):
        city.vault.view_order(rider, order_id)
    with city.vault.engine.connect() as connection:
        contact = city.vault.numbers.contact(
            connection, rider.principal_id, order_id, city.vault._now_ms()
        )
    assert contact["virtual_number"] is None
    assert contact["ended_at"] == "2026-11-29T12:15:00.000Z"


def test_merchant_gets_a_number_only_when_policy_allows(city: City) -> None:
    merchant = city.merchants[0]
    order_id = city.order_in("accepted")
    before = city.vault.view_order(merchant, order_id)
    assert before["contact"]["virtual_number"] is None
    contact = request_contact(city.vault, merchant, order_id)
    assert contact["virtual_number"].startswith("+86 170")
    # Asking again returns the same live number.
    assert request_contact(city.vault, merchant, order_id) == contact
    assert city.vault.view_order(merchant, order_id)["contact"] == contact
    x = "+" + contact["virtual_number"].replace(" ", "").lstrip("+")
    answer = call(city.vault, city.service, "+8613900139101", x, "m-1")
    assert (answer.action, answer.connect_to) == ("connect", ALICE_PHONE)
    # Pickup ends the merchant's number; the view no longer carries a contact.
    city.move(order_id, "assign", rider=0)
    city.move(order_id, "pickup")
    assert "contact" not in city.vault.view_order(merchant, order_id)
    assert call(city.vault, city.service, "+8613900139101", x, "m-2").action == "reject"
    with pytest.raises(AccessDenied, match="no virtual number"):
        request_contact(city.vault, merchant, order_id)


def test_another_merchant_cannot_ask_for_a_number(city: City) -> None:
    order_id = city.order_in("accepted", merchant=0)
    with pytest.raises(NotFound):
        request_contact(city.vault, city.merchants[1], order_id)


def test_the_service_lists_an_order_bindings_without_real_numbers(
    city: City, clock: FixedClock
) -> None:
    order_id = city.order_in("rider_assigned", rider=0)
    clock.advance(seconds=1)
    city.move(order_id, "assign", rider=1)
    listed = order_bindings(city.vault, city.service, order_id)
    assert [b["status"] for b in listed] == ["released", "live"]
    assert [b["holder_id"] for b in listed] == [r.principal_id for r in city.riders[:2]]
    assert "13800138001" not in repr(listed)
    with pytest.raises(AccessDenied):
        order_bindings(city.vault, city.riders[0], order_id)


def test_a_merchant_number_lapses_after_its_window(city: City, clock: FixedClock) -> None:
    merchant = city.merchants[0]
    order_id = city.order_in("accepted")
    contact = request_contact(city.vault, merchant, order_id)
    x = "+" + contact["virtual_number"].replace(" ", "").lstrip("+")
    clock.advance(minutes=30)
    assert call(city.vault, city.service, "+8613900139101", x, "edge").action == "connect"
    clock.advance(seconds=1)
    assert call(city.vault, city.service, "+8613900139101", x, "late").action == "reject"
    assert city.vault.view_order(merchant, order_id)["contact"]["virtual_number"] is None
    # Asking again issues a fresh number (the lapsed one is cooling down for these parties).
    again = request_contact(city.vault, merchant, order_id)
    assert again["virtual_number"] not in (None, contact["virtual_number"])


def test_the_background_sweeper_releases_expired_bindings(city: City, clock: FixedClock) -> None:
    order_id = city.order_in("delivered")
    clock.advance(minutes=16)
    sweeper = BindingSweeper(city.vault, interval=0.05)
    sweeper.start()
    try:
        deadline = time.monotonic() + 10
        while bindings(city.vault, order_id)[0].released_ms is None:
            assert time.monotonic() < deadline, "the sweeper did not run"
            time.sleep(0.05)
    finally:
        sweeper.stop()
    [binding] = bindings(city.vault, order_id)
    assert binding.release_reason == "expired"
    assert binding.provider_state == "unbound"
