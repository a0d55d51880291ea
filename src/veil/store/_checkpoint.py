"""Background WAL checkpoints for SQLite, so that no request pays for one.

By default SQLite checkpoints inside the commit that fills the WAL past its
threshold: that one request copies thousands of pages into the database and
waits for the disk, a stall of 100–300 ms on a small VM, every few thousand
writes. `BackgroundCheckpointer` turns that off for the engine's connections
and runs a PASSIVE checkpoint on its own connection every few seconds instead
(PASSIVE never waits for readers or writers). PostgreSQL needs none of this.

Automatic checkpoints are a setting of each SQLite connection, so it is turned
off as each connection begins its next transaction: also a connection opened
before the checkpointer started and still held (the vault keeps one per thread),
which would otherwise go on checkpointing inside its own commits.

PASSIVE checkpoints alone never start the WAL over under steady writes (new
frames arrive while one copies), and the WAL file would grow without end
(1 GB in a minute of number binding). So each tick first catches up with
PASSIVE passes while requests go on, each copying what arrived during the one
before, and then, once the WAL holds more than `restart_frames`, runs a
RESTART checkpoint with this process's writers held back: it has only the
last short pass's frames to copy (1-10 ms) and starts the WAL from its
beginning. If a reader (the audit integrator, another process) is in the way,
it gives up at once and tries at the next tick. The file keeps its largest
size (a tick's worth of writes): cutting it back (``journal_size_limit``)
made a commit wait for the disk now and then, 250 ms at the routing p99.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from sqlalchemy import Engine

from veil.store._db import checkpoint_in_background, writes_paused

__all__ = ["BackgroundCheckpointer"]

log = logging.getLogger("veil.store")

# Catching up stops at a pass this short (or after this many passes).
_SHORT_PASS_SECONDS = 0.005
_MAX_PASSES = 8


class BackgroundCheckpointer:
    """Checkpoint a SQLite engine's WAL from a daemon thread every `interval` seconds."""

    def __init__(
        self, engine: Engine, *, interval: float = 2.0, restart_frames: int = 4096
    ) -> None:
        if engine.dialect.name != "sqlite" or not engine.url.database:
            raise ValueError("background checkpoints are for a SQLite database file")
        self._path = engine.url.database
        self._engine = engine
        self._interval = interval
        self._restart_frames = restart_frames
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0  # how often the WAL was started over (for tests and metrics)

    def start(self) -> None:
        """Stop automatic checkpoints on the engine's connections and start the thread."""
        checkpoint_in_background(self._engine)
        self._thread = threading.Thread(target=self._run, name="veil-wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current checkpoint."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def checkpoint(self) -> None:
        """Copy the WAL into the database; if it grew large, start it over."""
        # A fresh connection each tick: a long-lived one was seen to keep the
        # WAL from starting over. No busy timeout: nothing here ever waits.
        connection = sqlite3.connect(self._path, timeout=0)
        try:
            frames = self._catch_up(connection)
            if frames < self._restart_frames:
                return
            # Writers wait for the lock only briefly; if one holds on, next tick.
            with writes_paused(self._engine, timeout=0.5) as paused:
                if paused:
                    started = time.perf_counter()
                    # A reader in the way makes this return at once (busy).
                    (row,) = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                    held_ms = (time.perf_counter() - started) * 1000
                    self.restarts += int(row[0]) == 0
            if paused and held_ms > 50:
                log.warning("WAL restart held writers back for %.0f ms", held_ms)
        finally:
            connection.close()

    def _catch_up(self, connection: sqlite3.Connection) -> int:
        # Each pass copies what arrived during the one before, so a few
        # passes leave only a short pass's worth behind. Returns the WAL's size.
        frames = 0
        for _ in range(_MAX_PASSES):
            started = time.perf_counter()
            (row,) = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            frames = int(row[1])  # (busy, frames in the WAL, frames copied)
            if time.perf_counter() - started < _SHORT_PASS_SECONDS:
                break
        return frames

    def _run(self) -> None:
        while not self._halt.wait(self._interval):
            try:
                self.checkpoint()
            except sqlite3.Error:
                # A busy checkpoint is retried at the next tick.
                log.warning("WAL checkpoint failed; retrying", exc_info=True)
