"""Red-team scenarios, injected into the honest day, and what each one measures.

* ``stolen-key-random`` / ``-sequential`` / ``-known``: a rider's valid key in
  a scraper's hands, walking random ids, a sequence, or real order ids leaked
  from elsewhere (BOLA probing); measured in requests until the first alert
  and until the key stops working.
* ``agent-probing``: an agent trying reveals and views on orders it has no
  ticket for; measured in refused attempts until the first alert.
* ``fake-rider``: a rider who takes orders, reads the full address after
  pickup and does not deliver; measured in orders seen in full.
* ``insider``: an agent opening tickets for themselves on live orders and
  revealing phones just under the daily quota, day after day; measured in days.
* ``colluders``: four riders behind one proxy, each abandoning a couple of
  orders a day after reading them in full; measured in abandoned orders.

Attackers use Veil like anyone else: through `Gateway`, with real keys.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from veil.ids import IdKind, new_id
from veil.sim._city import DAY_MS, HOUR_MS, MINUTE_MS, Actor, SimCity
from veil.sim._gateway import Reply
from veil.sim._workload import Scheduler, SimOrder, Workload
from veil.store import ALERTS, PRINCIPALS

__all__ = ["SCENARIOS", "AlertBook", "Outcome", "Scenario", "Stage", "scenario_named"]

ATTACKER_IP = "203.0.113.66"
PROXY_IP = "198.51.100.7"


@dataclass(frozen=True)
class Stage:
    """Where a scenario plays: the city, its day, the scheduler, the seeded randomness."""

    city: SimCity
    workload: Workload
    scheduler: Scheduler
    rng: random.Random
    start_ms: int
    until_ms: int


@dataclass
class Outcome:
    """What a scenario did and how fast Veil noticed."""

    scenario: str
    attackers: list[str]
    unit: str
    attempts: int = 0
    alerted_after: int | None = None
    alert_kinds: list[str] = field(default_factory=list)
    suspended_after: int | None = None
    suspended: bool = False
    leaked: int = 0
    note: str = ""

    @property
    def flagged(self) -> bool:
        """Tell whether any alert named an attacker."""
        return self.alerted_after is not None


class AlertBook:
    """Reads the alerts table to tell when an attacker was first named."""

    def __init__(self, city: SimCity) -> None:
        self.city = city

    def suspended(self, principals: set[str]) -> bool:
        """Tell whether any of `principals` is suspended now."""
        with self.city.vault.engine.connect() as connection:
            statuses = connection.scalars(
                select(PRINCIPALS.c.status).where(PRINCIPALS.c.id.in_(principals))
            ).all()
        return "suspended" in statuses

    def kinds_about(self, principals: set[str]) -> list[str]:
        """Return the kinds of every alert naming one of `principals` (or listing it)."""
        with self.city.vault.engine.connect() as connection:
            rows = connection.execute(
                select(ALERTS.c.kind, ALERTS.c.principal_id, ALERTS.c.evidence)
            ).all()
        kinds = []
        for row in rows:
            related = set(json.loads(row.evidence).get("related_principals", []))
            if row.principal_id in principals or related & principals:
                kinds.append(row.kind)
        return sorted(set(kinds))


class Scenario:
    """One attack: installs its actors and timed actions, then reports its `Outcome`."""

    name = ""
    unit = "requests"

    def __init__(self) -> None:
        self.outcome = Outcome(self.name, [], self.unit)
        self.done = False
        self._book: AlertBook | None = None

    @property
    def attackers(self) -> set[str]:
        """Return the principals whose alerts are true positives."""
        return set(self.outcome.attackers)

    def install(self, stage: Stage) -> None:
        """Create the attacker and schedule its first move."""
        del stage
        raise NotImplementedError

    def check(self, attempts: int | None = None) -> None:
        """Note the first alert about an attacker, counting `attempts` so far."""
        if self.outcome.alerted_after is not None or self._book is None:
            return
        kinds = self._book.kinds_about(self.attackers)
        if kinds:
            self.outcome.alerted_after = self.outcome.attempts if attempts is None else attempts
            self.outcome.alert_kinds = kinds

    def finish(self) -> Outcome:
        """Return the outcome, with every alert kind that named an attacker by the end."""
        if self._book is not None and self.outcome.attackers:
            kinds = self._book.kinds_about(self.attackers)
            self.outcome.alert_kinds = sorted(set(self.outcome.alert_kinds) | set(kinds))
            self.outcome.suspended = self._book.suspended(self.attackers)
        return self.outcome


def _suspended(reply: Reply) -> bool:
    return reply.status == 401


class StolenKey(Scenario):
    """A rider's valid key in a scraper's hands, from the scraper's own address."""

    unit = "requests"

    def __init__(self, mode: str, *, max_requests: int = 2000, interval_s: float = 2.0) -> None:
        self.name = f"stolen-key-{mode}"
        super().__init__()
        self.mode = mode
        self.max_requests = max_requests
        self.interval_ms = int(interval_s * 1000)

    def install(self, stage: Stage) -> None:
        """Steal the key of a rider working at the start hour; start scraping."""
        city, workload, scheduler, rng = stage.city, stage.workload, stage.scheduler, stage.rng
        start_ms = stage.start_ms
        self._book = AlertBook(city)
        begin = start_ms + rng.randint(10 * 60, 14 * 60) * MINUTE_MS
        self._rng, self._workload, self._city, self._sched = rng, workload, city, scheduler
        self._counter = rng.getrandbits(64)

        def steal() -> None:
            riders = workload.on_shift(city.riders, scheduler.now_ms) or city.riders
            self.victim = rng.choice([r for r in riders if r.behaviour == "honest"])
            self.outcome.attackers = [self.victim.principal_id]
            self._step()

        scheduler.at(begin, steal)

    def _next_id(self) -> str:
        if self.mode == "sequential":
            self._counter += 1
            body = base64.b32encode(self._counter.to_bytes(16, "big")).decode().rstrip("=")
            return "ord_" + body.lower()
        if self.mode == "legacy":
            self._counter += 1
            return str(10_000_000 + self._counter % 90_000_000)
        if self.mode == "known" and self._workload.recent:
            return self._rng.choice(self._workload.recent)
        return new_id(IdKind.ORDER)

    def _step(self) -> None:
        if self.done:
            return
        reply = self._city.gateway.view_order(self.victim.key, ATTACKER_IP, self._next_id())
        self.outcome.attempts += 1
        if reply.ok:
            self.outcome.leaked += 1
        if _suspended(reply):
            self.outcome.suspended_after = self.outcome.attempts - 1
            self.check(self.outcome.attempts - 1)
            self.done = True
            return
        self.check()
        if self.outcome.attempts >= self.max_requests:
            self.done = True
            return
        self._sched.at(self._sched.now_ms + self.interval_ms, self._step)


