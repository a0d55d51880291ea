"""Rate limits per principal, API key, client address and business flow (the `limits` library).

Storage is in-process memory for the embedded default and Redis when several
Veil processes serve one deployment (``VEIL_REDIS_URL``), so that they enforce
one shared budget. Reveals use the moving window (exact), the other business flows
the sliding-window counter, and the coarse per-principal, per-key and
per-address ceilings a fixed window (one counter each).

A limit that cannot be checked because Redis is down lets the request through
and logs it: detection, suspensions and policies do not depend on Redis, and a
vault that refuses every request when a cache is down would be its own outage.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

from veil.errors import ConfigurationError

__all__ = ["Flow", "RateLimits", "Refusal"]

# Per principal, key and address the limits are coarse ceilings against floods,
# checked on every request: one counter each (fixed window) is enough and costs
# half a sliding window. Business flows get the sliding-window counter; reveals
# the exact moving window.
_COARSE = frozenset({"principal", "api_key", "client_ip", "auth_failures"})

log = logging.getLogger("veil.watch")


class _QuietMemoryStorage(MemoryStorage):
    """The `limits` memory storage without its expiry thread.

    Upstream starts a `threading.Timer` 10 ms after any counter changes, and
    each tick walks every key: a thread start per burst of requests and up to
    a hundred full scans a second, all holding the GIL the requests need. Here
    expired counters are dropped on the request path instead, at most once a
    second. The two hooks are upstream's private methods (limits 5.x); a test
    fails if they move.
    """

    def __init__(self) -> None:
        super().__init__(wrap_exceptions=True)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides upstream's hook
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class Flow(enum.StrEnum):
    """The business flows that get a budget of their own, per principal."""

    VIEWS = "views"
    REVEALS = "reveals"
    LOOKUPS = "lookups"
    ROUTING = "routing"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request over a limit: which scope, which limit, and when to try again."""

    scope: str
    limit: str
    retry_after: int


class RateLimits:
    """Check and consume the limits that apply to one request."""

    def __init__(
        self, table: Mapping[str, str], storage_uri: str = "memory://", *, namespace: str = "veil"
    ) -> None:
        self._parsed: dict[str, tuple[RateLimitItem, ...]] = {}
        for key, text in table.items():
            if text.strip().lower() == "none":
                self._parsed[key] = ()
                continue
            try:
                self._parsed[key] = tuple(parse_many(text))
            except ValueError:
                raise ConfigurationError(
                    f"rate limit {key}={text!r} is not like '100/minute' or '10/second;500/hour'"
                ) from None
        remote = not storage_uri.startswith("memory")
        self._storage: Storage
        if remote:
            self._storage = storage_from_string(  # type: ignore[assignment]
                storage_uri, wrap_exceptions=True, key_prefix=f"{namespace}:limits"
            )
        else:
            self._storage = _QuietMemoryStorage()
        self.remote = remote
        self._moving: RateLimiter = MovingWindowRateLimiter(self._storage)
        self._sliding: RateLimiter = SlidingWindowCounterRateLimiter(self._storage)
        self._fixed: RateLimiter = FixedWindowRateLimiter(self._storage)

    def check(
        self,
        *,
        role: str,
        principal_id: str,
        key_ref: str,
        client_ref: str | None,
        flow: Flow,
    ) -> Refusal | None:
        """Consume one unit of every limit that applies; return the first one exceeded."""
        checks: list[tuple[str, str | None]] = [
            ("principal", principal_id),
            ("api_key", key_ref),
            ("client_ip", client_ref),
        ]
        if flow is not Flow.OTHER:
            checks.append((flow.value, principal_id))
        for scope, identity in checks:
            if identity is None:
                continue
            refusal = self._hit(self._items(role, scope), scope, identity)
            if refusal is not None:
                return refusal
        return None

    def check_failed_authentication(self, client_ref: str | None) -> Refusal | None:
        """Count one failed authentication from a client address; refuse past the limit."""
        if client_ref is None:
            return None
        return self._hit(self._parsed.get("auth_failures", ()), "auth_failures", client_ref)

    def reset(self) -> None:
        """Forget every counter (tests; an operator after a false alarm)."""
        try:
            self._storage.reset()
        except StorageError:  # pragma: no cover - Redis down
            log.warning("rate-limit storage could not be reset")

    def _strategy(self, scope: str) -> RateLimiter:
        if scope == "reveals":
            return self._moving
        if scope in _COARSE:
            return self._fixed
        return self._sliding

    def _items(self, role: str, scope: str) -> tuple[RateLimitItem, ...]:
        specific = self._parsed.get(f"{role}.{scope}")
        return specific if specific is not None else self._parsed.get(scope, ())

    def _hit(self, items: tuple[RateLimitItem, ...], scope: str, identity: str) -> Refusal | None:
        limiter = self._strategy(scope)
        for item in items:
            try:
                allowed = limiter.hit(item, scope, identity)
                if allowed:
                    continue
                stats = limiter.get_window_stats(item, scope, identity)
            except StorageError:
                log.warning("rate-limit storage unavailable; %s not enforced", scope)
                return None
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            # A moving window's reset is when the oldest hit leaves it; the
            # sliding counter's can lie beyond one window, which no caller needs.
            wait = min(wait, int(item.get_expiry()))
            return Refusal(scope, str(item), wait)
        return None
