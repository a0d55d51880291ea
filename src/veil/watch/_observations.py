"""What the watch sees: audit records, reduced to behaviour.

Detection reads what a principal *did* and what Veil *answered* (viewed,
refused as absent, refused by policy, revealed, moved an order along), never
how a client spelled its requests. One function maps the audit tags to those
acts, so detectors never parse tags themselves.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass

from veil.audit import AuditRecord, AuditTag

__all__ = ["Act", "Observation", "Outcome", "observe_record"]


class Act(enum.StrEnum):
    """What the principal did."""

    VIEW = "view"
    REVEAL = "reveal"
    TICKET = "ticket"
    OPERATION = "operation"
    TRANSITION = "transition"
    BREAK_GLASS = "break_glass"
    NUMBER_LEAK = "number_leak"
    RATE_LIMITED = "rate_limited"


class Outcome(enum.StrEnum):
    """What Veil answered: served, absent-or-not-yours (404), or refused by policy (403…)."""

    OK = "ok"
    MISS = "miss"
    DENIED = "denied"


# Not frozen: a frozen dataclass pays a `object.__setattr__` per field, and an
# observation is made for every audited act. Nothing mutates one.
@dataclass(slots=True)
class Observation:
    """One act of one principal, as detectors see it. Ids and reasons only, never values."""

    at_ms: int
    principal_id: str
    role: str
    act: Act
    outcome: Outcome
    order_id: str | None = None
    subject_id: str | None = None
    # The view disclosed the full delivery address (door, floor, room).
    full_address: bool = False
    reason: str | None = None
    # For order transitions: accept, assign, reassign, pickup, deliver, cancel.
    transition: str | None = None
    # The client address as a keyed reference (never the address itself).
    client_ref: str | None = None
    request_id: str | None = None
    tag: str = ""

    def evidence(self) -> dict[str, str | int | None]:
        """Return this act as an evidence entry (ids, tag, outcome, reason; no values)."""
        return {
            "at_ms": self.at_ms,
            "tag": self.tag,
            "order_id": self.order_id,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "request_id": self.request_id,
        }


# A refused view or reveal with one of these reasons was answered 404.
_ABSENT = frozenset({"not found", "malformed order id"})
# Tag → (act, outcome); an outcome of None means "404 or refused, by the reason".
_ACTS: dict[AuditTag, tuple[Act, Outcome | None]] = {
    AuditTag.ORDER_VIEWED: (Act.VIEW, Outcome.OK),
    AuditTag.ORDER_VIEW_DENIED: (Act.VIEW, None),
    AuditTag.ORDER_REVEALED: (Act.REVEAL, Outcome.OK),
    AuditTag.ORDER_REVEALED_BREAK_GLASS: (Act.REVEAL, Outcome.OK),
    AuditTag.ORDER_REVEAL_DENIED: (Act.REVEAL, None),
    AuditTag.TICKET_OPENED: (Act.TICKET, Outcome.OK),
    AuditTag.TICKET_DENIED: (Act.TICKET, None),
    AuditTag.OPERATION_DENIED: (Act.OPERATION, None),
    AuditTag.ORDER_TRANSITIONED: (Act.TRANSITION, Outcome.OK),
    AuditTag.BREAK_GLASS_REQUESTED: (Act.BREAK_GLASS, Outcome.OK),
    AuditTag.BREAK_GLASS_DENIED: (Act.BREAK_GLASS, None),
    AuditTag.REQUEST_RATE_LIMITED: (Act.RATE_LIMITED, Outcome.DENIED),
}


def observe_record(
    record: AuditRecord, *, reference: Callable[[str], str] | None = None
) -> Observation | None:
    """Reduce an audit record to an observation, or None when no detector cares.

    `reference` turns the client address into the keyed reference detectors
    see; without it they see no address at all.
    """
    principal_id, role = record.principal_id, record.role
    if principal_id is None or role is None:
        return None
    client_ref = reference(record.client_ip) if reference and record.client_ip else None
    if record.tag is AuditTag.LEAK_SIGNAL:
        return _leak_signal(record, principal_id, role, client_ref)
    mapped = _ACTS.get(record.tag)
    if mapped is None:
        return None
    act, outcome = mapped
    if outcome is None:
        outcome = Outcome.MISS if record.reason in _ABSENT else Outcome.DENIED
    return Observation(
        at_ms=record.at_ms,
        principal_id=principal_id,
        role=role,
        act=act,
        outcome=outcome,
        order_id=record.order_id,
        subject_id=record.subject_id,
        full_address=act is Act.VIEW and "address.full" in record.fields,
        reason=record.reason,
        transition=_transition(record.detail) if act is Act.TRANSITION else None,
        client_ref=client_ref,
        request_id=record.request_id,
        tag=record.tag.value,
    )


def _transition(detail: str | None) -> str | None:
    # The vault writes "<event>: <from> -> <to>"; an assign from an assigned
    # order takes it away from its rider.
    if not detail:
        return None
    event, _, states = detail.partition(":")
    source = states.strip().partition(" ")[0]
    if event == "assign" and source == "rider_assigned":
        return "reassign"
    return event


def _leak_signal(
    record: AuditRecord, principal_id: str, role: str, client_ref: str | None
) -> Observation:
    # The privacy-number leak signal names the binding's holder when it is not
    # the principal of the record (the telephony provider reports the call).
    holder, holder_role = principal_id, role
    if record.detail and record.detail.startswith("{"):
        try:
            detail = json.loads(record.detail)
        except ValueError:
            detail = {}
        if isinstance(detail, dict) and isinstance(detail.get("holder_id"), str):
            holder = detail["holder_id"]
            holder_role = str(detail.get("holder_role") or role)
    return Observation(
        at_ms=record.at_ms,
        principal_id=holder,
        role=holder_role,
        act=Act.NUMBER_LEAK,
        outcome=Outcome.DENIED,
        order_id=record.order_id,
        reason=record.reason,
        client_ref=client_ref,
        request_id=record.request_id,
        tag=record.tag.value,
    )
