"""The watch's knobs: rate limits, detection thresholds and the response to each signal.

Every default lives here, in one place, and the README's "Watch" section
explains each. Deployments override them through settings (``VEIL_RATE_LIMITS``,
``VEIL_WATCH_THRESHOLDS``, ``VEIL_WATCH_RESPONSES``); an unknown name is a
`ConfigurationError` at start-up, never a silently ignored typo.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from veil.errors import ConfigurationError

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RESPONSES",
    "PROTECTED_ROLES",
    "Response",
    "Thresholds",
    "WatchConfig",
]


class Response(enum.StrEnum):
    """What the watch does, besides the alert, when a signal fires."""

    RECORD = "record"
    STEP_UP = "step_up"
    SUSPEND = "suspend"


# Scopes of a limit: per principal, per API key, per client IP, per business
# flow (per principal), and failed authentications per client IP. A key
# "<role>.<scope>" overrides "<scope>" for that role; "none" lifts a limit.
DEFAULT_RATE_LIMITS: Mapping[str, str] = MappingProxyType(
    {
        "principal": "600/minute",
        "api_key": "600/minute",
        "client_ip": "3000/minute",
        "views": "300/minute;5000/hour",
        "reveals": "10/minute;60/hour",
        "lookups": "60/minute",
        "routing": "60/minute",
        "auth_failures": "30/minute",
        # The platform back-end ingests, and its telephony gateway routes every
        # call, at volume from a few addresses; its phone lookups stay bounded
        # (a lookup by phone is an oracle).
        "service.principal": "none",
        "service.api_key": "none",
        "service.client_ip": "none",
        "service.views": "none",
        "service.routing": "none",
        "service.lookups": "1200/minute",
    }
)
RATE_LIMIT_SCOPES = frozenset(
    {"principal", "api_key", "client_ip", "views", "reveals", "lookups", "routing", "auth_failures"}
)

DEFAULT_RESPONSES: Mapping[str, Response] = MappingProxyType(
    {
        "enumeration": Response.SUSPEND,
        "bulk_read": Response.SUSPEND,
        "policy_denials": Response.STEP_UP,
        "harvesting": Response.SUSPEND,
        "collusion": Response.RECORD,
        "peer_outlier": Response.STEP_UP,
        "break_glass_use": Response.RECORD,
        "number_leak": Response.RECORD,
        "rate_limited": Response.RECORD,
    }
)

# Suspending the platform back-end would stop every delivery, and admins are
# the ones who reinstate: for these roles a "suspend" is recorded, not done.
PROTECTED_ROLES = frozenset({"service", "admin"})


@dataclass(frozen=True, slots=True)
class Enumeration:
    """Distinct orders answered 404/403 per window, and their share of the orders touched."""

    misses_10m: int = 10
    misses_1h: int = 25
    misses_24h: int = 40
    min_miss_ratio: float = 0.3


@dataclass(frozen=True, slots=True)
class BulkRead:
    """Distinct orders one principal touches in an hour, by role (0: no limit)."""

    rider: int = 60
    customer: int = 30
    merchant: int = 600
    agent: int = 100
    admin: int = 60
    safety: int = 60
    security: int = 60
    analyst: int = 60
    auditor: int = 60
    service: int = 0

    def for_role(self, role: str) -> int:
        """Return the hourly cap of `role` (0 when unknown: no cap)."""
        value = getattr(self, role, 0)
        return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True, slots=True)
class PolicyDenials:
    """Distinct refused requests (window closed, no ticket, quota, never assigned)."""

    denials_1h: int = 8
    denials_24h: int = 20


@dataclass(frozen=True, slots=True)
class Harvesting:
    """Riders who see full addresses and do not deliver.

    An order is *abandoned* by a rider when it is cancelled or taken away after
    the rider saw its full address. Honest riders lose some orders after pickup
    too (the customer cancels); `base_rate` is how often, at most. A rider is
    flagged when abandoning as many orders as it did, out of its finished ones,
    would happen to an honest rider with probability at most `alpha` (binomial
    tail), with at least `min_abandoned` abandoned, over a day or a week.
    """

    base_rate: float = 0.02
    alpha: float = 2e-5
    min_abandoned: int = 3
    # Orders whose full address the rider saw and that are not delivered (yet).
    undelivered_24h: int = 8
    delivered_share_min: float = 0.4


@dataclass(frozen=True, slots=True)
class Collusion:
    """Several riders abandoning orders from one client address (a shared device or proxy)."""

    riders: int = 3
    abandoned: int = 5
    share: float = 0.2


@dataclass(frozen=True, slots=True)
class PeerOutlier:
    """Each principal against its role's peers over the last days (median and MAD)."""

    days: int = 7
    min_days: int = 2
    min_peers: int = 8
    z: float = 4.0
    ratio: float = 2.0
    floor_views: float = 60
    floor_reveals: float = 5
    floor_subjects: float = 40
    floor_self_tickets: float = 5
    night_share: float = 0.5
    night_floor: float = 10
    night_start_hour: int = 0
    night_end_hour: int = 6
    utc_offset_hours: int = 8


