"""Every signal: a trace that must fire, and a near miss that must not.

Traces are audit records as the vault writes them (see `_trace`); the analyzer
is the watch's own, minus the database.
"""

from __future__ import annotations

import pytest

from tests.watch._trace import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    T0,
    Run,
    break_glass,
    leak_signal,
    moved,
    order,
    principal,
    rate_limited,
    reveal_refused,
    view_refused,
    viewed,
)
from veil.ids import IdKind, new_id
from veil.watch import (
    DETECTORS,
    Act,
    Detector,
    Finding,
    Thresholds,
    UsageDay,
    build_detectors,
    safe_evidence,
)

SERVICE = principal()

# ---------------------------------------------------------------- enumeration (404/403 misses)


@pytest.mark.parametrize("ids", ["random", "sequential-legacy", "replayed-real"])
def test_a_stolen_rider_key_walking_ids_fires_at_the_tenth_distinct_miss(ids: str) -> None:
    run, rider = Run(), principal()
    # The key's owner has been working normally.
    run.feed(*(viewed(rider, "rider", order(), T0 + n * MINUTE) for n in range(3)))
    start = T0 + 10 * MINUTE
    for n in range(40):
        at = start + n * 2 * SECOND
        if ids == "random":
            record = view_refused(rider, "rider", new_id(IdKind.ORDER), at)
        elif ids == "sequential-legacy":
            record = view_refused(rider, "rider", None, at, reason="malformed order id")
        else:  # real order ids of other riders: "not yours" is "not found"
            record = view_refused(rider, "rider", order(), at)
        run.feed(record)
    assert run.first("enumeration") == 3 + 10
    finding = next(f for _, f in run.findings if f.kind == "enumeration")
    assert finding.principal_id == rider
    assert finding.counters["distinct_refused"] == 10
    assert finding.counters["window"] == "10m"
    assert finding.events  # the refused requests themselves, by id


def test_a_patient_prober_fires_on_the_hour_window() -> None:
    run, rider = Run(), principal()
    for n in range(30):
        run.feed(view_refused(rider, "rider", order(), T0 + n * 2 * MINUTE + 30 * SECOND))
    assert run.first("enumeration") == 25


def test_a_slow_prober_fires_on_the_day_window() -> None:
    run, rider = Run(), principal()
    for n in range(45):
        run.feed(view_refused(rider, "rider", order(), T0 + n * 25 * MINUTE))
    assert run.first("enumeration") == 40


def test_near_miss_nine_misses_in_ten_minutes_do_not_fire() -> None:
    run, rider = Run(), principal()
    for n in range(9):
        run.feed(view_refused(rider, "rider", order(), T0 + n * 30 * SECOND))
    # The next one comes after the 10-minute window let the first ones go.
    run.feed(view_refused(rider, "rider", order(), T0 + 11 * MINUTE))
    assert "enumeration" not in run.kinds()


def test_near_miss_an_app_polling_one_closed_order_is_one_miss() -> None:
    run, rider = Run(), principal()
    stale = order()
    for n in range(60):
        run.feed(
            view_refused(rider, "rider", stale, T0 + n * 10 * SECOND, "delivery window closed")
        )
    assert run.kinds() == set()


def test_near_miss_misses_that_are_a_small_share_of_a_busy_callers_orders() -> None:
    run, merchant = Run(), principal()
    for n in range(120):
        run.feed(viewed(merchant, "merchant", order(), T0 + n * 5 * SECOND))
        if n % 12 == 0:
            run.feed(view_refused(merchant, "merchant", order(), T0 + n * 5 * SECOND + 1))
    assert "enumeration" not in run.kinds()


# ---------------------------------------------------------------- bulk reads


def test_sixty_distinct_orders_read_by_a_rider_within_an_hour_fire() -> None:
    run, rider = Run(), principal()
    for n in range(70):
        run.feed(viewed(rider, "rider", order(), T0 + n * 50 * SECOND))
    first = run.first("bulk_read")
    assert first is not None and 60 <= first <= 66


