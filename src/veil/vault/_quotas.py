"""Daily reveal quotas, taken atomically in the reveal's own transaction.

Each (day, principal) and (day, role) has one ``quota_usage`` row. The day's
rows are created with an insert that ignores conflicts; a unit is taken with
``UPDATE … SET used = used + 1 WHERE … AND used < :limit`` and the row count
says whether it was there. On PostgreSQL the second of two racing updates
waits for the first and re-checks ``used < :limit`` on the committed row; on
SQLite every writing transaction holds the database lock. Either way two
requests cannot both take the last unit. The limit comes from the policy set
in force, so a reload changes it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from veil.policy import QuotaTable
from veil.store import QUOTA_USAGE
from veil.vault._model import Caller, RequestMeta
from veil.vault._views import iso_ms

if TYPE_CHECKING:
    from veil.vault._vault import Vault

__all__ = ["QuotaState", "quota_of", "read_quota", "take_unit"]

_Q = QUOTA_USAGE
_NO_META = RequestMeta()


@dataclass(frozen=True, slots=True)
class QuotaState:
    """A principal's reveal quota for one day, and their role's."""

    day: str
    resets_ms: int
    role: str
    principal_used: int
    principal_limit: int
    role_used: int
    role_limit: int

    @property
    def principal_remaining(self) -> int:
        """Reveals the principal may still make today."""
        return max(0, self.principal_limit - self.principal_used)

    @property
    def role_remaining(self) -> int:
        """Reveals the whole role may still make today."""
        return max(0, self.role_limit - self.role_used)

    @property
    def remaining(self) -> int:
        """Reveals this principal can actually still make today (both limits apply)."""
        return min(self.principal_remaining, self.role_remaining)

    def summary(self) -> str:
        """Return the state in one line, for audit rows and error messages."""
        return (
            f"principal {self.principal_used}/{self.principal_limit},"
            f" role {self.role} {self.role_used}/{self.role_limit}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the state as the API shows it."""
        return {
            "day": self.day,
            "resets_at": iso_ms(self.resets_ms),
            "remaining": self.remaining,
            "principal": {
                "limit": self.principal_limit,
                "used": self.principal_used,
                "remaining": self.principal_remaining,
            },
            "role": {
                "role": self.role,
                "limit": self.role_limit,
                "used": self.role_used,
                "remaining": self.role_remaining,
            },
        }


def read_quota(
    connection: Connection, table: QuotaTable, caller: Caller, now_ms: int
) -> QuotaState:
    """Return the caller's quota state now, without taking anything."""
    day = table.day_of(now_ms)
    principal_limit, role_limit = table.limits_for(caller.principal_id, caller.role)
    used = {
        (row.scope, row.holder): row.used
        for row in connection.execute(
            select(_Q.c.scope, _Q.c.holder, _Q.c.used).where(
                _Q.c.day == day,
                ((_Q.c.scope == "principal") & (_Q.c.holder == caller.principal_id))
                | ((_Q.c.scope == "role") & (_Q.c.holder == caller.role)),
            )
        )
    }
    return QuotaState(
        day=day,
        resets_ms=table.day_end_ms(now_ms),
        role=caller.role,
        principal_used=used.get(("principal", caller.principal_id), 0),
        principal_limit=principal_limit,
        role_used=used.get(("role", caller.role), 0),
        role_limit=role_limit,
    )


def take_unit(
    connection: Connection, table: QuotaTable, caller: Caller, now_ms: int
) -> tuple[bool, QuotaState]:
    """Take one reveal from the caller's and their role's quota, or neither.

    Returns whether the unit was taken, and the state after the attempt. Rows
    are locked principal first, then role, in every transaction, so racing
    reveals queue rather than deadlock.
    """
    day = table.day_of(now_ms)
    principal_limit, role_limit = table.limits_for(caller.principal_id, caller.role)
    taken = False
    if principal_limit > 0 and role_limit > 0:
        holders = (("principal", caller.principal_id), ("role", caller.role))
        _create_rows(connection, day, holders)
        taken = _increment(connection, day, *holders[0], limit=principal_limit, step=1)
        if taken and not _increment(connection, day, *holders[1], limit=role_limit, step=1):
            # The role's quota is spent: give the principal's unit back (we hold its lock).
            _increment(connection, day, *holders[0], limit=None, step=-1)
            taken = False
    return taken, read_quota(connection, table, caller, now_ms)


def quota_of(vault: Vault, caller: Caller, *, meta: RequestMeta = _NO_META) -> dict[str, Any]:
    """Return the caller's reveal quota today (`GET /v1/me/quota`)."""
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "view_quota", now_ms, meta)
    with vault._transaction() as connection:
        state = read_quota(connection, vault.policy.source.quotas, caller, now_ms)
    return state.as_dict()


def _create_rows(connection: Connection, day: str, holders: tuple[tuple[str, str], ...]) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for scope, holder in holders:
        connection.execute(
            dialect.insert(_Q)
            .values(day=day, scope=scope, holder=holder, used=0)
            .on_conflict_do_nothing()
        )


def _increment(
    connection: Connection, day: str, scope: str, holder: str, *, limit: int | None, step: int
) -> bool:
    condition = (_Q.c.day == day) & (_Q.c.scope == scope) & (_Q.c.holder == holder)
    if limit is not None:
        condition = condition & (_Q.c.used < limit)
    result = connection.execute(update(_Q).where(condition).values(used=_Q.c.used + step))
    return result.rowcount == 1
