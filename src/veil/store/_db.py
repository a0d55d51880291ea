"""Engines and migrations: SQLite (WAL) by default, PostgreSQL in production."""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, StatementError

from veil.errors import ConfigurationError

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's busy timeout alone keeps processes apart
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "checkpoint_in_background",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "writes_paused",
]

_MIGRATIONS = Path(__file__).parent / "migrations"
# How long a writer queues behind another before "database is locked" (SQLite's
# own busy timeout is the same).
_BUSY_SECONDS = 30.0


def make_engine(url: str, *, create: bool = False, sqlite_cache_mib: int = 32) -> Engine:
    """Create an engine for `url`, tuned for Veil's short transactions.

    Without `create`, a SQLite file that does not exist is an error rather than
    silently created empty (opening a vault must write nothing).

    SQLite gets WAL (readers never block the writer), ``synchronous=NORMAL``
    (durable at checkpoints, safe against corruption) and a busy timeout so
    concurrent writers queue instead of failing.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"VEIL_DATABASE_URL is not a database URL ({exc})") from None
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database
        if database and database != ":memory:":
            if create:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            elif not Path(database).exists():
                raise ConfigurationError(
                    f"database file {database} does not exist; run `veil init` first"
                )
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": _Driver},
            pool_size=8,
            max_overflow=8,
            hide_parameters=True,
        )
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, sqlite_cache_mib))
        shared = _ProcessLock.beside(database) if database and database != ":memory:" else None
        writer = _WriterLock(shared)
        _WRITERS[engine] = writer
        # Given back by `_Driver` once COMMIT or ROLLBACK is done.
        event.listen(engine, "begin", writer.begin)
        return engine
    if parsed.drivername in {"postgresql", "postgres"}:
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    # hide_parameters keeps bound values (ciphertexts, digests) out of error text.
    return create_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True
    )


def _sqlite_pragmas(cache_mib: int, dbapi_connection: Any, _record: object) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoint the WAL every ~40 MB rather than every 4 MB: each checkpoint
    # costs two fsyncs, and the view path commits one small audit row per read.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    # Each connection's page cache (SQLite's default is 2 MiB): once the random-
    # keyed indexes outgrow it, every insert reads pages back from the OS
    # (binding throughput fell 30 % as bench/numbers_bind.py's file passed 40 MB).
    cursor.execute(f"PRAGMA cache_size={-1024 * cache_mib}")
    cursor.close()


class _ProcessLock:
    """An exclusive ``flock`` on a file beside the database, shared by every Veil process.

    SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries:
    a request that met the audit integrator's 3 ms write waited 8 ms or more
    (routing p99 5-9 ms with the integrator, 1.2 ms without). Veil's writers
    queue here instead and retry within at most a millisecond. Processes that
    are not Veil (the sqlite3 shell) still meet SQLite's busy timeout.
    """

    _STEPS = (0.00005, 0.0001, 0.0002, 0.0005, 0.001)

    def __init__(self, fd: int, path: str) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def beside(cls, database: str) -> _ProcessLock | None:
        """Open (creating, mode 0600) ``<database>-writer``; None where that cannot be done."""
        if fcntl is None:
            return None
        path = f"{database}-writer"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            # A read-only directory: SQLite's busy timeout still keeps writers apart.
            return None
        lock = cls(fd, path)
        weakref.finalize(lock, os.close, fd)
        return lock

    def acquire(self, timeout: float) -> bool:
        """Take the lock, retrying for up to `timeout` seconds; False if it stayed taken."""
        deadline = time.monotonic() + timeout
        step = 0
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(self._STEPS[min(step, len(self._STEPS) - 1)])
                step += 1

    def release(self) -> None:
        """Give the lock back."""
        fcntl.flock(self._fd, fcntl.LOCK_UN)


class _Driver(sqlite3.Connection):
    """sqlite3's connection, giving the writer lock back once COMMIT or ROLLBACK is done.

    SQLAlchemy's commit and rollback events run before the driver's commit and
    rollback: a lock given back there let the next writer's BEGIN IMMEDIATE
    meet a COMMIT still writing the WAL (and wait in SQLite's busy handler,
    1-25 ms sleeps), and let a WAL restart meet it and fail.
    """

    veil_writer: _WriterLock | None = None

    def commit(self) -> None:
        try:
            super().commit()
        except BaseException:
            # No transaction stays open behind a lock given back.
            with suppress(sqlite3.Error):
                super().rollback()
            raise
        finally:
            self.let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.let_go()

    def let_go(self) -> None:
        """Give back the writer lock this connection's transaction holds, if any."""
        writer = self.veil_writer
        if writer is not None:
            self.veil_writer = None
            writer.let_go()


