"""Tampering through the database, caught by `veil audit export` then `veil audit verify`.

Each test builds a witnessed log in a real database (SQLite and PostgreSQL),
then does what an operator with database rights could do to the audit tables:
edit a field, delete an event, reorder two, cut the tail, rewrite the whole
log with a freshly computed tree and re-signed checkpoints, or restore an
older copy of the database. The export is made by the CLI from the tampered
database, and the offline verifier must fail, naming what failed and the first
bad index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from tests.audit._db import (
    ORIGIN,
    SIGNER,
    add_events,
    dba,
    integrate_all,
    integrator,
    restore,
    seqs_by_leaf,
    snapshot,
)
from veil.cli import app

# Events added before each integration round; a checkpoint follows each round.
ROUNDS = (10, 10, 10, 10, 10, 10, 10, 10, 10, 10)
SIZE = sum(ROUNDS)


@dataclass
class Log:
    engine: Engine
    url: str
    witness: Path
    public_key: Path
    home: Path
    seqs: list[int]
    backup_after_first_rounds: dict[str, list[object]]

    def veil(self, *args: str) -> Result:
        env = {"VEIL_DATABASE_URL": self.url, "VEIL_AUDIT_ORIGIN": ORIGIN, "COLUMNS": "200"}
        return CliRunner().invoke(app, list(args), env=env)

    def export_and_verify(self, *, witness: bool = True) -> Result:
        path = self.home / "export.jsonl"
        exported = self.veil("audit", "export", str(path))
        assert exported.exit_code == 0, exported.output
        args = ["audit", "verify", str(path), "--public-key", str(self.public_key)]
        if witness:
            args += ["--witness", str(self.witness)]
        return self.veil(*args)


@pytest.fixture
def log(engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Log:
    monkeypatch.chdir(tmp_path)
    witness = tmp_path / "witness"
    public_key = tmp_path / "audit-signing.pub"
    SIGNER.verifier.save(public_key)
    writer = integrator(engine, witness)
    assert writer.acquire(timeout=5)
    backup = None
    try:
        for number, count in enumerate(ROUNDS):
            add_events(engine, count, subject_id="sub_" + "a" * 26)
            integrate_all(writer)
            if number == 3:
                backup = snapshot(engine)
    finally:
        writer.release()
    assert backup is not None
    return Log(engine, db_url, witness, public_key, tmp_path, seqs_by_leaf(engine), backup)


def _failure(result: Result) -> tuple[str, int | None]:
    """Return the kind and index of the first failure `veil audit verify` names."""
    assert result.exit_code == 1, result.output
    match = re.search(r"verification FAILED: (\w+)(?: at index (\d+))?", result.output)
    assert match is not None, result.output
    return match[1], int(match[2]) if match[2] is not None else None


def test_the_untouched_log_verifies(log: Log) -> None:
    result = log.export_and_verify()
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert f"covered up to size {SIZE}" in result.output


def test_an_edited_field_is_named(log: Log) -> None:
    with dba(log.engine) as connection:
        connection.execute(
            text("UPDATE audit_events SET decision = 'deny' WHERE seq = :seq"),
            {"seq": log.seqs[25]},
        )
    assert _failure(log.export_and_verify()) == ("event_edited", 25)


def test_a_deleted_event_is_named(log: Log) -> None:
    with dba(log.engine) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = :seq"), {"seq": log.seqs[55]})
    assert _failure(log.export_and_verify()) == ("event_deleted", 55)


def test_two_reordered_leaves_are_named(log: Log) -> None:
    # Swap which event sits at leaves 10 and 11 (the order the log recorded).
    first, second = log.seqs[10], log.seqs[11]
    with dba(log.engine) as connection:
        swap = text("UPDATE audit_leaves SET seq = :new WHERE leaf_index = :index")
        connection.execute(swap, {"new": -1, "index": 10})
        connection.execute(swap, {"new": first, "index": 11})
        connection.execute(swap, {"new": second, "index": 10})
    assert _failure(log.export_and_verify()) == ("events_reordered", 10)


def test_two_rows_that_traded_places_are_named(log: Log) -> None:
    # Swap the rows themselves: each event now carries the other's seq.
    first, second = log.seqs[30], log.seqs[31]
    with dba(log.engine) as connection:
        move = text("UPDATE audit_events SET seq = :new WHERE seq = :old")
        connection.execute(move, {"new": -1, "old": first})
        connection.execute(move, {"new": first, "old": second})
        connection.execute(move, {"new": second, "old": -1})
    assert _failure(log.export_and_verify()) == ("events_reordered", 30)


def test_a_truncated_tail_is_named(log: Log) -> None:
    with dba(log.engine) as connection:
        connection.execute(
            text("DELETE FROM audit_events WHERE seq >= :seq"), {"seq": log.seqs[90]}
        )
    assert _failure(log.export_and_verify()) == ("tail_truncated", 90)


def test_a_rewritten_log_with_a_recomputed_tree_is_caught_by_the_witness(log: Log) -> None:
    # The operator edits an event, recomputes the whole tree and re-signs every
    # checkpoint with the log's own key. The export is consistent with itself.
    with dba(log.engine) as connection:
        connection.execute(
            text("UPDATE audit_events SET role = 'service' WHERE seq = :seq"),
            {"seq": log.seqs[33]},
        )
        for table in ("audit_leaves", "audit_nodes", "audit_checkpoints"):
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    rewriter = integrator(log.engine, log.home / "the-operators-own-witness")
    assert rewriter.acquire(timeout=5)
    try:
        integrate_all(rewriter)
    finally:
        rewriter.release()
    assert log.export_and_verify(witness=False).exit_code == 0
    kind, index = _failure(log.export_and_verify())
    assert kind == "log_rewritten"
    # The last witnessed checkpoint that still matches is at 30; the edit is in [30, 40).
    assert index == 30


def test_a_database_restored_from_an_older_copy_is_caught_by_the_witness(log: Log) -> None:
    restore(log.engine, log.backup_after_first_rounds)  # type: ignore[arg-type]
    assert log.export_and_verify(witness=False).exit_code == 0
    assert _failure(log.export_and_verify()) == ("rolled_back", 40)
