"""Veil's SQLite writers queue on a lock shared by every process, not on SQLite's busy sleeps."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

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
