"""The vault's use-cases; each runs in one database transaction with its audit rows.

A use-case decides (Cedar), touches the store, decrypts only what was granted,
appends its audit event, and commits, in that order. If any step fails, nothing
is committed and nothing is returned: a view whose audit row cannot be written
does not happen.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from veil.audit import AuditRecord, AuditTag, append_events, collect_appended, stop_collecting
from veil.clock import Clock, to_epoch_ms
from veil.crypto import (
    BlindIndex,
    DataKey,
    FieldRef,
    Keyring,
    WrappedKey,
    api_key_digest,
    new_api_key,
    normalize_phone,
    open_field,
    seal_field,
)
from veil.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    StorageUnavailable,
    VeilError,
)
from veil.ids import IdKind, is_id, new_id
from veil.numbers import NumberDesk
from veil.policy import Deny, MaskingProfile, OrderFacts, PolicyEngine
from veil.redact import default_redactor
from veil.store import API_KEYS, ORDERS, PRINCIPALS, SUBJECT_PHONES, SUBJECTS, Prepared
from veil.vault._model import ROLES, Address, Caller, OrderSpec, RequestMeta
from veil.vault._numbers import follow_order_event
from veil.vault._staff import STAFF_RELATION_ROLES, StaffViews
from veil.vault._views import build_view, iso_ms, order_field_ref
from veil.watch import Watch

__all__ = ["MAX_BATCH", "Vault"]

MAX_BATCH = 100
_NO_META = RequestMeta()

_ORDERS = ORDERS
_SUBJECTS = SUBJECTS
_PHONES = SUBJECT_PHONES
_PRINCIPALS = PRINCIPALS
_KEYS = API_KEYS

_ORDER_WITH_KEY = select(_ORDERS, _SUBJECTS.c.kek_version, _SUBJECTS.c.dek_wrapped).join_from(
    _ORDERS, _SUBJECTS, _ORDERS.c.subject_id == _SUBJECTS.c.id
)
_ONE_ORDER_WITH_KEY = Prepared(_ORDER_WITH_KEY.where(_ORDERS.c.id == bindparam("id")))

# (event, states it may leave from) → state it leads to.
_TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "accept": (frozenset({"created"}), "accepted", "accepted_ms"),
    "assign": (frozenset({"accepted", "rider_assigned"}), "rider_assigned", "assigned_ms"),
    "pickup": (frozenset({"rider_assigned"}), "picked_up", "picked_up_ms"),
    "deliver": (frozenset({"picked_up"}), "delivered", "delivered_ms"),
    "cancel": (
        frozenset({"created", "accepted", "rider_assigned", "picked_up"}),
        "cancelled",
        "cancelled_ms",
    ),
}
ORDER_EVENTS = tuple(_TRANSITIONS)
_ACTIVE_FOR_RIDER = ("rider_assigned", "picked_up")
_ACTIVE_FOR_MERCHANT = ("created", "accepted", "rider_assigned", "picked_up")


class Vault:
    """Veil's use-cases over one database, one key provider and one policy set."""

    def __init__(
        self,
        *,
        engine: Engine,
        keyring: Keyring,
        blind_index: BlindIndex,
        policy: PolicyEngine,
        clock: Clock,
        masking: MaskingProfile | None = None,
        default_region: str = "CN",
        api_key_cache_seconds: float = 2.0,
        numbers: NumberDesk | None = None,
        watch: Watch | None = None,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.blind_index = blind_index
        self.policy = policy
        self.clock = clock
        self.masking = masking or MaskingProfile()
        self.default_region = default_region
        # Virtual numbers for riders and merchants (the simulated telco by default).
        self.numbers = numbers or NumberDesk(keyring=keyring, blind_index=blind_index)
        self._api_key_ttl = api_key_cache_seconds
        self._callers: dict[bytes, tuple[float, Caller]] = {}
        self._callers_lock = threading.Lock()
        # SQLite connections are cheap and local, and the pool's checkout and
        # return cost more than a view's query; each thread keeps one open.
        self._held = threading.local() if engine.dialect.name == "sqlite" else None
        # Rate limits and detection: it sees every audit record once committed,
        # and tells this vault to forget cached keys when a principal is suspended.
        self.watch = watch
        if watch is not None:
            watch.on_revocation(lambda _principal_id: self.forget_cached_callers())

    # ------------------------------------------------------------------ principals

    def create_principal(
        self, role: str, label: str, *, subject_id: str | None = None
    ) -> tuple[str, str]:
        """Create a principal and its first API key; return ``(principal_id, api_key)``.

        The key is returned once and stored only as a digest.
        """
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        if role == "customer" and not (subject_id and is_id(subject_id, IdKind.SUBJECT)):
            raise InvalidInput("a customer principal needs the subject id it stands for")
        if not label or len(label) > 64:
            raise InvalidInput("label must be 1 to 64 characters")
        principal_id = new_id(IdKind.PRINCIPAL)
        api_key = new_api_key()
        now_ms = self._now_ms()
        with self._transaction() as connection:
            connection.execute(
                insert(_PRINCIPALS).values(
                    id=principal_id,
                    role=role,
                    label=label,
                    status="active",
                    subject_id=subject_id if role == "customer" else None,
                    created_ms=now_ms,
                )
            )
            connection.execute(
                insert(_KEYS).values(
                    id=new_id(IdKind.API_KEY),
                    principal_id=principal_id,
                    key_hash=api_key_digest(api_key),
                    created_ms=now_ms,
                )
            )
            append_events(
                connection,
                [
                    AuditRecord(
                        AuditTag.PRINCIPAL_CREATED,
                        now_ms,
                        "allow",
                        principal_id=principal_id,
                        role=role,
                        detail=label,
                    )
                ],
            )
        return principal_id, api_key

    def disable_principal(self, principal_id: str, *, reason: str = "disabled by operator") -> None:
        """Disable a principal: every one of its keys stops working at once."""
        now_ms = self._now_ms()
        with self._transaction() as connection:
            result = connection.execute(
                update(_PRINCIPALS)
                .where(_PRINCIPALS.c.id == principal_id)
                .values(status="disabled")
            )
            if result.rowcount == 0:
                raise NotFound("no such principal")
            append_events(
                connection,
                [
                    AuditRecord(
                        AuditTag.PRINCIPAL_DISABLED,
                        now_ms,
                        "allow",
                        principal_id=principal_id,
                        reason=reason,
                    )
                ],
            )
        self.forget_cached_callers()

    def list_principals(self) -> list[dict[str, Any]]:
        """Return every principal (id, role, label, status); no secrets."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    _PRINCIPALS.c.id, _PRINCIPALS.c.role, _PRINCIPALS.c.label, _PRINCIPALS.c.status
                ).order_by(_PRINCIPALS.c.created_ms, _PRINCIPALS.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def authenticate(self, api_key: str) -> Caller:
        """Return the caller an API key belongs to, or raise `AuthenticationFailed`.

        Lookups are cached for a short time (``VEIL_API_KEY_CACHE_SECONDS``);
        disabling a principal clears the cache of this process at once.
        """
        if not api_key or len(api_key) > 200:
            raise AuthenticationFailed("missing or malformed API key")
        digest = api_key_digest(api_key)
        now = time.monotonic()
        with self._callers_lock:
            cached = self._callers.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.engine.connect() as connection:
            row = connection.execute(
                select(_PRINCIPALS.c.id, _PRINCIPALS.c.role, _PRINCIPALS.c.subject_id)
                .join_from(_KEYS, _PRINCIPALS, _KEYS.c.principal_id == _PRINCIPALS.c.id)
                .where(
                    _KEYS.c.key_hash == digest,
                    _KEYS.c.revoked_ms.is_(None),
                    _PRINCIPALS.c.status == "active",
                )
            ).first()
        if row is None:
            raise AuthenticationFailed("unknown, revoked or disabled API key")
        caller = Caller(row.id, row.role, row.subject_id)
        with self._callers_lock:
            self._callers[digest] = (now + self._api_key_ttl, caller)
        return caller

    def forget_cached_callers(self) -> None:
        """Drop every cached API-key lookup (after a disable or suspension)."""
        with self._callers_lock:
            self._callers.clear()

    # ------------------------------------------------------------------ subjects

    def create_subject(
        self,
        caller: Caller,
        *,
        name: str,
        phones: Sequence[str],
        addresses: Sequence[Address],
        meta: RequestMeta = _NO_META,
    ) -> str:
        """Store a customer's contact data encrypted; return its token (``sub_…``)."""
        now_ms = self._now_ms()
        self._require_vault_action(caller, "ingest", now_ms, meta)
        if not name.strip() or len(name) > 100:
            raise InvalidInput("name must be 1 to 100 characters")
        if not phones or len(phones) > 5:
            raise InvalidInput("give 1 to 5 phone numbers")
        if len(addresses) > 20:
            raise InvalidInput("give at most 20 addresses")
        normalized = [normalize_phone(phone, self.default_region) for phone in phones]
        subject_id = new_id(IdKind.SUBJECT)
        key = DataKey.generate()
        wrapped = self.keyring.wrap(subject_id, key)

        def seal(field: str, value: Any) -> bytes:
            payload = json.dumps(value, ensure_ascii=False).encode()
            return seal_field(key, payload, FieldRef(subject_id, subject_id, field))

        with self._transaction() as connection:
            connection.execute(
                insert(_SUBJECTS).values(
                    id=subject_id,
                    kek_version=wrapped.kek_version,
                    dek_wrapped=wrapped.wrapped,
                    name_ct=seal("subject.name", name.strip()),
                    phones_ct=seal("subject.phones", normalized),
                    addresses_ct=seal("subject.addresses", [a.as_dict() for a in addresses]),
                    created_ms=now_ms,
                )
            )
            digests = {self.blind_index.digest(phone) for phone in normalized}
            connection.execute(
                insert(_PHONES),
                [{"version": v, "digest": d, "subject_id": subject_id} for v, d in digests],
            )
            append_events(
                connection,
                [
                    self._record(
                        AuditTag.SUBJECT_CREATED, caller, now_ms, meta, subject_id=subject_id
                    )
                ],
            )
        self.keyring.cache.put(subject_id, key)
        return subject_id

    def lookup_subjects_by_phone(
        self, caller: Caller, phone: str, *, meta: RequestMeta = _NO_META
    ) -> list[str]:
        """Return the tokens of every subject with this phone (via the blind index)."""
        now_ms = self._now_ms()
        self._require_vault_action(caller, "lookup_subject", now_ms, meta)
        e164 = normalize_phone(phone, self.default_region)
        digests = self.blind_index.lookup_digests(e164)
        with self._transaction() as connection:
            found: set[str] = set()
            for version, digest in digests:
                found.update(
                    connection.scalars(
                        select(_PHONES.c.subject_id).where(
                            _PHONES.c.version == version, _PHONES.c.digest == digest
                        )
                    )
                )
            append_events(
                connection,
                [
                    self._record(
                        AuditTag.SUBJECT_LOOKED_UP,
                        caller,
                        now_ms,
                        meta,
                        detail=f"{len(found)} match(es)",
                    )
                ],
            )
        if not found:
            raise NotFound("no subject has this phone number")
        return sorted(found)

    def erase_subject(
        self, caller: Caller, subject_id: str, *, meta: RequestMeta = _NO_META
    ) -> None:
        """Crypto-shred a subject: destroy its data key; nothing of it decrypts again."""
        now_ms = self._now_ms()
        self._require_vault_action(caller, "erase_subject", now_ms, meta)
        if not is_id(subject_id, IdKind.SUBJECT):
            # Checked before the query: PostgreSQL refuses some strings (NUL) outright.
            raise NotFound("no such subject")
        with self._transaction() as connection:
            result = connection.execute(
                update(_SUBJECTS)
                .where(_SUBJECTS.c.id == subject_id, _SUBJECTS.c.erased_ms.is_(None))
                .values(
                    dek_wrapped=None,
                    kek_version=None,
                    name_ct=None,
                    phones_ct=None,
                    addresses_ct=None,
                    erased_ms=now_ms,
                )
            )
            if result.rowcount == 0:
                raise NotFound("no such subject")
            connection.execute(delete(_PHONES).where(_PHONES.c.subject_id == subject_id))
            append_events(
                connection,
                [
                    self._record(
                        AuditTag.SUBJECT_ERASED, caller, now_ms, meta, subject_id=subject_id
                    )
                ],
            )
        self.keyring.cache.evict(subject_id)

    def redact_text(
        self, caller: Caller, text: str, *, language: str = "zh", meta: RequestMeta = _NO_META
    ) -> tuple[str, list[dict[str, Any]]]:
        """Redact free text for the platform (e.g. rider-customer chat); return text and findings.

        Findings carry offsets and types, never the text they cover; the audit
        row records how many were found, not what.
        """
        now_ms = self._now_ms()
        self._require_vault_action(caller, "ingest", now_ms, meta)
        if len(text) > 5000:
            raise InvalidInput("text must be at most 5,000 characters")
        if language not in {"zh", "en"}:
            raise InvalidInput("language must be zh or en")
        redaction = default_redactor().redact(text, language=language)  # type: ignore[arg-type]
        findings = [
            {"start": f.start, "end": f.end, "type": str(f.entity_type)} for f in redaction.findings
        ]
        return redaction.text, findings

    # ------------------------------------------------------------------ orders

    def create_orders(
        self, caller: Caller, specs: Sequence[OrderSpec], *, meta: RequestMeta = _NO_META
    ) -> list[str]:
        """Create orders (all or none) with an encrypted contact snapshot each."""
        now_ms = self._now_ms()
        self._require_vault_action(caller, "ingest", now_ms, meta)
        if not specs or len(specs) > 1000:
            raise InvalidInput("give 1 to 1000 orders")
        with self._transaction() as connection:
            subjects = self._subjects_for(connection, {s.subject_id for s in specs})
            merchants = set(
                connection.scalars(
                    select(_PRINCIPALS.c.id).where(
                        _PRINCIPALS.c.id.in_(
                            {s.merchant_id for s in specs if is_id(s.merchant_id, IdKind.PRINCIPAL)}
                        ),
                        _PRINCIPALS.c.role == "merchant",
                        _PRINCIPALS.c.status == "active",
                    )
                )
            )
            rows: list[dict[str, Any]] = []
            records: list[AuditRecord] = []
            for spec in specs:
                if spec.merchant_id not in merchants:
                    raise InvalidInput("merchant_id is not an active merchant")
                key, profile = subjects[spec.subject_id]
                rows.append(self._order_row(spec, key, profile, now_ms))
                records.append(
                    self._record(
                        AuditTag.ORDER_CREATED,
                        caller,
                        now_ms,
                        meta,
                        order_id=rows[-1]["id"],
                        subject_id=spec.subject_id,
                    )
                )
            connection.execute(insert(_ORDERS), rows)
            append_events(connection, records)
        return [row["id"] for row in rows]

    def post_order_event(
        self,
        caller: Caller,
        order_id: str,
        event: str,
        *,
        rider_id: str | None = None,
        meta: RequestMeta = _NO_META,
    ) -> str:
        """Move an order through its life; return the new state.

        Raises:
            Conflict: the event is not allowed in the order's current state.
        """
        now_ms = self._now_ms()
        self._require_vault_action(caller, "post_order_event", now_ms, meta)
        if event not in _TRANSITIONS:
            raise InvalidInput(f"event must be one of {', '.join(_TRANSITIONS)}")
        sources, target, stamp = _TRANSITIONS[event]
        refusal: VeilError | None = None
        with self._transaction() as connection:
            row = self._order_row_by_id(connection, order_id)
            if row is None:
                raise NotFound("no such order")
            values: dict[str, Any] = {"state": target, stamp: now_ms}
            if row.state not in sources:
                refusal = Conflict(f"cannot {event} an order in state '{row.state}'")
            elif event == "assign":
                if (
                    rider_id is None
                    or not is_id(rider_id, IdKind.PRINCIPAL)
                    or not self._is_active(connection, rider_id, "rider")
                ):
                    raise InvalidInput("rider_id must name an active rider")
                if rider_id == row.rider_id:
                    refusal = Conflict("the order is already assigned to this rider")
                elif row.rider_id is not None:
                    # Reassignment: the previous rider's view closes immediately.
                    past = row.past_rider_ids.split()
                    values["past_rider_ids"] = " ".join([*past, row.rider_id])
                values["rider_id"] = rider_id
            elif rider_id is not None:
                raise InvalidInput("rider_id is only accepted with the assign event")
            if refusal is None:
                result = connection.execute(
                    update(_ORDERS)
                    .where(_ORDERS.c.id == order_id, _ORDERS.c.state == row.state)
                    .values(**values)
                )
                if result.rowcount == 0:
                    refusal = Conflict("the order changed concurrently; retry")
            # Virtual numbers follow the order: bound, ended, moved to a new rider.
            number_records = (
                follow_order_event(
                    self, connection, row, event, values, now_ms=now_ms, caller=caller, meta=meta
                )
                if refusal is None
                else []
            )
            append_events(
                connection,
                [
                    self._record(
                        AuditTag.ORDER_TRANSITIONED
                        if refusal is None
                        else AuditTag.ORDER_TRANSITION_REFUSED,
                        caller,
                        now_ms,
                        meta,
                        order_id=order_id,
                        subject_id=row.subject_id,
                        decision="allow" if refusal is None else "deny",
                        reason=refusal.message if refusal else None,
                        detail=f"{event}: {row.state} -> {target}",
                    ),
                    *number_records,
                ],
            )
        if refusal is not None:
            raise refusal
        return target

    def view_order(
        self, caller: Caller, order_id: str, *, meta: RequestMeta = _NO_META
    ) -> dict[str, Any]:
        """Return the caller's view of one order, at this moment of the order's life.

        Raises:
            NotFound: the order is absent, or the caller may not know it exists.
            AccessDenied: the order was the caller's, but its window is closed.
        """
        results = self._views(caller, [order_id], meta)
        outcome = results[order_id]
        if isinstance(outcome, VeilError):
            raise outcome
        return outcome

    def view_orders(
        self, caller: Caller, order_ids: Sequence[str], *, meta: RequestMeta = _NO_META
    ) -> dict[str, dict[str, Any] | VeilError]:
        """Return each order's view, or the error for that order (at most 100 ids)."""
        unique = list(dict.fromkeys(order_ids))
        if not unique or len(unique) > MAX_BATCH:
            raise InvalidInput(f"give 1 to {MAX_BATCH} distinct order ids")
        return self._views(caller, unique, meta)

    def active_orders(
        self, caller: Caller, *, meta: RequestMeta = _NO_META
    ) -> list[dict[str, Any]]:
        """List the caller's own active orders (riders and merchants): ids and states only."""
        now_ms = self._now_ms()
        self._require_vault_action(caller, "list_own_orders", now_ms, meta)
        if caller.role == "rider":
            condition = (_ORDERS.c.rider_id == caller.principal_id) & _ORDERS.c.state.in_(
                _ACTIVE_FOR_RIDER
            )
        else:
            condition = (_ORDERS.c.merchant_id == caller.principal_id) & _ORDERS.c.state.in_(
                _ACTIVE_FOR_MERCHANT
            )
        with self._transaction() as connection:
            rows = connection.execute(
                select(_ORDERS.c.id, _ORDERS.c.state, _ORDERS.c.created_ms)
                .where(condition)
                .order_by(_ORDERS.c.created_ms)
                .limit(500)
            ).all()
            append_events(
                connection,
                [
                    self._record(
                        AuditTag.ORDERS_LISTED, caller, now_ms, meta, detail=f"{len(rows)} order(s)"
                    )
                ],
            )
        return [{"order_id": r.id, "state": r.state, "created": iso_ms(r.created_ms)} for r in rows]

    # ------------------------------------------------------------------ internals

    def _views(
        self, caller: Caller, order_ids: Sequence[str], meta: RequestMeta
    ) -> dict[str, dict[str, Any] | VeilError]:
        now_ms = self._now_ms()
        principal = caller.facts()
        outcomes: dict[str, dict[str, Any] | VeilError] = {}
        records: list[AuditRecord] = []
        with self._transaction() as connection:
            # One prepared, indexed read per id: cheaper than compiling an IN
            # list per call, and the batch is bounded at MAX_BATCH.
            rows = {}
            for order_id in order_ids:
                if is_id(order_id, IdKind.ORDER):
                    row = _ONE_ORDER_WITH_KEY.first(connection, {"id": order_id})
                    if row is not None:
                        rows[order_id] = row
            found = [rows[oid] for oid in order_ids if oid in rows]
            facts_by_id = {row.id: _order_facts(row) for row in found}
            # Agents, admins and safety officers see an order only through their
            # own ticket or break-glass grant on it, which the decision must read.
            staff = (
                StaffViews(self.policy, connection, caller, now_ms)
                if caller.role in STAFF_RELATION_ROLES
                else None
            )
            if staff is not None:
                decisions = staff.decide(facts_by_id)
            else:
                decisions = dict(
                    zip(
                        facts_by_id,
                        self.policy.decide_orders(
                            principal, "view_order", list(facts_by_id.values()), now_ms=now_ms
                        ),
                        strict=True,
                    )
                )
            for order_id in order_ids:
                row = rows.get(order_id)
                audited_id = order_id if is_id(order_id, IdKind.ORDER) else None
                if row is None:
                    outcomes[order_id] = NotFound("no such order")
                    records.append(
                        self._record(
                            AuditTag.ORDER_VIEW_DENIED,
                            caller,
                            now_ms,
                            meta,
                            order_id=audited_id,
                            decision="deny",
                            reason="not found" if audited_id else "malformed order id",
                        )
                    )
                    continue
                facts = facts_by_id[order_id]
                decision = decisions[order_id]
                if isinstance(decision, Deny):
                    known = (
                        staff.know(facts)
                        if staff is not None
                        else self.policy.decide_order(principal, "know_order", facts, now_ms=now_ms)
                    )
                    error: VeilError = (
                        AccessDenied(decision.reason)
                        if known.allowed
                        else NotFound("no such order")
                    )
                    outcomes[order_id] = error
                    records.append(
                        self._record(
                            AuditTag.ORDER_VIEW_DENIED,
                            caller,
                            now_ms,
                            meta,
                            order_id=order_id,
                            subject_id=row.subject_id,
                            decision="deny",
                            policy_ids=decision.policy_ids,
                            reason=decision.reason if known.allowed else "not found",
                            detail=staff.detail(order_id) if staff is not None else None,
                        )
                    )
                    continue
                key = self._data_key(row)
                contact = (
                    self.numbers.contact(connection, caller.principal_id, order_id, now_ms)
                    if "phone.virtual" in decision.grants
                    else None
                )
                view, disclosed = build_view(row, decision.grants, key, self.masking, contact)
                outcomes[order_id] = view
                records.append(
                    self._record(
                        AuditTag.ORDER_VIEWED,
                        caller,
                        now_ms,
                        meta,
                        order_id=order_id,
                        subject_id=row.subject_id,
                        fields=disclosed,
                        policy_ids=decision.policy_ids,
                        detail=staff.detail(order_id) if staff is not None else None,
                    )
                )
            append_events(connection, records)
        return outcomes

    def _data_key(self, row: Any) -> DataKey | None:
        if row.dek_wrapped is None:
            return None
        return self.keyring.unwrap(row.subject_id, WrappedKey(row.kek_version, row.dek_wrapped))

    def _subjects_for(
        self, connection: Connection, subject_ids: Iterable[str]
    ) -> dict[str, tuple[DataKey, dict[str, Any]]]:
        wanted = [s for s in subject_ids if is_id(s, IdKind.SUBJECT)]
        rows = connection.execute(
            select(
                _SUBJECTS.c.id,
                _SUBJECTS.c.kek_version,
                _SUBJECTS.c.dek_wrapped,
                _SUBJECTS.c.name_ct,
                _SUBJECTS.c.phones_ct,
                _SUBJECTS.c.addresses_ct,
            ).where(_SUBJECTS.c.id.in_(wanted), _SUBJECTS.c.dek_wrapped.is_not(None))
        ).all()
        found: dict[str, tuple[DataKey, dict[str, Any]]] = {}
        for row in rows:
            key = self.keyring.unwrap(row.id, WrappedKey(row.kek_version, row.dek_wrapped))

            def opened(
                field: str, blob: bytes, subject_id: str = row.id, key: DataKey = key
            ) -> Any:
                where = FieldRef(subject_id, subject_id, field)
                return json.loads(open_field(key, blob, where))

            found[row.id] = (
                key,
                {
                    "name": opened("subject.name", row.name_ct),
                    "phones": opened("subject.phones", row.phones_ct),
                    "addresses": opened("subject.addresses", row.addresses_ct),
                },
            )
        missing = set(subject_ids) - set(found)
        if missing:
            raise InvalidInput("subject_id does not name a stored (and not erased) subject")
        return found

    def _order_row(
        self, spec: OrderSpec, key: DataKey, profile: dict[str, Any], now_ms: int
    ) -> dict[str, Any]:
        if spec.address is not None:
            address = spec.address.as_dict()
        else:
            if not 0 <= spec.address_index < len(profile["addresses"]):
                raise InvalidInput("address_index does not name one of the subject's addresses")
            address = profile["addresses"][spec.address_index]
        if not (address.get("city") and address.get("street")):
            raise InvalidInput("a delivery address needs at least a city and a street")
        phone = (
            normalize_phone(spec.contact_phone, self.default_region)
            if spec.contact_phone
            else profile["phones"][0]
        )
        name = spec.contact_name or profile["name"]
        if spec.note is not None and len(spec.note) > 500:
            raise InvalidInput("note must be at most 500 characters")
        order_id = new_id(IdKind.ORDER)

        def seal(field: str, value: str) -> bytes:
            return seal_field(
                key, value.encode(), order_field_ref(spec.subject_id, order_id, field)
            )

        def part(*names: str) -> str:
            return json.dumps({n: address.get(n, "") for n in names}, ensure_ascii=False)

        return {
            "id": order_id,
            "subject_id": spec.subject_id,
            "merchant_id": spec.merchant_id,
            "rider_id": None,
            "past_rider_ids": "",
            "state": "created",
            "created_ms": now_ms,
            "name_ct": seal("name", name),
            "phone_ct": seal("phone", phone),
            "addr_area_ct": seal("addr_area", part("province", "city", "district")),
            "addr_street_ct": seal("addr_street", part("street", "building", "landmark")),
            "addr_detail_ct": seal("addr_detail", part("unit", "floor", "room")),
            "note_ct": seal("note", spec.note) if spec.note else None,
            # What riders, merchants and staff read: the note with the PII
            # customers type into it ("到了打我电话138…") replaced by placeholders.
            # NUL is dropped from this clear-text copy: PostgreSQL text refuses it.
            "note_redacted": (
                default_redactor().redact(spec.note).text.replace("\x00", "") if spec.note else None
            ),
        }

    def _order_row_by_id(self, connection: Connection, order_id: str) -> Any:
        if not is_id(order_id, IdKind.ORDER):
            return None
        return connection.execute(select(_ORDERS).where(_ORDERS.c.id == order_id)).first()

    @staticmethod
    def _is_active(connection: Connection, principal_id: str, role: str) -> bool:
        return (
            connection.scalar(
                select(_PRINCIPALS.c.id).where(
                    _PRINCIPALS.c.id == principal_id,
                    _PRINCIPALS.c.role == role,
                    _PRINCIPALS.c.status == "active",
                )
            )
            is not None
        )

    def _require_vault_action(
        self, caller: Caller, action: str, now_ms: int, meta: RequestMeta
    ) -> None:
        decision = self.policy.decide_vault(caller.facts(), action, now_ms=now_ms)
        if decision.allowed:
            return
        with self._transaction() as connection:
            append_events(
                connection,
                [
                    self._record(
                        AuditTag.OPERATION_DENIED,
                        caller,
                        now_ms,
                        meta,
                        decision="deny",
                        policy_ids=decision.policy_ids,
                        reason=f"{action}: not permitted for role {caller.role}",
                    )
                ],
            )
        # Vault-wide operations are not secret, so a plain 403 is honest here.
        raise AccessDenied(f"role {caller.role} may not {action.replace('_', ' ')}")

    def _record(
        self,
        tag: AuditTag,
        caller: Caller,
        now_ms: int,
        meta: RequestMeta,
        *,
        decision: str = "allow",
        order_id: str | None = None,
        subject_id: str | None = None,
        fields: tuple[str, ...] = (),
        policy_ids: tuple[str, ...] = (),
        reason: str | None = None,
        detail: str | None = None,
    ) -> AuditRecord:
        return AuditRecord(
            tag=tag,
            at_ms=now_ms,
            decision=decision,
            principal_id=caller.principal_id,
            role=caller.role,
            order_id=order_id,
            subject_id=subject_id,
            fields=fields,
            policy_ids=policy_ids,
            reason=reason,
            request_id=meta.request_id,
            client_ip=meta.client_ip,
            detail=detail,
        )

    def _transaction(self) -> _Transaction:
        if self._held is None:
            return _Transaction(self.engine, None, self.watch)
        connection: Connection | None = getattr(self._held, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self.engine.connect()
            self._held.connection = connection
        return _Transaction(self.engine, connection, self.watch)

    def _now_ms(self) -> int:
        return to_epoch_ms(self.clock.now())


class _Transaction:
    """``engine.begin()`` that turns database failures into `StorageUnavailable`.

    The original exception is chained for the server log but its text (which
    may quote SQL) never reaches the caller.
    """

    def __init__(self, engine: Engine, held: Connection | None, watch: Watch | None = None) -> None:
        self._engine = engine
        self._held = held
        self._context: Any = None
        self._watch = watch
        self._connection: Connection | None = None
        self._appended: list[AuditRecord] = []

    def __enter__(self) -> Connection:
        try:
            # A held connection begins at once (and may find the database
            # locked): inside the try, like the engine's begin.
            held = self._held
            self._context = held.begin() if held is not None else self._engine.begin()
            entered = self._context.__enter__()
        except SQLAlchemyError as exc:
            raise StorageUnavailable("the database is unavailable") from exc
        connection: Connection = self._held if self._held is not None else entered
        if self._watch is not None:
            self._connection = connection
            self._appended = collect_appended(connection)
        return connection

    def __exit__(self, *exc_info: Any) -> None:
        if self._connection is not None:
            stop_collecting(self._connection)
        try:
            self._context.__exit__(*exc_info)
        except SQLAlchemyError as exc:
            raise StorageUnavailable("the database refused the write; nothing was changed") from exc
        if self._watch is not None and exc_info[1] is None:
            # Committed: the watch sees exactly what the audit log now holds.
            self._watch.observe(self._appended)
        if exc_info[1] is not None and isinstance(exc_info[1], SQLAlchemyError):
            raise StorageUnavailable(
                "the database refused the write; nothing was changed"
            ) from exc_info[1]


def _order_facts(row: Any) -> OrderFacts:
    return OrderFacts(
        id=row.id,
        state=row.state,
        subject_id=row.subject_id,
        merchant_id=row.merchant_id,
        rider_id=row.rider_id,
        past_rider_ids=tuple(row.past_rider_ids.split()),
        created_ms=row.created_ms,
        assigned_ms=row.assigned_ms,
        picked_up_ms=row.picked_up_ms,
        delivered_ms=row.delivered_ms,
        cancelled_ms=row.cancelled_ms,
    )
