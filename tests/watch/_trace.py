"""Traces for detector tests: audit records as the vault writes them, built by hand.

The records carry exactly the tags, reasons, fields and details the vault's
use-cases write, so a trace here is what the watch sees in production.
"""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass, field

from veil.audit import AuditRecord, AuditTag
from veil.crypto import keyed_reference
from veil.ids import IdKind, new_id
from veil.watch import Analyzer, Finding, Thresholds

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# 2026-12-01 10:00 in Beijing (UTC+8): office hours.
T0 = 1_796_090_400_000


def order() -> str:
    return new_id(IdKind.ORDER)


def principal() -> str:
    return new_id(IdKind.PRINCIPAL)


def viewed(
    who: str, role: str, order_id: str, at: int, *, full: bool = False, ip: str = "10.0.0.9"
) -> AuditRecord:
    fields = ("order.state", "address.full" if full else "address.building", "phone.masked")
    return AuditRecord(
        AuditTag.ORDER_VIEWED,
        at,
        "allow",
        principal_id=who,
        role=role,
        order_id=order_id,
        subject_id=new_id(IdKind.SUBJECT),
        fields=fields,
        client_ip=ip,
        request_id=new_id(IdKind.REQUEST),
    )


def view_refused(
    who: str, role: str, order_id: str | None, at: int, reason: str = "not found"
) -> AuditRecord:
    return AuditRecord(
        AuditTag.ORDER_VIEW_DENIED,
        at,
        "deny",
        principal_id=who,
        role=role,
        order_id=order_id,
        reason=reason,
        client_ip="203.0.113.66",
        request_id=new_id(IdKind.REQUEST),
    )


def reveal_refused(who: str, order_id: str, at: int, reason: str) -> AuditRecord:
    return AuditRecord(
        AuditTag.ORDER_REVEAL_DENIED,
        at,
        "deny",
        principal_id=who,
        role="agent",
        order_id=order_id,
        reason=reason,
        purpose="delivery_failed_contact_customer",
        request_id=new_id(IdKind.REQUEST),
    )


def revealed(who: str, order_id: str, at: int, subject: str | None = None) -> AuditRecord:
    return AuditRecord(
        AuditTag.ORDER_REVEALED,
        at,
        "allow",
        principal_id=who,
        role="agent",
        order_id=order_id,
        subject_id=subject or new_id(IdKind.SUBJECT),
        fields=("phone.full",),
        request_id=new_id(IdKind.REQUEST),
    )


def ticket_opened(who: str, order_id: str, at: int) -> AuditRecord:
    return AuditRecord(
        AuditTag.TICKET_OPENED,
        at,
        "allow",
        principal_id=who,
        role="agent",
        order_id=order_id,
        detail=json.dumps({"origin": "agent"}),
    )


def moved(service: str, order_id: str, at: int, *change: str) -> AuditRecord:
    """An order transition: ``moved(service, order, at, "cancel", "picked_up", "cancelled")``."""
    event, source, target = change
    return AuditRecord(
        AuditTag.ORDER_TRANSITIONED,
        at,
        "allow",
        principal_id=service,
        role="service",
        order_id=order_id,
        detail=f"{event}: {source} -> {target}",
        client_ip="10.0.0.1",
    )


def break_glass(who: str, order_id: str, at: int) -> AuditRecord:
    return AuditRecord(
        AuditTag.BREAK_GLASS_REQUESTED,
        at,
        "allow",
        principal_id=who,
        role="safety",
        order_id=order_id,
        request_id=new_id(IdKind.REQUEST),
    )


def leak_signal(holder: str, order_id: str, at: int) -> AuditRecord:
    return AuditRecord(
        AuditTag.LEAK_SIGNAL,
        at,
        "deny",
        principal_id=holder,
        role="rider",
        order_id=order_id,
        reason="call to a released binding",
        request_id=new_id(IdKind.REQUEST),
    )


def rate_limited(who: str, at: int) -> AuditRecord:
    return AuditRecord(
        AuditTag.REQUEST_RATE_LIMITED,
        at,
        "deny",
        principal_id=who,
        role="rider",
        reason="rate limit 300 per 1 minute (views)",
        request_id=new_id(IdKind.REQUEST),
    )


@dataclass
class Run:
    """An analyzer fed one record at a time; remembers every finding and when it came."""

    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        key = secrets.token_bytes(32)
        self.analyzer = Analyzer(
            thresholds=self.thresholds, reference=functools.partial(keyed_reference, key)
        )
        self.findings: list[tuple[int, Finding]] = []
        self.fed = 0

    def feed(self, *records: AuditRecord) -> list[Finding]:
        found = []
        for record in records:
            self.fed += 1
            for finding, _ in self.analyzer.analyze([record]):
                self.findings.append((self.fed, finding))
                found.append(finding)
        return found

    def kinds(self) -> set[str]:
        return {finding.kind for _, finding in self.findings}

    def first(self, kind: str) -> int | None:
        """Return after how many records `kind` first fired."""
        return next((n for n, f in self.findings if f.kind == kind), None)
