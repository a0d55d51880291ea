"""The inline detectors: enumeration, bulk reads, policy denials, harvesting, collusion, more.

Each reads the observation it is given and a few windowed counters. Ordinary
traffic (a rider viewing an assigned order) costs a dictionary update or two;
the counting happens only when something is refused or an order is abandoned.

The thresholds are in `veil.watch._config` and explained in the README.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Sequence

from veil.watch._config import Thresholds
from veil.watch._detectors import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Finding,
    Signals,
    UsageDay,
    register,
)
from veil.watch._observations import Act, Observation, Outcome

__all__ = [
    "BreakGlassUseDetector",
    "BulkReadDetector",
    "CollusionDetector",
    "EnumerationDetector",
    "HarvestingDetector",
    "NumberLeakDetector",
    "PolicyDenialsDetector",
    "RateLimitedDetector",
]

WEEK_MS = 7 * DAY_MS


def _unnamed() -> str:
    # A refused request that named no valid order id still counts, each time.
    return "?" + secrets.token_hex(6)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


class _Inline:
    """Inline detectors have nothing to do in the periodic sweep."""

    def sweep(self, usage: Sequence[UsageDay], now_ms: int) -> list[Finding]:
        """Return nothing: these detectors work on the request stream."""
        del usage, now_ms
        return []


@register("enumeration")
class EnumerationDetector(_Inline):
    """Many distinct orders answered 404/403, a large share of those the principal touched.

    This is what a stolen-but-valid key looks like when it guesses ids, walks a
    sequence, or replays order ids from elsewhere (BOLA probing): whatever the
    ids, Veil answers "no such order" for orders that are not the caller's.
    The windows catch a fast burst (10 minutes), a patient prober (an hour)
    and a slow one (a day).
    """

    kind = "enumeration"
    acts = frozenset({Act.VIEW, Act.REVEAL})

    def __init__(self, thresholds: Thresholds) -> None:
        t = thresholds.enumeration
        self._windows = (
            (10 * MINUTE_MS, t.misses_10m, "10m"),
            (HOUR_MS, t.misses_1h, "1h"),
            (DAY_MS, t.misses_24h, "24h"),
        )
        self._ratio = t.min_miss_ratio

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Count a refused view (404 or 403) or a reveal of an order absent for the caller."""
        if seen.act not in (Act.VIEW, Act.REVEAL) or seen.outcome is Outcome.OK:
            return None
        if seen.act is Act.REVEAL and seen.outcome is not Outcome.MISS:
            return None
        who = seen.principal_id
        signals.store.mark(f"miss:{who}", seen.order_id or _unnamed(), seen.at_ms, DAY_MS)
        for window, need, label in self._windows:
            if need <= 0:
                continue
            misses = signals.count(f"miss:{who}", who, seen.at_ms - window)
            if misses < need:
                continue
            touched = signals.count(f"touch:{who}", who, seen.at_ms - window)
            ratio = _share(misses, max(touched, misses))
            if ratio < self._ratio:
                continue
            return Finding(
                kind=self.kind,
                severity="high",
                principal_id=who,
                role=seen.role,
                summary=(
                    f"{seen.role} {who}: {misses} distinct orders answered 404/403 within"
                    f" {label} ({ratio:.0%} of the orders it touched)"
                ),
                counters={
                    "window": label,
                    "distinct_refused": misses,
                    "distinct_touched": max(touched, misses),
                    "miss_ratio": ratio,
                    "threshold": need,
                },
                events=signals.recent(who),
            )
        return None