def test_near_miss_fifty_nine_distinct_orders_do_not_fire() -> None:
    run, rider = Run(), principal()
    orders = [order() for _ in range(59)]
    for n, order_id in enumerate(orders):
        run.feed(viewed(rider, "rider", order_id, T0 + n * 50 * SECOND))
    # Re-reading the same orders is not more orders.
    for order_id in orders[:30]:
        run.feed(viewed(rider, "rider", order_id, T0 + HOUR - SECOND))
    assert "bulk_read" not in run.kinds()


# ---------------------------------------------------------------- policy denials


def test_an_agent_probing_reveals_without_tickets_fires_at_the_eighth_refusal() -> None:
    run, agent = Run(), principal()
    reason = "a reveal needs an open support ticket on this order"
    for n in range(20):
        run.feed(reveal_refused(agent, order(), T0 + n * 40 * SECOND, reason))
    assert run.first("policy_denials") == 8
    finding = next(f for _, f in run.findings if f.kind == "policy_denials")
    assert finding.counters["refused_no_ticket"] == 8


def test_refusals_spread_over_a_day_fire_on_the_day_window() -> None:
    run, agent = Run(), principal()
    for n in range(22):
        run.feed(reveal_refused(agent, order(), T0 + n * HOUR, "daily reveal quota used up"))
    assert run.first("policy_denials") == 20


def test_near_miss_six_refusals_in_an_hour_and_retries_of_one_order() -> None:
    run, agent = Run(), principal()
    for n in range(6):
        run.feed(reveal_refused(agent, order(), T0 + n * MINUTE, "the support ticket is closed"))
    same = order()
    for n in range(30):
        run.feed(
            reveal_refused(
                agent, same, T0 + 10 * MINUTE + n * SECOND, "the support ticket is closed"
            )
        )
    assert "policy_denials" not in run.kinds()


# ---------------------------------------------------------------- harvesting


def _delivery(run: Run, rider: str, at: int, *, abandon: bool, ip: str = "10.0.0.9") -> str:
    order_id = order()
    run.feed(
        moved(SERVICE, order_id, at, "assign", "accepted", "rider_assigned"),
        viewed(rider, "rider", order_id, at + MINUTE, ip=ip),
        moved(SERVICE, order_id, at + 10 * MINUTE, "pickup", "rider_assigned", "picked_up"),
        viewed(rider, "rider", order_id, at + 11 * MINUTE, full=True, ip=ip),
    )
    event = (
        ("cancel", "picked_up", "cancelled") if abandon else ("deliver", "picked_up", "delivered")
    )
    run.feed(moved(SERVICE, order_id, at + 25 * MINUTE, *event))
    return order_id


def test_a_fake_rider_who_reads_and_never_delivers_fires_on_the_third_order() -> None:
    run, rider = Run(), principal()
    orders_seen = 0
    for n in range(10):
        _delivery(run, rider, T0 + n * 30 * MINUTE, abandon=True)
        orders_seen += 1
        if "harvesting" in run.kinds():
            break
    assert orders_seen == 3
    finding = next(f for _, f in run.findings if f.kind == "harvesting")
    assert finding.principal_id == rider
    assert finding.counters["abandoned_24h"] == 3


def test_a_rider_who_delivers_half_fires_within_ten_orders() -> None:
    run, rider = Run(), principal()
    for n in range(10):
        _delivery(run, rider, T0 + n * 30 * MINUTE, abandon=n % 2 == 1)
        if "harvesting" in run.kinds():
            break
    assert "harvesting" in run.kinds()
    assert n + 1 <= 10


def test_a_rider_sitting_on_full_addresses_fires_when_they_outnumber_deliveries() -> None:
    run, rider = Run(), principal()
    for n in range(10):
        order_id = order()
        run.feed(viewed(rider, "rider", order_id, T0 + n * 5 * MINUTE, full=True))
    finding = next(f for _, f in run.findings if f.kind == "harvesting")
    assert "outnumber" in str(finding.counters["rule"])
    assert run.first("harvesting") == 8


