"""audit log: Merkle tree leaves and nodes, signed checkpoints, integrator lease; append-only

A branch off the core tables (0001); `veil.store.migrate` applies every head.

Besides the tables, this makes the audit tables append-only in the database:

* triggers refuse UPDATE and DELETE on ``audit_events``, ``audit_leaves``,
  ``audit_nodes`` and ``audit_checkpoints`` (SQLite and PostgreSQL). TRUNCATE is
  not a row change and is not refused (the test suite empties tables with it);
  on PostgreSQL it is a separate privilege an application role need not hold.
* on PostgreSQL, UPDATE and DELETE on those tables are revoked from the
  application role: ``migrate(engine, app_role=…)`` (``VEIL_DATABASE_APP_ROLE``),
  or the role running the migration when none is named.

Neither stops a database superuser; that is what the signed checkpoints and the
witness copies outside the database are for. A later SQLite migration that
rebuilds one of these tables (Alembic batch mode) drops its triggers and must
create them again.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("audit_events", "audit_leaves", "audit_nodes", "audit_checkpoints")
_PG_FUNCTION = "veil_audit_append_only"


def upgrade() -> None:
    op.create_table(
        "audit_leaves",
        sa.Column(
            "leaf_index",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_leaves_seq")),
    )
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("node_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_audit_nodes")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signed_checkpoint", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_leases",
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_audit_leases")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_append_only()
    else:
        _sqlite_append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()")
        op.execute(f"GRANT UPDATE, DELETE ON audit_events TO {_app_role()}")
    else:
        for table in _APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_table("audit_leases")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_nodes")
    op.drop_table("audit_leaves")


def _app_role() -> str:
    """Return the application role, quoted, or CURRENT_USER when none was configured."""
    role = context.config.attributes.get("app_role")
    if not role:
        return "CURRENT_USER"
    return str(op.get_bind().dialect.identifier_preparer.quote(role))


def _postgresql_append_only() -> None:
    op.execute(
        f"""
        CREATE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in _APPEND_ONLY:
        # Statement-level: one call per statement, and an UPDATE that matches no
        # row is refused too (it can only be a probe).
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()"
        )
    tables = ", ".join(_APPEND_ONLY)
    op.execute(f"REVOKE UPDATE, DELETE ON {tables} FROM PUBLIC")
    op.execute(f"REVOKE UPDATE, DELETE ON {tables} FROM {_app_role()}")


def _sqlite_append_only() -> None:
    for table in _APPEND_ONLY:
        for verb in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: {verb} on {table}"
                " refused'); END"
            )
