"""The built-in provider: a fake telco in memory, for the demo, the tests and the benchmarks.

It keeps the bindings it is told about, like a real provider would, and it
produces the callbacks a real telco sends when someone dials a virtual number:
a routing request when the call comes in, a call report when it ends. Real
telcos send those more than once and out of order; `deliveries` does the same,
from an injected random generator so that a test can replay it.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass

from veil.numbers._providers import BindRequest, CallReport, ProviderBinding

__all__ = ["RouteEvent", "SimulatedTelco"]


@dataclass(frozen=True, slots=True)
class RouteEvent:
    """The telco asks: someone (`caller`) dialled `called_x`; whom do I connect?"""

    provider_event_id: str
    call_id: str
    caller: str
    called_x: str
    kind: str = "call"


@dataclass(frozen=True, slots=True)
class _Held:
    x_number: str
    expires_ms: int
    reference: str


class SimulatedTelco:
    """A `NumberProvider` that lives in memory and can place calls."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # noqa: S311 - event ids and shuffles, not secrets
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._refs = itertools.count(1)
        self._events = itertools.count(1)
        self.unbind_calls = 0

    @property
    def name(self) -> str:
        """Return ``simulator``."""
        return "simulator"

    def bind(self, request: BindRequest) -> ProviderBinding:
        """Hold the binding in memory and return a simulator reference."""
        with self._lock:
            ref = f"sim-{next(self._refs)}"
            # The real numbers are not kept: the simulator never needs them back.
            self._held[ref] = _Held(request.x_number, request.expires_ms, request.reference)
        return ProviderBinding(ref, request.x_number)

    def unbind(self, provider_ref: str, x_number: str) -> None:
        """Forget a binding (idempotent)."""
        with self._lock:
            self.unbind_calls += 1
            self._held.pop(provider_ref, None)

    def holds(self, provider_ref: str) -> bool:
        """Tell whether the telco still holds a binding."""
        with self._lock:
            return provider_ref in self._held

    @property
    def held_count(self) -> int:
        """Return how many bindings the telco holds."""
        with self._lock:
            return len(self._held)

    def dial(self, caller: str, called_x: str, *, kind: str = "call") -> RouteEvent:
        """Someone dials a virtual number: return the routing request the telco would send."""
        event = next(self._events)
        token = f"{self._rng.getrandbits(48):012x}"
        return RouteEvent(
            f"sim-evt-{event}-{token}", f"sim-call-{event}-{token}", caller, called_x, kind
        )

    def hang_up(self, call: RouteEvent, *, started_ms: int | None, ended_ms: int) -> CallReport:
        """The call ended: return the call report the telco would send (no content)."""
        return CallReport(f"{call.provider_event_id}-report", call.call_id, started_ms, ended_ms)

    def deliveries(
        self,
        events: list[RouteEvent | CallReport],
        *,
        duplicates: int = 0,
        shuffle: bool = False,
    ) -> list[RouteEvent | CallReport]:
        """Return the callbacks as a real telco delivers them: repeated, and maybe reordered."""
        delivered = [event for event in events for _ in range(1 + duplicates)]
        if shuffle:
            self._rng.shuffle(delivered)
        return delivered
