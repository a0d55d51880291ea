"""audit log: keep only the index a query reads (subject_id)

Every view appends one audit row in the same transaction as the read. Each
secondary index on ``audit_events`` is keyed by a random id, so each one adds a
page write at a random place to every commit. No query of Veil reads events by
order or by principal (the watch keeps its own counters; the subject access
log reads by subject), so those two indexes go.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29 07:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain DROP/CREATE INDEX (no batch mode): on SQLite a batch operation would
# copy the table and lose its append-only triggers.


def upgrade() -> None:
    op.drop_index("ix_audit_events_order_id", table_name="audit_events")
    op.drop_index("ix_audit_events_principal_id", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_principal_id", "audit_events", ["principal_id"])
    op.create_index("ix_audit_events_order_id", "audit_events", ["order_id"])
