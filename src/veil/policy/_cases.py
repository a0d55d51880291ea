"""Policy test tables: cases a security lead writes in TOML, run against the real engine.

A case names a principal, an action, the facts of the resource (order,
ticket, break-glass grant), the time, and the decision expected; optionally
the exact policy ids that must decide it and the reason a denied caller
reads. Facts go through the same entity building as production requests,
so a passing table proves the rules, not a model of them. Times are written
as offsets from the table's ``t0`` (``"-5m"``, ``"+15m1s"``) or as ISO 8601.

A case::

    [[case]]
    name = "agent on an open ticket may call the customer while the order is out"
    principal = "agent-1"                 # "<role>-<n>"; the role is the part before "-"
    action = "reveal"
    purpose = "delivery_failed_contact_customer"
    fields = ["phone"]
    now = "+0s"
    expect = "allow"
    policies = ["reveal.agent.delivery-failed"]
    order = { state = "picked_up", rider = "rider-1", picked_up = "-10m" }
    ticket = { assignee = "agent-1", opened = "-5m" }
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.errors import ConfigurationError
from veil.policy._engine import Decision, OrderFacts, PolicyEngine, PolicySource, PrincipalFacts
from veil.policy._staff import (
    BREAK_GLASS_ACTIONS,
    ORDER_ACTIONS,
    TICKET_ACTIONS,
    BreakGlassFacts,
    TicketFacts,
    decide_break_glass,
    decide_staff_order,
    decide_ticket,
    decide_vault_action,
)

__all__ = ["CASES_FILE", "CaseResult", "PolicyCase", "decide_case", "load_cases", "run_cases"]

CASES_FILE = "policy_tests.toml"
_OFFSET = re.compile(r"^([+-])((?:\d+(?:ms|d|h|m|s))+)$")
_PART = re.compile(r"(\d+)(ms|d|h|m|s)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_CASE_KEYS = {
    "name",
    "principal",
    "action",
    "expect",
    "policies",
    "reason",
    "now",
    "purpose",
    "fields",
    "order",
    "ticket",
    "break_glass",
}


@dataclass(frozen=True)
class PolicyCase:
    """One row of a policy test table, with its facts resolved."""

    name: str
    principal: PrincipalFacts
    action: str
    expect: str
    now_ms: int
    policies: tuple[str, ...] | None = None
    reason: str | None = None
    purpose: str | None = None
    fields: tuple[str, ...] = ()
    order: OrderFacts | None = None
    ticket: TicketFacts | None = None
    break_glass: BreakGlassFacts | None = None


@dataclass(frozen=True)
class CaseResult:
    """What a case expected and what the engine decided."""

    case: PolicyCase
    decision: Decision
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Tell whether the decision matched every expectation of the case."""
        return not self.problems


