"""privacy numbers: two indexes fewer on number_bindings

Every bind and every release wrote a page of each index on ``number_bindings``.
Two go:

* ``ix_number_bindings_live_expiry``: only the sweep (every 30 s) read it; it
  now reads the live rows through the live partial indexes, a set as small as
  the deliveries under way.
* ``uq_number_bindings_live_order``: one live binding per order and holder role
  is kept by the order's row instead (every bind follows an update, or a
  locked read, of it); the order's bindings are found through
  ``ix_number_bindings_order_holder``. The AXB rule itself, no number live
  twice with the same customer or the same rider, stays in the database
  (``uq_number_bindings_live_xa`` / ``_xb``).

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-29 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None

_LIVE = sa.text("released_ms IS NULL")


def upgrade() -> None:
    op.drop_index("ix_number_bindings_live_expiry", table_name="number_bindings")
    op.drop_index("uq_number_bindings_live_order", table_name="number_bindings")


def downgrade() -> None:
    op.create_index(
        "uq_number_bindings_live_order",
        "number_bindings",
        ["order_id", "holder_role"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_index(
        "ix_number_bindings_live_expiry",
        "number_bindings",
        ["expires_ms"],
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
