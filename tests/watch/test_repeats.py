"""A rider's app re-opening its orders: repeats are passed over, nothing else is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from veil.audit import AuditRecord, AuditTag
from veil.watch import Analyzer
from veil.watch._analysis import REPEAT_MS
from veil.watch._detectors import Finding, Signals, UsageDay
from veil.watch._observations import Act, Observation

T0 = 1_764_000_000_000
FULL = ("customer.name", "address.full")
MASKED = ("customer.name", "address.area")


@dataclass
class Spy:
    """A detector that only remembers what it was shown."""

    kind: str = "spy"
    acts: frozenset[Act] = frozenset({Act.VIEW})
    seen: list[Observation] = field(default_factory=list)

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        del signals
        self.seen.append(seen)
        return None

    def sweep(self, usage: Sequence[UsageDay], now_ms: int) -> list[Finding]:
        del usage, now_ms
        return []


def _view(
    at: int,
    *,
    who: str = "prn_r",
    role: str = "rider",
    order: str = "ord_1",
    fields: tuple[str, ...] = FULL,
    tag: AuditTag = AuditTag.ORDER_VIEWED,
) -> AuditRecord:
    decision = "allow" if tag is AuditTag.ORDER_VIEWED else "deny"
    reason = None if tag is AuditTag.ORDER_VIEWED else "not found"
    return AuditRecord(
        tag, at, decision, principal_id=who, role=role, order_id=order, fields=fields, reason=reason
    )


def _analyzer() -> tuple[Analyzer, Spy]:
    spy = Spy()
    return Analyzer(detectors=[spy]), spy


def test_a_repeat_view_within_the_window_is_passed_over() -> None:
    analyzer, spy = _analyzer()
    analyzer.analyze([_view(T0)])
    analyzer.analyze([_view(T0 + 1_000)])
    analyzer.analyze([_view(T0 + REPEAT_MS - 1)])
    assert len(spy.seen) == 1
    # The window counts from the view last processed, so polling at any pace
    # is still seen at least every REPEAT_MS.
    analyzer.analyze([_view(T0 + REPEAT_MS)])
    assert [s.at_ms for s in spy.seen] == [T0, T0 + REPEAT_MS]
    touched = analyzer.signals.count("touch:prn_r", "prn_r", T0 + REPEAT_MS)
    assert touched == 1


def test_another_order_another_principal_or_another_view_is_not_a_repeat() -> None:
    analyzer, spy = _analyzer()
    analyzer.analyze([_view(T0)])
    analyzer.analyze([_view(T0 + 1, order="ord_2")])
    analyzer.analyze([_view(T0 + 2, who="prn_other")])
    # The first full view after masked ones is news for the harvesting detector.
    analyzer.analyze([_view(T0 + 3, order="ord_3", fields=MASKED)])
    analyzer.analyze([_view(T0 + 4, order="ord_3", fields=FULL)])
    assert len(spy.seen) == 5
    assert analyzer.signals.count("touch:prn_r", "prn_r", T0) == 3


def test_refusals_are_never_passed_over() -> None:
    analyzer, spy = _analyzer()
    for n in range(5):
        analyzer.analyze([_view(T0 + n, tag=AuditTag.ORDER_VIEW_DENIED)])
    assert len(spy.seen) == 5


def test_staff_views_are_all_counted_for_the_peer_baselines() -> None:
    analyzer, spy = _analyzer()
    for n in range(4):
        analyzer.analyze([_view(T0 + n, who="prn_agent", role="agent")])
    assert len(spy.seen) == 4
    day = analyzer.usage.day_of(T0)
    [usage] = analyzer.usage.read_day(day, analyzer.signals)
    assert usage.views == 4


def test_a_clock_that_steps_back_does_not_hide_a_view() -> None:
    analyzer, spy = _analyzer()
    analyzer.analyze([_view(T0)])
    analyzer.analyze([_view(T0 - 5)])
    assert len(spy.seen) == 2
