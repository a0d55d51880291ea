"""Run a simulated city for some hours, with attacks, and report what the watch caught.

The vault is real (SQLite in a scratch directory, the shipped policies, the
audit log, the watch with its default thresholds unless told otherwise); keys
live in memory. Rate limits are left out: they count wall-clock seconds, and a
simulated day passes in minutes. Detection, alerts and responses run as in
production, on the simulated clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from veil.config import Settings
from veil.policy import DEFAULT_POLICY_DIR
from veil.sim._attacks import Outcome, Scenario, Stage, scenario_named
from veil.sim._city import HOUR_MS, build_sim_city
from veil.sim._workload import Scheduler, Workload
from veil.store import ALERTS
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import Vault, init_vault, open_vault

__all__ = ["SimReport", "run_simulation"]

# The simulated day starts at local midnight (UTC+8) on 1 December 2026.
START = dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)
# Goals of the watch issue, by scenario family: (unit bound, needs suspension).
GOALS = {
    "stolen-key": (100, True),
    "agent-probing": (20, False),
    "fake-rider": (10, False),
}
FALSE_ALERT_GOAL = 1.0


@dataclass
class SimReport:
    """What a run did and what the watch made of it."""

    seed: int
    hours: float
    roles: dict[str, int]
    orders: int
    delivered: int
    requests: int
    seconds: float
    outcomes: list[Outcome]
    honest: int
    false_alerts: list[tuple[str, str, str]] = field(default_factory=list)
    alerts: int = 0

    @property
    def false_per_1000_day(self) -> float:
        """Return false alerts per 1,000 honest principals per simulated day."""
        days = self.hours / 24
        return len(self.false_alerts) / (self.honest / 1000) / days if self.honest else 0.0

    def goals(self) -> list[tuple[str, bool]]:
        """Return each goal of the issue that this run measured, and whether it was met."""
        met = []
        for outcome in self.outcomes:
            family = next((g for g in GOALS if outcome.scenario.startswith(g)), None)
            if family is None:
                continue
            bound, suspend = GOALS[family]
            ok = outcome.alerted_after is not None and outcome.alerted_after <= bound
            if suspend:
                ok = ok and outcome.suspended
            text = f"{outcome.scenario}: alerted within {bound} {outcome.unit}"
            met.append((text + (" and suspended" if suspend else ""), ok))
        met.append(
            (
                f"false alerts <= {FALSE_ALERT_GOAL:g} per 1,000 honest principals per day",
                self.false_per_1000_day <= FALSE_ALERT_GOAL,
            )
        )
        return met

    def render(self) -> str:
        """Return the report as plain text."""
        roles = ", ".join(f"{role} {n:,}" for role, n in self.roles.items())
        lines = [
            f"Veil watch simulation: seed {self.seed}, {sum(self.roles.values()):,} principals"
            f" ({roles}), {self.hours:g} h simulated",
            f"{self.orders:,} orders ({self.delivered:,} delivered), {self.requests:,} requests"
            f" in {self.seconds:,.0f} s ({self.requests / max(self.seconds, 1e-9):,.0f}/s);"
            " rate limits off (they count wall-clock seconds), detection on the simulated clock",
            "",
            f"{'scenario':<24}{'alerted after':<26}{'alert kinds':<34}{'suspended after':<22}"
            f"{'records leaked':>14}",
        ]
        for o in self.outcomes:
            alerted = (
                f"{o.alerted_after} {o.unit}" if o.alerted_after is not None else "not alerted"
            )
            suspended = (
                f"{o.suspended_after} {o.unit}"
                if o.suspended_after is not None
                else ("yes" if o.suspended else "no")
            )
            lines.append(
                f"{o.scenario:<24}{alerted:<26}{', '.join(o.alert_kinds) or '-':<34}"
                f"{suspended:<22}{o.leaked:>14}"
            )
            if o.note:
                lines.append(f"{'':<24}{o.note}")
        lines += [
            "",
            f"alerts raised: {self.alerts}; false alerts: {len(self.false_alerts)} on"
            f" {self.honest:,} honest principals over {self.hours / 24:g} day(s)"
            f" = {self.false_per_1000_day:.2f} per 1,000 principals per day",
        ]
        lines += [f"  false: {kind} on {role} {who}" for kind, who, role in self.false_alerts]
        lines.append("goals:")
        lines += [f"  [{'met' if ok else 'MISSED'}] {text}" for text, ok in self.goals()]
        return "\n".join(lines)


def run_simulation(
    *,
    scenarios: Sequence[str] = (),
    principals: int = 2000,
    hours: float = 24.0,
    seed: int = 7,
    directory: Path | None = None,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    responses: Mapping[str, str] | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> SimReport:
    """Simulate `hours` of a city of about `principals` principals, with `scenarios`."""
    chosen: list[Scenario] = [scenario_named(name) for name in scenarios]
    scratch = None
    if directory is None:
        scratch = tempfile.TemporaryDirectory(prefix="veil-sim-")
        directory = Path(scratch.name)
    try:
        clock = FixedClock(START)
        vault = _vault(directory, clock, principals, thresholds, responses)
        try:
            return _run(
                vault,
                clock,
                chosen,
                principals=principals,
                hours=hours,
                seed=seed,
                progress=progress,
            )
        finally:
            vault.engine.dispose()
    finally:
        if scratch is not None:
            scratch.cleanup()


def _vault(
    directory: Path,
    clock: FixedClock,
    principals: int,
    thresholds: Mapping[str, Mapping[str, float]] | None,
    responses: Mapping[str, str] | None,
) -> Vault:
    directory.mkdir(parents=True, exist_ok=True)
    policies = directory / "policies"
    shutil.rmtree(policies, ignore_errors=True)
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    # The agents' shared daily quota grows with the city; each agent's stays.
    quotas = policies / "quotas.toml"
    total = max(200, principals // 10 * 10)
    quotas.write_text(
        re.sub(
            r"(\[role\.agent\][^\[]*?role_total\s*=\s*)\d+",
            rf"\g<1>{total}",
            quotas.read_text(encoding="utf-8"),
        ),
        encoding="utf-8",
    )
    (directory / "sim.db").unlink(missing_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{directory / 'sim.db'}",
        policy_dir=policies,
        redis_url=None,
        webhook_url=None,
        watch_enabled=True,
        watch_thresholds=dict(thresholds or {}),
        watch_responses=dict(responses or {}),
        watch_sweep_seconds=0,
        # Simulated hours pass in real seconds; a suspension clears the cache anyway.
        api_key_cache_seconds=3600,
    )
    provider = InMemoryKeyProvider()
    init_vault(settings, provider=provider, clock=clock)
    vault = open_vault(settings, provider=provider, clock=clock)
    assert vault.watch is not None  # noqa: S101 - enabled just above
    vault.watch.limits = None
    return vault


def _run(
    vault: Vault,
    clock: FixedClock,
    scenarios: list[Scenario],
    *,
    principals: int,
    hours: float,
    seed: int,
    progress: Callable[[float, float], None] | None,
) -> SimReport:
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not a secret
    started = time.perf_counter()
    city = build_sim_city(vault, rng, principals)
    start_ms = int(START.timestamp() * 1000)
    until_ms = start_ms + int(hours * HOUR_MS)
    scheduler = Scheduler(clock, start_ms)
    workload = Workload(city, scheduler, rng)
    workload.plan(start_ms, until_ms)
    stage = Stage(city, workload, scheduler, rng, start_ms, until_ms)
    for scenario in scenarios:
        scenario.install(stage)
    watch = vault.watch
    assert watch is not None  # noqa: S101 - the simulator always watches
    for hour in range(start_ms + HOUR_MS, until_ms + 1, HOUR_MS):
        scheduler.at(hour - 1, functools.partial(watch.sweep, hour - 1))
    for hour_end in range(start_ms + HOUR_MS, until_ms + HOUR_MS, HOUR_MS):
        scheduler.run(min(hour_end, until_ms))
        if progress is not None:
            progress((min(hour_end, until_ms) - start_ms) / HOUR_MS, hours)
    outcomes = [scenario.finish() for scenario in scenarios]
    attackers = set().union(*(s.attackers for s in scenarios)) if scenarios else set()
    everyone = city.everyone()
    roles = Counter(actor.role for actor in everyone)
    false_alerts, alerts = _false_alerts(vault, attackers, {a.principal_id: a for a in everyone})
    return SimReport(
        seed=seed,
        hours=hours,
        roles=dict(roles),
        orders=workload.orders,
        delivered=workload.delivered,
        requests=city.gateway.requests,
        seconds=time.perf_counter() - started,
        outcomes=outcomes,
        honest=len(everyone) - len(attackers),
        false_alerts=false_alerts,
        alerts=alerts,
    )


def _false_alerts(
    vault: Vault, attackers: set[str], actors: Mapping[str, Any]
) -> tuple[list[tuple[str, str, str]], int]:
    with vault.engine.connect() as connection:
        rows = connection.execute(
            select(ALERTS.c.kind, ALERTS.c.principal_id, ALERTS.c.evidence)
        ).all()
    false = []
    for row in rows:
        named = {row.principal_id} | set(json.loads(row.evidence).get("related_principals", []))
        honest = sorted(p for p in named if p is not None and p not in attackers)
        if honest and row.kind != "break_glass" and not (named & attackers):
            who = honest[0]
            role = actors[who].role if who in actors else "?"
            false.append((row.kind, who, role))
    return false, len(rows)