class AgentProbing(Scenario):
    """An agent (or its stolen key) trying reveals and views on orders without a ticket."""

    name = "agent-probing"
    unit = "refused attempts"

    def __init__(self, *, max_attempts: int = 200, interval_s: float = 20.0) -> None:
        super().__init__()
        self.max_attempts = max_attempts
        self.interval_ms = int(interval_s * 1000)

    def install(self, stage: Stage) -> None:
        """Turn one day-shift agent; start probing in the afternoon."""
        city, workload, scheduler, rng = stage.city, stage.workload, stage.scheduler, stage.rng
        start_ms = stage.start_ms
        self._book = AlertBook(city)
        self.agent = next(a for a in city.agents if a.shift[0] == 9 * 60)
        self.agent.behaviour = "prober"
        self.outcome.attackers = [self.agent.principal_id]
        self._rng, self._workload, self._city, self._sched = rng, workload, city, scheduler
        self._refused = 0
        scheduler.at(start_ms + rng.randint(13 * 60, 15 * 60) * MINUTE_MS, self._step)

    def _step(self) -> None:
        if self.done or not self._workload.recent:
            return
        order_id = self._rng.choice(self._workload.recent)
        gateway, agent = self._city.gateway, self.agent
        if self.outcome.attempts % 3 == 2:
            reply = gateway.view_order(agent.key, agent.ip, order_id)
        else:
            reply = gateway.reveal(
                agent.key,
                agent.ip,
                order_id,
                fields=["phone"],
                purpose="delivery_failed_contact_customer",
            )
        self.outcome.attempts += 1
        if reply.ok:
            self.outcome.leaked += 1
        elif reply.status in (403, 404):
            self._refused += 1
        if _suspended(reply):
            self.outcome.suspended_after = self._refused
            self.done = True
            return
        self.check(self._refused)
        if self.outcome.attempts >= self.max_attempts:
            self.done = True
            return
        self._sched.at(self._sched.now_ms + self.interval_ms, self._step)

    def finish(self) -> Outcome:
        """Report in refused attempts."""
        self.outcome.attempts = self._refused
        return super().finish()


class FakeRider(Scenario):
    """A rider who registers, takes orders, reads full addresses after pickup, rarely delivers."""

    name = "fake-rider"
    unit = "orders seen in full"

    def __init__(self, *, deliver_share: float = 0.0) -> None:
        super().__init__()
        self.deliver_share = deliver_share

    def install(self, stage: Stage) -> None:
        """Register the rider for a long day shift and listen to its orders."""
        city, workload, rng = stage.city, stage.workload, stage.rng
        self._book = AlertBook(city)
        rider = city.add("rider", "rider-fresh-signup", f"10.250.{rng.randint(0, 250)}.9")
        rider.behaviour = "harvester"
        rider.deliver_share = self.deliver_share
        rider.shift = (9 * 60, 21 * 60)
        city.riders.append(rider)
        self.rider = rider
        self.outcome.attackers = [rider.principal_id]
        workload.listeners.append(self._heard)

    def _heard(self, event: str, order: SimOrder) -> None:
        if order.rider is not self.rider:
            return
        if event == "full_view":
            self.outcome.attempts += 1
            self.outcome.leaked += 1
            self.check()
        elif event == "abandoned":
            self.check()


