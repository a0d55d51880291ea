"""privacy numbers: number pool, registered phones, AXB bindings, calls, leak signals

A branch off the core tables (0001); `veil.store.migrate` applies every head.
The partial unique indexes on live bindings (``released_ms IS NULL``) are what
keeps two live bindings from sharing a virtual number and a party, whatever
the application does; SQLite and PostgreSQL both support them.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

_LIVE = sa.text("released_ms IS NULL")


def upgrade() -> None:
    op.create_table(
        "number_pool",
        sa.Column("x_number", sa.String(length=20), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("live_count", sa.Integer(), nullable=False),
        sa.Column("last_bound_ms", sa.BigInteger(), nullable=False),
        sa.Column("imported_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("x_number", name=op.f("pk_number_pool")),
    )
    op.create_index(
        "ix_number_pool_pick",
        "number_pool",
        ["city", "status", "live_count", "last_bound_ms", "x_number"],
        unique=False,
    )

    op.create_table(
        "party_phone_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_party_phone_keys")),
    )

    op.create_table(
        "party_phones",
        sa.Column("principal_id", sa.String(length=40), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("phone_ct", sa.LargeBinary(), nullable=False),
        sa.Column("digest_version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("registered_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_party_phones_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("principal_id", name=op.f("pk_party_phones")),
    )
    op.create_index(
        "uq_party_phones_digest", "party_phones", ["digest_version", "digest"], unique=True
    )

    op.create_table(
        "number_bindings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("holder_role", sa.String(length=16), nullable=False),
        sa.Column("x_number", sa.String(length=20), nullable=True),
        sa.Column("a_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("b_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("released_ms", sa.BigInteger(), nullable=True),
        sa.Column("release_reason", sa.String(length=32), nullable=True),
        sa.Column("fallback_reason", sa.String(length=120), nullable=True),
        sa.Column("provider_ref", sa.String(length=64), nullable=True),
        sa.Column("provider_state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_number_bindings_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["principals.id"],
            name=op.f("fk_number_bindings_holder_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_bindings")),
    )
    for name, columns in (
        ("uq_number_bindings_live_xb", ["x_number", "b_digest"]),
        ("uq_number_bindings_live_xa", ["x_number", "a_digest"]),
        ("uq_number_bindings_live_order", ["order_id", "holder_role"]),
    ):
        op.create_index(
            name,
            "number_bindings",
            columns,
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        )
    op.create_index(
        "ix_number_bindings_live_expiry",
        "number_bindings",
        ["expires_ms"],
        unique=False,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_index(
        "ix_number_bindings_order_holder",
        "number_bindings",
        ["order_id", "holder_id", "created_ms"],
        unique=False,
    )
    op.create_index(
        "ix_number_bindings_x", "number_bindings", ["x_number", "created_ms"], unique=False
    )
    op.create_index("ix_number_bindings_a", "number_bindings", ["a_digest"], unique=False)
    op.create_index("ix_number_bindings_b", "number_bindings", ["b_digest"], unique=False)
    pending = sa.text("provider_state = 'unbind_pending'")
    op.create_index(
        "ix_number_bindings_unbind_pending",
        "number_bindings",
        ["provider_state"],
        unique=False,
        sqlite_where=pending,
        postgresql_where=pending,
    )

    op.create_table(
        "number_calls",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("route_event_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=True),
        sa.Column("x_number", sa.String(length=20), nullable=True),
        sa.Column("caller_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("binding_id", sa.String(length=40), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("caller_party", sa.String(length=16), nullable=True),
        sa.Column("decision", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("routed_ms", sa.BigInteger(), nullable=True),
        sa.Column("started_ms", sa.BigInteger(), nullable=True),
        sa.Column("ended_ms", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_number_calls_call_id")),
        sa.UniqueConstraint("route_event_id", name=op.f("uq_number_calls_route_event_id")),
    )
    op.create_index(
        op.f("ix_number_calls_binding_id"), "number_calls", ["binding_id"], unique=False
    )
    op.create_index(op.f("ix_number_calls_order_id"), "number_calls", ["order_id"], unique=False)

    op.create_table(
        "number_call_reports",
        sa.Column("provider_event_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("provider_event_id", name=op.f("pk_number_call_reports")),
    )
    op.create_index(
        op.f("ix_number_call_reports_call_id"), "number_call_reports", ["call_id"], unique=False
    )

    op.create_table(
        "number_leak_signals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("binding_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("holder_role", sa.String(length=16), nullable=False),
        sa.Column("x_number", sa.String(length=20), nullable=False),
        sa.Column("caller_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("call_id", sa.String(length=40), nullable=False),
        sa.Column("alert_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_leak_signals")),
    )
    for column in ("at_ms", "binding_id", "holder_id"):
        op.create_index(
            op.f(f"ix_number_leak_signals_{column}"),
            "number_leak_signals",
            [column],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("number_leak_signals")
    op.drop_table("number_call_reports")
    op.drop_table("number_calls")
    op.drop_table("number_bindings")
    op.drop_table("party_phones")
    op.drop_table("party_phone_keys")
    op.drop_table("number_pool")