class _WriterLock:
    """Serialize this process's SQLite transactions on a Python lock.

    Nearly every Veil transaction writes (at least its audit row), and SQLite
    has one writer. Each transaction takes SQLite's write lock at BEGIN
    (``BEGIN IMMEDIATE``), so a read never has to upgrade and fail. Threads of
    one process queue on this lock first: SQLite's own busy handler sleeps in
    steps of up to 100 ms, which turns contention into second-long tails.
    Then Veil processes (workers, the audit integrator, the CLI) queue on a
    `_ProcessLock` for the same reason.
    """

    def __init__(self, shared: _ProcessLock | None = None) -> None:
        self._lock = threading.Lock()
        self._shared = shared
        # Set by `checkpoint_in_background`: each connection turns SQLite's
        # automatic checkpoints off at its next transaction (also one opened
        # before, and held since).
        self.no_autocheckpoint = False

    def begin(self, connection: Any) -> None:
        # SQLAlchemy does not wrap what a "begin" listener raises: wrap it here,
        # so that callers see the same `DBAPIError` as from any statement.
        if not self.hold(_BUSY_SECONDS, queue=True):
            # What SQLite itself says when its busy timeout runs out.
            raise _wrapped(sqlite3.OperationalError("database is locked"))
        pooled = connection.connection  # a SQLAlchemy property: read it once
        # Straight to the driver: SQLAlchemy's execute path costs more than
        # the statement, and this runs once per view.
        driver: _Driver = pooled.driver_connection
        driver.veil_writer = self
        try:
            info = pooled.info
            if self.no_autocheckpoint and _NO_AUTOCHECKPOINT not in info:
                driver.execute("PRAGMA wal_autocheckpoint=0").close()
                info[_NO_AUTOCHECKPOINT] = True
            driver.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            driver.let_go()
            if isinstance(error, sqlite3.Error):
                raise _wrapped(error) from error
            raise

    def hold(self, timeout: float, *, queue: bool = False) -> bool:
        """Take the lock; False if it stayed taken for `timeout` seconds.

        With `queue` (a transaction) it waits behind this process's own
        threads without limit and gives up only on another process; without
        (maintenance) it gives up on either.
        """
        if not self._lock.acquire(timeout=-1 if queue else timeout):
            return False
        if self._shared is not None and not self._shared.acquire(timeout):
            self._lock.release()
            return False
        return True

    def let_go(self) -> None:
        """Give back a lock taken with `hold` (or by a transaction)."""
        if self._shared is not None:
            self._shared.release()
        self._lock.release()


def _wrapped(error: sqlite3.Error) -> StatementError:
    return DBAPIError.instance("BEGIN IMMEDIATE", None, error, sqlite3.Error, hide_parameters=True)


# Each SQLite engine's writer lock (the engine's listeners hold the lock alive).
_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()
# Marks a pooled SQLite connection whose automatic checkpoints are off (the
# mark goes with the connection: a replaced connection starts unmarked).
_NO_AUTOCHECKPOINT = "veil_no_autocheckpoint"


def checkpoint_in_background(engine: Engine) -> None:
    """Turn SQLite's automatic checkpoints off on every connection of `engine`.

    For `BackgroundCheckpointer`, which checkpoints instead. Each connection
    turns them off as it begins its next transaction.

    Raises:
        ValueError: `engine` is not one of `make_engine`'s SQLite engines.
    """
    writer = _WRITERS.get(engine)
    if writer is None:
        raise ValueError("background checkpoints are for make_engine's SQLite engines")
    writer.no_autocheckpoint = True


@contextmanager
def writes_paused(engine: Engine, *, timeout: float) -> Iterator[bool]:
    """Hold back this process's transactions on a SQLite `engine` for the block.

    Yields False (and holds nothing back) when the lock was not free within
    `timeout` seconds, or when `engine` is not one of `make_engine`'s SQLite
    engines. Other Veil processes' writers are held back too (the lock file);
    other programs writing to the database are not.
    """
    writer = _WRITERS.get(engine)
    if writer is None or not writer.hold(timeout):
        yield False
        return
    try:
        yield True
    finally:
        writer.let_go()


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "heads", *, app_role: str | None = None) -> None:
    """Bring the schema up to `revision` (idempotent).

    Features add their tables in independent branches off the core migration;
    ``heads`` applies every branch. `app_role` names the PostgreSQL role Veil
    connects as, from which the audit migration revokes UPDATE and DELETE on the
    audit tables (default: the role running the migration).
    """
    config = _config(engine)
    config.attributes["app_role"] = app_role
    command.upgrade(config, revision)


def head_revision() -> str | None:
    """Return the newest migrations shipped with this Veil (sorted, comma-joined)."""
    heads = ScriptDirectory(str(_MIGRATIONS)).get_heads()
    return ",".join(sorted(heads)) if heads else None


def current_revision(engine: Engine) -> str | None:
    """Return the migrations the database is at (sorted, comma-joined), or None if empty."""
    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) if heads else None
