"""watch: alert incidents and webhook delivery, principal controls, daily usage for baselines

A branch off the staff-access migration (0002), whose ``alerts`` table it
extends; `veil.store.migrate` applies every head. Columns are added in place
(``ALTER TABLE … ADD COLUMN``), so the alerts already raised by break-glass
requests keep their rows.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-29 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    zero = sa.text("0")
    op.add_column("alerts", sa.Column("dedup_key", sa.String(length=120), nullable=True))
    op.add_column(
        "alerts",
        sa.Column("summary", sa.String(length=200), nullable=False, server_default=""),
    )
    op.add_column("alerts", sa.Column("response", sa.String(length=16), nullable=True))
    op.add_column(
        "alerts", sa.Column("hits", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )
    op.add_column("alerts", sa.Column("acknowledged_by", sa.String(length=40), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_ms", sa.BigInteger(), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_reason", sa.String(length=200), nullable=True))
    op.add_column("alerts", sa.Column("closed_by", sa.String(length=40), nullable=True))
    op.add_column("alerts", sa.Column("closed_ms", sa.BigInteger(), nullable=True))
    op.add_column("alerts", sa.Column("closed_reason", sa.String(length=200), nullable=True))
    op.add_column(
        "alerts", sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )
    op.add_column(
        "alerts",
        sa.Column("notified_version", sa.Integer(), nullable=False, server_default=zero),
    )
    op.add_column(
        "alerts",
        sa.Column("notify_attempts", sa.Integer(), nullable=False, server_default=zero),
    )
    op.add_column(
        "alerts",
        sa.Column("notify_next_ms", sa.BigInteger(), nullable=False, server_default=zero),
    )
    op.add_column("alerts", sa.Column("notify_error", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_alerts_dedup_key"), "alerts", ["dedup_key"], unique=False)

    op.create_table(
        "principal_controls",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.String(length=40), nullable=False),
        sa.Column("control", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("alert_id", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("imposed_by", sa.String(length=40), nullable=False),
        sa.Column("imposed_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=True),
        sa.Column("lifted_by", sa.String(length=40), nullable=True),
        sa.Column("lifted_ms", sa.BigInteger(), nullable=True),
        sa.Column("lift_reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal_controls")),
    )
    op.create_index(
        "ix_principal_controls_live",
        "principal_controls",
        ["principal_id", "lifted_ms"],
        unique=False,
    )
    op.create_table(
        "watch_daily_usage",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("principal_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("reveals", sa.Integer(), nullable=False),
        sa.Column("subjects", sa.Integer(), nullable=False),
        sa.Column("night", sa.Integer(), nullable=False),
        sa.Column("self_tickets", sa.Integer(), nullable=False),
        sa.Column("early", sa.Integer(), nullable=False),
        sa.Column("daytime", sa.Integer(), nullable=False),
        sa.Column("evening", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "principal_id", name=op.f("pk_watch_daily_usage")),
    )


def downgrade() -> None:
    op.drop_table("watch_daily_usage")
    op.drop_index("ix_principal_controls_live", table_name="principal_controls")
    op.drop_table("principal_controls")
    op.drop_index(op.f("ix_alerts_dedup_key"), table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for column in (
            "notify_error",
            "notify_next_ms",
            "notify_attempts",
            "notified_version",
            "version",
            "closed_reason",
            "closed_ms",
            "closed_by",
            "acknowledged_reason",
            "acknowledged_ms",
            "acknowledged_by",
            "hits",
            "response",
            "summary",
            "dedup_key",
        ):
            batch_op.drop_column(column)
