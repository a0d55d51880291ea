"""Retention: audit rows are only ever inserted; the database itself refuses the rest.

On both backends triggers refuse UPDATE and DELETE on the audit tables. On
PostgreSQL the migration also revokes UPDATE and DELETE from the application
role: connected as that role, a direct UPDATE fails with "permission denied"
even with the triggers switched off.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from tests._require import require
from tests.audit._db import add_events, integrate_all, integrator
from tests.conftest import PG_ADMIN_URL
from veil.store import make_engine, migrate

_CHANGES = {
    "audit_events": (
        "UPDATE audit_events SET decision = 'deny'",
        "DELETE FROM audit_events",
    ),
    "audit_leaves": ("UPDATE audit_leaves SET seq = seq + 1000", "DELETE FROM audit_leaves"),
    "audit_nodes": ("UPDATE audit_nodes SET node_hash = node_hash", "DELETE FROM audit_nodes"),
    "audit_checkpoints": (
        "UPDATE audit_checkpoints SET timestamp_ms = 0",
        "DELETE FROM audit_checkpoints",
    ),
}


@pytest.fixture
def integrated(engine: Engine) -> Engine:
    add_events(engine, 5)
    log = integrator(engine, None)
    assert log.acquire(timeout=5)
    try:
        integrate_all(log)
    finally:
        log.release()
    return engine


@pytest.mark.parametrize("table", sorted(_CHANGES))
def test_a_direct_update_or_delete_is_refused(integrated: Engine, table: str) -> None:
    for statement in _CHANGES[table]:
        with pytest.raises(DBAPIError, match="append-only"), integrated.begin() as connection:
            connection.execute(text(statement))
    with integrated.connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0  # noqa: S608
        if table == "audit_events":
            decisions = connection.execute(text("SELECT DISTINCT decision FROM audit_events"))
            assert [d for (d,) in decisions] == ["allow"]


def test_inserting_still_works(integrated: Engine) -> None:
    add_events(integrated, 2)
    with integrated.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 7


@pytest.fixture
def app_role_database() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database migrated for an application role; yields (admin, app) URLs."""
    admin = create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect():
            pass
    except Exception:
        admin.dispose()
        require(False, f"PostgreSQL at {PG_ADMIN_URL}")
    suffix = secrets.token_hex(4)
    name, role = f"veil_roles_{suffix}", f"veil_app_{suffix}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    owner_url = f"{base}/{name}"
    app_url = owner_url.replace("//postgres@", f"//{role}@", 1)
    try:
        owner = make_engine(owner_url)
        with owner.begin() as connection:
            # What a DBA sets up before the first migration: the application
            # role may read and change every table Veil creates ...
            connection.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
            connection.execute(
                text(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE,"
                    f' DELETE ON TABLES TO "{role}"'
                )
            )
            connection.execute(
                text(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES"
                    f' TO "{role}"'
                )
            )
        # ... and the audit migration takes UPDATE and DELETE on the audit tables back.
        migrate(owner, app_role=role)
        owner.dispose()
        yield owner_url, app_url
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_postgres_the_application_role_may_not_update_the_audit_log(
    app_role_database: tuple[str, str],
) -> None:
    owner_url, app_url = app_role_database
    owner, app = make_engine(owner_url), make_engine(app_url)
    try:
        # The application role writes the log as Veil does ...
        add_events(app, 3)
        with app.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 3
            # ... and keeps its other privileges on Veil's tables.
            connection.execute(text("UPDATE principals SET status = 'active' WHERE false"))
        # Even with the append-only trigger switched off by the owner, the
        # application role is refused by privilege.
        with owner.begin() as connection:
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        for statement in _CHANGES["audit_events"]:
            with pytest.raises(DBAPIError, match="permission denied"), app.begin() as connection:
                connection.execute(text(statement))
        with owner.connect() as connection:
            grants = connection.execute(
                text(
                    "SELECT privilege_type FROM information_schema.role_table_grants"
                    " WHERE table_name = 'audit_events' AND grantee = :role"
                ),
                {"role": app_url.split("//", 1)[1].split("@", 1)[0]},
            )
            assert sorted(p for (p,) in grants) == ["INSERT", "SELECT"]
    finally:
        owner.dispose()
        app.dispose()
