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
from veil.policy._engine import _context_admits

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


@settings(max_examples=300, deadline=None)
@given(
    principal=_principals(),
    order=_orders(),
    action=st.sampled_from(["view_order", "know_order", "reveal", "open_ticket"]),
    now=st.integers(T0, T0 + 8_000_000),
)
def test_pruned_decisions_equal_the_whole_set(
    principal: PrincipalFacts, order: OrderFacts, action: str, now: int
) -> None:
    pruned = PolicyEngine(SOURCE, rider_grace_ms=900_000)
    expected = WHOLE.decide_order(principal, action, order, now_ms=now)
    # Twice: the second decision reuses the cached, parsed entities.
    for _ in range(2):
        got = pruned.decide_order(principal, action, order, now_ms=now)
        assert got == expected
        (batch,) = pruned.decide_orders(principal, action, [order], now_ms=now)
        assert batch == expected


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
