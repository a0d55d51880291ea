"""Deciding with a pruned policy set, and with cached entity sets, changes no decision.

The engine decides each request with only the policies that could match it
(by action, principal type and the context's keys) and reuses parsed entity
sets keyed by the facts they came from. Both are speed-ups that must be
invisible: the whole, unsplit policy set, with entities parsed afresh, is the
reference here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cedarpy
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.policy import DEFAULT_POLICY_DIR, OrderFacts, PolicyEngine, PolicySource, PrincipalFacts
from veil.policy._engine import _context_admits, _reads_context, _stops_before_context

SOURCE = PolicySource.load(DEFAULT_POLICY_DIR)
WHOLE = PolicyEngine(dataclasses.replace(SOURCE, partitioned=False), rider_grace_ms=900_000)
T0 = 1_795_953_600_000
IDS = {role: f"prn_{role[:1]}{'x' * 25}" for role in ("rider", "merchant", "customer")}
OTHER_RIDER = "prn_" + "o" * 26
SUBJECT = "sub_" + "s" * 26
ROLES = ["service", "rider", "merchant", "customer", "agent", "analyst", "admin", "safety"]
STATES = ["created", "accepted", "rider_assigned", "picked_up", "delivered", "cancelled"]


@st.composite
def _principals(draw: st.DrawFn) -> PrincipalFacts:
    role = draw(st.sampled_from(ROLES))
    subject = draw(st.sampled_from([SUBJECT, "sub_" + "t" * 26])) if role == "customer" else None
    return PrincipalFacts(IDS.get(role, f"prn_{role[:1]}{'y' * 25}"), role, subject)


@st.composite
def _orders(draw: st.DrawFn) -> OrderFacts:
    state = draw(st.sampled_from(STATES))
    rider = draw(st.sampled_from([IDS["rider"], OTHER_RIDER, None]))
    past = draw(st.sampled_from([(), (IDS["rider"],), (OTHER_RIDER,)]))
    times = {
        name: T0 + draw(st.integers(0, 3_600_000))
        for name in ("assigned_ms", "picked_up_ms", "delivered_ms", "cancelled_ms")
        if draw(st.booleans())
    }
    return OrderFacts(
        id="ord_" + "q" * 26,
        state=state,
        subject_id=SUBJECT,
        merchant_id=draw(st.sampled_from([IDS["merchant"], "prn_" + "n" * 26])),
        rider_id=rider,
        past_rider_ids=past,
        created_ms=T0,
        **times,
    )


TIMES = st.integers(T0, T0 + 8_000_000)


def _fresh() -> PolicySource:
    """The shipped policy set with nothing remembered (its caches are not copied)."""
    return dataclasses.replace(SOURCE)


@settings(max_examples=400, deadline=None)
@given(
    principal=_principals(),
    order=_orders(),
    action=st.sampled_from(["view_order", "know_order", "reveal", "open_ticket"]),
    data=st.data(),
)
def test_pruned_and_remembered_decisions_equal_the_whole_set(
    principal: PrincipalFacts, order: OrderFacts, action: str, data: st.DataObject
) -> None:
    # One engine (and a fresh policy set, so nothing is remembered from other
    # examples) decides the same request at several times, some at the edge of
    # the rider's grace window: parsed entities and context-free decisions are
    # reused from the first time on, and every answer must still be the whole
    # set's answer at that time.
    edge = (order.delivered_ms or T0) + 900_000
    moments = TIMES | st.sampled_from([edge - 1, edge, edge + 1])
    times = data.draw(st.lists(moments, min_size=2, max_size=4))
    pruned = PolicyEngine(_fresh(), rider_grace_ms=900_000)
    for now in times:
        expected = WHOLE.decide_order(principal, action, order, now_ms=now)
        assert pruned.decide_order(principal, action, order, now_ms=now) == expected
        (batch,) = pruned.decide_orders(principal, action, [order], now_ms=now)
        assert batch == expected


@settings(max_examples=150, deadline=None)
@given(
    state=st.sampled_from(STATES),
    offsets=st.lists(
        st.sampled_from([-1, 0, 1]) | st.integers(-2_000_000, 2_000_000), min_size=2, max_size=5
    ),
)
def test_the_assigned_riders_views_follow_the_clock(state: str, offsets: list[int]) -> None:
    # The request a remembered decision would get wrong if anything were kept
    # across a clock edge: the assigned rider, the order in any state, times
    # around the end of the grace window.
    rider = PrincipalFacts(IDS["rider"], "rider")
    order = OrderFacts(
        "ord_" + "e" * 26,
        state,
        SUBJECT,
        IDS["merchant"],
        rider.id,
        (),
        T0,
        T0,
        T0 + 1,
        delivered_ms=T0 + 2 if state == "delivered" else None,
    )
    engine = PolicyEngine(_fresh(), rider_grace_ms=900_000)
    for offset in offsets:
        now = T0 + 2 + 900_000 + offset
        expected = WHOLE.decide_order(rider, "view_order", order, now_ms=now)
        assert engine.decide_order(rider, "view_order", order, now_ms=now) == expected


def test_a_rider_view_is_remembered_only_while_no_clock_can_change_it() -> None:
    context = frozenset({"now_ms", "rider_grace_ms"})
    for state in ("rider_assigned", "picked_up", "cancelled"):
        assert SOURCE.timeless("view_order", "Veil::Rider", context, state), state
    # Delivered: the grace window reads the clock.
    assert not SOURCE.timeless("view_order", "Veil::Rider", context, "delivered")
    engine = PolicyEngine(_fresh(), rider_grace_ms=900_000)
    rider = PrincipalFacts(IDS["rider"], "rider")
    delivered = OrderFacts(
        "ord_" + "w" * 26,
        "delivered",
        SUBJECT,
        IDS["merchant"],
        rider.id,
        (),
        T0,
        T0,
        T0 + 1,
        T0 + 2,
    )
    assert engine.decide_order(rider, "view_order", delivered, now_ms=T0 + 2).allowed
    # The same facts one millisecond past the grace: closed, not remembered open.
    later = T0 + 2 + 900_001
    assert not engine.decide_order(rider, "view_order", delivered, now_ms=later).allowed


def test_a_reloaded_policy_set_remembers_nothing_of_the_old_one() -> None:
    engine = PolicyEngine(_fresh(), rider_grace_ms=900_000)
    rider = PrincipalFacts(IDS["rider"], "rider")
    order = OrderFacts(
        "ord_" + "p" * 26, "picked_up", SUBJECT, IDS["merchant"], rider.id, (), T0, T0, T0 + 1
    )
    assert engine.decide_order(rider, "view_order", order, now_ms=T0 + 5).allowed
    text = DEFAULT_POLICY_DIR.joinpath("orders.cedar").read_text(encoding="utf-8")
    closed = text + (
        '\n@id("deny.test.all-riders")\n@reason("riders are off today")\n'
        "forbid(principal is Veil::Rider, action, resource);\n"
    )
    schema = DEFAULT_POLICY_DIR.joinpath("schema.cedarschema").read_text(encoding="utf-8")
    engine.replace(PolicySource.from_text(closed, schema))
    denied = engine.decide_order(rider, "view_order", order, now_ms=T0 + 6)
    assert not denied.allowed and "deny.test.all-riders" in denied.policy_ids


def test_a_changed_order_is_decided_afresh_not_from_the_cache() -> None:
    engine = PolicyEngine(SOURCE, rider_grace_ms=900_000)
    rider = PrincipalFacts(IDS["rider"], "rider")
    order = OrderFacts(
        "ord_" + "c" * 26, "rider_assigned", SUBJECT, IDS["merchant"], rider.id, (), T0, T0
    )
    before = engine.decide_order(rider, "view_order", order, now_ms=T0 + 1)
    assert before.allowed and "address.building" in getattr(before, "grants", ())
    picked = dataclasses.replace(order, state="picked_up", picked_up_ms=T0 + 5)
    after = engine.decide_order(rider, "view_order", picked, now_ms=T0 + 6)
    assert after.allowed and "address.full" in getattr(after, "grants", ())
    reassigned = dataclasses.replace(picked, rider_id=OTHER_RIDER, past_rider_ids=(rider.id,))
    assert not engine.decide_order(rider, "view_order", reassigned, now_ms=T0 + 7).allowed


def test_the_rider_view_set_holds_only_rider_rules() -> None:
    context = frozenset({"now_ms", "rider_grace_ms"})
    _, ids = SOURCE.for_action("view_order", "Veil::Rider", context)
    assert ids, "a rider's view must be decided by some policy"
    assert all(public.startswith(("view.rider.", "deny.rider.")) for public in ids.values())
    # With a break-glass grant in the context, the break-glass rules come back.
    _, with_grant = SOURCE.for_action("view_order", "Veil::Admin", context | {"break_glass"})
    _, without = SOURCE.for_action("view_order", "Veil::Admin", context)
    assert {"view.staff.break-glass", "deny.break-glass.expired"} <= set(with_grant.values())
    assert not {"view.staff.break-glass"} & set(without.values())


def _policy(condition: str) -> dict[str, object]:
    text = condition if condition.startswith(("permit", "forbid")) else f"permit{condition}"
    document = json.loads(cedarpy.policies_to_json_str(text))
    (policy,) = document["staticPolicies"].values()
    return dict(policy)


def test_only_a_state_test_before_any_context_read_makes_a_policy_timeless() -> None:
    early = '(principal, action, resource) when { resource.state == "done" && context.now > 1 };'
    assert _stops_before_context(_policy(early), "open")
    assert not _stops_before_context(_policy(early), "done")
    flipped = '(principal, action, resource) when { "done" == resource.state && context.now > 1 };'
    assert _stops_before_context(_policy(flipped), "open")
    late = '(principal, action, resource) when { context.now > 1 && resource.state == "done" };'
    assert not _stops_before_context(_policy(late), "open")
    # An earlier clause that reads the context is evaluated first.
    first = (
        '(principal, action, resource) when { context.now > 1 } when { resource.state == "done" };'
    )
    assert not _stops_before_context(_policy(first), "open")
    unless = (
        "(principal, action, resource) unless { context.now > 1 }"
        ' when { resource.state == "done" };'
    )
    assert not _stops_before_context(_policy(unless), "open")
    # Membership tests are not understood: such a policy is never called timeless.
    member = (
        '(principal, action, resource) when { ["done"].contains(resource.state)'
        " && context.now > 1 };"
    )
    assert not _stops_before_context(_policy(member), "open")
    assert not _reads_context(_policy("(principal, action, resource);"))


def test_only_a_leading_context_guard_in_a_when_clause_prunes() -> None:
    keys = frozenset({"now_ms"})
    guarded = "(principal, action, resource) when { context has grant && context.grant == 1 };"
    assert not _context_admits(_policy(guarded), keys)
    assert _context_admits(_policy(guarded), keys | {"grant"})
    # Not leading: the left side is evaluated first and may raise or decide.
    later = "(principal, action, resource) when { principal == resource && context has grant };"
    assert _context_admits(_policy(later), keys)
    # `||` and `unless` are not conjunctions of a when clause.
    either = "permit(principal, action, resource) when { context has grant || true };"
    assert _context_admits(_policy(either), keys)
    unless = "forbid(principal, action, resource) unless { context has grant };"
    assert _context_admits(_policy(unless), keys)
    # A guard on a nested record is not a guard on the context's own keys.
    nested = "permit(principal, action, resource) when { context.a has grant && true };"
    assert _context_admits(_policy(nested), keys)


def test_policies_written_with_action_groups_are_not_split(tmp_path: Path) -> None:
    # The schema puts actions in groups: splitting by action is off, whatever
    # else is asked, and the whole set decides.
    source = dataclasses.replace(SOURCE, partitioned=False)
    whole, ids = source.for_action("view_order", "Veil::Rider", frozenset({"now_ms"}))
    assert ids == source.id_by_policy
    assert whole is source.policy_set
