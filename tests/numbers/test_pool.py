"""The pool: CSV import, the allocation rule, cool-down, sharing, pressure and exhaustion."""

from __future__ import annotations

import json

import pytest

from tests._city import HOTEL, City
from tests.numbers._numbers_city import (
    BEIJING,
    GUANGZHOU,
    RIDER_PHONES,
    alerts,
    bindings,
    build_numbers_city,
    call,
    pool_csv,
    x_of,
)
from veil.clock import to_epoch_ms
from veil.errors import InvalidInput
from veil.numbers import (
    EXHAUSTED_ALERT,
    PRESSURE_ALERT,
    NumbersConfig,
    PoolEntry,
    parse_pool_csv,
)
from veil.numbers._pool import pick_number
from veil.testing import FixedClock
from veil.vault import (
    OrderSpec,
    Vault,
    import_numbers,
    numbers_status,
    register_party_phone,
    sweep_numbers,
)

# ---------------------------------------------------------------- CSV


def test_a_csv_with_a_header_comments_and_spacing_parses() -> None:
    text = "x_number, city\n# Beijing pool\n+86 170 0000 0001 , 北京市\n\n17000000002,北京市\n"
    assert parse_pool_csv(text) == [
        PoolEntry("+8617000000001", "北京市"),
        PoolEntry("+8617000000002", "北京市"),
    ]


def test_a_csv_without_a_city_column_takes_the_default_city() -> None:
    entries = parse_pool_csv("17000000001\n17000000002\n", default_city="广州市")
    assert {e.city for e in entries} == {"广州市"}
    with pytest.raises(InvalidInput, match="line 1: a city"):
        parse_pool_csv("17000000001\n")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("number,city\nnot-a-number,北京市\n", "line 2: not a phone number"),
        ("17000000001,北京市\n17000000001,广州市\n", "line 2: the number is listed for two cities"),
        ("number,city\n", "no numbers"),
        ("17000000001," + "市" * 65 + "\n", "line 1: a city"),
    ],
)
def test_a_bad_csv_names_the_line_and_imports_nothing(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        parse_pool_csv(text)


def test_import_is_idempotent_and_refuses_moving_a_number(vault: Vault) -> None:
    first = import_numbers(vault, parse_pool_csv(pool_csv()))
    assert (first.added, first.already_present) == (len(BEIJING) + len(GUANGZHOU), 0)
    assert first.by_city == {"北京市": len(BEIJING), "广州市": len(GUANGZHOU)}
    again = import_numbers(vault, parse_pool_csv(pool_csv()))
    assert (again.added, again.already_present) == (0, len(BEIJING) + len(GUANGZHOU))
    with pytest.raises(InvalidInput, match="another city"):
        import_numbers(vault, [PoolEntry(BEIJING[0], "广州市"), PoolEntry("+8617000009999", "x")])
    # All or none: the new number of the refused file is not in the pool.
    status = numbers_status(vault)
    assert sum(c.numbers for c in status.cities) == len(BEIJING) + len(GUANGZHOU)


# ---------------------------------------------------------------- allocation


def test_orders_in_each_city_get_that_city_numbers(city: City) -> None:
    beijing = city.order_in("rider_assigned", subject=0, rider=0)
    guangzhou = city.order_in("rider_assigned", subject=1, rider=1)
    assert x_of(city.vault.view_order(city.riders[0], beijing)) in BEIJING
    assert x_of(city.vault.view_order(city.riders[1], guangzhou)) in GUANGZHOU


def test_one_rider_never_holds_the_same_number_twice_at_once(city: City) -> None:
    orders = [city.order_in("rider_assigned", rider=0) for _ in range(len(BEIJING))]
    numbers = [x_of(city.vault.view_order(city.riders[0], o)) for o in orders]
    assert sorted(numbers) == sorted(BEIJING)  # all different: each call from B is unambiguous
    for order_id, x in zip(orders, numbers, strict=True):
        answer = call(city.vault, city.service, RIDER_PHONES[0], x, f"ev-{x}")
        assert answer.binding_id == bindings(city.vault, order_id)[0].id


def test_one_customer_never_holds_the_same_number_twice_at_once(vault: Vault) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:2], GUANGZHOU))
    # Two numbers, three riders, one customer: Alice is A in every order, so
    # each of her live orders needs a number of its own; the third finds none.
    first = city.order_in("rider_assigned", rider=0, subject=0)
    second = city.order_in("rider_assigned", rider=1, subject=0)
    numbers = {x_of(city.vault.view_order(city.riders[n], o)) for n, o in ((0, first), (1, second))}
    assert numbers == set(BEIJING[:2])
    third = city.order_in("rider_assigned", rider=2, subject=0)
    contact = city.vault.view_order(city.riders[2], third)["contact"]
    assert contact["virtual_number"] is None
    assert contact["reason"] == "the number pool is exhausted; use in-app contact"


