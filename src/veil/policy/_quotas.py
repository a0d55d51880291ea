"""Daily reveal quotas and break-glass durations, read from ``quotas.toml`` beside the policies.

A reveal discloses one order's fields: one record in the sense of the 2017
SPC/SPP interpretation on personal-information crimes, whose "serious"
thresholds are 50 records (movement tracks, communication content, credit,
property), 500 (accommodation, communication records, health, transactions)
and 5,000 (other), halved for people who obtained the data through their
job. An insider therefore crosses the strictest line at 25 records. Veil's
defaults stay far below it per day, and the loader refuses any per-principal
daily quota above `INSIDER_CEILING`, so a configuration change cannot quietly
move a person into criminal territory in one day.

The file::

    [day]
    utc_offset_hours = 8        # quota days start at 00:00 China Standard Time

    [role.agent]
    per_principal = 10          # reveals one agent may make per day
    role_total = 200            # reveals all agents together may make per day

    [principal]
    "prn_…" = 15                # a per-principal override (still ≤ 25)

    [break_glass]
    minutes = 30                # default duration of an approved grant
    max_minutes = 60            # longest duration a requester may ask for
    approval_window_minutes = 30  # an unapproved request lapses after this

A role that is not listed gets no reveals at all (fail closed).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veil.errors import ConfigurationError
from veil.ids import IdKind, is_id

__all__ = ["INSIDER_CEILING", "BreakGlassLimits", "QuotaTable", "RoleQuota"]

# Half of the 50-record threshold of the strictest class (insiders are judged at half).
INSIDER_CEILING = 25

_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class RoleQuota:
    """One role's daily reveal quota: per principal, and for the whole role together."""

    per_principal: int
    role_total: int


@dataclass(frozen=True, slots=True)
class BreakGlassLimits:
    """How long break-glass grants last and how long a request waits for approval."""

    minutes: int = 30
    max_minutes: int = 60
    approval_window_minutes: int = 30


