"""Sliding-window counters per principal: in process memory, or in Redis across processes.

Three shapes cover every signal:

* a *windowed set*: distinct members (order ids) with the last time each was
  seen; `count` says how many were seen since a moment;
* a *memo*: one value under a key for a while (who saw an order's full address);
* a *tally*: named integer counters under a key (a principal's usage today).

Times are the audit events' times (the vault's clock), never the wall clock,
so the simulator can run a day in minutes and tests can stand at a window's
edge. Redis writes are pipelined and sent before the next read or at `flush`.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import Any, Protocol, runtime_checkable

__all__ = ["MemorySignals", "RedisSignals", "SignalStore"]


@runtime_checkable
class SignalStore(Protocol):
    """Where the watch keeps its sliding windows."""

    def mark(self, key: str, member: str, at_ms: int, keep_ms: int) -> None:
        """Record `member` as seen at `at_ms` in the windowed set `key`, kept `keep_ms`."""
        ...

    def count(self, key: str, since_ms: int) -> int:
        """Return how many distinct members of `key` were seen at or after `since_ms`."""
        ...

    def members(self, key: str, since_ms: int, limit: int) -> list[str]:
        """Return up to `limit` members of `key` seen at or after `since_ms`, newest first."""
        ...

    def remember(self, key: str, value: str, at_ms: int, keep_ms: int) -> None:
        """Keep `value` under `key` until `at_ms + keep_ms`."""
        ...

    def recall(self, key: str, at_ms: int) -> str | None:
        """Return the value kept under `key`, if it has not expired at `at_ms`."""
        ...

    def add(self, key: str, field: str, amount: int, keep_ms: int) -> None:
        """Add `amount` to the counter `field` of the tally `key`."""
        ...

    def tally(self, key: str) -> dict[str, int]:
        """Return every counter of the tally `key`."""
        ...

    def flush(self) -> None:
        """Send buffered writes (Redis); nothing to do in memory."""
        ...


class MemorySignals:
    """Signals in this process's memory: the embedded default (one Veil process)."""

    # Every this many writes, drop keys whose newest entry has expired.
    _SWEEP_EVERY = 50_000

    def __init__(self) -> None:
        self._sets: dict[str, OrderedDict[str, int]] = {}
        self._set_keep: dict[str, int] = {}
        self._memos: dict[str, tuple[str, int]] = {}
        self._tallies: dict[str, Counter[str]] = {}
        self._tally_until: dict[str, int] = {}
        self._writes = 0
        self._latest_ms = 0
        self._lock = threading.Lock()

    def mark(self, key: str, member: str, at_ms: int, keep_ms: int) -> None:
        """Record `member` as seen at `at_ms` in the windowed set `key`, kept `keep_ms`."""
        with self._lock:
            entries = self._sets.get(key)
            if entries is None:
                entries = self._sets[key] = OrderedDict()
            self._set_keep[key] = max(keep_ms, self._set_keep.get(key, 0))
            if member in entries:
                entries.move_to_end(member)
                at_ms = max(at_ms, entries[member])
            entries[member] = at_ms
            horizon = at_ms - self._set_keep[key]
            while entries:
                oldest = next(iter(entries.values()))
                if oldest >= horizon:
                    break
                entries.popitem(last=False)
            self._wrote(at_ms)

    def count(self, key: str, since_ms: int) -> int:
        """Return how many distinct members of `key` were seen at or after `since_ms`."""
        with self._lock:
            entries = self._sets.get(key)
            if not entries:
                return 0
            seen = 0
            for at_ms in reversed(entries.values()):
                if at_ms < since_ms:
                    break
                seen += 1
            return seen

    def members(self, key: str, since_ms: int, limit: int) -> list[str]:
        """Return up to `limit` members of `key` seen at or after `since_ms`, newest first."""
        with self._lock:
            found: list[str] = []
            for member, at_ms in reversed((self._sets.get(key) or {}).items()):
                if at_ms < since_ms or len(found) >= limit:
                    break
                found.append(member)
            return found

    def remember(self, key: str, value: str, at_ms: int, keep_ms: int) -> None:
        """Keep `value` under `key` until `at_ms + keep_ms`."""
        with self._lock:
            self._memos[key] = (value, at_ms + keep_ms)
            self._wrote(at_ms)

    def recall(self, key: str, at_ms: int) -> str | None:
        """Return the value kept under `key`, if it has not expired at `at_ms`."""
        with self._lock:
            kept = self._memos.get(key)
        if kept is None or kept[1] < at_ms:
            return None
        return kept[0]

    def add(self, key: str, field: str, amount: int, keep_ms: int) -> None:
        """Add `amount` to the counter `field` of the tally `key`."""
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = Counter()
                self._tally_until[key] = self._latest_ms + keep_ms
            tally[field] += amount
            self._wrote(self._latest_ms)

    def tally(self, key: str) -> dict[str, int]:
        """Return every counter of the tally `key`."""
        with self._lock:
            return dict(self._tallies.get(key) or {})

    def flush(self) -> None:
        """Nothing is buffered in memory."""

    def _wrote(self, at_ms: int) -> None:
        # Called with the lock held.
        self._latest_ms = max(self._latest_ms, at_ms)
        self._writes += 1
        if self._writes % self._SWEEP_EVERY:
            return
        now = self._latest_ms
        for key in [k for k, v in self._sets.items() if not v]:
            del self._sets[key]
            self._set_keep.pop(key, None)
        for key, entries in list(self._sets.items()):
            if next(reversed(entries.values())) < now - self._set_keep.get(key, 0):
                del self._sets[key]
                self._set_keep.pop(key, None)
        for key in [k for k, (_, until) in self._memos.items() if until < now]:
            del self._memos[key]
        for key in [k for k, until in self._tally_until.items() if until < now]:
            self._tallies.pop(key, None)
            del self._tally_until[key]


