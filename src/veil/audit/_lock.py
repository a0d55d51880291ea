"""The integrator lock: exactly one integrator extends a log at a time.

PostgreSQL: a session-level advisory lock, keyed by the log's origin and held
by the integrator's own connection, on which it also does all its writes. If
the connection dies the lock goes with it, and so do the writes.

SQLite has no advisory locks: a lease row (``audit_leases``) with an expiry,
taken in a ``BEGIN IMMEDIATE`` transaction, renewed inside every integrator
write transaction (which fails if the lease was lost) and at least every third
of its lifetime while idle. An integrator that dies without releasing it is
replaced once the lease expires.

A second integrator polls `IntegratorLock.try_acquire` until the lock is free.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from sqlalchemy import Connection

from veil.audit._store import driver_execute, driver_update
from veil.clock import Clock, to_epoch_ms
from veil.errors import Conflict

__all__ = ["AdvisoryLock", "IntegratorLock", "IntegratorLockLost", "LeaseLock"]


class IntegratorLockLost(Conflict):
    """The integrator no longer holds the log's lock (its lease expired or was taken)."""

    code = "integrator_lock_lost"


class IntegratorLock(Protocol):
    """The log's integrator lock: at most one holder per log."""

    def try_acquire(self, connection: Connection) -> str | None:
        """Take the lock on `connection` if free; return None, or who holds it."""
        ...

    def confirm(self, connection: Connection) -> None:
        """Inside a write transaction: raise `IntegratorLockLost` unless still held."""
        ...

    def keep_alive(self, connection: Connection) -> None:
        """Between writes: renew the lock if it would expire."""
        ...

    def release(self, connection: Connection) -> None:
        """Give the lock up."""
        ...


class AdvisoryLock:
    """PostgreSQL: a session advisory lock; it lives and dies with the integrator's connection."""

    def __init__(self, origin: str) -> None:
        digest = hashlib.sha256(b"veil-audit-integrator\n" + origin.encode("utf-8")).digest()
        self._key = int.from_bytes(digest[:8], "big", signed=True)

    def try_acquire(self, connection: Connection) -> str | None:
        with connection.begin():
            [(got,)] = driver_execute(connection, "SELECT pg_try_advisory_lock(?)", (self._key,))
            if got:
                return None
            holders = driver_execute(
                connection,
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = ?",
                (self._key,),
            )
        pids = ", ".join(str(pid) for (pid,) in holders) or "another session"
        return f"PostgreSQL advisory lock {self._key} held by backend {pids}"

    def confirm(self, connection: Connection) -> None:
        # The writes run on the very session that holds the lock: if it was
        # lost, the connection is gone and the write fails.
        return

    def keep_alive(self, connection: Connection) -> None:
        return

    def release(self, connection: Connection) -> None:
        with connection.begin():
            driver_execute(connection, "SELECT pg_advisory_unlock(?)", (self._key,))


class LeaseLock:
    """SQLite: a lease row with an expiry, taken and renewed inside write transactions."""

    def __init__(self, origin: str, holder: str, clock: Clock, seconds: float) -> None:
        self._origin = origin
        self._holder = holder
        self._clock = clock
        self._ms = int(seconds * 1000)
        self._renewed_ms = 0

    def try_acquire(self, connection: Connection) -> str | None:
        now = to_epoch_ms(self._clock.now())
        with connection.begin():
            rows = driver_execute(
                connection,
                "SELECT holder, expires_ms FROM audit_leases WHERE origin = ?",
                (self._origin,),
            )
            if rows and rows[0][0] != self._holder and rows[0][1] > now:
                return f"lease held by {rows[0][0]} until {rows[0][1]} ms"
            if rows:
                driver_update(
                    connection,
                    "UPDATE audit_leases SET holder = ?, expires_ms = ? WHERE origin = ?",
                    (self._holder, now + self._ms, self._origin),
                )
            else:
                driver_update(
                    connection,
                    "INSERT INTO audit_leases (origin, holder, expires_ms) VALUES (?, ?, ?)",
                    (self._origin, self._holder, now + self._ms),
                )
        self._renewed_ms = now
        return None

    def confirm(self, connection: Connection) -> None:
        now = to_epoch_ms(self._clock.now())
        renewed = driver_update(
            connection,
            "UPDATE audit_leases SET expires_ms = ?"
            " WHERE origin = ? AND holder = ? AND expires_ms > ?",
            (now + self._ms, self._origin, self._holder, now),
        )
        if renewed != 1:
            raise IntegratorLockLost(
                f"the integrator lease on {self._origin} expired or was taken over"
            )
        self._renewed_ms = now

    def keep_alive(self, connection: Connection) -> None:
        if to_epoch_ms(self._clock.now()) - self._renewed_ms >= self._ms // 3:
            with connection.begin():
                self.confirm(connection)

    def release(self, connection: Connection) -> None:
        with connection.begin():
            driver_update(
                connection,
                "DELETE FROM audit_leases WHERE origin = ? AND holder = ?",
                (self._origin, self._holder),
            )