def test_a_number_is_shared_by_bindings_with_no_party_in_common(vault: Vault) -> None:
    # Alice (Beijing) and Bob's order re-addressed to Beijing share nothing.
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:1], GUANGZHOU))
    first = city.order_in("rider_assigned", rider=0, subject=0)
    [second] = vault.create_orders(
        city.service,
        [OrderSpec(city.subjects[1], city.merchants[0].principal_id, address=HOTEL)],
    )
    city.move(second, "accept", "assign", rider=1)
    x1 = x_of(vault.view_order(city.riders[0], first))
    x2 = x_of(vault.view_order(city.riders[1], second))
    assert x1 == x2 == BEIJING[0]
    # Each party's call still names exactly its own binding.
    assert call(vault, city.service, RIDER_PHONES[0], x1, "a").connect_to == "+8613800138001"
    assert call(vault, city.service, RIDER_PHONES[1], x1, "b").connect_to == "+8613800138002"
    assert call(vault, city.service, "+8613800138002", x1, "c").connect_to == RIDER_PHONES[1]


def test_a_number_comes_back_to_the_same_rider_only_after_the_cooldown(
    vault: Vault, clock: FixedClock
) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:2], GUANGZHOU))
    first = city.order_in("rider_assigned", rider=0)
    x = x_of(vault.view_order(city.riders[0], first))
    city.move(first, "cancel")
    clock.advance(minutes=1)
    second = city.order_in("rider_assigned", rider=0)
    assert x_of(vault.view_order(city.riders[0], second)) != x
    city.move(second, "cancel")
    clock.advance(minutes=30)  # the first binding ended 31 minutes ago, the second 30
    third = city.order_in("rider_assigned", rider=0)
    assert x_of(vault.view_order(city.riders[0], third)) == x


def test_the_cooldown_holds_after_a_binding_that_lived_as_long_as_any_can(
    vault: Vault, clock: FixedClock
) -> None:
    # Allocation reads a party's ended bindings only back to the longest a
    # binding lives before the cool-down: this one began exactly that long ago.
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:1], GUANGZHOU))
    config = vault.numbers.config
    first = city.order_in("rider_assigned", rider=0)
    x = x_of(vault.view_order(city.riders[0], first))
    clock.advance(milliseconds=config.max_binding_ms + 1)
    assert sweep_numbers(vault).expired == 1  # ended at its expiry, never delivered
    clock.advance(milliseconds=config.cooldown_ms - 2)  # 1 ms before the cool-down ends
    second = city.order_in("rider_assigned", rider=0)
    # The only number is still cooling down for this rider and customer.
    assert vault.view_order(city.riders[0], second)["contact"]["virtual_number"] is None
    city.move(second, "cancel")
    clock.advance(milliseconds=config.cooldown_ms)
    third = city.order_in("rider_assigned", rider=0)
    assert x_of(vault.view_order(city.riders[0], third)) == x


def test_a_binding_the_sweep_has_not_ended_still_holds_its_number_however_old(
    vault: Vault, clock: FixedClock
) -> None:
    # Allocation reads ended bindings only back to the longest binding + the
    # cool-down, but a live one (expired, not yet swept) holds its number for
    # its parties however long ago it began: the live unique index says so.
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:1], GUANGZHOU))
    config = vault.numbers.config
    first = city.order_in("rider_assigned", rider=0, subject=0)
    assert x_of(vault.view_order(city.riders[0], first)) == BEIJING[0]
    clock.advance(milliseconds=config.longest_binding_ms + config.cooldown_ms + 60_000)
    [held] = bindings(vault, first)
    with vault.engine.begin() as connection:
        pick = pick_number(
            connection,
            city="北京市",
            a_digest=held.a_digest,
            b_digest=held.b_digest,
            now_ms=to_epoch_ms(clock.now()),
            config=config,
        )
    assert pick is None  # not the number: inserting it would break the live unique index
    second = city.order_in("rider_assigned", rider=0, subject=0)  # no sweep ran
    contact = vault.view_order(city.riders[0], second)["contact"]
    assert contact["reason"] == "the number pool is exhausted; use in-app contact"
    # Swept, it ended at its expiry, long before the cool-down: the number is free.
    assert sweep_numbers(vault).expired == 1
    third = city.order_in("rider_assigned", rider=0, subject=0)
    assert x_of(vault.view_order(city.riders[0], third)) == BEIJING[0]