@dataclass(frozen=True, slots=True)
class BreakGlassUse:
    """Break-glass requests by one principal within a week."""

    requests_7d: int = 3


@dataclass(frozen=True, slots=True)
class NumberLeak:
    """Privacy-number leak signals about one holder within a week."""

    signals_7d: int = 2


@dataclass(frozen=True, slots=True)
class RateLimitedSignal:
    """Requests refused by the rate limits for one principal within 10 minutes."""

    refusals_10m: int = 30


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every detection threshold, by signal."""

    enumeration: Enumeration = field(default_factory=Enumeration)
    bulk_read: BulkRead = field(default_factory=BulkRead)
    policy_denials: PolicyDenials = field(default_factory=PolicyDenials)
    harvesting: Harvesting = field(default_factory=Harvesting)
    collusion: Collusion = field(default_factory=Collusion)
    peer_outlier: PeerOutlier = field(default_factory=PeerOutlier)
    break_glass_use: BreakGlassUse = field(default_factory=BreakGlassUse)
    number_leak: NumberLeak = field(default_factory=NumberLeak)
    rate_limited: RateLimitedSignal = field(default_factory=RateLimitedSignal)

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Mapping[str, Any]]) -> Thresholds:
        """Return the defaults with `overrides` (``{signal: {name: value}}``) applied."""
        result = cls()
        for signal, values in overrides.items():
            if signal not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigurationError(f"VEIL_WATCH_THRESHOLDS names no signal {signal!r}")
            section = getattr(result, signal)
            known = {f.name: f for f in dataclasses.fields(section)}
            changes: dict[str, Any] = {}
            for name, value in values.items():
                if name not in known:
                    raise ConfigurationError(
                        f"VEIL_WATCH_THRESHOLDS: {signal} has no threshold {name!r}"
                        f" (known: {', '.join(sorted(known))})"
                    )
                default = getattr(section, name)
                try:
                    changes[name] = type(default)(value)
                except (TypeError, ValueError):
                    raise ConfigurationError(
                        f"VEIL_WATCH_THRESHOLDS: {signal}.{name} must be a number"
                    ) from None
                if changes[name] < 0:
                    raise ConfigurationError(
                        f"VEIL_WATCH_THRESHOLDS: {signal}.{name} must not be negative"
                    )
            result = dataclasses.replace(
                result, **{signal: dataclasses.replace(section, **changes)}
            )
        return result

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Return every threshold, by signal (for the README and `veil alerts thresholds`)."""
        return {f.name: dataclasses.asdict(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Rate limits, thresholds and responses, validated."""

    rate_limits: Mapping[str, str] = field(default_factory=lambda: DEFAULT_RATE_LIMITS)
    thresholds: Thresholds = field(default_factory=Thresholds)
    responses: Mapping[str, Response] = field(default_factory=lambda: DEFAULT_RESPONSES)

    @classmethod
    def from_overrides(
        cls,
        *,
        rate_limits: Mapping[str, str] | None = None,
        thresholds: Mapping[str, Mapping[str, Any]] | None = None,
        responses: Mapping[str, str] | None = None,
    ) -> WatchConfig:
        """Merge overrides into the defaults, refusing names nobody knows."""
        limits = dict(DEFAULT_RATE_LIMITS)
        for key, value in (rate_limits or {}).items():
            scope = key.rpartition(".")[2]
            if scope not in RATE_LIMIT_SCOPES:
                raise ConfigurationError(
                    f"VEIL_RATE_LIMITS names no scope {key!r}"
                    f" (known: {', '.join(sorted(RATE_LIMIT_SCOPES))}, optionally role.scope)"
                )
            limits[key] = value
        chosen = dict(DEFAULT_RESPONSES)
        for signal, value in (responses or {}).items():
            if signal not in DEFAULT_RESPONSES:
                raise ConfigurationError(f"VEIL_WATCH_RESPONSES names no signal {signal!r}")
            try:
                chosen[signal] = Response(value)
            except ValueError:
                raise ConfigurationError(
                    f"VEIL_WATCH_RESPONSES: {signal} must be one of"
                    f" {', '.join(r.value for r in Response)}"
                ) from None
        return cls(
            rate_limits=MappingProxyType(limits),
            thresholds=Thresholds.with_overrides(thresholds or {}),
            responses=MappingProxyType(chosen),
        )

    def response_for(self, kind: str) -> Response:
        """Return the configured response to signal `kind` (record when unknown)."""
        return self.responses.get(kind, Response.RECORD)