@dataclass(frozen=True)
class QuotaTable:
    """Reveal quotas per role and per principal, and the day they count in."""

    roles: Mapping[str, RoleQuota] = field(default_factory=dict)
    principals: Mapping[str, int] = field(default_factory=dict)
    utc_offset_minutes: int = 480
    break_glass: BreakGlassLimits = field(default_factory=BreakGlassLimits)

    @classmethod
    def none(cls) -> QuotaTable:
        """Return a table that allows no reveals (what a policy directory without quotas gets)."""
        return cls()

    @classmethod
    def load(cls, path: Path, *, roles: Iterable[str]) -> QuotaTable:
        """Read and check ``quotas.toml``.

        Raises:
            ConfigurationError: naming the file and the entry at fault.
        """
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
        return cls.parse(document, roles=roles, origin=str(path))

    @classmethod
    def parse(
        cls, document: Mapping[str, Any], *, roles: Iterable[str], origin: str = "quotas"
    ) -> QuotaTable:
        """Build a table from a parsed TOML document, refusing anything unexpected."""
        known_roles = set(roles)
        unknown = set(document) - {"day", "role", "principal", "break_glass"}
        if unknown:
            raise ConfigurationError(f"{origin}: unknown section(s) {', '.join(sorted(unknown))}")
        day = _table(document, "day", origin)
        _only(day, {"utc_offset_hours"}, f"{origin} [day]")
        offset_hours = day.get("utc_offset_hours", 8)
        if not isinstance(offset_hours, int | float) or not -12 <= offset_hours <= 14:
            raise ConfigurationError(f"{origin}: [day] utc_offset_hours must be within -12..14")
        role_quotas: dict[str, RoleQuota] = {}
        for role, entry in _table(document, "role", origin).items():
            where = f"{origin} [role.{role}]"
            if role not in known_roles:
                raise ConfigurationError(f"{where}: no such role")
            if not isinstance(entry, dict):
                raise ConfigurationError(f"{where} must be a table")
            _only(entry, {"per_principal", "role_total"}, where)
            per_principal = _count(entry.get("per_principal", 0), f"{where} per_principal")
            role_total = _count(entry.get("role_total", 0), f"{where} role_total")
            _under_ceiling(per_principal, f"{where} per_principal")
            role_quotas[role] = RoleQuota(per_principal, role_total)
        overrides: dict[str, int] = {}
        for principal_id, limit in _table(document, "principal", origin).items():
            where = f"{origin} [principal] {principal_id}"
            if not is_id(principal_id, IdKind.PRINCIPAL):
                raise ConfigurationError(f"{where}: keys must be principal ids (prn_…)")
            overrides[principal_id] = _under_ceiling(_count(limit, where), where)
        glass = _table(document, "break_glass", origin)
        where = f"{origin} [break_glass]"
        _only(glass, {"minutes", "max_minutes", "approval_window_minutes"}, where)
        limits = BreakGlassLimits(
            minutes=_count(glass.get("minutes", 30), f"{where} minutes"),
            max_minutes=_count(glass.get("max_minutes", 60), f"{where} max_minutes"),
            approval_window_minutes=_count(
                glass.get("approval_window_minutes", 30), f"{where} approval_window_minutes"
            ),
        )
        if not 1 <= limits.minutes <= limits.max_minutes <= 24 * 60:
            raise ConfigurationError(f"{where}: need 1 <= minutes <= max_minutes <= 1440")
        if not 1 <= limits.approval_window_minutes <= 24 * 60:
            raise ConfigurationError(f"{where}: approval_window_minutes must be 1..1440")
        return cls(role_quotas, overrides, round(offset_hours * 60), limits)

    def limits_for(self, principal_id: str, role: str) -> tuple[int, int]:
        """Return ``(per-principal limit, role-wide limit)`` for today's reveals."""
        quota = self.roles.get(role, RoleQuota(0, 0))
        return self.principals.get(principal_id, quota.per_principal), quota.role_total

    def day_of(self, now_ms: int) -> str:
        """Return the quota day `now_ms` falls in (``YYYY-MM-DD`` in the configured offset)."""
        local = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC) + dt.timedelta(
            minutes=self.utc_offset_minutes
        )
        return local.date().isoformat()

    def day_end_ms(self, now_ms: int) -> int:
        """Return when the quota day of `now_ms` ends (epoch ms), i.e. when quotas reset."""
        offset_ms = self.utc_offset_minutes * 60_000
        return ((now_ms + offset_ms) // _DAY_MS + 1) * _DAY_MS - offset_ms

    def as_dict(self) -> dict[str, Any]:
        """Return the table as plain data (for `GET /v1/admin/policies` and the CLI)."""
        return {
            "utc_offset_minutes": self.utc_offset_minutes,
            "roles": {
                role: {"per_principal": q.per_principal, "role_total": q.role_total}
                for role, q in sorted(self.roles.items())
            },
            "principals": dict(sorted(self.principals.items())),
            "break_glass": {
                "minutes": self.break_glass.minutes,
                "max_minutes": self.break_glass.max_minutes,
                "approval_window_minutes": self.break_glass.approval_window_minutes,
            },
        }


def _table(document: Mapping[str, Any], name: str, origin: str) -> dict[str, Any]:
    value = document.get(name, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"{origin}: [{name}] must be a table")
    return value


def _only(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _count(value: object, where: str) -> int:
    # bool is an int in Python; `true` is not a count.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{where} must be a whole number >= 0")
    return value


def _under_ceiling(value: int, where: str) -> int:
    if value > INSIDER_CEILING:
        raise ConfigurationError(
            f"{where} = {value} is above {INSIDER_CEILING}, half the 50-record threshold at"
            " which the 2017 interpretation calls an insider's disclosure serious; Veil refuses it"
        )
    return value