class RedisSignals:
    """Signals in Redis, shared by every Veil process of a deployment.

    Windowed sets are sorted sets scored by time; memos are plain keys with a
    TTL; tallies are hashes. Writes go into a pipeline sent before the next read
    or at `flush`, so a batch of observations costs one round trip. Callers
    serialize access (the watch processes observations under one lock).
    """

    def __init__(self, client: Any, *, namespace: str = "veil") -> None:
        self._client = client
        self._prefix = f"{namespace}:sig:"
        self._pipe: Any = client.pipeline(transaction=False)
        self._pending = 0

    def mark(self, key: str, member: str, at_ms: int, keep_ms: int) -> None:
        """Record `member` as seen at `at_ms` in the windowed set `key`, kept `keep_ms`."""
        name = self._prefix + key
        # GT: a late-arriving older time never moves a member back.
        self._pipe.zadd(name, {member: at_ms}, gt=True)
        self._pipe.zremrangebyscore(name, "-inf", f"({at_ms - keep_ms}")
        self._pipe.pexpire(name, keep_ms + 60_000)
        self._pending += 1

    def count(self, key: str, since_ms: int) -> int:
        """Return how many distinct members of `key` were seen at or after `since_ms`."""
        self.flush()
        return int(self._client.zcount(self._prefix + key, since_ms, "+inf"))

    def members(self, key: str, since_ms: int, limit: int) -> list[str]:
        """Return up to `limit` members of `key` seen at or after `since_ms`, newest first."""
        self.flush()
        found = self._client.zrevrangebyscore(
            self._prefix + key, "+inf", since_ms, start=0, num=limit
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    def remember(self, key: str, value: str, at_ms: int, keep_ms: int) -> None:
        """Keep `value` under `key` for `keep_ms` (Redis's own clock expires it)."""
        del at_ms
        self._pipe.set(self._prefix + key, value, px=keep_ms)
        self._pending += 1

    def recall(self, key: str, at_ms: int) -> str | None:
        """Return the value kept under `key`, if Redis still holds it."""
        del at_ms
        self.flush()
        value = self._client.get(self._prefix + key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def add(self, key: str, field: str, amount: int, keep_ms: int) -> None:
        """Add `amount` to the counter `field` of the tally `key`."""
        name = self._prefix + key
        self._pipe.hincrby(name, field, amount)
        self._pipe.pexpire(name, keep_ms)
        self._pending += 1

    def tally(self, key: str) -> dict[str, int]:
        """Return every counter of the tally `key`."""
        self.flush()
        raw = self._client.hgetall(self._prefix + key)
        return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}

    def flush(self) -> None:
        """Send the buffered writes in one round trip."""
        if self._pending:
            self._pending = 0
            self._pipe.execute()