def test_pairs_per_number_caps_sharing(vault: Vault) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:1], GUANGZHOU))
    vault.numbers.config = NumbersConfig(pairs_per_number=1)
    first = city.order_in("rider_assigned", rider=0, subject=0)
    [second] = vault.create_orders(
        city.service,
        [OrderSpec(city.subjects[1], city.merchants[0].principal_id, address=HOTEL)],
    )
    city.move(second, "accept", "assign", rider=1)
    assert x_of(vault.view_order(city.riders[0], first)) == BEIJING[0]
    assert vault.view_order(city.riders[1], second)["contact"]["virtual_number"] is None


# ---------------------------------------------------------------- pressure, exhaustion


def test_pool_pressure_raises_one_alert_before_exhaustion(vault: Vault) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:1], GUANGZHOU))
    vault.numbers.config = NumbersConfig(pairs_per_number=5, pressure_alert=0.6)
    # Distinct customers and riders so that only the pool's capacity matters.
    orders = []
    for n in range(5):
        rider = city.principal("rider", f"rider-p{n}")
        register_party_phone(vault, rider.principal_id, f"+86139001392{n:02d}")
        subject = vault.create_subject(
            city.service, name="顾客", phones=[f"+86138001384{n:02d}"], addresses=[HOTEL]
        )
        [order_id] = vault.create_orders(
            city.service, [OrderSpec(subject, city.merchants[0].principal_id)]
        )
        vault.post_order_event(city.service, order_id, "accept")
        vault.post_order_event(city.service, order_id, "assign", rider_id=rider.principal_id)
        orders.append((rider, order_id))
        pressure = alerts(vault, PRESSURE_ALERT)
        # Loads 1/5, 2/5 stay quiet; 3/5 = 0.6 raises; 4/5 and 5/5 touch the same alert.
        assert len(pressure) == (0 if n < 2 else 1)
    assert json.loads(alerts(vault, PRESSURE_ALERT)[0].evidence)["load"] == 1.0
    assert alerts(vault, EXHAUSTED_ALERT) == []
    status = numbers_status(vault)
    beijing = next(c for c in status.cities if c.city == "北京市")
    assert (beijing.live_bindings, beijing.capacity, beijing.pressure) == (5, 5, 1.0)


def test_exhaustion_falls_back_to_in_app_contact_and_alerts(
    vault: Vault, clock: FixedClock
) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:1], GUANGZHOU))
    first = city.order_in("rider_assigned", rider=0)
    second = city.order_in("rider_assigned", rider=0)
    assert x_of(vault.view_order(city.riders[0], first)) == BEIJING[0]
    view = vault.view_order(city.riders[0], second)
    assert view["contact"] == {
        "virtual_number": None,
        "channel": "in_app",
        "reason": "the number pool is exhausted; use in-app contact",
    }
    assert "phone" not in view["customer"]  # never the real number, not even masked
    [alert] = alerts(vault, EXHAUSTED_ALERT)
    assert alert.severity == "high"
    # The fallback is recorded; once the first order ended and the number
    # cooled down (Alice was its A), a new order of hers gets it again.
    city.move(first, "cancel")
    clock.advance(minutes=31)
    third = city.order_in("rider_assigned", rider=1)
    assert x_of(vault.view_order(city.riders[1], third)) == BEIJING[0]
    assert numbers_status(vault).fallbacks_live == 1


def test_a_city_without_a_pool_falls_back(vault: Vault) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING, []))
    order_id = city.order_in("rider_assigned", subject=1)  # Bob lives in Guangzhou
    contact = vault.view_order(city.riders[0], order_id)["contact"]
    assert contact["reason"] == "there is no number pool for this city; use in-app contact"