@register("bulk_read")
class BulkReadDetector(_Inline):
    """More distinct orders in an hour than the role's work explains."""

    kind = "bulk_read"
    acts = frozenset({Act.VIEW, Act.REVEAL})

    def __init__(self, thresholds: Thresholds) -> None:
        caps = thresholds.bulk_read
        self._caps = {f.name: caps.for_role(f.name) for f in dataclasses.fields(caps)}
        self._until_check: dict[str, int] = {}

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Every few served orders, count the distinct orders of the last hour."""
        if seen.act not in (Act.VIEW, Act.REVEAL) or seen.outcome is not Outcome.OK:
            return None
        cap = self._caps.get(seen.role, 0)
        if cap <= 0:
            return None
        who = seen.principal_id
        # Counting walks the last hour's entries; doing it every cap/10 served
        # orders keeps the cost flat and overshoots the cap by at most 10 %.
        left = self._until_check.get(who, 0) - 1
        if left > 0:
            self._until_check[who] = left
            return None
        self._until_check[who] = max(1, cap // 10)
        distinct = signals.count(f"touch:{who}", who, seen.at_ms - HOUR_MS)
        if distinct < cap:
            return None
        return Finding(
            kind=self.kind,
            severity="high",
            principal_id=who,
            role=seen.role,
            summary=f"{seen.role} {who}: {distinct} distinct orders read within an hour",
            counters={"window": "1h", "distinct_orders": distinct, "threshold": cap},
            events=signals.recent(who),
        )


def _denial_category(seen: Observation) -> str:
    # Labels for the evidence only; detection counts every refusal alike.
    reason = (seen.reason or "").lower()
    if seen.outcome is Outcome.MISS or reason == "not found":
        return "never_assigned_or_absent"
    for word, label in (
        ("window", "window_closed"),
        ("reassigned", "window_closed"),
        ("cancelled", "window_closed"),
        ("quota", "quota_exhausted"),
        ("step-up", "step_up"),
        ("ticket", "no_ticket"),
        ("break-glass", "break_glass"),
    ):
        if word in reason:
            return label
    return "other"


@register("policy_denials")
class PolicyDenialsDetector(_Inline):
    """Many refused requests: window closed, no ticket, quota exhausted, orders never assigned."""

    kind = "policy_denials"
    acts = frozenset({Act.VIEW, Act.REVEAL, Act.TICKET, Act.OPERATION, Act.BREAK_GLASS})

    def __init__(self, thresholds: Thresholds) -> None:
        t = thresholds.policy_denials
        self._windows = ((HOUR_MS, t.denials_1h, "1h"), (DAY_MS, t.denials_24h, "24h"))

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Count a refusal by policy (or a 404 on a reveal or ticket), per order and act."""
        if seen.act in (Act.RATE_LIMITED, Act.NUMBER_LEAK) or seen.outcome is Outcome.OK:
            return None
        if seen.act is Act.VIEW and seen.outcome is Outcome.MISS:
            return None  # a 404 view is enumeration's business
        who = seen.principal_id
        member = f"{seen.act.value}:{seen.order_id or _unnamed()}"
        signals.store.mark(f"deny:{who}", member, seen.at_ms, DAY_MS)
        signals.store.add(f"denycat:{who}", _denial_category(seen), 1, DAY_MS)
        for window, need, label in self._windows:
            if need <= 0:
                continue
            denials = signals.count(f"deny:{who}", who, seen.at_ms - window)
            if denials < need:
                continue
            categories = signals.store.tally(f"denycat:{who}")
            return Finding(
                kind=self.kind,
                severity="high" if denials >= 2 * need else "medium",
                principal_id=who,
                role=seen.role,
                summary=f"{seen.role} {who}: {denials} distinct requests refused within {label}",
                counters={
                    "window": label,
                    "distinct_refused": denials,
                    "threshold": need,
                    **{f"refused_{name}": count for name, count in sorted(categories.items())},
                },
                events=signals.recent(who),
            )
        return None


