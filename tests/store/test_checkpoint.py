"""Background WAL checkpoints on SQLite: none inside commits, and a WAL that starts over."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from veil.store import BackgroundCheckpointer, make_engine, writes_paused

_FRAME = 4096 + 24  # a WAL frame: page plus header (default page size)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}", create=True)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)"))
    return engine


def _autocheckpoint(connection: object) -> int:
    driver = connection.connection.driver_connection  # type: ignore[attr-defined]
    return int(driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


def test_a_connection_opened_before_start_stops_checkpointing_in_its_commits(
    sqlite_engine: Engine,
) -> None:
    held = sqlite_engine.connect()  # like the vault's per-thread connection
    with held.begin():
        assert _autocheckpoint(held) == 10000
    checkpointer = BackgroundCheckpointer(sqlite_engine, interval=60)
    checkpointer.start()
    try:
        with held.begin():
            assert _autocheckpoint(held) == 0
        with sqlite_engine.begin() as fresh:
            assert _autocheckpoint(fresh) == 0
    finally:
        checkpointer.stop()
        held.close()
        sqlite_engine.dispose()


def test_under_steady_writes_the_wal_starts_over(sqlite_engine: Engine) -> None:
    wal = Path(str(sqlite_engine.url.database) + "-wal")
    checkpointer = BackgroundCheckpointer(sqlite_engine, interval=0.05, restart_frames=50)
    checkpointer.start()
    written = largest = 0
    try:
        # One writer, back to back (with the gap a request's I/O would leave):
        # PASSIVE checkpoints alone never catch up with it.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline or checkpointer.restarts < 3:
            with sqlite_engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO t (body) VALUES (randomblob(3000))"),
                )
            written += 1
            time.sleep(0.0002)
            largest = max(largest, wal.stat().st_size)
            assert time.monotonic() < deadline + 10, "the WAL never started over"
    finally:
        checkpointer.stop()
        sqlite_engine.dispose()
    assert checkpointer.restarts >= 3
    # Each row dirties at least one page; had the WAL never started over it
    # would hold them all.
    assert largest < written * _FRAME / 3


def test_writes_paused_holds_back_this_process_s_writers(sqlite_engine: Engine) -> None:
    entered = threading.Event()

    def write() -> None:
        with sqlite_engine.begin() as connection:
            entered.set()
            connection.execute(text("INSERT INTO t (body) VALUES (x'00')"))

    with writes_paused(sqlite_engine, timeout=1) as paused:
        assert paused
        writer = threading.Thread(target=write)
        writer.start()
        assert not entered.wait(0.2)  # queued behind the pause
    writer.join(timeout=5)
    assert entered.is_set()
    sqlite_engine.dispose()


def test_writes_paused_gives_up_on_an_engine_it_does_not_know() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with writes_paused(engine, timeout=0.01) as paused:
        assert not paused
    engine.dispose()
