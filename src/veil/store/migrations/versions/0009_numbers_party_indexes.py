"""privacy numbers: party-first indexes, so allocation reads a day of bindings, not a lifetime

Allocation excludes the numbers a customer or rider holds now or gave back
within the cool-down. It read every binding the party ever had (a busy
rider: tens of thousands a year), so each bind got slower with the rider's
history (20 % slower after 40 bindings per rider in bench/numbers_bind.py).
Now the live ones come from the live unique indexes, reordered party first
(same uniqueness), and the ended ones from ``(party, created_ms)`` indexes,
only as far back as a binding can have ended within the cool-down.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_LIVE = sa.text("released_ms IS NULL")
_TABLE = "number_bindings"


def _rebuild(party_first: bool) -> None:
    for party in ("a", "b"):
        digest = f"{party}_digest"
        unique = f"uq_number_bindings_live_x{party}"
        plain = f"ix_number_bindings_{party}"
        op.drop_index(unique, table_name=_TABLE)
        op.drop_index(plain, table_name=_TABLE)
        op.create_index(
            unique,
            _TABLE,
            [digest, "x_number"] if party_first else ["x_number", digest],
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        )
        op.create_index(plain, _TABLE, [digest, "created_ms"] if party_first else [digest])


def upgrade() -> None:
    _rebuild(party_first=True)


def downgrade() -> None:
    _rebuild(party_first=False)
