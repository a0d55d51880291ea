"""Time windows at their edges: Hypothesis on `PolicyEngine.decide_order`, a few through the vault.

The rider sees the door from pickup until ``delivered + grace`` inclusive, and
then nothing: allowed iff ``now - delivered <= grace``, to the millisecond.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests._city import City, build_city
from tests.conftest import build_vault
from veil.errors import AccessDenied
from veil.policy import (
    DEFAULT_POLICY_DIR,
    Allow,
    Deny,
    OrderFacts,
    PolicyEngine,
    PolicySource,
    PrincipalFacts,
)
from veil.testing import FixedClock, InMemoryKeyProvider

SOURCE = PolicySource.load(DEFAULT_POLICY_DIR)
RIDER = PrincipalFacts("prn_" + "r" * 26, "rider")
OTHER_RIDER = PrincipalFacts("prn_" + "o" * 26, "rider")
MERCHANT = PrincipalFacts("prn_" + "m" * 26, "merchant")
SUBJECT = "sub_" + "s" * 26
CUSTOMER = PrincipalFacts("prn_" + "c" * 26, "customer", SUBJECT)
DELIVERED = 1_795_953_600_000  # 2026-11-29 12:00 UTC, in epoch ms
DAY = 86_400_000


def _delivered(*, past_riders: tuple[str, ...] = ()) -> OrderFacts:
    return OrderFacts(
        id="ord_" + "d" * 26,
        state="delivered",
        subject_id=SUBJECT,
        merchant_id=MERCHANT.id,
        rider_id=RIDER.id,
        past_rider_ids=past_riders,
        created_ms=DELIVERED - 3_600_000,
        assigned_ms=DELIVERED - 3_000_000,
        picked_up_ms=DELIVERED - 1_200_000,
        delivered_ms=DELIVERED,
    )


def _engine(grace_ms: int) -> PolicyEngine:
    return PolicyEngine(SOURCE, rider_grace_ms=grace_ms)


@given(
    grace=st.integers(min_value=0, max_value=DAY),
    offset=st.integers(min_value=-DAY, max_value=2 * DAY),
)
@example(grace=900_000, offset=900_000)
@example(grace=900_000, offset=900_001)
@example(grace=900_000, offset=899_999)
@example(grace=0, offset=0)
@example(grace=0, offset=1)
def test_rider_sees_the_door_iff_within_grace(grace: int, offset: int) -> None:
    decision = _engine(grace).decide_order(
        RIDER, "view_order", _delivered(), now_ms=DELIVERED + offset
    )
    if offset <= grace:
        assert isinstance(decision, Allow)
        assert decision.policy_ids == ("view.rider.grace",)
        assert "address.full" in decision.grants
    else:
        assert isinstance(decision, Deny)
        assert decision.reason == "delivery window closed"
        assert "deny.rider.window-closed" in decision.policy_ids
    # Knowing the order exists never expires: a closed window is a 403, not a 404.
    known = _engine(grace).decide_order(
        RIDER, "know_order", _delivered(), now_ms=DELIVERED + offset
    )
    assert known.allowed


@given(offset=st.integers(min_value=-DAY, max_value=30 * DAY))
def test_merchant_and_customer_views_do_not_expire(offset: int) -> None:
    engine = _engine(900_000)
    merchant = engine.decide_order(MERCHANT, "view_order", _delivered(), now_ms=DELIVERED + offset)
    customer = engine.decide_order(CUSTOMER, "view_order", _delivered(), now_ms=DELIVERED + offset)
    assert isinstance(merchant, Allow)
    assert merchant.grants >= {"name.masked", "address.district"}
    assert "address.full" not in merchant.grants
    assert isinstance(customer, Allow)
    assert customer.grants >= {"name.full", "phone.full", "address.full"}


@given(offset=st.integers(min_value=-DAY, max_value=DAY), grace=st.integers(0, DAY))
def test_a_stranger_rider_never_learns_the_order_exists(offset: int, grace: int) -> None:
    engine = _engine(grace)
    for action in ("know_order", "view_order"):
        decision = engine.decide_order(OTHER_RIDER, action, _delivered(), now_ms=DELIVERED + offset)
        assert isinstance(decision, Deny)


@given(offset=st.integers(min_value=-DAY, max_value=DAY))
def test_a_reassigned_rider_is_refused_at_any_time(offset: int) -> None:
    order = _delivered(past_riders=(OTHER_RIDER.id,))
    engine = _engine(DAY)
    decision = engine.decide_order(OTHER_RIDER, "view_order", order, now_ms=DELIVERED + offset)
    assert isinstance(decision, Deny)
    assert decision.reason == "order was reassigned to another rider"
    assert engine.decide_order(OTHER_RIDER, "know_order", order, now_ms=DELIVERED + offset).allowed


@pytest.mark.parametrize(
    ("state", "address"),
    [("rider_assigned", "address.building"), ("picked_up", "address.full")],
)
def test_the_address_level_follows_the_state_at_pickup(state: str, address: str) -> None:
    order = OrderFacts(
        id="ord_" + "p" * 26,
        state=state,
        subject_id=SUBJECT,
        merchant_id=MERCHANT.id,
        rider_id=RIDER.id,
        past_rider_ids=(),
        created_ms=DELIVERED,
        assigned_ms=DELIVERED,
        picked_up_ms=DELIVERED if state == "picked_up" else None,
    )
    decision = _engine(900_000).decide_order(RIDER, "view_order", order, now_ms=DELIVERED)
    assert isinstance(decision, Allow)
    assert address in decision.grants
    assert ("address.full" in decision.grants) == (state == "picked_up")


# ---------------------------------------------------------------- through the vault


GRACE_SECONDS = 60


@pytest.fixture
def city(engine: Engine, provider: InMemoryKeyProvider, clock: FixedClock) -> Iterator[City]:
    yield build_city(build_vault(engine, provider, clock, rider_grace_seconds=GRACE_SECONDS))


def test_the_configured_grace_is_enforced_to_the_millisecond(city: City, clock: FixedClock) -> None:
    order_id = city.order_in("delivered")
    delivered_at = clock.now()
    rider = city.riders[0]
    for offset_ms in (0, 1, GRACE_SECONDS * 1000 - 1, GRACE_SECONDS * 1000):
        clock.set(delivered_at + dt.timedelta(milliseconds=offset_ms))
        assert city.vault.view_order(rider, order_id)["address"]["room"] == "1203", offset_ms
    clock.advance(milliseconds=1)
    with pytest.raises(AccessDenied, match="delivery window closed"):
        city.vault.view_order(rider, order_id)
    # The merchant's view does not expire with the rider's.
    clock.advance(days=30)
    assert city.vault.view_order(city.merchants[0], order_id)["state"] == "delivered"


def test_a_batch_straddling_the_edge_splits_at_it(city: City, clock: FixedClock) -> None:
    early = city.order_in("delivered")
    clock.advance(seconds=1)
    late = city.order_in("delivered")
    clock.advance(seconds=GRACE_SECONDS, milliseconds=-500)  # early's window closed, late's open
    outcomes = city.vault.view_orders(city.riders[0], [early, late])
    assert isinstance(outcomes[early], AccessDenied)
    view = outcomes[late]
    assert isinstance(view, dict)
    assert view["address"]["room"] == "1203"
