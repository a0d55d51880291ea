"""audit log: the subject index holds only events about a subject

Most audit events name no subject (number bindings, routing, staff lookups,
refusals); their NULL entries in ``ix_audit_events_subject_id`` were still a
page write in every such commit. The subject access log asks for one subject
(``subject_id = ?``), which a partial index ``WHERE subject_id IS NOT NULL``
answers on SQLite and PostgreSQL alike.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ABOUT_A_SUBJECT = sa.text("subject_id IS NOT NULL")

# Plain DROP/CREATE INDEX (no batch mode): on SQLite a batch operation would
# copy the table and lose its append-only triggers.


def upgrade() -> None:
    op.drop_index("ix_audit_events_subject_id", table_name="audit_events")
    op.create_index(
        "ix_audit_events_subject_id",
        "audit_events",
        ["subject_id"],
        sqlite_where=_ABOUT_A_SUBJECT,
        postgresql_where=_ABOUT_A_SUBJECT,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_subject_id", table_name="audit_events")
    op.create_index("ix_audit_events_subject_id", "audit_events", ["subject_id"])