def test_near_miss_an_honest_rider_with_unlucky_cancellations() -> None:
    run, rider = Run(), principal()
    # Three customers cancel after pickup in one day, among 14 orders.
    for n in range(14):
        _delivery(run, rider, T0 + n * 40 * MINUTE, abandon=n in (1, 6, 11))
    # Stacked orders: four picked up and opened at once, then delivered.
    for n in range(4):
        _delivery(run, rider, T0 + 12 * HOUR + n * MINUTE, abandon=False)
    assert "harvesting" not in run.kinds()


# ---------------------------------------------------------------- collusion


def test_riders_behind_one_address_abandoning_together_fire_naming_all_of_them() -> None:
    run = Run()
    ring = [principal() for _ in range(4)]
    for n in range(12):
        rider = ring[n % 4]
        _delivery(run, rider, T0 + n * 20 * MINUTE, abandon=n < 6, ip="198.51.100.7")
        # Alone, each stays under the harvesting thresholds.
    finding = next(f for _, f in run.findings if f.kind == "collusion")
    assert finding.principal_id is None
    assert set(finding.related) <= set(ring)
    assert len(finding.related) >= 3
    assert finding.scope is not None and "198.51.100.7" not in finding.scope
    assert "harvesting" not in run.kinds()


def test_near_miss_honest_riders_behind_one_carrier_nat() -> None:
    run = Run()
    crowd = [principal() for _ in range(30)]
    for n in range(120):
        # Five cancellations after pickup among 120 orders from one NAT address.
        _delivery(run, crowd[n % 30], T0 + n * 5 * MINUTE, abandon=n % 24 == 0, ip="100.64.0.1")
    assert "collusion" not in run.kinds()


# ------------------------------------------------------- break-glass, number leaks, rate limits


def test_repeated_break_glass_requests_fire_at_the_third_in_a_week() -> None:
    run, safety = Run(), principal()
    for n in range(3):
        run.feed(break_glass(safety, order(), T0 + n * 2 * DAY))
    assert run.first("break_glass_use") == 3


def test_near_miss_two_break_glass_requests_in_a_week_and_a_third_after_it() -> None:
    run, safety = Run(), principal()
    run.feed(break_glass(safety, order(), T0), break_glass(safety, order(), T0 + DAY))
    run.feed(break_glass(safety, order(), T0 + 7 * DAY + HOUR))
    assert "break_glass_use" not in run.kinds()


def test_repeated_number_leak_signals_about_one_rider_fire() -> None:
    run, rider = Run(), principal()
    run.feed(leak_signal(rider, order(), T0), leak_signal(rider, order(), T0 + 2 * DAY))
    assert run.first("number_leak") == 2


def test_near_miss_one_leak_signal_each_for_two_riders() -> None:
    run = Run()
    run.feed(leak_signal(principal(), order(), T0), leak_signal(principal(), order(), T0 + HOUR))
    assert "number_leak" not in run.kinds()


def test_a_principal_that_keeps_hitting_its_rate_limits_fires() -> None:
    run, rider = Run(), principal()
    for n in range(30):
        run.feed(rate_limited(rider, T0 + n * 10 * SECOND))
    assert run.first("rate_limited") == 30


def test_near_miss_rate_limit_refusals_spread_out() -> None:
    run, rider = Run(), principal()
    for n in range(60):
        run.feed(rate_limited(rider, T0 + n * 30 * SECOND))
    assert "rate_limited" not in run.kinds()


# ---------------------------------------------------------------- peer baseline (the sweep)


def _agents_week(
    insider_reveals: float,
    *,
    insider_night: int = 0,
    insider_views: int = 20,
    days: int = 7,
    peers: int = 12,
    night_shift_peer: bool = False,
) -> list[UsageDay]:
    usage = []
    for p in range(peers):
        for d in range(days):
            reveals = (p + d) % 4  # 0..3 a day
            night = 18 if night_shift_peer and p == 0 else 0
            usage.append(
                UsageDay(f"2026-12-{d + 1:02d}", f"prn_peer{p}", "agent", 20, reveals, 15, night, 0)
            )
    for d in range(days):
        usage.append(
            UsageDay(
                f"2026-12-{d + 1:02d}",
                "prn_insider",
                "agent",
                insider_views,
                int(insider_reveals),
                15 + int(insider_reveals),
                insider_night,
                0,
            )
        )
    return usage


