"""Background WAL checkpoints for SQLite, so that no request pays for one.

By default SQLite checkpoints inside the commit that fills the WAL past its
threshold: that one request copies thousands of pages into the database and
waits for the disk, a stall of 100–300 ms on a small VM, every few thousand
writes. `BackgroundCheckpointer` turns that off for the engine's connections
and runs a PASSIVE checkpoint on its own connection every few seconds instead
(PASSIVE never waits for readers or writers). PostgreSQL needs none of this.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, event

__all__ = ["BackgroundCheckpointer"]

log = logging.getLogger("veil.store")


def _no_auto_checkpoint(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class BackgroundCheckpointer:
    """Checkpoint a SQLite engine's WAL from a daemon thread every `interval` seconds."""

    def __init__(self, engine: Engine, *, interval: float = 2.0) -> None:
        if engine.dialect.name != "sqlite" or not engine.url.database:
            raise ValueError("background checkpoints are for a SQLite database file")
        self._path = engine.url.database
        self._engine = engine
        self._interval = interval
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Stop automatic checkpoints on the engine's connections and start the thread."""
        event.listen(self._engine, "connect", _no_auto_checkpoint)
        # Connections opened before now still checkpoint by themselves; close them.
        self._engine.dispose()
        self._thread = threading.Thread(target=self._run, name="veil-wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current checkpoint."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        """Copy what the WAL holds into the database without waiting for anyone."""
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, timeout=30, check_same_thread=False)
        try:
            while not self._halt.wait(self._interval):
                try:
                    self.checkpoint(connection)
                except sqlite3.Error:
                    # A busy checkpoint is retried at the next tick.
                    log.warning("WAL checkpoint failed; retrying", exc_info=True)
        finally:
            connection.close()
