"""Purpose-bound reveals: full fields of one order, for a stated purpose, under a quota.

One transaction: read the order, the named ticket and the caller's own
break-glass grant; let Cedar decide with the purpose and the fields; take a
unit of the daily quota; decrypt only the named fields; append the decision
record (allowed or denied, with policy ids, purpose, ticket, grant and quota
state); commit. A reveal whose record cannot be written does not happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from veil.audit import AuditRecord, AuditTag, append_events
from veil.errors import (
    AccessDenied,
    Conflict,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    VeilError,
)
from veil.ids import IdKind, is_id, new_id
from veil.policy import PURPOSES, REVEALABLE_FIELDS, Deny, decide_staff_order
from veil.store import BREAK_GLASS
from veil.vault._model import Caller, RequestMeta
from veil.vault._quotas import read_quota, take_unit
from veil.vault._staff import (
    REQUESTER_ROLES,
    detail_json,
    load_ticket,
    own_grants,
    own_tickets,
    refusal_for,
    ticket_facts,
)
from veil.vault._vault import _ONE_ORDER_WITH_KEY, Vault, _order_facts
from veil.vault._views import build_view, iso_ms
from veil.watch import reveal_hold, touch_alert

__all__ = ["reveal_order"]

_NO_META = RequestMeta()
# A reveal discloses each named field at its strongest level.
_FULL = {
    "name": "name.full",
    "phone": "phone.full",
    "address": "address.full",
    "note": "note.original",
}


def reveal_order(
    vault: Vault,
    caller: Caller,
    order_id: str,
    *,
    fields: Sequence[str],
    purpose: str,
    ticket_id: str | None = None,
    meta: RequestMeta = _NO_META,
) -> dict[str, Any]:
    """Reveal `fields` of one order in full for `purpose`, if policy and quota allow.

    Raises:
        InvalidInput: unknown purpose or field.
        NotFound: the order is absent, or the caller has no relation to it.
        AccessDenied: the caller has a ticket or grant on the order, but policy
            denies this reveal now (the message says why).
        QuotaExceeded: policy allows it, but the daily quota is used up.
        Conflict: the customer's data was erased.
    """
    wanted = _checked_fields(fields)
    if purpose not in PURPOSES:
        raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}")
    attempt = _Reveal(
        vault, caller, order_id, wanted=wanted, purpose=purpose, ticket_id=ticket_id, meta=meta
    )
    with vault._transaction() as connection:
        outcome = attempt.run(connection)
        append_events(connection, attempt.records)
    if isinstance(outcome, VeilError):
        raise outcome
    return outcome


class _Reveal:
    """One reveal attempt: its facts, its decision, its audit record."""

    def __init__(
        self,
        vault: Vault,
        caller: Caller,
        order_id: str,
        *,
        wanted: tuple[str, ...],
        purpose: str,
        ticket_id: str | None,
        meta: RequestMeta,
    ) -> None:
        self.vault = vault
        self.caller = caller
        self.order_id = order_id
        self.wanted = wanted
        self.purpose = purpose
        self.ticket_id = ticket_id
        self.meta = meta
        self.now_ms = vault._now_ms()
        self.reveal_id = new_id(IdKind.REVEAL)
        self.records: list[AuditRecord] = []

    def run(self, connection: Connection) -> dict[str, Any] | VeilError:
        row = (
            _ONE_ORDER_WITH_KEY.first(connection, {"id": self.order_id})
            if is_id(self.order_id, IdKind.ORDER)
            else None
        )
        if row is None:
            self._record(
                AuditTag.ORDER_REVEAL_DENIED,
                order_id=self.order_id if is_id(self.order_id, IdKind.ORDER) else None,
                decision="deny",
                reason="not found",
                purpose=self.purpose,
                fields=tuple(_FULL[f] for f in self.wanted),
            )
            return NotFound("no such order")
        vault, caller, now_ms = self.vault, self.caller, self.now_ms
        facts = _order_facts(row)
        ticket_row = load_ticket(connection, self.ticket_id) if self.ticket_id else None
        ticket = ticket_facts(ticket_row) if ticket_row is not None else None
        grant = (
            own_grants(connection, caller, [self.order_id], now_ms).get(self.order_id)
            if caller.role in REQUESTER_ROLES
            else None
        )
        [decision] = decide_staff_order(
            vault.policy,
            caller.facts(),
            ("reveal",),
            facts,
            now_ms=now_ms,
            ticket=ticket,
            break_glass=grant,
            purpose=self.purpose,
            fields=self.wanted,
        )
        table = vault.policy.source.quotas
        facts_of_record: dict[str, Any] = {
            "order_id": self.order_id,
            "subject_id": row.subject_id,
            "policy_ids": decision.policy_ids,
            "purpose": self.purpose,
            "fields": tuple(_FULL[f] for f in self.wanted),
            "break_glass_id": grant.id if grant else None,
        }
        if isinstance(decision, Deny):
            # 403 (with the reason) only for a caller related to the order
            # through their own ticket or grant; 404 otherwise.
            own_ticket = (
                own_tickets(connection, caller, [self.order_id], now_ms).get(self.order_id)
                if caller.role == "agent"
                else None
            )
            [known] = decide_staff_order(
                vault.policy,
                caller.facts(),
                ("know_order",),
                facts,
                now_ms=now_ms,
                ticket=own_ticket,
                break_glass=grant,
            )
            quota = read_quota(connection, table, caller, now_ms)
            self._deny(decision.reason, quota.summary(), facts_of_record)
            return refusal_for(_explained(decision.reason, self.purpose), known.allowed)
        # A principal the watch put under step-up reveals only what a second
        # person approved, order by order (veil.watch.reveal_hold).
        hold = reveal_hold(connection, caller.principal_id, self.order_id, now_ms)
        if hold is not None:
            quota = read_quota(connection, table, caller, now_ms)
            self._deny(hold, quota.summary(), facts_of_record)
            return AccessDenied(hold)
        if row.dek_wrapped is None:
            quota = read_quota(connection, table, caller, now_ms)
            self._deny("subject erased", quota.summary(), facts_of_record)
            return Conflict("the customer's data was erased; there is nothing to reveal")
        taken, quota = take_unit(connection, table, caller, now_ms)
        if not taken:
            self._deny("daily reveal quota used up", quota.summary(), facts_of_record)
            return QuotaExceeded(
                f"daily reveal quota used up ({quota.summary()});"
                f" it resets at {iso_ms(quota.resets_ms)}"
            )
        grants = frozenset(_FULL[f] for f in self.wanted)
        view, disclosed = build_view(row, grants, vault._data_key(row), vault.masking)
        # A reveal through a grant is marked as such, and its alert notes the use.
        self._record(
            AuditTag.ORDER_REVEALED if grant is None else AuditTag.ORDER_REVEALED_BREAK_GLASS,
            quota=quota.summary(),
            **{**facts_of_record, "fields": disclosed},
        )
        if grant is not None:
            _note_grant_used(connection, grant.id, self.reveal_id, now_ms)
        return {
            "reveal_id": self.reveal_id,
            "order_id": self.order_id,
            "purpose": self.purpose,
            "ticket_id": ticket.id if ticket else None,
            "break_glass_id": grant.id if grant else None,
            "fields": _revealed(view, self.wanted),
            "policy_ids": list(decision.policy_ids),
            "quota": quota.as_dict(),
        }

    def _deny(self, reason: str, quota: str, facts_of_record: dict[str, Any]) -> None:
        self._record(
            AuditTag.ORDER_REVEAL_DENIED,
            decision="deny",
            reason=reason,
            quota=quota,
            **facts_of_record,
        )

    def _record(
        self,
        tag: AuditTag,
        *,
        break_glass_id: str | None = None,
        quota: str | None = None,
        **values: Any,
    ) -> None:
        detail = detail_json(
            {
                "reveal_id": self.reveal_id,
                "ticket_id": self.ticket_id,
                "break_glass_id": break_glass_id,
                "quota": quota,
            }
        )
        self.records.append(
            AuditRecord(
                tag=tag,
                at_ms=self.now_ms,
                decision=values.pop("decision", "allow"),
                principal_id=self.caller.principal_id,
                role=self.caller.role,
                request_id=self.meta.request_id,
                client_ip=self.meta.client_ip,
                detail=detail,
                **values,
            )
        )


def _checked_fields(fields: Sequence[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(fields))
    if not wanted:
        raise InvalidInput(f"name at least one field to reveal: {', '.join(REVEALABLE_FIELDS)}")
    unknown = [f for f in wanted if f not in REVEALABLE_FIELDS]
    if unknown:
        raise InvalidInput(f"fields must be among {', '.join(REVEALABLE_FIELDS)}")
    return wanted


def _explained(reason: str, purpose: str) -> str:
    if reason == "no policy permits this":
        return (
            f"no policy permits a {purpose} reveal of these fields on this order now"
            " (see GET /v1/purposes)"
        )
    return reason


def _revealed(view: dict[str, Any], wanted: Sequence[str]) -> dict[str, Any]:
    customer = view.get("customer", {})
    values: dict[str, Any] = {}
    for name in wanted:
        if name in ("name", "phone"):
            values[name] = customer.get(name)
        else:
            values[name] = view.get(name)
    return values


def _note_grant_used(connection: Connection, grant_id: str, reveal_id: str, now_ms: int) -> None:
    alert_id = connection.scalar(select(BREAK_GLASS.c.alert_id).where(BREAK_GLASS.c.id == grant_id))
    if alert_id is not None:
        touch_alert(connection, alert_id, now_ms, {"last_reveal_id": reveal_id})