def load_cases(path: Path) -> tuple[list[PolicyCase], int]:
    """Read a case table; return its cases and the rider grace period (ms) it assumes.

    Raises:
        ConfigurationError: naming the case and the entry at fault.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path} is not a readable TOML table: {exc}") from None
    t0 = _instant(document.get("t0", "2026-11-29T12:00:00Z"), 0, f"{path} t0")
    grace = _duration(document.get("rider_grace", "15m"), f"{path} rider_grace")
    raw_cases = document.get("case", [])
    if not isinstance(raw_cases, list) or not raw_cases:
        raise ConfigurationError(f"{path} has no [[case]] entries")
    cases = []
    names: set[str] = set()
    for index, raw in enumerate(raw_cases, start=1):
        where = f"{path} case {index}"
        case = _case(raw, t0, where)
        if case.name in names:
            raise ConfigurationError(f"{where}: the name {case.name!r} is used twice")
        names.add(case.name)
        cases.append(case)
    return cases, grace


def run_cases(
    source: PolicySource, cases: Sequence[PolicyCase], *, rider_grace_ms: int
) -> list[CaseResult]:
    """Decide every case with `source` and compare with what it expects."""
    engine = PolicyEngine(source, rider_grace_ms=rider_grace_ms)
    results = []
    for case in cases:
        decision = decide_case(engine, case)
        problems = []
        got = "allow" if decision.allowed else "deny"
        if got != case.expect:
            problems.append(f"expected {case.expect}, got {got}")
        if case.policies is not None and set(case.policies) != set(decision.policy_ids):
            problems.append(
                f"expected policies {sorted(case.policies)}, got {sorted(decision.policy_ids)}"
            )
        reason = getattr(decision, "reason", None)
        if case.reason is not None and reason != case.reason:
            problems.append(f"expected reason {case.reason!r}, got {reason!r}")
        results.append(CaseResult(case, decision, tuple(problems)))
    return results


def decide_case(engine: PolicyEngine, case: PolicyCase) -> Decision:
    """Decide one case through the production entity builders."""
    if case.action in ORDER_ACTIONS:
        if case.order is None:
            raise ConfigurationError(f"case {case.name!r}: {case.action} needs an order")
        reveal = case.action == "reveal"
        return decide_staff_order(
            engine,
            case.principal,
            (case.action,),
            case.order,
            now_ms=case.now_ms,
            ticket=case.ticket,
            break_glass=case.break_glass,
            purpose=(case.purpose or "") if reveal else None,
            fields=case.fields,
        )[0]
    if case.action in TICKET_ACTIONS:
        if case.ticket is None:
            raise ConfigurationError(f"case {case.name!r}: {case.action} needs a ticket")
        return decide_ticket(
            engine, case.principal, (case.action,), case.ticket, now_ms=case.now_ms
        )[0]
    if case.action in BREAK_GLASS_ACTIONS:
        if case.break_glass is None:
            raise ConfigurationError(f"case {case.name!r}: {case.action} needs a break_glass")
        return decide_break_glass(
            engine, case.principal, (case.action,), case.break_glass, now_ms=case.now_ms
        )[0]
    return decide_vault_action(engine, case.principal, case.action, now_ms=case.now_ms)


def _case(raw: object, t0: int, where: str) -> PolicyCase:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a table")
    unknown = set(raw) - _CASE_KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = _text(raw, "name", where)
    where = f"{where} ({name!r})"
    expect = _text(raw, "expect", where)
    if expect not in {"allow", "deny"}:
        raise ConfigurationError(f"{where}: expect must be allow or deny")
    now_ms = _instant(raw.get("now", "+0s"), t0, f"{where} now")
    order_raw = raw.get("order")
    order = _order(order_raw, t0, where) if order_raw is not None else None
    order_id = order.id if order is not None else "order-1"
    ticket_raw = raw.get("ticket")
    grant_raw = raw.get("break_glass")
    policies = raw.get("policies")
    fields = raw.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ConfigurationError(f"{where}: fields must be a list of strings")
    if policies is not None and (
        not isinstance(policies, list) or not all(isinstance(p, str) for p in policies)
    ):
        raise ConfigurationError(f"{where}: policies must be a list of policy ids")
    return PolicyCase(
        name=name,
        principal=_principal(raw.get("principal"), where),
        action=_text(raw, "action", where),
        expect=expect,
        now_ms=now_ms,
        policies=tuple(policies) if policies is not None else None,
        reason=raw.get("reason"),
        purpose=raw.get("purpose"),
        fields=tuple(fields),
        order=order,
        ticket=_ticket(ticket_raw, order_id, t0, where) if ticket_raw is not None else None,
        break_glass=_grant(grant_raw, order_id, t0, where) if grant_raw is not None else None,
    )


def _principal(raw: object, where: str) -> PrincipalFacts:
    if isinstance(raw, str):
        role, _, _ = raw.rpartition("-")
        return PrincipalFacts(raw, role or raw, "sub-1" if role == "customer" else None)
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("id"), str)
        and isinstance(raw.get("role"), str)
    ):
        return PrincipalFacts(raw["id"], raw["role"], raw.get("subject"))
    raise ConfigurationError(
        f'{where}: principal must be "<role>-<n>" or {{ id = ..., role = ..., subject = ... }}'
    )


def _order(raw: object, t0: int, where: str) -> OrderFacts:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: order must be a table")
    known = {
        "id", "state", "subject", "merchant", "rider", "past_riders",
        "created", "assigned", "picked_up", "delivered", "cancelled",
    }  # fmt: skip
    _only(raw, known, f"{where} order")

    def when(name: str) -> int | None:
        value = raw.get(name)
        return None if value is None else _instant(value, t0, f"{where} order.{name}")

    return OrderFacts(
        id=str(raw.get("id", "order-1")),
        state=str(raw.get("state", "created")),
        subject_id=str(raw.get("subject", "sub-1")),
        merchant_id=str(raw.get("merchant", "merchant-1")),
        rider_id=raw.get("rider"),
        past_rider_ids=tuple(raw.get("past_riders", ())),
        created_ms=when("created") or t0 - 3_600_000,
        assigned_ms=when("assigned"),
        picked_up_ms=when("picked_up"),
        delivered_ms=when("delivered"),
        cancelled_ms=when("cancelled"),
    )


def _ticket(raw: object, order_id: str, t0: int, where: str) -> TicketFacts:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: ticket must be a table")
    _only(raw, {"id", "order", "assignee", "origin", "opened", "closed"}, f"{where} ticket")
    closed = raw.get("closed")
    return TicketFacts(
        id=str(raw.get("id", "ticket-1")),
        order_id=str(raw.get("order", order_id)),
        assignee_id=str(raw.get("assignee", "agent-1")),
        origin=str(raw.get("origin", "service")),
        opened_ms=_instant(raw.get("opened", "-5m"), t0, f"{where} ticket.opened"),
        closed_ms=None if closed is None else _instant(closed, t0, f"{where} ticket.closed"),
    )


def _grant(raw: object, order_id: str, t0: int, where: str) -> BreakGlassFacts:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: break_glass must be a table")
    known = {
        "id", "order", "requester", "requester_role", "requested", "expires",
        "approver", "approved", "revoked",
    }  # fmt: skip
    _only(raw, known, f"{where} break_glass")
    requester = str(raw.get("requester", "admin-1"))

    def when(name: str) -> int | None:
        value = raw.get(name)
        return None if value is None else _instant(value, t0, f"{where} break_glass.{name}")

    return BreakGlassFacts(
        id=str(raw.get("id", "grant-1")),
        order_id=str(raw.get("order", order_id)),
        requester_id=requester,
        requester_role=str(raw.get("requester_role", requester.rpartition("-")[0] or "admin")),
        requested_ms=when("requested") or t0 - 600_000,
        expires_ms=when("expires") or t0 + 1_200_000,
        approver_id=raw.get("approver"),
        approved_ms=when("approved"),
        revoked_ms=when("revoked"),
    )


def _only(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(raw) - known
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: {key} is required (a string)")
    return value


def _duration(value: object, where: str) -> int:
    if not isinstance(value, str):
        raise ConfigurationError(f'{where}: a duration like "15m" or "1h30m"')
    match = _OFFSET.match(value if value[:1] in "+-" else "+" + value)
    if match is None:
        raise ConfigurationError(f'{where}: {value!r} is not a duration like "15m" or "1h30m"')
    total = sum(int(n) * _UNIT_MS[unit] for n, unit in _PART.findall(match.group(2)))
    return -total if match.group(1) == "-" else total


def _instant(value: object, t0: int, where: str) -> int:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, str) and value[:1] in "+-":
        return t0 + _duration(value, where)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"{where}: {value!r} is neither an offset nor ISO 8601"
            ) from None
        return _instant(moment, t0, where)
    raise ConfigurationError(f'{where}: a time is an offset ("-5m") or an ISO 8601 string')
