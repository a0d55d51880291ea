"""From audit records to findings: the watch's bookkeeping, then every detector.

No database and no clock here: what comes in is what the vault committed,
what goes out is what the detectors concluded. The watch records findings as
alerts; tests and the simulator can run this part alone.

A rider's app re-opens its active orders every few seconds. Such a repeat, the
same principal served the same view of the same order within `REPEAT_MS`,
changes no count any detector keeps (they count distinct orders, refusals,
abandoned orders), so it is passed over; the only thing it would have moved is
the order's last-touched time, which is then at most `REPEAT_MS` old (the
shortest window is 10 minutes). Refusals are never passed over, nor are staff
views, which the peer baselines count one by one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from cachetools import LRUCache

from veil.audit import AuditRecord, AuditTag
from veil.watch._baseline import BASELINE_ROLES, UsageRecorder
from veil.watch._config import Thresholds
from veil.watch._detectors import DAY_MS, Detector, Finding, Signals, build_detectors
from veil.watch._observations import Act, Observation, Outcome, observe_record
from veil.watch._signals import MemorySignals, SignalStore

__all__ = ["REPEAT_MS", "Analyzer"]

REPEAT_MS = 30_000
# Principals x open orders whose last served view is remembered.
_REPEATS_KEPT = 200_000


class Analyzer:
    """Turn committed audit records into findings, keeping the shared counters."""

    def __init__(
        self,
        *,
        thresholds: Thresholds | None = None,
        store: SignalStore | None = None,
        detectors: Sequence[Detector] | None = None,
        reference: Callable[[str], str] | None = None,
    ) -> None:
        thresholds = thresholds or Thresholds()
        self.signals = Signals(store or MemorySignals())
        self._by_act: dict[Act, list[Detector]] = {}
        self.detectors = list(detectors or build_detectors(thresholds))
        self.usage = UsageRecorder(thresholds.peer_outlier)
        self._reference = reference
        self._served: LRUCache[tuple[str, str, bool], int] = LRUCache(_REPEATS_KEPT)

    @property
    def detectors(self) -> list[Detector]:
        """Return the detectors, in the order they run."""
        return self._detectors

    @detectors.setter
    def detectors(self, detectors: list[Detector]) -> None:
        self._detectors = list(detectors)
        self._by_act.clear()

    def analyze(self, records: Sequence[AuditRecord]) -> list[tuple[Finding, int]]:
        """Update counters with `records`; return each finding with the time it was made."""
        findings: list[tuple[Finding, int]] = []
        signals = self.signals
        for record in records:
            if self._is_repeat(record):
                continue
            seen = observe_record(record, reference=self._reference)
            if seen is None:
                continue
            self._bookkeep(seen)
            interested = self._by_act.get(seen.act)
            if interested is None:
                interested = [d for d in self.detectors if seen.act in d.acts]
                self._by_act[seen.act] = interested
            for detector in interested:
                finding = detector.observe(seen, signals)
                if finding is not None:
                    findings.append((finding, seen.at_ms))
        signals.store.flush()
        return findings

    def _is_repeat(self, record: AuditRecord) -> bool:
        # Only served order views of principals without a peer baseline.
        if (
            record.tag is not AuditTag.ORDER_VIEWED
            or record.order_id is None
            or record.principal_id is None
            or record.role in BASELINE_ROLES
        ):
            return False
        key = (record.principal_id, record.order_id, "address.full" in record.fields)
        last = self._served.get(key)
        if last is not None and 0 <= record.at_ms - last < REPEAT_MS:
            return True
        self._served[key] = record.at_ms
        return False

    def _bookkeep(self, seen: Observation) -> None:
        # What several detectors read: the orders a principal touched (enumeration
        # and bulk reads), its refused acts (evidence), its day (peer baselines).
        signals = self.signals
        if seen.act in (Act.VIEW, Act.REVEAL):
            member = seen.order_id or "?" + secrets.token_hex(6)
            signals.store.mark(f"touch:{seen.principal_id}", member, seen.at_ms, DAY_MS)
        if seen.outcome is not Outcome.OK or seen.full_address:
            signals.note(seen)
        self.usage.note(seen, signals)