@register("harvesting")
class HarvestingDetector(_Inline):
    """Riders who see full addresses and do not deliver.

    The rider's full-address views are remembered per order. When the order is
    then cancelled or taken away, it counts as *abandoned* by that rider; when
    it is delivered, as delivered. Fires on many abandoned orders (count and
    share of the rider's finished orders), or on many orders seen in full and
    not delivered.
    """

    kind = "harvesting"
    acts = frozenset({Act.VIEW, Act.TRANSITION})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds.harvesting

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Remember a rider's full view; settle it when the order is delivered or abandoned."""
        if seen.order_id is None:
            return None
        if seen.act is Act.VIEW:
            return self._viewed(seen, seen.order_id, signals)
        if seen.act is Act.TRANSITION and seen.transition in ("deliver", "cancel", "reassign"):
            return self._settled(seen, seen.order_id, signals)
        return None

    def _viewed(self, seen: Observation, order_id: str, signals: Signals) -> Finding | None:
        if seen.role != "rider" or not seen.full_address:
            return None
        store, who = signals.store, seen.principal_id
        if store.recall(f"viewer:{order_id}", seen.at_ms) == who:
            return None  # the app opening an order again: nothing new
        store.remember(f"viewer:{order_id}", who, seen.at_ms, 2 * DAY_MS)
        store.mark(f"full:{who}", order_id, seen.at_ms, WEEK_MS)
        return self._judge(who, seen.at_ms, signals)

    def _settled(self, seen: Observation, order_id: str, signals: Signals) -> Finding | None:
        store = signals.store
        rider = store.recall(f"viewer:{order_id}", seen.at_ms)
        if rider is None:
            return None
        if seen.transition == "deliver":
            store.mark(f"delivered:{rider}", order_id, seen.at_ms, WEEK_MS)
            return None
        store.mark(f"abandoned:{rider}", order_id, seen.at_ms, WEEK_MS)
        return self._judge(rider, seen.at_ms, signals)

    def _judge(self, rider: str, at_ms: int, signals: Signals) -> Finding | None:
        t = self._t

        def count(name: str, window: int) -> int:
            return signals.count(f"{name}:{rider}", rider, at_ms - window)

        abandoned, delivered = count("abandoned", DAY_MS), count("delivered", DAY_MS)
        seen_full = count("full", DAY_MS)
        chance = binomial_tail(abandoned, abandoned + delivered, t.base_rate)
        rule: str | None = None
        if abandoned >= t.min_abandoned and chance <= t.alpha:
            rule = "abandoned after full view (24h)"
        elif (
            seen_full - delivered >= t.undelivered_24h
            and _share(delivered, seen_full) < t.delivered_share_min
        ):
            rule = "full addresses seen outnumber deliveries (24h)"
        else:
            week_abandoned = count("abandoned", WEEK_MS)
            week_finished = week_abandoned + count("delivered", WEEK_MS)
            chance = binomial_tail(week_abandoned, week_finished, t.base_rate)
            if week_abandoned >= t.min_abandoned and chance <= t.alpha:
                rule = "abandoned after full view (7 days)"
        if rule is None:
            return None
        return Finding(
            kind=self.kind,
            severity="high",
            principal_id=rider,
            role="rider",
            summary=(
                f"rider {rider}: {rule}; {seen_full} orders seen in full, {delivered} delivered,"
                f" {abandoned} abandoned in 24h"
            ),
            counters={
                "rule": rule,
                "full_address_orders_24h": seen_full,
                "delivered_24h": delivered,
                "abandoned_24h": abandoned,
                "abandoned_share_24h": _share(abandoned, abandoned + delivered),
                "chance_if_honest": float(f"{chance:.2g}"),
            },
            events=signals.recent(rider),
        )


