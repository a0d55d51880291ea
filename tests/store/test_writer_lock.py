"""Veil's SQLite writers queue on a lock shared by every process, not on SQLite's busy sleeps."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from veil.store import _db, make_engine


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    engine = make_engine(url, create=True)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    engine.dispose()
    return url


def _insert(engine: Engine, n: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})


def test_a_writer_of_another_engine_goes_on_within_milliseconds_of_the_commit(
    database: str,
) -> None:
    # Two engines keep two open files: their locks exclude each other as two
    # processes' would.
    first, second = make_engine(database), make_engine(database)
    done: list[float] = []
    with first.begin() as connection:
        connection.execute(text("INSERT INTO t (n) VALUES (1)"))
        waiter = threading.Thread(
            target=lambda: (_insert(second, 2), done.append(time.monotonic()))
        )
        waiter.start()
        # 350 ms: SQLite's busy handler would be in its 100 ms sleep (328-428 ms).
        time.sleep(0.35)
        assert not done, "the second writer must queue while the first holds the lock"
        released = time.monotonic()
    waiter.join(timeout=5)
    # SQLite's own busy handler would wake ~80 ms after the commit.
    assert done and done[0] - released < 0.05
    with second.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 2
    first.dispose()
    second.dispose()


def test_a_writer_that_waits_too_long_gets_database_is_locked(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_db, "_BUSY_SECONDS", 0.05)
    first, second = make_engine(database), make_engine(database)
    with first.begin() as connection:
        connection.execute(text("INSERT INTO t (n) VALUES (1)"))
        with pytest.raises(OperationalError, match="database is locked"):
            _insert(second, 2)
    _insert(second, 3)  # nothing was left held by the failed attempt
    first.dispose()
    second.dispose()


def test_another_process_holding_the_lock_holds_this_one_back(database: str) -> None:
    holder = (
        "import sys, time\n"
        "from sqlalchemy import text\n"
        "from veil.store import make_engine\n"
        "engine = make_engine(sys.argv[1])\n"
        "with engine.begin() as c:\n"
        "    c.execute(text('INSERT INTO t (n) VALUES (1)'))\n"
        "    print('held', flush=True)\n"
        "    time.sleep(0.5)\n"
    )
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", holder, database], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        engine = make_engine(database)
        started = time.monotonic()
        _insert(engine, 2)
        waited = time.monotonic() - started
        assert 0.2 < waited < 5
        engine.dispose()
    finally:
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0


def _held_while(engine: Engine, statement: str) -> list[bool]:
    """Run one transaction; return whether the writer lock was held as SQLite ran `statement`."""
    writer = _db._WRITERS[engine]
    seen: list[bool] = []
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.set_trace_callback(
            lambda sql: seen.append(writer._lock.locked()) if sql == statement else None
        )
        try:
            with connection.begin():
                connection.execute(text("INSERT INTO t (n) VALUES (1)"))
                if statement == "ROLLBACK":
                    connection.rollback()
        finally:
            driver.set_trace_callback(None)
    return seen


@pytest.mark.parametrize("statement", ["COMMIT", "ROLLBACK"])
def test_the_lock_is_given_back_only_after_sqlite_ends_the_transaction(
    database: str, statement: str
) -> None:
    # SQLAlchemy's commit and rollback events fire before the driver's: a lock
    # given back there let the next writer (or a WAL restart) meet a COMMIT
    # still writing, and wait in SQLite's busy handler.
    engine = make_engine(database)
    assert _held_while(engine, statement) == [True]
    assert not _db._WRITERS[engine]._lock.locked()
    _insert(engine, 2)  # and it was given back
    engine.dispose()


def test_a_commit_that_fails_rolls_back_and_gives_the_lock_back(database: str) -> None:
    engine = make_engine(database)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE child (p INTEGER REFERENCES parent (id))"))
    with engine.connect() as connection:
        # A deferred foreign key fails at COMMIT, leaving SQLite's transaction open.
        with pytest.raises(IntegrityError), connection.begin():
            connection.execute(text("PRAGMA defer_foreign_keys=ON"))
            connection.execute(text("INSERT INTO t (n) VALUES (7)"))
            connection.execute(text("INSERT INTO child (p) VALUES (42)"))
        assert not _db._WRITERS[engine]._lock.locked()
        # The same connection begins again: nothing of the failed one was kept.
        with connection.begin():
            connection.execute(text("INSERT INTO t (n) VALUES (8)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM t")).scalars().all() == [8]
        assert connection.execute(text("SELECT count(*) FROM child")).scalar() == 0
    engine.dispose()
