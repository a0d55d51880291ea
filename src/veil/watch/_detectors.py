"""Detectors: a Protocol, a registry, and what they report (findings).

A detector looks at one observation at a time (`observe`, inline on the
request's heels: cheap counter updates, a few reads when something is off) or
at the daily usage of every principal (`sweep`, in the periodic job: peer
baselines). It returns a `Finding`; the watch turns findings into alerts (one
per incident) and applies the configured response.

New detectors register with `@register("kind")`; `build_detectors` makes one of
each registered kind with the deployment's thresholds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from veil.watch._config import Thresholds
from veil.watch._observations import Act, Observation, Outcome
from veil.watch._signals import SignalStore

__all__ = [
    "DETECTORS",
    "Detector",
    "Finding",
    "Signals",
    "UsageDay",
    "build_detectors",
    "register",
]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

EvidenceEntry = Mapping[str, str | int | None]


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's conclusion about one principal (or one group), with its evidence.

    `counters` and `events` hold ids, counts, ratios and times, never values.
    `scope` names the incident when there is no single principal (a group).
    """

    kind: str
    severity: str
    principal_id: str | None
    role: str | None
    summary: str
    counters: Mapping[str, int | float | str]
    events: tuple[EvidenceEntry, ...] = ()
    related: tuple[str, ...] = ()
    scope: str | None = None

    @property
    def dedup_key(self) -> str:
        """Return the incident's name: one open alert per kind and principal (or group)."""
        return f"{self.kind}:{self.principal_id or self.scope or '-'}"


@dataclass(frozen=True, slots=True)
class UsageDay:
    """One principal's usage on one local day, as the peer baseline reads it."""

    day: str
    principal_id: str
    role: str
    views: int = 0
    reveals: int = 0
    subjects: int = 0
    night: int = 0
    self_tickets: int = 0
    # Acts in the local hours 00–08, 08–16 and 16–24: which shift it works.
    early: int = 0
    daytime: int = 0
    evening: int = 0


@dataclass
class Signals:
    """The detectors' view of the signal store, plus recent suspicious acts per principal.

    Counting honours a principal's *reset*: once an admin reinstates a principal
    or closes its alert, what it did before no longer counts against it.
    """

    store: SignalStore
    recent_size: int = 20
    _recent: dict[str, deque[Observation]] = field(default_factory=dict)

    def count(self, key: str, scope: str, since_ms: int) -> int:
        """Count distinct members of `key` seen since `since_ms` (or since `scope`'s reset)."""
        return self.store.count(key, max(since_ms, self.reset_at(scope)))

    def reset_at(self, scope: str) -> int:
        """Return when `scope` (a principal id) was last reset, or 0."""
        value = self.store.recall(f"reset:{scope}", 0)
        return int(value) if value else 0

    def reset(self, scope: str, at_ms: int) -> None:
        """Stop counting what `scope` did before `at_ms`."""
        self.store.remember(f"reset:{scope}", str(at_ms), at_ms, 30 * DAY_MS)
        self._recent.pop(scope, None)
        self.store.flush()

    def note(self, seen: Observation) -> None:
        """Keep refused acts (and the acts that matter to harvesting) as evidence."""
        if seen.outcome is Outcome.OK and not seen.full_address:
            return
        ring = self._recent.get(seen.principal_id)
        if ring is None:
            ring = self._recent[seen.principal_id] = deque(maxlen=self.recent_size)
        ring.append(seen)

    def recent(self, principal_id: str, limit: int = 10) -> tuple[EvidenceEntry, ...]:
        """Return the principal's latest noted acts as evidence entries, oldest first."""
        ring = self._recent.get(principal_id)
        return tuple(seen.evidence() for seen in list(ring)[-limit:]) if ring else ()


@runtime_checkable
class Detector(Protocol):
    """Something that turns behaviour into findings."""

    kind: str
    # The acts `observe` reads: it is not called for others (keeps views cheap).
    acts: frozenset[Act]

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Update counters for one observation; return a finding when a threshold is crossed.

        Runs on the request's heels: it must stay cheap for ordinary traffic.
        """
        ...

    def sweep(self, usage: Sequence[UsageDay], now_ms: int) -> list[Finding]:
        """Look at every principal's daily usage (the periodic job); return findings."""
        ...


DetectorFactory = Callable[[Thresholds], Detector]
DETECTORS: dict[str, DetectorFactory] = {}


def register(kind: str) -> Callable[[DetectorFactory], DetectorFactory]:
    """Register a detector factory under the alert kind it raises."""

    def decorate(factory: DetectorFactory) -> DetectorFactory:
        if kind in DETECTORS:
            raise ValueError(f"a detector for {kind!r} is already registered")
        DETECTORS[kind] = factory
        return factory

    return decorate


def build_detectors(thresholds: Thresholds, kinds: Sequence[str] | None = None) -> list[Detector]:
    """Make one detector of each registered kind (or of `kinds`) with `thresholds`."""
    chosen = list(DETECTORS) if kinds is None else list(kinds)
    unknown = [k for k in chosen if k not in DETECTORS]
    if unknown:
        raise ValueError(f"no detector registered for {', '.join(unknown)}")
    return [DETECTORS[kind](thresholds) for kind in chosen]