def binomial_tail(successes: int, trials: int, rate: float) -> float:
    """Return P(X >= successes) for X ~ Binomial(trials, rate): how likely by chance."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    return min(
        1.0,
        sum(
            math.comb(trials, k) * rate**k * (1 - rate) ** (trials - k)
            for k in range(successes, trials + 1)
        ),
    )


@register("collusion")
class CollusionDetector(_Inline):
    """Several riders abandoning orders, after seeing them in full, from one client address.

    Riders who work for one buyer each stay under the harvesting thresholds,
    but they tend to share the buyer's devices or proxy. The address is kept as
    a keyed reference, never in clear, and honest riders behind one carrier
    NAT are told apart by the share of abandoned orders, not their number.
    """

    kind = "collusion"
    acts = frozenset({Act.VIEW, Act.TRANSITION})

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds.collusion

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Attribute abandoned and delivered orders to the client address of the full view."""
        store = signals.store
        if seen.act is Act.VIEW:
            if seen.role == "rider" and seen.full_address and seen.order_id and seen.client_ref:
                key, value = f"cviewer:{seen.order_id}", f"{seen.principal_id} {seen.client_ref}"
                if store.recall(key, seen.at_ms) != value:
                    store.remember(key, value, seen.at_ms, 2 * DAY_MS)
            return None
        if seen.act is not Act.TRANSITION or seen.order_id is None:
            return None
        if seen.transition not in ("deliver", "cancel", "reassign"):
            return None
        remembered = store.recall(f"cviewer:{seen.order_id}", seen.at_ms)
        if remembered is None:
            return None
        rider, _, client = remembered.partition(" ")
        if seen.transition == "deliver":
            store.mark(f"ipdel:{client}", seen.order_id, seen.at_ms, DAY_MS)
            return None
        store.mark(f"ipab:{client}", seen.order_id, seen.at_ms, DAY_MS)
        store.mark(f"iprider:{client}", rider, seen.at_ms, DAY_MS)
        return self._judge(client, rider, seen.at_ms, signals)

    def _judge(self, client: str, rider: str, at_ms: int, signals: Signals) -> Finding | None:
        store, t = signals.store, self._t
        since = at_ms - DAY_MS
        riders = store.count(f"iprider:{client}", since)
        abandoned = store.count(f"ipab:{client}", since)
        delivered = store.count(f"ipdel:{client}", since)
        share = _share(abandoned, abandoned + delivered)
        if riders < t.riders or abandoned < t.abandoned or share < t.share:
            return None
        members = tuple(sorted(store.members(f"iprider:{client}", since, 50)))
        return Finding(
            kind=self.kind,
            severity="high",
            principal_id=None,
            role="rider",
            summary=(
                f"{riders} riders abandoned {abandoned} orders after seeing them in full,"
                f" from one client address ({share:.0%} of its finished orders)"
            ),
            counters={
                "riders": riders,
                "abandoned_24h": abandoned,
                "delivered_24h": delivered,
                "abandoned_share_24h": share,
                "client_ref": client,
            },
            events=signals.recent(rider),
            related=members,
            scope=f"client:{client}",
        )


class _Counting(_Inline):
    """Count one kind of act per principal over a window; fire at a threshold."""

    kind = ""
    act: Act = Act.BREAK_GLASS
    acts: frozenset[Act] = frozenset()
    outcome: Outcome | None = None
    window_ms = WEEK_MS
    label = "7 days"
    severity = "high"
    what = ""

    def __init__(self, need: int) -> None:
        self._need = need
        self.acts = frozenset({self.act})

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Count the act; return a finding once the window holds enough of them."""
        if seen.act is not self.act or (self.outcome is not None and seen.outcome != self.outcome):
            return None
        if self._need <= 0:
            return None
        who = seen.principal_id
        member = seen.request_id or _unnamed()
        signals.store.mark(f"{self.kind}:{who}", member, seen.at_ms, self.window_ms)
        count = signals.count(f"{self.kind}:{who}", who, seen.at_ms - self.window_ms)
        if count < self._need:
            return None
        return Finding(
            kind=self.kind,
            severity=self.severity,
            principal_id=who,
            role=seen.role,
            summary=f"{seen.role} {who}: {count} {self.what} within {self.label}",
            counters={"window": self.label, "count": count, "threshold": self._need},
            events=signals.recent(who),
        )


@register("break_glass_use")
class BreakGlassUseDetector(_Counting):
    """Repeated break-glass requests by one principal (each request also has its own alert)."""

    kind = "break_glass_use"
    act = Act.BREAK_GLASS
    outcome = Outcome.OK
    what = "break-glass requests"

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds.break_glass_use.requests_7d)


@register("number_leak")
class NumberLeakDetector(_Counting):
    """Repeated privacy-number leak signals about one holder (calls after the binding ended)."""

    kind = "number_leak"
    act = Act.NUMBER_LEAK
    what = "privacy-number leak signals"

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds.number_leak.signals_7d)


@register("rate_limited")
class RateLimitedDetector(_Counting):
    """A principal that keeps hitting its rate limits."""

    kind = "rate_limited"
    act = Act.RATE_LIMITED
    window_ms = 10 * MINUTE_MS
    label = "10 minutes"
    severity = "medium"
    what = "requests refused by rate limits"

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds.rate_limited.refusals_10m)
