"""A realistic day of orders, as a discrete-event simulation over the city's actors.

Orders arrive in the lunch and dinner peaks; the platform accepts them,
assigns an on-shift rider (who sometimes declines), the merchant's tablet
shows them, the rider opens the order before and after pickup, and most are
delivered. The noise honest people make is there too: cancellations before
and after pickup, reassignments, riders re-opening an order after its window
closed, support tickets with refund checks and calls to customers (a few of
them on tickets agents opened themselves), agents retrying a reveal after the
ticket closed, analysts pulling their tables.

Every act goes through `Gateway`, so it is authenticated, rate-limited,
decided, audited and watched like an HTTP request.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from veil.sim._city import DAY_MS, HOUR_MS, MINUTE_MS, Actor, SimCity
from veil.testing import FixedClock
from veil.vault import OrderSpec

__all__ = ["Scheduler", "SimOrder", "Workload"]

# Relative order volume by local hour: lunch and dinner peaks, quiet nights.
_HOURLY = (
    0.5, 0.3, 0.2, 0.1, 0.1, 0.2, 0.5, 1.2, 1.5, 1.2, 1.5, 3.5,
    4.0, 2.5, 1.2, 1.0, 1.5, 3.5, 4.0, 3.0, 2.0, 1.5, 1.2, 0.8,
)  # fmt: skip
ORDERS_PER_RIDER_DAY = 10
P_CANCEL_EARLY = 0.02
P_DECLINE = 0.05
P_CANCEL_LATE = 0.015
P_TICKET_AFTER = 0.025
P_TICKET_LIVE = 0.01
P_TICKET_SELF = 0.003
MAX_ACTIVE = 3


class Scheduler:
    """A clock and a queue of timed actions; running it moves the clock to each action."""

    def __init__(self, clock: FixedClock, start_ms: int) -> None:
        self.clock = clock
        self.now_ms = start_ms
        self._queue: list[tuple[int, int, Callable[[], object]]] = []
        self._seq = itertools.count()

    def at(self, when_ms: int, action: Callable[[], object]) -> None:
        """Run `action` at `when_ms` (never in the past)."""
        heapq.heappush(self._queue, (max(when_ms, self.now_ms), next(self._seq), action))

    def run(self, until_ms: int) -> None:
        """Run every action due before `until_ms`, in time order."""
        while self._queue and self._queue[0][0] < until_ms:
            when, _, action = heapq.heappop(self._queue)
            self.now_ms = when
            self.clock.set(dt.datetime.fromtimestamp(when / 1000, tz=dt.UTC))
            action()
        self.now_ms = until_ms


@dataclass
class SimOrder:
    """What the simulation remembers about one order."""

    order_id: str
    subject_id: str
    merchant: Actor
    rider: Actor | None = None
    state: str = "created"


# Events the attack scenarios listen to: ("full_view" | "abandoned" | "delivered", order).
Listener = Callable[[str, SimOrder], None]


class Workload:
    """The honest city's day, scheduled on a `Scheduler`."""

    def __init__(
        self,
        city: SimCity,
        scheduler: Scheduler,
        rng: random.Random,
        *,
        utc_offset_hours: int = 8,
    ) -> None:
        self.city = city
        self.sched = scheduler
        self.rng = rng
        self.offset_ms = utc_offset_hours * HOUR_MS
        self.gateway = city.gateway
        self.recent: deque[str] = deque(maxlen=5000)
        self.live: dict[str, SimOrder] = {}
        self.listeners: list[Listener] = []
        self.orders = 0
        self.delivered = 0

    # ---- time

    def local_minute(self, at_ms: int) -> int:
        """Return minutes after local midnight at `at_ms`."""
        return int(((at_ms + self.offset_ms) % DAY_MS) // MINUTE_MS)

    def local_day(self, at_ms: int) -> int:
        """Return the local day number of `at_ms`."""
        return int((at_ms + self.offset_ms) // DAY_MS)

    def on_shift(self, actors: list[Actor], at_ms: int) -> list[Actor]:
        """Return the actors working at `at_ms`."""
        minute = self.local_minute(at_ms)
        return [a for a in actors if a.on_shift(minute)]

    def _later(self, low_s: float, high_s: float) -> int:
        return self.sched.now_ms + int(self.rng.uniform(low_s, high_s) * 1000)

    # ---- the day

    def plan(self, start_ms: int, until_ms: int) -> None:
        """Schedule order arrivals every five minutes, and the analysts' exports."""
        per_day = len(self.city.riders) * ORDERS_PER_RIDER_DAY
        total = sum(_HOURLY)
        for tick in range(start_ms, until_ms, 5 * MINUTE_MS):
            hour = self.local_minute(tick) // 60
            expected = per_day * _HOURLY[hour] / total / 12
            self.sched.at(tick, functools.partial(self._arrive, self._poisson(expected)))
        # `start_ms` is a local midnight: office hours are minutes after it.
        for day_start in range(start_ms, until_ms, DAY_MS):
            for analyst in self.city.analysts:
                for _ in range(3):
                    when = day_start + self.rng.randint(9 * 60, 17 * 60) * MINUTE_MS
                    if when < until_ms:
                        self.sched.at(when, functools.partial(self._export, analyst))

    def _poisson(self, mean: float) -> int:
        # Knuth's method: fine for the small means of a five-minute tick.
        if mean > 30:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, k, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            k += 1
            product *= self.rng.random()
        return k

    def _arrive(self, count: int) -> None:
        if count <= 0:
            return
        city, rng = self.city, self.rng
        merchants = [rng.choice(city.merchants) for _ in range(count)]
        specs = [
            OrderSpec(
                subject_id=rng.choice(city.subjects),
                merchant_id=m.principal_id,
                note=rng.choice([None, None, "不要辣", "放门口就行", "到了打电话"]),
            )
            for m in merchants
        ]
        reply = self.gateway.create_orders(city.service.key, city.service.ip, specs)
        if not reply.ok:
            return
        for order_id, spec, merchant in zip(reply.body, specs, merchants, strict=True):
            order = SimOrder(order_id, spec.subject_id, merchant)
            self.orders += 1
            self.recent.append(order_id)
            self.live[order_id] = order
            self.sched.at(self._later(30, 90), functools.partial(self._accept, order))

    def _event(self, order: SimOrder, event: str, rider: Actor | None = None) -> bool:
        service = self.city.service
        reply = self.gateway.order_event(
            service.key,
            service.ip,
            order.order_id,
            event,
            rider_id=rider.principal_id if rider else None,
        )
        return reply.ok

    def _view(self, actor: Actor, order: SimOrder) -> bool:
        return self.gateway.view_order(actor.key, actor.ip, order.order_id).ok

    def _accept(self, order: SimOrder) -> None:
        if not self._event(order, "accept"):
            return
        order.state = "accepted"
        self.sched.at(self._later(30, 120), lambda: self._view(order.merchant, order))
        if self.rng.random() < P_CANCEL_EARLY:
            self.sched.at(self._later(60, 300), lambda: self._cancel(order))
            return
        self.sched.at(self._later(60, 180), lambda: self._assign(order))

    def _pick_rider(self, exclude: Actor | None = None) -> Actor | None:
        free = [
            r
            for r in self.on_shift(self.city.riders, self.sched.now_ms)
            if r.active < MAX_ACTIVE and r is not exclude
        ]
        return self.rng.choice(free) if free else None

    def _assign(self, order: SimOrder, previous: Actor | None = None) -> None:
        if order.state not in ("accepted", "rider_assigned"):
            return
        rider = self._pick_rider(exclude=previous)
        if rider is None:
            self._cancel(order)
            return
        if not self._event(order, "assign", rider):
            return
        if previous is not None:
            previous.active -= 1
        order.rider, order.state = rider, "rider_assigned"
        rider.active += 1
        self.sched.at(self._later(20, 60), lambda: self._view(rider, order))
        subject_customer = self.city.customers.get(order.subject_id)
        if subject_customer is not None and self.rng.random() < 0.5:
            self.sched.at(self._later(60, 600), lambda: self._view(subject_customer, order))
        if previous is None and rider.behaviour == "honest" and self.rng.random() < P_DECLINE:
            # The rider declines; the platform hands the order to another one,
            # and now and then the first rider's app opens it once more (403).
            def decline() -> None:
                self._assign(order, previous=rider)
                if self.rng.random() < 0.3:
                    self.sched.at(self._later(10, 120), lambda: self._view(rider, order))

            self.sched.at(self._later(60, 180), decline)
            return
        self.sched.at(self._later(8 * 60, 15 * 60), lambda: self._pickup(order))

    def _pickup(self, order: SimOrder) -> None:
        if order.state != "rider_assigned" or order.rider is None:
            return
        if not self._event(order, "pickup"):
            return
        order.state = "picked_up"
        rider = order.rider

        def look() -> None:
            if self._view(rider, order):
                for listener in self.listeners:
                    listener("full_view", order)

        self.sched.at(self._later(10, 40), look)
        if self.rng.random() < 0.5:
            self.sched.at(self._later(5 * 60, 10 * 60), lambda: self._view(rider, order))
        if self.rng.random() < P_TICKET_LIVE:
            self.sched.at(self._later(3 * 60, 8 * 60), lambda: self._live_ticket(order))
        if self.rng.random() < P_TICKET_SELF:
            self.sched.at(self._later(2 * 60, 5 * 60), lambda: self._self_ticket(order))
        if self._abandons(rider):
            self.sched.at(self._later(5 * 60, 20 * 60), lambda: self._cancel(order))
        else:
            self.sched.at(self._later(8 * 60, 25 * 60), lambda: self._deliver(order))

    def _abandons(self, rider: Actor) -> bool:
        if rider.behaviour == "harvester":
            return self.rng.random() >= rider.deliver_share
        if rider.behaviour == "colluder":
            day = self.local_day(self.sched.now_ms)
            if rider.harvested.get(day, 0) < rider.harvest_per_day and self.rng.random() < 0.5:
                rider.harvested[day] = rider.harvested.get(day, 0) + 1
                return True
            return False
        return self.rng.random() < P_CANCEL_LATE

    def _deliver(self, order: SimOrder) -> None:
        if order.state != "picked_up" or not self._event(order, "deliver"):
            return
        order.state = "delivered"
        self.delivered += 1
        self.live.pop(order.order_id, None)
        rider = order.rider
        if rider is not None:
            rider.active -= 1
            for listener in self.listeners:
                listener("delivered", order)
            if self.rng.random() < 0.15:
                self.sched.at(self._later(2 * 60, 10 * 60), lambda: self._view(rider, order))
            if self.rng.random() < 0.03:
                self.sched.at(self._later(20 * 60, 60 * 60), lambda: self._view(rider, order))
        if self.rng.random() < P_TICKET_AFTER:
            self.sched.at(self._later(10 * 60, 90 * 60), lambda: self._refund_ticket(order))

    def _cancel(self, order: SimOrder) -> None:
        if order.state in ("delivered", "cancelled") or not self._event(order, "cancel"):
            return
        was_picked_up = order.state == "picked_up"
        order.state = "cancelled"
        self.live.pop(order.order_id, None)
        if order.rider is not None:
            order.rider.active -= 1
            if was_picked_up:
                for listener in self.listeners:
                    listener("abandoned", order)

    # ---- support

    def _agent(self) -> Actor | None:
        agents = self.on_shift(self.city.agents, self.sched.now_ms)
        honest = [a for a in agents if a.behaviour == "honest"]
        return self.rng.choice(honest) if honest else None

    def _refund_ticket(self, order: SimOrder) -> None:
        agent = self._agent()
        if agent is None:
            return
        service = self.city.service
        reply = self.gateway.open_ticket(
            service.key, service.ip, order.order_id, agent_id=agent.principal_id
        )
        if not reply.ok:
            return
        ticket_id = reply.body["ticket_id"]
        self.sched.at(self._later(60, 180), lambda: self._view(agent, order))
        if self.rng.random() < 0.5:
            self.sched.at(
                self._later(180, 360),
                lambda: self._reveal(agent, order, ticket_id, ["name", "address"], "refund"),
            )
        close_after = self._later(10 * 60, 30 * 60)
        self.sched.at(close_after, lambda: self._close(agent, ticket_id))
        if self.rng.random() < 0.05:
            # An agent retries a reveal after the ticket was closed: refused.
            self.sched.at(
                close_after + 120_000,
                lambda: self._reveal(agent, order, ticket_id, ["name", "address"], "refund"),
            )

    def _live_ticket(self, order: SimOrder) -> None:
        agent = self._agent()
        if agent is None or order.state != "picked_up":
            return
        service = self.city.service
        reply = self.gateway.open_ticket(
            service.key, service.ip, order.order_id, agent_id=agent.principal_id
        )
        if not reply.ok:
            return
        ticket_id = reply.body["ticket_id"]
        self.sched.at(
            self._later(30, 120),
            lambda: self._reveal(agent, order, ticket_id, ["phone"], "contact"),
        )
        self.sched.at(self._later(20 * 60, 40 * 60), lambda: self._close(agent, ticket_id))

    def _self_ticket(self, order: SimOrder) -> None:
        # A rider phones support; the agent opens a ticket for themselves.
        agent = self._agent()
        if agent is None or order.state != "picked_up":
            return
        reply = self.gateway.open_ticket(agent.key, agent.ip, order.order_id)
        if not reply.ok:
            return
        ticket_id = reply.body["ticket_id"]
        self.sched.at(self._later(30, 90), lambda: self._view(agent, order))
        self.sched.at(self._later(10 * 60, 20 * 60), lambda: self._close(agent, ticket_id))

    def _reveal(
        self, agent: Actor, order: SimOrder, ticket_id: str, fields: list[str], why: str
    ) -> bool:
        purpose = "refund_verification" if why == "refund" else "delivery_failed_contact_customer"
        reply = self.gateway.reveal(
            agent.key,
            agent.ip,
            order.order_id,
            fields=fields,
            purpose=purpose,
            ticket_id=ticket_id,
        )
        return reply.ok

    def _close(self, agent: Actor, ticket_id: str) -> None:
        self.gateway.close_ticket(agent.key, agent.ip, ticket_id)

    def _export(self, analyst: Actor) -> None:
        until = dt.datetime.fromtimestamp(self.sched.now_ms / 1000, tz=dt.UTC)
        self.gateway.analytics(analyst.key, analyst.ip, until - dt.timedelta(days=1), until)
