"""The integrator: turns new audit events into Merkle leaves and signs checkpoints.

One integrator runs per log. It takes the log's database lock first (a second
one waits for it), then loops:

1. read events not yet in the tree, in batches (outside any write transaction);
2. append their leaf hashes to the tree and record leaf → ``seq`` in one short
   write transaction, after checking it still holds the lock;
3. at the end of a round in which the tree grew, at most once a second, sign a
   C2SP checkpoint, store it, and append it to the witness directory with a
   consistency proof from the last witnessed checkpoint.

A round comes every second (at once while a backlog remains) and integrates
for at most about a second, so a checkpoint covers an event within about two.

Which events are new. SQLite has one writer, so events become visible in
``seq`` order. On PostgreSQL a transaction holding a smaller ``seq`` can
commit after one holding a larger, so the integrator never assumes that
everything below the largest integrated ``seq`` (the head) is done:

* new events are those above the head;
* every ``seq`` skipped below the head is a *gap*: rolled back, or still in
  flight. Gaps are looked up again every round for `settle_seconds` and
  integrated when they commit;
* on PostgreSQL, a scrub walks the whole table in chunks, round after round, with an
  anti-join against ``audit_leaves``; it starts with the newest window of
  ``seq``. An event whose transaction stayed open longer than the settle time
  is integrated when the scrub reaches it. No committed event is ever skipped.

Leaves are in integration order, not ``seq`` order; ``audit_leaves`` records the
mapping, and ``audit_events`` rows are never touched.

The lock (`veil.audit._lock`): a PostgreSQL advisory lock, or a lease row on
SQLite. The tree's primary keys refuse a second writer's nodes anyway.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from veil.audit._canonical import EVENT_FIELDS, canonical_event_values
from veil.audit._checkpoint import Checkpoint, sign_checkpoint
from veil.audit._lock import AdvisoryLock, IntegratorLock, IntegratorLockLost, LeaseLock
from veil.audit._merkle import append_leaves, consistency_proof, root_hash
from veil.audit._store import (
    DatabaseNodeStore,
    driver_executemany,
    driver_read,
)
from veil.audit._witness import (
    WitnessConflict,
    append_witness_checkpoint,
    latest_witness_checkpoint,
)
from veil.clock import Clock, SystemClock, to_epoch_ms
from veil.crypto import NoteSigner

__all__ = ["BackgroundIntegrator", "IntegrationRound", "Integrator"]

log = logging.getLogger("veil.audit")

_COLUMNS = ", ".join(EVENT_FIELDS)
_NEW_EVENTS = f"SELECT {_COLUMNS} FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?"  # noqa: S608
_UNINTEGRATED = (
    f"SELECT {_COLUMNS} FROM audit_events e WHERE e.seq > ? AND e.seq <= ?"  # noqa: S608
    " AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.seq = e.seq) ORDER BY e.seq LIMIT ?"
)
# Gaps looked up per query; more wait for the next round.
_GAP_LOOKUPS = 500
# Gaps remembered at once; beyond this the scrub finds the rest.
_MAX_GAPS = 100_000
# How many ``seq`` values one scrub step covers, and how far back it starts.
_SCRUB_CHUNK = 20_000
_SCRUB_START_WINDOW = 100_000


@dataclass(frozen=True, slots=True)
class IntegrationRound:
    """What one round did.

    Attributes:
        integrated: Events appended to the tree.
        tree_size: The tree size afterwards.
        checkpoint: The checkpoint signed at the end of the round, if the tree grew.
        more: True if the round stopped with events still waiting.
    """

    integrated: int
    tree_size: int
    checkpoint: Checkpoint | None
    more: bool


class Integrator:
    """Integrates one log's events into its Merkle tree and signs its checkpoints.

    Args:
        engine: The database (the vault's engine inside ``veil serve``).
        signer: The log's checkpoint-signing key.
        origin: The log's C2SP origin line, e.g. ``veil.example/audit``.
        witness_dir: Where checkpoints are also appended; None to skip (tests only).
        clock: Checkpoint timestamps and, on SQLite, lease expiry.
        batch_size: Events read per batch.
        write_chunk: Events per write transaction. Writers on SQLite (every
            view appends its audit row) queue behind each of these, so they stay
            short: ~200 events hold the write lock for a few milliseconds.
        round_seconds: Longest a round integrates before it signs a checkpoint.
        checkpoint_seconds: Least time between two checkpoints (one signature,
            one witness fsync and one database write each).
        settle_seconds: How long a gap below the head is looked up every round.
        lease_seconds: How long a SQLite lease outlives its last renewal.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        signer: NoteSigner,
        origin: str,
        witness_dir: Path | None,
        clock: Clock | None = None,
        batch_size: int = 5_000,
        write_chunk: int = 200,
        round_seconds: float = 1.0,
        checkpoint_seconds: float = 1.0,
        settle_seconds: float = 60.0,
        lease_seconds: float = 15.0,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._origin = origin
        self._witness_dir = witness_dir
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._write_chunk = max(1, write_chunk)
        self._round_seconds = round_seconds
        self._checkpoint_seconds = checkpoint_seconds
        self._checkpointed_at = float("-inf")
        self._settle_seconds = settle_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._sqlite = engine.dialect.name == "sqlite"
        self._lock: IntegratorLock = (
            LeaseLock(origin, self.holder, self._clock, lease_seconds)
            if self._sqlite
            else AdvisoryLock(origin)
        )
        self._connection: Connection | None = None
        self._started = False
        self._tree_size = 0
        self._head = 0
        self._gaps: dict[int, float] = {}
        self._scrub_from = 0
        self._checkpoint_size = -1

    @property
    def origin(self) -> str:
        """Return the log's origin."""
        return self._origin

    @property
    def tree_size(self) -> int:
        """Return the tree size after the last round."""
        return self._tree_size

    @property
    def holds_lock(self) -> bool:
        """Tell whether this integrator holds the log's lock."""
        return self._connection is not None

    # ------------------------------------------------------------------ lock

    def try_acquire(self) -> str | None:
        """Take the log's lock if it is free; return None, or who holds it."""
        if self._connection is not None:
            return None
        connection = self._engine.connect()
        try:
            holder = self._lock.try_acquire(connection)
        except BaseException:
            connection.close()
            raise
        if holder is not None:
            connection.close()
            return holder
        self._connection = connection
        self._started = False
        return None

    def acquire(
        self,
        *,
        timeout: float | None = None,
        stop: threading.Event | None = None,
        poll_seconds: float = 0.5,
    ) -> bool:
        """Wait until this integrator holds the log's lock.

        Returns:
            True once held; False if `timeout` passed or `stop` was set first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        logged = False
        while True:
            holder = self.try_acquire()
            if holder is None:
                log.info("integrator %s holds the lock of %s", self.holder, self._origin)
                return True
            if not logged:
                log.info("integrator waits: %s", holder)
                logged = True
            wait = poll_seconds
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return False
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                time.sleep(wait)

    def release(self) -> None:
        """Give the lock up (a waiting integrator takes over) and close the connection."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            self._lock.release(connection)
        except Exception:
            # A dead connection has released its advisory lock already; a lease
            # that cannot be deleted simply expires.
            log.warning("integrator %s could not release its lock cleanly", self.holder)
        finally:
            if not self._sqlite:
                # Closing the session is what guarantees the advisory lock is gone.
                connection.invalidate()
            connection.close()

    # ------------------------------------------------------------------ rounds

    def integrate(self, *, checkpoint: bool = False) -> IntegrationRound:
        """Run one round: integrate waiting events in batches, then sign a checkpoint if due.

        A checkpoint is due when the tree grew and `checkpoint_seconds` have passed
        since the last one; `checkpoint` signs one whenever the tree grew.

        Raises:
            IntegratorLockLost: The lock was lost; call `acquire` again.
            WitnessConflict: The witness holds a checkpoint this tree does not
                extend (the database was rolled back or rewritten). Stop and alert.
        """
        connection = self._connection
        if connection is None:
            raise IntegratorLockLost("the integrator does not hold the log's lock; acquire it")
        if not self._started:
            self._start(connection)
        deadline = time.monotonic() + self._round_seconds
        integrated, more = 0, False
        while True:
            events = self._waiting(connection)
            if events:
                self._append(connection, events)
                integrated += len(events)
            if len(events) < self._batch_size:
                break
            if time.monotonic() >= deadline:
                more = True
                break
        signed = None
        due = time.monotonic() - self._checkpointed_at >= self._checkpoint_seconds
        if self._tree_size > self._checkpoint_size and (due or checkpoint):
            signed = self._sign_checkpoint(connection)
        elif not integrated:
            self._lock.keep_alive(connection)
        return IntegrationRound(integrated, self._tree_size, signed, more)

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        """Integrate until `stop` is set: wait for the lock, then a round every `interval`.

        A database error drops the lock and starts over; a witness conflict stops
        the integrator (it is logged as critical and raised).
        """
        try:
            while not stop.is_set():
                try:
                    if not self.holds_lock and not self.acquire(stop=stop):
                        return
                    result = self.integrate()
                except WitnessConflict:
                    log.critical("audit log %s: witness conflict; integrator stops", self._origin)
                    raise
                except Exception:
                    log.exception("audit integrator round failed; retrying")
                    self.release()
                    stop.wait(interval)
                    continue
                if not result.more:
                    stop.wait(interval)
        finally:
            self.release()

    # ------------------------------------------------------------------ internals

    def _read(self, connection: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
        return driver_read(connection, sql, params)

    def _start(self, connection: Connection) -> None:
        """Load where the tree stands, and check it against the witness."""
        [(size, head, checkpointed)] = self._read(
            connection,
            "SELECT (SELECT max(position) FROM audit_nodes WHERE level = 0),"
            " (SELECT max(seq) FROM audit_leaves), (SELECT max(tree_size) FROM audit_checkpoints)",
            (),
        )
        self._tree_size = 0 if size is None else int(size) + 1
        self._head = 0 if head is None else int(head)
        self._checkpoint_size = -1 if checkpointed is None else int(checkpointed)
        self._gaps = {}
        # Events that committed while no integrator ran sit just below the head.
        self._scrub_from = max(0, self._head - _SCRUB_START_WINDOW)
        self._check_witness(connection)
        self._started = True

    def _check_witness(self, connection: Connection) -> None:
        if self._witness_dir is None:
            return
        witnessed = latest_witness_checkpoint(
            self._witness_dir, self._origin, self._signer.verifier
        )
        if witnessed is None:
            return
        if witnessed.size > self._tree_size:
            raise WitnessConflict(
                f"the witness holds a checkpoint of size {witnessed.size}, but the tree has"
                f" {self._tree_size} leaves: the database was rolled back"
            )
        with connection.begin():
            root = root_hash(DatabaseNodeStore(connection), witnessed.size)
        if root != witnessed.root_hash:
            raise WitnessConflict(
                f"the tree's root at size {witnessed.size} differs from the witnessed"
                " checkpoint: the log was rewritten"
            )

    def _waiting(self, connection: Connection) -> list[Sequence[Any]]:
        """Return up to one batch of events not yet integrated, in the order to integrate them.

        Each event is its column values in `EVENT_FIELDS` order (``seq`` first).
        """
        limit = self._batch_size
        found: dict[int, Sequence[Any]] = {}
        for row in self._scrub(connection, limit):
            found[row[0]] = row
        self._expire_gaps()
        if self._gaps:
            gaps = sorted(self._gaps)[:_GAP_LOOKUPS]
            marks = ", ".join("?" * len(gaps))
            for row in self._read(
                connection,
                f"SELECT {_COLUMNS} FROM audit_events WHERE seq IN ({marks})",  # noqa: S608
                gaps,
            ):
                found.setdefault(row[0], row)
        if len(found) < limit:
            fresh = self._read(connection, _NEW_EVENTS, (self._head, limit - len(found)))
            if not found:
                return fresh
            for row in fresh:
                found.setdefault(row[0], row)
        return list(found.values())[:limit]

    def _scrub(self, connection: Connection, limit: int) -> list[Sequence[Any]]:
        """Look for stragglers in the next chunk of already-passed ``seq`` values."""
        if self._sqlite:
            # One writer at a time, so events commit in seq order: nothing can
            # appear below the head.
            return []
        if self._scrub_from >= self._head:
            self._scrub_from = 0
            return []
        end = min(self._scrub_from + _SCRUB_CHUNK, self._head)
        rows = self._read(connection, _UNINTEGRATED, (self._scrub_from, end, limit))
        # A full page means the chunk may hold more: stay on it next round.
        self._scrub_from = rows[-1][0] if len(rows) == limit else end
        if rows:
            log.warning("audit integrator found %d late events below its head", len(rows))
        return rows

    def _expire_gaps(self) -> None:
        if not self._gaps:
            return
        cutoff = time.monotonic() - self._settle_seconds
        for seq in [seq for seq, seen in self._gaps.items() if seen < cutoff]:
            del self._gaps[seq]

    def _append(self, connection: Connection, events: Sequence[Sequence[Any]]) -> None:
        chunk = self._write_chunk
        for first in range(0, len(events), chunk):
            if first:
                time.sleep(0)  # let the writers queued on the lock go first
            self._append_chunk(connection, events[first : first + chunk])

    def _append_chunk(self, connection: Connection, events: Sequence[Sequence[Any]]) -> None:
        sha256 = hashlib.sha256
        leaves = [sha256(b"\x00" + canonical_event_values(event)).digest() for event in events]
        seqs = [int(event[0]) for event in events]
        with connection.begin():
            self._lock.confirm(connection)
            store = DatabaseNodeStore(connection)
            old = store.size()
            if old != self._tree_size:
                raise IntegratorLockLost(
                    f"the tree grew from {self._tree_size} to {old} behind this integrator"
                )
            new = append_leaves(store, leaves)
            driver_executemany(
                connection,
                "INSERT INTO audit_leaves (leaf_index, seq) VALUES (?, ?)",
                [(old + offset, seq) for offset, seq in enumerate(seqs)],
            )
        self._tree_size = new
        self._note_integrated(seqs)

    def _note_integrated(self, seqs: Sequence[int]) -> None:
        if self._gaps:
            for seq in seqs:
                self._gaps.pop(seq, None)
        top = max(seqs)
        if top <= self._head:
            return
        if seqs[0] == self._head + 1 and top - self._head == len(seqs):
            # The common case: the batch continues the head without a gap.
            self._head = top
            return
        now = time.monotonic()
        above = {seq for seq in seqs if seq > self._head}
        skipped = top - self._head - len(above)
        if 0 < skipped <= _MAX_GAPS - len(self._gaps):
            for seq in range(self._head + 1, top):
                if seq not in above:
                    self._gaps[seq] = now
        elif skipped > 0:
            log.warning(
                "audit integrator skipped %d seq values at once; the scrub checks them", skipped
            )
        self._head = top

    def _sign_checkpoint(self, connection: Connection) -> Checkpoint:
        size = self._tree_size
        witnessed = (
            latest_witness_checkpoint(self._witness_dir, self._origin, self._signer.verifier)
            if self._witness_dir is not None
            else None
        )
        with connection.begin():
            self._lock.confirm(connection)
            store = DatabaseNodeStore(connection)
            checkpoint = Checkpoint(
                self._origin, size, root_hash(store, size), to_epoch_ms(self._clock.now())
            )
            proof: list[bytes] = []
            if witnessed is not None and witnessed.size <= size:
                proof = consistency_proof(store, old_size=witnessed.size, new_size=size)
            note = sign_checkpoint(checkpoint, self._signer)
            driver_executemany(
                connection,
                "INSERT INTO audit_checkpoints"
                " (tree_size, root_hash, timestamp_ms, signed_checkpoint) VALUES (?, ?, ?, ?)",
                [(size, checkpoint.root_hash, checkpoint.timestamp_ms, note)],
            )
        self._checkpoint_size = size
        self._checkpointed_at = time.monotonic()
        if self._witness_dir is not None:
            # After the commit: a refused checkpoint stays in the database as
            # evidence, and the integrator stops.
            append_witness_checkpoint(
                self._witness_dir, note, self._signer.verifier, consistency_proof=proof
            )
        return checkpoint


class BackgroundIntegrator:
    """An `Integrator` on a daemon thread, as ``veil serve`` runs it.

    Every worker process may start one: they share the log's lock, so one
    integrates and the others wait to take over.
    """

    def __init__(self, integrator: Integrator, *, interval: float = 1.0) -> None:
        self.integrator = integrator
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundIntegrator:
        """Start integrating in the background; return self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run,
                name=f"veil-audit-integrator {self.integrator.origin}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current round, release the lock and end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        """Tell whether the thread is alive (a witness conflict ends it)."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self.integrator.run(self._stop, interval=self._interval)
        except WitnessConflict:
            # Logged as critical by `run`; the thread ends and the log stops growing.
            return