def _sweep(usage: list[UsageDay], thresholds: Thresholds | None = None) -> list[Finding]:
    [detector] = build_detectors(thresholds or Thresholds(), ["peer_outlier"])
    return detector.sweep(usage, T0)


def test_an_agent_revealing_just_under_quota_every_day_stands_out_from_its_peers() -> None:
    findings = _sweep(_agents_week(9))
    [finding] = findings
    assert finding.principal_id == "prn_insider"
    assert finding.counters["reveals_per_day"] == 9
    assert finding.counters["reveals_z"] >= 4


def test_near_miss_a_busy_but_ordinary_agent() -> None:
    assert _sweep(_agents_week(4)) == []


def test_near_miss_one_day_is_not_a_baseline() -> None:
    assert _sweep(_agents_week(9, days=1)) == []


def test_night_work_counts_only_with_elevated_volume() -> None:
    # A night-shift peer with ordinary volume: nothing.
    assert _sweep(_agents_week(2, night_shift_peer=True)) == []
    # Night-time bulk work: the night share is part of the finding.
    [finding] = _sweep(_agents_week(9, insider_night=25))
    assert finding.counters["night_share"] > 0.5
    assert finding.severity == "high"


def _shift_day(who: str, day: int, reveals: int, *, evening: bool, role: str = "agent") -> UsageDay:
    acts = 20 + reveals
    return UsageDay(
        f"2026-12-{day + 1:02d}",
        who,
        role,
        views=20,
        reveals=reveals,
        subjects=15 + reveals,
        daytime=0 if evening else acts,
        evening=acts if evening else 0,
    )


def test_an_evening_shift_busier_than_the_day_shift_is_compared_with_itself() -> None:
    usage = []
    for d in range(5):
        usage += [_shift_day(f"prn_day{p}", d, 1 + (p + d) % 2, evening=False) for p in range(12)]
        usage += [_shift_day(f"prn_eve{p}", d, 6 + (p + d) % 2, evening=True) for p in range(9)]
        usage.append(_shift_day("prn_insider", d, 9, evening=False))
    findings = _sweep(usage)
    assert [f.principal_id for f in findings] == ["prn_insider"]
    assert findings[0].counters["shift"] == "daytime"


def test_riders_are_watched_by_their_own_detectors_not_by_baselines() -> None:
    usage = [
        _shift_day(f"prn_r{p}", d, 0, evening=False, role="rider")
        for p in range(20)
        for d in range(3)
    ]
    usage += [UsageDay(f"2026-12-0{d + 1}", "prn_busy", "rider", views=400) for d in range(3)]
    assert _sweep(usage) == []


def test_thresholds_are_tunable() -> None:
    strict = Thresholds.with_overrides({"peer_outlier": {"z": 20}})
    assert strict.peer_outlier.z == 20.0
    assert _sweep(_agents_week(9), strict) == []


# ---------------------------------------------------------------- the Detector protocol


@pytest.mark.parametrize("kind", sorted(DETECTORS))
def test_every_registered_detector_conforms(kind: str) -> None:
    [detector] = build_detectors(Thresholds(), [kind])
    assert isinstance(detector, Detector)
    assert detector.kind == kind
    assert isinstance(detector.acts, frozenset)
    assert all(isinstance(act, Act) for act in detector.acts)
    # Either part may have nothing to say, but both answer.
    assert detector.sweep([], T0) == []
    run = Run()
    run.analyzer.detectors = [detector]
    run.feed(viewed(principal(), "rider", order(), T0))


def test_findings_hold_no_values_only_ids_counts_and_reasons() -> None:
    run, rider = Run(), principal()
    for n in range(12):
        run.feed(view_refused(rider, "rider", order(), T0 + n * SECOND))
    for _, finding in run.findings:
        evidence = {"counters": dict(finding.counters), "events": [dict(e) for e in finding.events]}
        assert safe_evidence(evidence) == evidence


def test_the_registry_refuses_a_second_detector_of_a_kind() -> None:
    from veil.watch import register

    with pytest.raises(ValueError, match="already registered"):
        register("enumeration")(lambda thresholds: build_detectors(thresholds, ["enumeration"])[0])
