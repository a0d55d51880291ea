"""Concurrent assignments never put one number on two live bindings with a party in common."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from tests._city import HOTEL, City
from tests.numbers._numbers_city import BEIJING, GUANGZHOU, bindings, build_numbers_city, pool_csv
from veil.ids import IdKind, new_id
from veil.store import NUMBER_BINDINGS
from veil.vault import Caller, OrderSpec, Vault

THREADS = 6


def _customers(city: City, count: int) -> list[str]:
    return [
        city.vault.create_subject(
            city.service, name="顾客", phones=[f"+86138001385{n:02d}"], addresses=[HOTEL]
        )
        for n in range(count)
    ]


def _accepted_orders(city: City, subjects: list[str]) -> list[str]:
    ids = city.vault.create_orders(
        city.service, [OrderSpec(s, city.merchants[0].principal_id) for s in subjects]
    )
    for order_id in ids:
        city.vault.post_order_event(city.service, order_id, "accept")
    return ids


def _assign_all(vault: Vault, service: Caller, pairs: list[tuple[str, str]]) -> None:
    def assign(pair: tuple[str, str]) -> str:
        order_id, rider_id = pair
        return vault.post_order_event(service, order_id, "assign", rider_id=rider_id)

    with ThreadPoolExecutor(THREADS) as pool:
        assert set(pool.map(assign, pairs)) == {"rider_assigned"}


def _live(vault: Vault, orders: list[str]) -> list[tuple[str, bytes, bytes]]:
    rows = [row for order_id in orders for row in bindings(vault, order_id)]
    return [
        (row.x_number, bytes(row.a_digest), bytes(row.b_digest))
        for row in rows
        if row.released_ms is None and row.x_number is not None
    ]


def test_one_rider_assigned_many_orders_at_once_never_shares_a_number(vault: Vault) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING, GUANGZHOU))
    orders = _accepted_orders(city, _customers(city, 12))
    rider = city.riders[0].principal_id
    _assign_all(vault, city.service, [(order_id, rider) for order_id in orders])
    live = _live(vault, orders)
    # Five Beijing numbers: five orders get one each, the rest fall back.
    assert sorted(x for x, _, _ in live) == sorted(BEIJING)
    fallbacks = [row for o in orders for row in bindings(vault, o) if row.x_number is None]
    assert len(fallbacks) == len(orders) - len(BEIJING)
    assert all("exhausted" in row.fallback_reason for row in fallbacks)


def test_many_riders_and_customers_at_once_keep_every_number_unambiguous(vault: Vault) -> None:
    city = build_numbers_city(vault, csv=pool_csv(BEIJING[:3], GUANGZHOU))
    riders = city.riders
    # 18 orders, 6 customers (3 orders each) and 3 riders, over 3 numbers.
    subjects = _customers(city, 6)
    orders = _accepted_orders(city, [subjects[n % 6] for n in range(18)])
    pairs = [(order_id, riders[n % 3].principal_id) for n, order_id in enumerate(orders)]
    _assign_all(vault, city.service, pairs)
    live = _live(vault, orders)
    assert live, "some orders must have been bound"
    by_xb = Counter((x, b) for x, _, b in live)
    by_xa = Counter((x, a) for x, a, _ in live)
    assert max(by_xb.values()) == 1
    assert max(by_xa.values()) == 1
    # Every order has exactly one outcome: a number or a recorded fallback.
    assert all(len(bindings(vault, order_id)) == 1 for order_id in orders)


@pytest.mark.parametrize("party", ["b_digest", "a_digest"])
def test_the_database_refuses_a_second_live_binding_on_one_number_and_party(
    vault: Vault, party: str
) -> None:
    city = build_numbers_city(vault)
    [order_id] = _accepted_orders(city, city.subjects[:1])
    rider = city.riders[0].principal_id
    shared = b"\x01" * 32

    def row(**values: object) -> dict[str, object]:
        base: dict[str, object] = {
            "id": new_id(IdKind.BINDING),
            "order_id": order_id,
            "holder_id": rider,
            "holder_role": "rider",
            "x_number": BEIJING[0],
            "a_digest": new_id(IdKind.BINDING).encode()[:32],
            "b_digest": new_id(IdKind.BINDING).encode()[:32],
            "created_ms": 0,
            "expires_ms": 1,
            "provider_state": "none",
        }
        return {**base, **values}

    with vault.engine.begin() as connection:
        connection.execute(insert(NUMBER_BINDINGS).values(row(**{party: shared})))
        # Released rows do not count: history may repeat the pair.
        connection.execute(
            insert(NUMBER_BINDINGS).values(
                row(**{party: shared, "holder_role": "merchant", "released_ms": 1})
            )
        )
    with pytest.raises(IntegrityError), vault.engine.begin() as connection:
        connection.execute(
            insert(NUMBER_BINDINGS).values(row(**{party: shared, "holder_role": "merchant"}))
        )


def test_a_merchant_asking_many_times_at_once_gets_one_live_number(vault: Vault) -> None:
    # No unique index keeps one live binding per order and role: the order's
    # row does (a locked read on PostgreSQL), so this is the guard.
    from veil.vault import request_contact

    city = build_numbers_city(vault)
    [order_id] = _accepted_orders(city, city.subjects[:1])
    merchant = city.merchants[0]
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(
            pool.map(lambda _: request_contact(vault, merchant, order_id), range(THREADS * 2))
        )
    assert len({answer["virtual_number"] for answer in answers}) == 1
    live = [row for row in bindings(vault, order_id) if row.released_ms is None]
    assert len(live) == 1
    assert live[0].holder_id == merchant.principal_id
