"""Helpers for the database-backed audit log tests: databases, events, and a DBA's hands.

`dba` opens a connection the way an operator with database rights would work
on the audit tables: on PostgreSQL as a superuser with triggers off for the
session (``session_replication_role = replica``), on SQLite with the
append-only triggers dropped (each SQLite test has its own database file).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from tests._require import require
from veil.audit import AuditRecord, AuditTag, Integrator, append_events
from veil.clock import Clock
from veil.crypto import NoteSigner
from veil.store import Base, make_engine

ORIGIN = "veil.test/audit"
SIGNER = NoteSigner.generate(ORIGIN)
AUDIT_TABLES = ("audit_events", "audit_leaves", "audit_nodes", "audit_checkpoints")


def database_url(request: pytest.FixtureRequest, backend: str) -> str:
    """Return an empty, migrated database of `backend`, as the `db_url` fixture does."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        tmp_path: Path = request.getfixturevalue("tmp_path")
        path = tmp_path / "store.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str | None = request.getfixturevalue("pg_database")
    require(url is not None, "PostgreSQL at VEIL_TEST_PG_URL")
    assert url is not None
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


def integrator(
    engine: Engine,
    witness_dir: Path | None,
    *,
    clock: Clock | None = None,
    signer: NoteSigner = SIGNER,
    **options: Any,
) -> Integrator:
    """Return an integrator of the test log that signs a checkpoint whenever the tree grew."""
    options.setdefault("checkpoint_seconds", 0.0)
    return Integrator(
        engine, signer=signer, origin=ORIGIN, witness_dir=witness_dir, clock=clock, **options
    )


def add_events(engine: Engine, count: int, *, subject_id: str | None = None) -> None:
    """Append `count` events in one transaction."""
    with engine.begin() as connection:
        append_events(connection, [_record(n, subject_id) for n in range(count)])


def _record(n: int, subject_id: str | None) -> AuditRecord:
    return AuditRecord(
        AuditTag.ORDER_VIEWED,
        1_764_417_600_000 + n,
        "allow",
        principal_id=f"prn_{n % 7:026d}",
        role="rider",
        subject_id=subject_id,
        fields=("name.masked", "address.building"),
        request_id=f"req_{n:026d}",
    )


def integrate_all(integrator: Integrator) -> int:
    """Run rounds until nothing waits; return the tree size."""
    while integrator.integrate().more:
        pass
    return integrator.tree_size


def seqs_by_leaf(engine: Engine) -> list[int]:
    """Return the ``seq`` of each leaf, in leaf order."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT seq FROM audit_leaves ORDER BY leaf_index")).all()
    return [int(seq) for (seq,) in rows]


@contextlib.contextmanager
def dba(engine: Engine) -> Iterator[Connection]:
    """A transaction in which the audit tables' append-only triggers do not fire."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in AUDIT_TABLES:
                for verb in ("update", "delete"):
                    connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        yield connection


def snapshot(engine: Engine) -> dict[str, list[Sequence[Any]]]:
    """Copy every row of the audit tables (a backup, as a DBA would take one)."""
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608
            for table in AUDIT_TABLES
        }


def restore(engine: Engine, backup: dict[str, list[Sequence[Any]]]) -> None:
    """Put the audit tables back to `backup`: the database restored from an older copy."""
    with dba(engine) as connection:
        for table, rows in backup.items():
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
            if rows:
                marks = ", ".join(f":c{i}" for i in range(len(rows[0])))
                connection.execute(
                    text(f"INSERT INTO {table} VALUES ({marks})"),  # noqa: S608
                    [{f"c{i}": value for i, value in enumerate(row)} for row in rows],
                )
