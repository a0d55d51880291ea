"""The integrator on SQLite and PostgreSQL: leaves, checkpoints, the witness, the lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests._city import build_city
from tests.audit._db import (
    ORIGIN,
    SIGNER,
    add_events,
    database_url,
    dba,
    integrate_all,
    integrator,
    seqs_by_leaf,
)
from veil.audit import (
    EVENT_FIELDS,
    BackgroundIntegrator,
    DatabaseNodeStore,
    IntegratorLockLost,
    MemoryNodeStore,
    WitnessConflict,
    append_leaves,
    canonical_event,
    leaf_hash,
    parse_and_verify_checkpoint,
    read_witness_checkpoints,
    root_hash,
)
from veil.store import make_engine
from veil.testing import FixedClock
from veil.vault import Vault

_INSERT_ONE = text(
    "INSERT INTO audit_events (at_ms, tag, fields, decision, policy_ids)"
    " VALUES (1, 'vault:order:viewed', '', 'allow', '')"
)


@pytest.fixture
def sqlite_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """SQLite only: for its lease."""
    engine = make_engine(database_url(request, "sqlite"))
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """PostgreSQL only: for its advisory lock and its out-of-order commits."""
    engine = make_engine(database_url(request, "postgres"))
    yield engine
    engine.dispose()


def _rows_in_seq_order(engine: Engine) -> list[dict[str, object]]:
    columns = ", ".join(EVENT_FIELDS)
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT {columns} FROM audit_events ORDER BY seq")  # noqa: S608
        ).all()
    return [dict(zip(EVENT_FIELDS, row, strict=True)) for row in rows]


def _stored_root(engine: Engine, size: int) -> bytes:
    with engine.begin() as connection:
        return root_hash(DatabaseNodeStore(connection), size)


def test_vault_events_become_leaves_of_the_canonical_bytes(vault: Vault, tmp_path: Path) -> None:
    city = build_city(vault)
    order = city.order_in("picked_up", rider=0)
    vault.view_order(city.riders[0], order)
    vault.view_order(city.customers[0], order)
    log = integrator(vault.engine, tmp_path / "witness")
    assert log.acquire(timeout=5)
    try:
        result = log.integrate()
    finally:
        log.release()
    rows = _rows_in_seq_order(vault.engine)
    assert result.integrated == len(rows) == result.tree_size > 10
    # One writer at a time here, so leaf order is seq order.
    assert seqs_by_leaf(vault.engine) == [row["seq"] for row in rows]
    reference = MemoryNodeStore()
    append_leaves(reference, [leaf_hash(canonical_event(row)) for row in rows])
    assert result.checkpoint is not None
    assert result.checkpoint.root_hash == root_hash(reference, len(rows))
    assert _stored_root(vault.engine, len(rows)) == root_hash(reference, len(rows))


def test_each_round_that_grows_the_tree_signs_and_witnesses_a_checkpoint(
    engine: Engine, tmp_path: Path
) -> None:
    witness = tmp_path / "witness"
    clock = FixedClock()
    log = integrator(engine, witness, clock=clock)
    assert log.acquire(timeout=5)
    first = log.integrate()
    assert first.checkpoint is not None
    assert first.checkpoint.size == 0  # an empty log still signs its head
    assert log.integrate().checkpoint is None  # nothing new: nothing signed
    sizes = [0]
    for count in (3, 1, 17):
        add_events(engine, count)
        clock.advance(seconds=1)
        result = log.integrate()
        assert result.integrated == count
        assert result.checkpoint is not None
        sizes.append(result.checkpoint.size)
    log.release()
    assert sizes == [0, 3, 4, 21]
    notes = read_witness_checkpoints(witness, ORIGIN)
    witnessed = [parse_and_verify_checkpoint(n, SIGNER.verifier, origin=ORIGIN) for n in notes]
    assert [c.size for c in witnessed] == sizes
    assert witnessed[-1].root_hash == _stored_root(engine, 21)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT tree_size, signed_checkpoint FROM audit_checkpoints ORDER BY tree_size")
        ).all()
    assert [(size, note) for size, note in stored] == list(zip(sizes, notes, strict=True))


def test_batches_split_a_backlog_and_rounds_report_more(engine: Engine, tmp_path: Path) -> None:
    add_events(engine, 250)
    log = integrator(engine, None, batch_size=40, round_seconds=0.0)
    assert log.acquire(timeout=5)
    result = log.integrate()
    assert (result.integrated, result.more) == (40, True)
    assert integrate_all(log) == 250
    log.release()
    assert sorted(seqs_by_leaf(engine)) == seqs_by_leaf(engine)


def test_a_batch_written_in_short_transactions_makes_the_same_tree(engine: Engine) -> None:
    # 250 events read in one batch, written 64 at a time (4 write transactions):
    # the tree is the one the same leaves make in memory.
    add_events(engine, 250)
    log = integrator(engine, None, batch_size=1000, write_chunk=64, round_seconds=0.0)
    assert log.acquire(timeout=5)
    try:
        result = log.integrate(checkpoint=True)
    finally:
        log.release()
    rows = _rows_in_seq_order(engine)
    assert result.integrated == result.tree_size == len(rows) == 250
    assert seqs_by_leaf(engine) == [row["seq"] for row in rows]
    reference = MemoryNodeStore()
    append_leaves(reference, [leaf_hash(canonical_event(row)) for row in rows])
    assert result.checkpoint is not None
    assert result.checkpoint.root_hash == root_hash(reference, 250)
    assert _stored_root(engine, 250) == root_hash(reference, 250)


def test_a_second_integrator_waits_until_the_first_releases(engine: Engine, tmp_path: Path) -> None:
    first = integrator(engine, tmp_path / "witness")
    second = integrator(engine, tmp_path / "witness")
    assert first.acquire(timeout=5)
    holder = second.try_acquire()
    assert holder is not None
    assert ("advisory lock" if engine.dialect.name == "postgresql" else first.holder) in holder
    started = time.monotonic()
    assert not second.acquire(timeout=0.4, poll_seconds=0.1)
    assert time.monotonic() - started >= 0.4
    with pytest.raises(IntegratorLockLost):
        second.integrate()
    first.release()
    assert second.acquire(timeout=5, poll_seconds=0.1)
    add_events(engine, 2)
    assert second.integrate().integrated == 2
    second.release()


def test_a_waiting_integrator_takes_over_when_the_first_stops(
    engine: Engine, tmp_path: Path
) -> None:
    witness = tmp_path / "witness"
    first = BackgroundIntegrator(integrator(engine, witness), interval=0.05).start()
    _wait_for(lambda: first.integrator.holds_lock)
    second = BackgroundIntegrator(integrator(engine, witness), interval=0.05).start()
    add_events(engine, 5)
    _wait_for(lambda: first.integrator.tree_size == 5)
    assert not second.integrator.holds_lock
    first.stop()
    add_events(engine, 3)
    _wait_for(lambda: second.integrator.tree_size == 8)
    second.stop()
    assert read_witness_checkpoints(witness, ORIGIN)


def test_sqlite_a_dead_integrators_lease_expires(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    clock = FixedClock()
    crashed = integrator(engine, None, clock=clock, lease_seconds=15)
    assert crashed.acquire(timeout=5)
    crashed.integrate()
    successor = integrator(engine, None, clock=clock, lease_seconds=15)
    assert successor.try_acquire() is not None
    clock.advance(seconds=14.9)
    assert successor.try_acquire() is not None
    clock.advance(seconds=0.2)
    assert successor.try_acquire() is None
    # The crashed one wakes up: its next write finds the lease gone and stops.
    add_events(engine, 1)
    with pytest.raises(IntegratorLockLost):
        crashed.integrate()
    assert successor.integrate().integrated == 1
    successor.release()
    crashed.release()


def test_postgres_the_lock_dies_with_its_session(pg_engine: Engine) -> None:
    engine = pg_engine
    crashed = integrator(engine, None)
    assert crashed.acquire(timeout=5)
    successor = integrator(engine, None)
    assert successor.try_acquire() is not None
    assert crashed._connection is not None
    crashed._connection.invalidate()  # the process died: its session ends
    assert successor.acquire(timeout=5, poll_seconds=0.1)
    successor.release()


def test_postgres_a_late_commit_with_a_smaller_seq_is_not_skipped(
    pg_engine: Engine, tmp_path: Path
) -> None:
    engine = pg_engine
    witness = tmp_path / "witness"
    log = integrator(engine, witness)
    assert log.acquire(timeout=5)
    with engine.connect() as slow:
        slow.execute(_INSERT_ONE)  # takes the smallest seq, commits last
        add_events(engine, 3)
        assert log.integrate().integrated == 3
        slow.commit()
    result = log.integrate()
    assert result.integrated == 1
    log.release()
    seqs = seqs_by_leaf(engine)
    assert seqs[-1] == min(seqs)  # the late one is the last leaf
    assert sorted(seqs) == [row["seq"] for row in _rows_in_seq_order(engine)]


def test_postgres_a_commit_later_than_the_settle_time_is_found_by_the_scrub(
    pg_engine: Engine,
) -> None:
    engine = pg_engine
    log = integrator(engine, None, settle_seconds=0)
    assert log.acquire(timeout=5)
    with engine.connect() as slow:
        slow.execute(_INSERT_ONE)
        add_events(engine, 2)
        assert log.integrate().integrated == 2
        assert log.integrate().integrated == 0  # the gap has settled and is forgotten
        slow.commit()
    found = 0
    for _ in range(3):
        found += log.integrate().integrated
    log.release()
    assert found == 1
    assert len(seqs_by_leaf(engine)) == 3


def test_a_rolled_back_database_stops_the_integrator(engine: Engine, tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    log = integrator(engine, witness)
    assert log.acquire(timeout=5)
    add_events(engine, 10)
    integrate_all(log)
    log.release()
    # The operator restores an empty copy of the audit tables.
    with dba(engine) as connection:
        for table in ("audit_leaves", "audit_nodes", "audit_checkpoints"):
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    restarted = integrator(engine, witness)
    assert restarted.acquire(timeout=5)
    with pytest.raises(WitnessConflict, match="rolled back"):
        restarted.integrate()
    restarted.release()


def test_a_rewritten_tree_stops_the_integrator(engine: Engine, tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    log = integrator(engine, witness)
    assert log.acquire(timeout=5)
    add_events(engine, 6)
    integrate_all(log)
    log.release()
    with dba(engine) as connection:
        connection.execute(
            text("UPDATE audit_nodes SET node_hash = :h WHERE level = 0 AND position = 2"),
            {"h": bytes(32)},
        )
        connection.execute(text("DELETE FROM audit_nodes WHERE level > 0"))
    restarted = integrator(engine, witness)
    assert restarted.acquire(timeout=5)
    with pytest.raises((WitnessConflict, LookupError)):
        restarted.integrate()
    restarted.release()


def test_in_the_background_a_checkpoint_follows_new_events_within_seconds(
    engine: Engine, tmp_path: Path
) -> None:
    background = BackgroundIntegrator(integrator(engine, tmp_path / "witness"), interval=0.1)
    background.start()
    try:
        _wait_for(lambda: background.integrator.holds_lock)
        add_events(engine, 50)
        appended = time.monotonic()
        _wait_for(lambda: _latest_checkpoint_size(engine) == 50)
        assert time.monotonic() - appended < 5
    finally:
        background.stop()
    assert not background.running


def _latest_checkpoint_size(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT coalesce(max(tree_size), -1) FROM audit_checkpoints")
            ).scalar_one()
        )


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_stop_ends_a_background_integrator_waiting_for_the_lock(
    engine: Engine, tmp_path: Path
) -> None:
    holder = integrator(engine, None)
    assert holder.acquire(timeout=5)
    waiting = BackgroundIntegrator(integrator(engine, None), interval=0.05).start()
    time.sleep(0.2)
    stopped = threading.Event()

    def stop() -> None:
        waiting.stop()
        stopped.set()

    threading.Thread(target=stop).start()
    assert stopped.wait(5)
    assert not waiting.running
    holder.release()
