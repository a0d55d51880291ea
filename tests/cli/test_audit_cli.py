"""``veil init`` makes the signing key; ``veil audit integrate | export | verify``."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import Veil
from veil.audit import AuditRecord, AuditTag, append_events
from veil.crypto import NoteSigner, NoteVerifier
from veil.store import make_engine


def _add_events(home: Path, count: int) -> None:
    engine = make_engine(f"sqlite:///{home / 'var' / 'veil.db'}")
    with engine.begin() as connection:
        append_events(
            connection,
            [AuditRecord(AuditTag.ORDER_VIEWED, 1_000 + n, "allow") for n in range(count)],
        )
    engine.dispose()


def test_init_creates_the_signing_key_once_with_its_public_key(veil: Veil, home: Path) -> None:
    result = veil("init")
    assert result.exit_code == 0, result.output
    key, public = home / "var" / "audit-signing.key", home / "var" / "audit-signing.pub"
    assert "created audit signing key" in result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert NoteVerifier.load(public) == NoteSigner.load(key).verifier
    assert NoteVerifier.load(public).name == "veil.localhost/audit"
    before = key.read_bytes()
    again = veil("init")
    assert again.exit_code == 0, again.output
    assert "created audit signing key" not in again.output
    assert key.read_bytes() == before


def test_integrate_export_verify(veil: Veil, home: Path) -> None:
    assert veil("init").exit_code == 0
    _add_events(home, 30)
    result = veil("audit", "integrate", "--once")
    assert result.exit_code == 0, result.output
    assert "tree size" in result.output
    export = home / "export.jsonl"
    exported = veil("audit", "export", str(export))
    assert exported.exit_code == 0, exported.output
    lines = export.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "veil-audit-export/1"
    assert json.loads(lines[-1])["end"]["events"] >= 30
    verified = veil(
        "audit",
        "verify",
        str(export),
        "--public-key",
        str(home / "var" / "audit-signing.pub"),
        "--witness",
        str(home / "var" / "witness"),
    )
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output


def test_events_not_integrated_yet_are_exported_and_reported(veil: Veil, home: Path) -> None:
    assert veil("init").exit_code == 0
    _add_events(home, 4)
    assert veil("audit", "integrate", "--once").exit_code == 0
    _add_events(home, 3)
    export = home / "export.jsonl"
    exported = veil("audit", "export", str(export))
    assert "3 not integrated yet" in exported.output
    verified = veil(
        "audit", "verify", str(export), "--public-key", str(home / "var" / "audit-signing.pub")
    )
    assert verified.exit_code == 0, verified.output
    assert "are not covered by a checkpoint" in verified.output


def test_verify_needs_no_database_and_fails_on_the_wrong_key(
    veil: Veil, home: Path, tmp_path: Path
) -> None:
    assert veil("init").exit_code == 0
    _add_events(home, 5)
    assert veil("audit", "integrate", "--once").exit_code == 0
    export = home / "export.jsonl"
    assert veil("audit", "export", str(export)).exit_code == 0
    (home / "var" / "veil.db").unlink()
    other = tmp_path / "other.pub"
    NoteSigner.generate("veil.localhost/audit").verifier.save(other)
    result = veil("audit", "verify", str(export), "--public-key", str(other))
    assert result.exit_code == 1
    assert "verification FAILED: checkpoint_invalid" in result.output
    good = veil(
        "audit", "verify", str(export), "--public-key", str(home / "var" / "audit-signing.pub")
    )
    assert good.exit_code == 0, good.output


def test_verify_refuses_unusable_input_with_exit_2(veil: Veil, home: Path) -> None:
    (home / "not-a-key.pub").write_text("nonsense\n")
    (home / "export.jsonl").write_text("")
    result = veil(
        "audit", "verify", str(home / "export.jsonl"), "--public-key", str(home / "not-a-key.pub")
    )
    assert result.exit_code == 2
    assert "not an Ed25519 verifier key" in result.output


def test_integrate_without_a_signing_key_says_run_init(veil: Veil, home: Path) -> None:
    assert veil("init").exit_code == 0
    (home / "var" / "audit-signing.key").unlink()
    result = veil("audit", "integrate", "--once")
    assert result.exit_code == 2
    assert "veil init" in result.output


def test_audit_commands_refuse_an_uninitialised_database(veil: Veil, home: Path) -> None:
    for args in (("audit", "integrate", "--once"), ("audit", "export", str(home / "x.jsonl"))):
        result = veil(*args)
        assert result.exit_code == 2, result.output
        assert "veil init" in result.output


@pytest.mark.parametrize(("as_server_child", "checkpointed"), [(True, False), (False, True)])
def test_the_servers_integrator_leaves_wal_checkpoints_to_the_server(
    veil: Veil, home: Path, as_server_child: bool, checkpointed: bool
) -> None:
    # Under `veil serve` the workers checkpoint the WAL in the background. The
    # integrator child must not: a commit of its crossing SQLite's automatic
    # threshold would copy the whole WAL while every writer waits (the routing
    # p99 went from 3.5 to 15-20 ms). Run by hand, it checkpoints as usual.
    assert veil("init").exit_code == 0
    _add_events(home, 5)
    database = home / "var" / "veil.db"
    writer = sqlite3.connect(database)  # held open: closing the last one checkpoints
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("CREATE TABLE scratch (b BLOB)")
        with writer:  # ~12,000 WAL frames, past SQLite's threshold (10,000)
            writer.executemany("INSERT INTO scratch VALUES (zeroblob(4000))", [()] * 12_000)
        before = database.stat().st_size
        args = ["audit", "integrate", "--once"]
        if as_server_child:
            args += ["--parent-pid", str(os.getpid())]
        result = veil(*args)
        assert result.exit_code == 0, result.output
        assert "integrated 5 event(s)" in result.output
        # A checkpoint copies the scratch pages from the WAL into the file.
        assert (database.stat().st_size > before + 40_000_000) is checkpointed
    finally:
        writer.close()
