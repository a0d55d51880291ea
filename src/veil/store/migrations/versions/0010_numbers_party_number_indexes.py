"""privacy numbers: party indexes keyed (party, number, created_ms)

Allocation read the party's bindings of the last cool-down + longest binding
(0009) and excluded their numbers: a rider's whole day (30-60 bindings) on
every bind, the cost growing with the day. It now asks, for the candidate
number only, whether either party holds it or gave it back within the
cool-down: four index seeks (two per party). Routing finds a caller's
bindings on the called number the same way instead of reading the number's
whole history.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 12:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TABLE = "number_bindings"


def _rebuild(with_number: bool) -> None:
    for party in ("a", "b"):
        name = f"ix_number_bindings_{party}"
        op.drop_index(name, table_name=_TABLE)
        columns = [f"{party}_digest", "x_number", "created_ms"]
        op.create_index(name, _TABLE, columns if with_number else [columns[0], columns[2]])


def upgrade() -> None:
    _rebuild(with_number=True)


def downgrade() -> None:
    _rebuild(with_number=False)