class Insider(Scenario):
    """An agent revealing phones on tickets they open themselves, just under quota, every day."""

    name = "insider"
    unit = "reveals"

    def __init__(self, *, per_day: int = 9) -> None:
        super().__init__()
        self.per_day = per_day

    def install(self, stage: Stage) -> None:
        """Turn one day-shift agent; schedule its reveals in office hours, every day."""
        city, workload, scheduler, rng = stage.city, stage.workload, stage.scheduler, stage.rng
        start_ms, until_ms = stage.start_ms, stage.until_ms
        self._book = AlertBook(city)
        agents = [a for a in city.agents if a.shift[0] == 9 * 60 and a.behaviour == "honest"]
        self.agent = agents[-1]
        self.agent.behaviour = "insider"
        self.outcome.attackers = [self.agent.principal_id]
        self._rng, self._workload, self._city, self._sched = rng, workload, city, scheduler
        self.start_ms = start_ms
        self.alerted_day: float | None = None
        for day_start in range(start_ms, until_ms, DAY_MS):
            for _ in range(self.per_day):
                when = day_start + rng.randint(10 * 60, 20 * 60) * MINUTE_MS
                scheduler.at(when, self._step)
        for hour in range(start_ms, until_ms, HOUR_MS):
            scheduler.at(hour + HOUR_MS - 1, self._hourly)

    def _step(self) -> None:
        live = [o for o in self._workload.live.values() if o.state == "picked_up"]
        if not live:
            return
        order = self._rng.choice(live)
        gateway, agent = self._city.gateway, self.agent
        opened = gateway.open_ticket(agent.key, agent.ip, order.order_id)
        if not opened.ok:
            return
        ticket_id = opened.body["ticket_id"]
        gateway.view_order(agent.key, agent.ip, order.order_id)
        reply = gateway.reveal(
            agent.key,
            agent.ip,
            order.order_id,
            fields=["phone"],
            purpose="delivery_failed_contact_customer",
            ticket_id=ticket_id,
        )
        if reply.ok:
            self.outcome.attempts += 1
            self.outcome.leaked += 1
        self._sched.at(self._sched.now_ms + 5 * MINUTE_MS, lambda: self._close(ticket_id))
        self.check()

    def _close(self, ticket_id: str) -> None:
        self._city.gateway.close_ticket(self.agent.key, self.agent.ip, ticket_id)

    def _hourly(self) -> None:
        # The peer baseline runs in the periodic sweep: look after each one.
        before = self.outcome.alerted_after
        self.check()
        if before is None and self.outcome.alerted_after is not None:
            self.alerted_day = (self._sched.now_ms - self.start_ms) / DAY_MS

    def finish(self) -> Outcome:
        """Say after how many days, too."""
        outcome = super().finish()
        if self.alerted_day is not None:
            outcome.note = f"alerted on day {self.alerted_day:.1f}"
        elif outcome.alerted_after is not None:
            outcome.note = "alerted inline"
        return outcome


class Colluders(Scenario):
    """Four riders behind one proxy, each abandoning two orders a day after reading them."""

    name = "colluders"
    unit = "abandoned orders"

    def __init__(self, *, members: int = 4, per_day: int = 2) -> None:
        super().__init__()
        self.members = members
        self.per_day = per_day

    def install(self, stage: Stage) -> None:
        """Register the riders, all on the proxy's address."""
        city, workload = stage.city, stage.workload
        self._book = AlertBook(city)
        self.riders: list[Actor] = []
        for n in range(self.members):
            rider = city.add("rider", f"rider-ring-{n}", PROXY_IP)
            rider.behaviour = "colluder"
            rider.harvest_per_day = self.per_day
            rider.shift = (10 * 60, 20 * 60)
            city.riders.append(rider)
            self.riders.append(rider)
        self.outcome.attackers = [r.principal_id for r in self.riders]
        workload.listeners.append(self._heard)

    def _heard(self, event: str, order: SimOrder) -> None:
        if order.rider not in self.riders:
            return
        if event == "abandoned":
            # What the ring harvested: orders read in full and never delivered.
            self.outcome.attempts += 1
            self.outcome.leaked += 1
            self.check()


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "stolen-key-random": lambda: StolenKey("random"),
    "stolen-key-sequential": lambda: StolenKey("sequential"),
    "stolen-key-known": lambda: StolenKey("known"),
    "stolen-key-legacy": lambda: StolenKey("legacy"),
    "agent-probing": AgentProbing,
    "fake-rider": FakeRider,
    "fake-rider-half": lambda: _named(FakeRider(deliver_share=0.5), "fake-rider-half"),
    "insider": Insider,
    "colluders": Colluders,
}


def _named(scenario: Scenario, name: str) -> Scenario:
    scenario.name = name
    scenario.outcome.scenario = name
    return scenario


def scenario_named(name: str) -> Scenario:
    """Return a fresh scenario by name (see `SCENARIOS`)."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise ValueError(f"no scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
