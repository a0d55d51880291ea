"""Peer baselines: each staff principal against the peers who do the same job at the same hours.

Inline, the watch only tallies each principal's day (views, reveals, distinct
customers, night-time acts, tickets an agent opened for themselves, and when in
the day it worked): a few counter updates per request. The periodic job
(`Watch.sweep`) writes those tallies to ``watch_daily_usage`` and compares each
principal's typical day (the median of its active days) with its peers' typical
days, per metric, using the median and the median absolute deviation (MAD):
one busy peer, or the outlier itself, barely moves the baseline.

Who the peers are matters more than the statistic. They are the principals of
the same role who work the same shift (early, daytime or evening, by when they are
active): the evening shift of a support desk takes the dinner-peak tickets and
is busier than the day shift every day, honestly. A shift with too few people
is compared with the whole role, at a stricter threshold.

Baselines watch the roles that choose what they open: support agents, admins,
safety and security officers, analysts, auditors. Riders, merchants and
customers see what the platform assigns them; harvesting, enumeration and bulk
reads watch them.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, insert, select, update

from veil.store import WATCH_DAILY_USAGE
from veil.watch._config import PeerOutlier, Thresholds
from veil.watch._detectors import DAY_MS, HOUR_MS, Finding, Signals, UsageDay, register
from veil.watch._observations import Act, Observation, Outcome

__all__ = [
    "BASELINE_ROLES",
    "PeerOutlierDetector",
    "UsageRecorder",
    "load_usage",
    "save_usage",
]

BASELINE_ROLES = frozenset({"agent", "analyst", "admin", "safety", "security", "auditor"})
METRICS = ("views", "reveals", "subjects", "self_tickets")
# Local hours 00–08, 08–16, 16–24: the shift a principal works is the one it is
# most active in.
SHIFTS = ("early", "daytime", "evening")
_COUNTS = (*METRICS, "night", *SHIFTS)
_KEEP_MS = 9 * DAY_MS
# A shift too small to be its own peer group is compared with the whole role,
# and must stand out this much more.
_STRICTER = 1.5


class UsageRecorder:
    """Tally each staff principal's day from the observations (the inline part of baselines)."""

    def __init__(self, thresholds: PeerOutlier) -> None:
        self._offset_ms = thresholds.utc_offset_hours * HOUR_MS
        self._night = (thresholds.night_start_hour, thresholds.night_end_hour)
        self._days: dict[int, str] = {}

    def day_of(self, at_ms: int) -> str:
        """Return the local calendar day of `at_ms` (``YYYY-MM-DD``)."""
        number = (at_ms + self._offset_ms) // DAY_MS
        name = self._days.get(number)
        if name is None:
            name = (dt.date(1970, 1, 1) + dt.timedelta(days=number)).isoformat()
            self._days[number] = name
        return name

    def hour_of(self, at_ms: int) -> int:
        """Return the local hour of `at_ms`."""
        return int(((at_ms + self._offset_ms) % DAY_MS) // HOUR_MS)

    def is_night(self, at_ms: int) -> bool:
        """Tell whether `at_ms` falls in the local night hours."""
        hour = self.hour_of(at_ms)
        start, end = self._night
        return start <= hour < end if start <= end else (hour >= start or hour < end)

    def note(self, seen: Observation, signals: Signals) -> None:
        """Add the observation to its principal's day (staff roles only)."""
        if seen.outcome is not Outcome.OK or seen.role not in BASELINE_ROLES:
            return
        if seen.act in (Act.VIEW, Act.REVEAL):
            metric = "views" if seen.act is Act.VIEW else "reveals"
        elif seen.act is Act.TICKET and seen.role == "agent":
            metric = "self_tickets"
        else:
            return
        store = signals.store
        day = self.day_of(seen.at_ms)
        who = seen.principal_id
        tally = f"use:{day}:{who}"
        store.add(tally, metric, 1, _KEEP_MS)
        store.add(tally, SHIFTS[self.hour_of(seen.at_ms) // 8], 1, _KEEP_MS)
        store.mark(f"useidx:{day}", f"{who} {seen.role}", seen.at_ms, _KEEP_MS)
        if metric != "self_tickets":
            if seen.subject_id is not None:
                store.mark(f"usesub:{day}:{who}", seen.subject_id, seen.at_ms, _KEEP_MS)
            if self.is_night(seen.at_ms):
                store.add(tally, "night", 1, _KEEP_MS)

    def read_day(self, day: str, signals: Signals) -> list[UsageDay]:
        """Return every principal's tally of `day` from the signal store."""
        store = signals.store
        found = []
        for member in store.members(f"useidx:{day}", 0, 1_000_000):
            who, _, role = member.partition(" ")
            tally = store.tally(f"use:{day}:{who}")
            counts = {name: tally.get(name, 0) for name in _COUNTS}
            counts["subjects"] = store.count(f"usesub:{day}:{who}", 0)
            found.append(UsageDay(day=day, principal_id=who, role=role, **counts))
        return found


def save_usage(engine: Engine, days: Iterable[UsageDay], now_ms: int) -> int:
    """Write tallies to ``watch_daily_usage``, never lowering a stored count; return rows."""
    table = WATCH_DAILY_USAGE
    by_day: dict[str, list[UsageDay]] = defaultdict(list)
    for usage in days:
        by_day[usage.day].append(usage)
    written = 0
    with engine.begin() as connection:
        for day, rows in by_day.items():
            stored = {
                row.principal_id: row
                for row in connection.execute(select(table).where(table.c.day == day))
            }
            fresh = []
            for usage in rows:
                values = {name: getattr(usage, name) for name in _COUNTS}
                old = stored.get(usage.principal_id)
                if old is None:
                    fresh.append(
                        {
                            "day": day,
                            "principal_id": usage.principal_id,
                            "role": usage.role,
                            "updated_ms": now_ms,
                            **values,
                        }
                    )
                    continue
                merged = {k: max(v, getattr(old, k)) for k, v in values.items()}
                if any(merged[k] != getattr(old, k) for k in merged):
                    connection.execute(
                        update(table)
                        .where(table.c.day == day, table.c.principal_id == usage.principal_id)
                        .values(updated_ms=now_ms, **merged)
                    )
                    written += 1
            if fresh:
                connection.execute(insert(table), fresh)
                written += len(fresh)
    return written


def load_usage(engine: Engine, since_day: str) -> list[UsageDay]:
    """Read every stored day on or after `since_day`."""
    table = WATCH_DAILY_USAGE
    with engine.connect() as connection:
        rows = connection.execute(select(table).where(table.c.day >= since_day)).all()
    return [
        UsageDay(
            day=row.day,
            principal_id=row.principal_id,
            role=row.role,
            **{name: getattr(row, name) for name in _COUNTS},
        )
        for row in rows
    ]


@register("peer_outlier")
class PeerOutlierDetector:
    """A staff principal whose typical day is far above its peers' typical days.

    For each metric the baseline is the median of the peers' typical days and
    its scale 1.4826 × MAD (floored, so that peers who all do the same cannot
    divide by zero). A principal stands out when its typical day is `z` scales
    above the median, `ratio` times the median, and above the metric's floor,
    on at least `min_days` active days. Night-time share counts only together
    with an elevated volume: night shifts are not suspicious, night-time bulk
    work is.
    """

    kind = "peer_outlier"
    acts: frozenset[Act] = frozenset()  # nothing inline: the sweep compares

    def __init__(self, thresholds: Thresholds) -> None:
        self._t = thresholds.peer_outlier
        self._floors = {
            "views": self._t.floor_views,
            "reveals": self._t.floor_reveals,
            "subjects": self._t.floor_subjects,
            "self_tickets": self._t.floor_self_tickets,
        }

    def observe(self, seen: Observation, signals: Signals) -> Finding | None:
        """Nothing inline: the recorder tallies the day, the sweep compares."""
        del seen, signals
        return None

    def sweep(self, usage: Sequence[UsageDay], now_ms: int) -> list[Finding]:
        """Compare every staff principal with its peers; return the outliers."""
        del now_ms
        t = self._t
        days_by_principal: dict[str, list[UsageDay]] = defaultdict(list)
        for day in usage:
            if day.role in BASELINE_ROLES and (day.views or day.reveals or day.self_tickets):
                days_by_principal[day.principal_id].append(day)
        by_role: dict[str, list[str]] = defaultdict(list)
        for who, days in days_by_principal.items():
            by_role[days[-1].role].append(who)
        findings = []
        for role, members in sorted(by_role.items()):
            if len(members) < t.min_peers:
                continue
            everyone = _Peers(members, days_by_principal)
            shifts: dict[str, list[str]] = defaultdict(list)
            for who in members:
                shifts[_shift_of(days_by_principal[who])].append(who)
            for shift, group in sorted(shifts.items()):
                own = len(group) >= t.min_peers
                peers = _Peers(group, days_by_principal) if own else everyone
                for who in sorted(group):
                    if len(days_by_principal[who]) < t.min_days:
                        continue
                    need = t.z if own else t.z * _STRICTER
                    finding = self._judge(
                        role, shift, who, peers=peers, everyone=everyone, need=need
                    )
                    if finding is not None:
                        findings.append(finding)
        return findings

    def _judge(
        self, role: str, shift: str, who: str, *, peers: _Peers, everyone: _Peers, need: float
    ) -> Finding | None:
        t = self._t
        out: dict[str, int | float | str] = {}
        elevated = False
        for metric in METRICS:
            value = peers.typical[metric][who]
            median, scale = peers.baseline(metric, who, value, need / 2)
            z = (value - median) / scale
            elevated = elevated or z >= need / 2
            if z >= need and value >= t.ratio * median and value >= self._floors[metric]:
                out[f"{metric}_per_day"] = value
                out[f"{metric}_peer_median"] = median
                out[f"{metric}_z"] = round(z, 1)
        if elevated:
            # Night work is compared with the whole role: a night shift is a
            # shift, but night-time bulk work stands out against everyone.
            share = everyone.night[who]
            others = [v for p, v in everyone.night.items() if p != who]
            median, scale = _baseline(others, floor=0.05)
            z = (share - median) / scale
            nightly = statistics.median(d.night for d in everyone.days[who])
            if z >= need and share >= t.night_share and nightly >= t.night_floor:
                out["night_share"] = round(share, 3)
                out["night_share_peer_median"] = round(median, 3)
                out["night_share_z"] = round(z, 1)
        if not out:
            return None
        metrics = sorted(k.removesuffix("_z") for k in out if k.endswith("_z"))
        days = len(everyone.days[who])
        size = len(peers.typical["views"]) - 1
        return Finding(
            kind=self.kind,
            severity="high" if len(metrics) > 1 else "medium",
            principal_id=who,
            role=role,
            summary=(
                f"{role} {who}: far above its {size} peers ({shift} shift) on"
                f" {', '.join(metrics)} over {days} day(s)"
            ),
            counters={"days": days, "peers": size, "shift": shift, **out},
        )


class _Peers:
    """A peer group: each member's typical day per metric, the baselines, night shares."""

    def __init__(self, members: list[str], days: dict[str, list[UsageDay]]) -> None:
        self.days = days
        self.typical = {
            metric: {
                who: statistics.median(getattr(d, metric) for d in days[who]) for who in members
            }
            for metric in METRICS
        }
        self._baselines = {
            metric: _baseline(list(values.values())) for metric, values in self.typical.items()
        }
        self.night: dict[str, float] = {}
        for who in members:
            acts = sum(d.views + d.reveals for d in days[who])
            self.night[who] = sum(d.night for d in days[who]) / acts if acts else 0.0

    def baseline(
        self, metric: str, who: str, value: float, candidate_z: float
    ) -> tuple[float, float]:
        """Return (median, scale) of `metric`; without `who` when it is a candidate outlier.

        Leaving the candidate out keeps an outlier from widening its own
        baseline; only candidates pay for the second median.
        """
        median, scale = self._baselines[metric]
        if (value - median) / scale < candidate_z:
            return median, scale
        return _baseline([v for p, v in self.typical[metric].items() if p != who])


def _shift_of(days: list[UsageDay]) -> str:
    totals = {name: sum(getattr(d, name) for d in days) for name in SHIFTS}
    return max(SHIFTS, key=lambda name: totals[name])


def _baseline(values: list[float], floor: float = 1.0) -> tuple[float, float]:
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return median, max(1.4826 * mad, 0.1 * median, floor)
