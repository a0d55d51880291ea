"""Audit events: appended in the same transaction as the work they record.

An event names who did what to which object, which fields left Veil, and which
policies decided; it never holds a plaintext value. If the insert fails, the
surrounding transaction fails and the caller receives an error instead of data
(fail closed).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert

from veil.audit._canonical import EVENT_FIELDS
from veil.store import AUDIT_EVENTS, Prepared

__all__ = ["AuditRecord", "AuditTag", "append_events", "collect_appended", "stop_collecting"]

# Every column but the sequence number, which the database assigns; the
# canonical serialization (`veil.audit._canonical`) is the one list of them.
_COLUMNS = tuple(name for name in EVENT_FIELDS if name != "seq")
_INSERT = Prepared(insert(AUDIT_EVENTS).values({name: bindparam(name) for name in _COLUMNS}))


class AuditTag(enum.StrEnum):
    """The closed set of audit tags, shaped ``area:object:action``."""

    ORDER_VIEWED = "vault:order:viewed"
    ORDER_VIEW_DENIED = "vault:order:view_denied"
    ORDER_CREATED = "vault:order:created"
    ORDER_TRANSITIONED = "vault:order:transitioned"
    ORDER_TRANSITION_REFUSED = "vault:order:transition_refused"
    ORDERS_LISTED = "vault:orders:listed"
    SUBJECT_CREATED = "vault:subject:created"
    SUBJECT_LOOKED_UP = "vault:subject:looked_up"
    SUBJECT_ERASED = "vault:subject:erased"
    OPERATION_DENIED = "vault:operation:denied"
    PRINCIPAL_CREATED = "admin:principal:created"
    PRINCIPAL_DISABLED = "admin:principal:disabled"
    KEK_ROTATED = "admin:kek:rotated"
    DEKS_REWRAPPED = "admin:dek:rewrapped"
    AUTH_FAILED = "api:key:rejected"
    # Staff access (tickets, reveals, break-glass, analysts, policy administration).
    TICKET_OPENED = "staff:ticket:opened"
    TICKET_VIEWED = "staff:ticket:viewed"
    TICKET_ASSIGNED = "staff:ticket:assigned"
    TICKET_CLOSED = "staff:ticket:closed"
    TICKET_DENIED = "staff:ticket:denied"
    TICKETS_LISTED = "staff:tickets:listed"
    ORDER_REVEALED = "staff:order:revealed"
    ORDER_REVEALED_BREAK_GLASS = "staff:order:break_glass_revealed"
    ORDER_REVEAL_DENIED = "staff:order:reveal_denied"
    BREAK_GLASS_REQUESTED = "staff:break_glass:requested"
    BREAK_GLASS_APPROVED = "staff:break_glass:approved"
    BREAK_GLASS_REVOKED = "staff:break_glass:revoked"
    BREAK_GLASS_DENIED = "staff:break_glass:denied"
    BREAK_GLASS_LISTED = "staff:break_glass:listed"
    ANALYTICS_EXPORTED = "analyst:orders:exported"
    POLICIES_RELOADED = "admin:policies:reloaded"
    POLICIES_RELOAD_REFUSED = "admin:policies:reload_refused"
    ALERT_RAISED = "watch:alert:raised"
    # The watch: rate limits, alert handling, automatic responses and their reversal.
    REQUEST_RATE_LIMITED = "api:request:rate_limited"
    ALERT_ACKNOWLEDGED = "watch:alert:acknowledged"
    ALERT_CLOSED = "watch:alert:closed"
    ALERTS_LISTED = "watch:alerts:listed"
    PRINCIPAL_SUSPENDED = "watch:principal:suspended"
    PRINCIPAL_STEPPED_UP = "watch:principal:stepped_up"
    PRINCIPAL_REINSTATED = "admin:principal:reinstated"
    REVEAL_APPROVED = "admin:reveal:approved"
    # Privacy numbers: pool, registered phones, bindings, routed calls, leak signals.
    NUMBERS_IMPORTED = "numbers:pool:imported"
    PARTY_PHONE_REGISTERED = "numbers:phone:registered"
    NUMBER_BOUND = "numbers:binding:bound"
    NUMBER_FALLBACK = "numbers:binding:fallback"
    NUMBER_RELEASED = "numbers:binding:released"
    BINDINGS_LISTED = "numbers:bindings:listed"
    CALL_CONNECTED = "numbers:call:connected"
    CALL_REJECTED = "numbers:call:rejected"
    LEAK_SIGNAL = "numbers:leak:signal"
    # The audit log itself: a subject's access log was read (by the customer or for them).
    ACCESS_LOG_READ = "audit:access_log:read"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One event to append. `fields` names fields and levels, never values."""

    tag: AuditTag
    at_ms: int
    decision: str
    principal_id: str | None = None
    role: str | None = None
    order_id: str | None = None
    subject_id: str | None = None
    fields: tuple[str, ...] = ()
    policy_ids: tuple[str, ...] = ()
    reason: str | None = None
    purpose: str | None = None
    request_id: str | None = None
    client_ip: str | None = None
    detail: str | None = None

    def row(self) -> dict[str, object]:
        """Return the column values of this event."""
        return {
            "at_ms": self.at_ms,
            "tag": self.tag.value,
            "principal_id": self.principal_id,
            "role": self.role,
            "order_id": self.order_id,
            "subject_id": self.subject_id,
            "fields": " ".join(self.fields),
            "decision": self.decision,
            "policy_ids": " ".join(self.policy_ids),
            "reason": self.reason,
            "purpose": self.purpose,
            "request_id": self.request_id,
            "client_ip": self.client_ip,
            "detail": self.detail,
        }


def append_events(connection: Connection, records: Iterable[AuditRecord]) -> None:
    """Insert `records` inside the caller's transaction; any failure propagates."""
    batch = list(records)
    _INSERT.run_many(connection, [record.row() for record in batch])
    collected = connection.info.get(_COLLECTED)
    if collected is not None:
        collected.extend(batch)


# Where `collect_appended` keeps its list, in the connection's own info dict.
_COLLECTED = "veil.audit.collected"


def collect_appended(connection: Connection) -> list[AuditRecord]:
    """Copy every record appended on `connection` from now on into the returned list.

    The vault asks for this when a transaction begins and hands the list to the
    watch once the transaction has committed, so detection sees exactly what the
    audit log holds. `stop_collecting` ends it.
    """
    collected: list[AuditRecord] = []
    connection.info[_COLLECTED] = collected
    return collected


def stop_collecting(connection: Connection) -> None:
    """End `collect_appended` on `connection`."""
    connection.info.pop(_COLLECTED, None)
