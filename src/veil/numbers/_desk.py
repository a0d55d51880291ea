"""The numbers desk: bindings issued, ended and shown, inside the caller's transaction.

The vault calls the desk from its use-cases (an order event, a view, a
routing callback), in the use-case's one transaction, and appends the audit
rows the desk returns. The desk is the only code that decrypts a customer's
real number outside a view: to compute its blind digest when it binds, to hand
it to the provider, and to connect a call.

Lifetime of a binding (all times from the vault's clock):

* rider assigned → bind A ↔ X ↔ B, expiring at the latest ``max_binding_ms`` later;
* delivered → the expiry moves to delivery + ``grace_ms`` (15 minutes);
* reassigned or cancelled → released at once; picked up → the merchant's is released;
* a call connects only while ``released_ms`` is NULL and ``now <= expires_ms``
  (checked when routing: expiry needs no sweep to take effect); the sweep
  releases expired bindings afterwards, gives their numbers back and unbinds
  them at the provider.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from veil.audit import AuditRecord, AuditTag
from veil.crypto import BlindIndex, DataKey, FieldRef, Keyring, WrappedKey, open_field
from veil.ids import IdKind, new_id
from veil.numbers._actor import Actor
from veil.numbers._config import NumbersConfig
from veil.numbers._format import display_number, iso_ms
from veil.numbers._leaks import EXHAUSTED_ALERT, PRESSURE_ALERT, pool_alert
from veil.numbers._phones import PartyPhones
from veil.numbers._pool import (
    city_has_pool,
    give_back_number,
    pick_number,
    take_number,
)
from veil.numbers._providers import BindRequest, NumberProvider, ProviderUnavailable
from veil.numbers._simulator import SimulatedTelco
from veil.numbers._status import NumbersStatus, numbers_status, order_bindings
from veil.store import NUMBER_BINDINGS, ORDERS, SUBJECTS, Prepared

__all__ = ["FALLBACK_CONTACT", "NumberDesk", "OrderRef", "SweepReport"]

_B = NUMBER_BINDINGS
_ATTEMPTS = 3

_INSERT = Prepared(
    insert(_B).values(
        {
            name: bindparam(name)
            for name in (
                "id",
                "order_id",
                "holder_id",
                "holder_role",
                "x_number",
                "a_digest",
                "b_digest",
                "created_ms",
                "expires_ms",
                "fallback_reason",
                "provider_state",
                "provider_ref",
            )
        }
    )
)
_LIVE_OF_ORDER = Prepared(
    select(
        _B.c.id,
        _B.c.order_id,
        _B.c.x_number,
        _B.c.holder_id,
        _B.c.holder_role,
        _B.c.provider_ref,
        _B.c.expires_ms,
    ).where(_B.c.order_id == bindparam("o"), _B.c.released_ms.is_(None))
)
_RELEASE = Prepared(
    update(_B)
    .where(_B.c.id == bindparam("id"), _B.c.released_ms.is_(None))
    .values(
        released_ms=bindparam("at"),
        release_reason=bindparam("why"),
        provider_state=bindparam("state"),
    )
)
_SHORTEN = Prepared(
    update(_B)
    .where(
        _B.c.order_id == bindparam("o"),
        _B.c.holder_role == bindparam("role"),
        _B.c.released_ms.is_(None),
        _B.c.expires_ms > bindparam("e"),
    )
    .values(expires_ms=bindparam("e"))
)
# The holder's newest binding on the order, a live one first.
_CONTACT = Prepared(
    select(
        _B.c.x_number,
        _B.c.expires_ms,
        _B.c.released_ms,
        _B.c.fallback_reason,
    )
    .where(_B.c.order_id == bindparam("o"), _B.c.holder_id == bindparam("h"))
    .order_by(_B.c.released_ms.is_(None).desc(), _B.c.created_ms.desc())
    .limit(literal_column("1"))
    .offset(literal_column("0"))
)
_SUBJECT_KEY = Prepared(
    select(SUBJECTS.c.kek_version, SUBJECTS.c.dek_wrapped).where(SUBJECTS.c.id == bindparam("s"))
)
_ORDER_PHONE = Prepared(
    select(ORDERS.c.subject_id, ORDERS.c.phone_ct).where(ORDERS.c.id == bindparam("o"))
)

FALLBACK_CONTACT = "use in-app contact"


def _order_field(subject_id: str, order_id: str, field: str) -> FieldRef:
    # The AAD of an order's ciphertexts (veil.vault seals them the same way).
    return FieldRef(subject_id, order_id, f"order.{field}")


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What binding needs of an order: its ids and the sealed phone and area."""

    id: str
    subject_id: str
    phone_ct: bytes
    addr_area_ct: bytes

    @classmethod
    def of(cls, row: Any) -> OrderRef:
        """Take the fields from an ``orders`` row."""
        return cls(row.id, row.subject_id, bytes(row.phone_ct), bytes(row.addr_area_ct))


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What a sweep did."""

    expired: int
    provider_retried: int
    provider_failed: int


class NumberDesk:
    """Pool, bindings, routing and provider, over one keyring and one blind index."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        blind_index: BlindIndex,
        provider: NumberProvider | None = None,
        config: NumbersConfig | None = None,
    ) -> None:
        self.keyring = keyring
        self.blind_index = blind_index
        self.provider: NumberProvider = provider if provider is not None else SimulatedTelco()
        self.config = config or NumbersConfig()
        self.phones = PartyPhones(keyring.provider, blind_index)

    # ------------------------------------------------------------------ binding

    def bind(
        self,
        connection: Connection,
        order: OrderRef,
        *,
        holder_id: str,
        holder_role: str,
        expires_ms: int,
        now_ms: int,
        actor: Actor,
    ) -> list[AuditRecord]:
        """Bind the order's customer to a virtual number for `holder_id`; return audit rows.

        When no number can be issued, a binding without a number records why
        (the party's view then says to use in-app contact); a real number is
        never the fallback.
        """
        binding_id = new_id(IdKind.BINDING)
        records: list[AuditRecord] = []

        def fallback(reason: str, a: bytes | None = None, b: bytes | None = None) -> None:
            _INSERT.run_many(
                connection,
                [
                    {
                        "id": binding_id,
                        "order_id": order.id,
                        "holder_id": holder_id,
                        "holder_role": holder_role,
                        "x_number": None,
                        "a_digest": a,
                        "b_digest": b,
                        "created_ms": now_ms,
                        "expires_ms": expires_ms,
                        "fallback_reason": reason,
                        "provider_state": "none",
                        "provider_ref": None,
                    }
                ],
            )
            records.append(
                actor.record(
                    AuditTag.NUMBER_FALLBACK,
                    now_ms,
                    decision="deny",
                    principal_id=holder_id,
                    role=holder_role,
                    order_id=order.id,
                    reason=reason,
                    detail={"binding_id": binding_id},
                )
            )

        party = self.phones.party(connection, holder_id, lock=True)
        if party is None:
            fallback(f"no phone is registered for this {holder_role}; {FALLBACK_CONTACT}")
            return records
        b_digest = party.digest
        key = self.subject_key(connection, order.subject_id)
        if key is None:
            fallback(f"the customer's data was erased; {FALLBACK_CONTACT}", b=b_digest)
            return records
        a_number = open_field(
            key, order.phone_ct, _order_field(order.subject_id, order.id, "phone")
        ).decode()
        area_ref = _order_field(order.subject_id, order.id, "addr_area")
        area = json.loads(open_field(key, order.addr_area_ct, area_ref))
        city = str(area.get("city") or area.get("province") or "")
        _, a_digest = self.blind_index.digest(a_number)
        if a_digest == b_digest:
            fallback(f"the {holder_role} is the customer; {FALLBACK_CONTACT}", a_digest, b_digest)
            return records
        # SQLite has one writer, so nothing can take a number between the pick
        # and the insert; PostgreSQL can, and a savepoint lets the insert fail
        # (the unique index says so) without failing the order event.
        concurrent = connection.dialect.name != "sqlite"
        excluded: set[str] = set()
        for _ in range(_ATTEMPTS):
            pick = pick_number(
                connection,
                city=city,
                a_digest=a_digest,
                b_digest=b_digest,
                now_ms=now_ms,
                config=self.config,
                excluded=frozenset(excluded),
            )
            if pick is None:
                break
            request = BindRequest(
                a_number,
                self.phones.open_party(connection, party),
                pick.x_number,
                expires_ms,
                binding_id,
            )
            try:
                bound = self.provider.bind(request)
            except ProviderUnavailable:
                fallback(f"the telephony provider is unavailable; {FALLBACK_CONTACT}")
                return records
            row = {
                "id": binding_id,
                "order_id": order.id,
                "holder_id": holder_id,
                "holder_role": holder_role,
                "x_number": pick.x_number,
                "a_digest": a_digest,
                "b_digest": b_digest,
                "created_ms": now_ms,
                "expires_ms": expires_ms,
                "fallback_reason": None,
                "provider_state": "bound",
                "provider_ref": bound.provider_ref,
            }
            try:
                with connection.begin_nested() if concurrent else contextlib.nullcontext():
                    _INSERT.run_many(connection, [row])
                    take_number(connection, pick.x_number, now_ms)
            except IntegrityError:
                # A concurrent binding took the number for one of our parties.
                with contextlib.suppress(ProviderUnavailable):
                    self.provider.unbind(bound.provider_ref, pick.x_number)
                excluded.add(pick.x_number)
                continue
            records.append(
                actor.record(
                    AuditTag.NUMBER_BOUND,
                    now_ms,
                    principal_id=holder_id,
                    role=holder_role,
                    order_id=order.id,
                    fields=("phone.virtual",),
                    detail={
                        "binding_id": binding_id,
                        "x_number": pick.x_number,
                        "expires_ms": expires_ms,
                    },
                )
            )
            load = (pick.live_count + 1) / self.config.pairs_per_number
            if load >= self.config.pressure_alert:
                # Least-loaded allocation: the number chosen is the emptiest one
                # this party may have, so its load is the pool's headroom.
                records += pool_alert(
                    connection,
                    kind=PRESSURE_ALERT,
                    city=city,
                    evidence={
                        "load": round(load, 3),
                        "pairs_per_number": self.config.pairs_per_number,
                    },
                    now_ms=now_ms,
                    actor=actor,
                )
            return records
        exists = city_has_pool(connection, city)
        reason = (
            "the number pool is exhausted" if exists else "there is no number pool for this city"
        )
        records += pool_alert(
            connection,
            kind=EXHAUSTED_ALERT,
            city=city,
            evidence={"pool_exists": exists, "holder_role": holder_role},
            now_ms=now_ms,
            actor=actor,
        )
        fallback(f"{reason}; {FALLBACK_CONTACT}", a_digest, b_digest)
        return records

    def release(
        self,
        connection: Connection,
        order_id: str,
        *,
        roles: tuple[str, ...],
        reason: str,
        now_ms: int,
        actor: Actor,
    ) -> list[AuditRecord]:
        """End the order's live bindings held by `roles` now; return audit rows.

        A binding that already expired is recorded as ended at its expiry.
        """
        records: list[AuditRecord] = []
        rows = _LIVE_OF_ORDER.all(connection, {"o": order_id})
        for row in rows:
            if row.holder_role not in roles:
                continue
            records += self.end_binding(connection, row, reason=reason, now_ms=now_ms, actor=actor)
        return records

    def end_binding(
        self, connection: Connection, row: Any, *, reason: str, now_ms: int, actor: Actor
    ) -> list[AuditRecord]:
        """End one live binding (a row with its id, order, number, holder, expiry); audit rows."""
        expired = row.expires_ms < now_ms
        ended_ms = row.expires_ms if expired else now_ms
        why = "expired" if expired else reason
        state = "none"
        if row.x_number is not None:
            give_back_number(connection, row.x_number)
            state = "unbound"
            if row.provider_ref is not None:
                try:
                    self.provider.unbind(row.provider_ref, row.x_number)
                except ProviderUnavailable:
                    # Veil still refuses every routed call at once; the sweep
                    # retries until the provider hears about it.
                    state = "unbind_pending"
        _RELEASE.run_many(connection, [{"id": row.id, "at": ended_ms, "why": why, "state": state}])
        if row.x_number is None:
            return []
        return [
            actor.record(
                AuditTag.NUMBER_RELEASED,
                now_ms,
                principal_id=row.holder_id,
                role=row.holder_role,
                order_id=row.order_id,
                reason=why,
                detail={"binding_id": row.id, "x_number": row.x_number, "ended_ms": ended_ms},
            )
        ]

    def end_at(self, connection: Connection, order_id: str, *, role: str, expires_ms: int) -> None:
        """Bring the expiry of the order's live bindings held by `role` forward to `expires_ms`."""
        _SHORTEN.run_many(connection, [{"o": order_id, "role": role, "e": expires_ms}])

    # ------------------------------------------------------------------ reading

    def contact(
        self, connection: Connection, holder_id: str, order_id: str, now_ms: int
    ) -> dict[str, Any]:
        """Return the ``contact`` block of a holder's view: the number, or why there is none."""
        row = _CONTACT.first(connection, {"o": order_id, "h": holder_id})
        if row is None:
            return {
                "virtual_number": None,
                "channel": "in_app",
                "reason": f"no virtual number was issued for this order; {FALLBACK_CONTACT}",
            }
        if row.x_number is None:
            return {"virtual_number": None, "channel": "in_app", "reason": row.fallback_reason}
        ended = row.released_ms if row.released_ms is not None else None
        if ended is None and now_ms > row.expires_ms:
            ended = row.expires_ms
        if ended is not None:
            return {
                "virtual_number": None,
                "channel": "in_app",
                "reason": "the virtual number stopped working when its window ended",
                "ended_at": iso_ms(ended),
            }
        return {
            "virtual_number": display_number(row.x_number),
            "expires_at": iso_ms(row.expires_ms),
        }

    def bindings_of(
        self, connection: Connection, order_id: str, now_ms: int
    ) -> list[dict[str, Any]]:
        """Return every binding of an order, oldest first (ids, numbers, times; no real number)."""
        return order_bindings(connection, order_id, now_ms)

    def status(self, connection: Connection, now_ms: int) -> NumbersStatus:
        """Summarise pools, live bindings and today's (UTC) leak signals."""
        return numbers_status(connection, now_ms, provider=self.provider.name, config=self.config)

    # ------------------------------------------------------------------ upkeep

    def sweep(
        self, connection: Connection, now_ms: int, actor: Actor, *, limit: int = 500
    ) -> tuple[SweepReport, list[AuditRecord]]:
        """Release expired bindings, give their numbers back, retry pending provider unbinds."""
        records: list[AuditRecord] = []
        expired = connection.execute(
            select(
                _B.c.id,
                _B.c.order_id,
                _B.c.x_number,
                _B.c.holder_id,
                _B.c.holder_role,
                _B.c.provider_ref,
                _B.c.expires_ms,
            )
            .where(_B.c.released_ms.is_(None), _B.c.expires_ms < now_ms)
            .order_by(_B.c.expires_ms)
            .limit(limit)
        ).all()
        for row in expired:
            records += self.end_binding(
                connection, row, reason="expired", now_ms=now_ms, actor=actor
            )
        retried = failed = 0
        for pending in connection.execute(
            select(_B.c.id, _B.c.x_number, _B.c.provider_ref)
            .where(_B.c.provider_state == "unbind_pending")
            .limit(limit)
        ).all():
            retried += 1
            try:
                self.provider.unbind(pending.provider_ref, pending.x_number)
            except ProviderUnavailable:
                failed += 1
                continue
            connection.execute(
                update(_B).where(_B.c.id == pending.id).values(provider_state="unbound")
            )
        return SweepReport(len(expired), retried, failed), records

    # ------------------------------------------------------------------ keys

    def subject_key(self, connection: Connection, subject_id: str) -> DataKey | None:
        """Return a subject's data key (cached), or None once the subject is erased."""
        cached = self.keyring.cache.get(subject_id)
        if cached is not None:
            return cached
        row = _SUBJECT_KEY.first(connection, {"s": subject_id})
        if row is None or row.dek_wrapped is None:
            return None
        return self.keyring.unwrap(subject_id, WrappedKey(row.kek_version, bytes(row.dek_wrapped)))

    def open_order_phone(self, connection: Connection, order_id: str) -> str | None:
        """Decrypt the order's contact phone (A), for connecting a call; None if erased."""
        row = _ORDER_PHONE.first(connection, {"o": order_id})
        if row is None:
            return None
        key = self.subject_key(connection, row.subject_id)
        if key is None:
            return None
        where = _order_field(row.subject_id, order_id, "phone")
        return open_field(key, bytes(row.phone_ct), where).decode()
