"""Privacy-number use-cases: bindings that follow the order, routing callbacks, operators' tools.

Each runs in one transaction with its audit rows, like every vault use-case;
the numbers themselves (pool, bindings, routing rules) live in `veil.numbers`.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from veil.audit import AuditRecord, AuditTag, append_events
from veil.clock import Clock
from veil.config import Settings
from veil.crypto import BlindIndex, Keyring, normalize_phone
from veil.errors import AccessDenied, ConfigurationError, NotFound
from veil.ids import IdKind, is_id
from veil.numbers import (
    Actor,
    AliyunPnsProvider,
    CallReport,
    ImportReport,
    NumberDesk,
    NumberProvider,
    NumbersConfig,
    NumbersStatus,
    OrderRef,
    PoolEntry,
    RouteRequest,
    SimulatedTelco,
    SweepReport,
    import_pool,
    report_call,
    route_call,
)
from veil.policy import OrderFacts, PrincipalFacts
from veil.store import ORDERS, PRINCIPALS
from veil.vault._model import Caller, RequestMeta

if TYPE_CHECKING:
    from veil.vault._vault import Vault

__all__ = [
    "BindingSweeper",
    "follow_order_event",
    "import_numbers",
    "numbers_status",
    "order_bindings",
    "register_party_phone",
    "report_telephony",
    "request_contact",
    "route_telephony",
    "sweep_numbers",
]

_NO_META = RequestMeta()
log = logging.getLogger("veil.numbers")
_OPERATOR = Actor(principal_id=None, role="operator")
PHONE_ROLES = ("rider", "merchant")


def _actor(caller: Caller, meta: RequestMeta) -> Actor:
    return Actor(caller.principal_id, caller.role, meta.request_id, meta.client_ip)


def _facts_after(row: Any, values: dict[str, Any]) -> OrderFacts:
    # The order as it is once this transaction's update is applied.
    def now(name: str) -> Any:
        return values.get(name, getattr(row, name))

    past = now("past_rider_ids")
    return OrderFacts(
        id=row.id,
        state=now("state"),
        subject_id=row.subject_id,
        merchant_id=row.merchant_id,
        rider_id=now("rider_id"),
        past_rider_ids=tuple(past.split()) if past else (),
        created_ms=row.created_ms,
        assigned_ms=now("assigned_ms"),
        picked_up_ms=now("picked_up_ms"),
        delivered_ms=now("delivered_ms"),
        cancelled_ms=now("cancelled_ms"),
    )


def follow_order_event(
    vault: Vault,
    connection: Connection,
    row: Any,
    event: str,
    values: dict[str, Any],
    *,
    now_ms: int,
    caller: Caller,
    meta: RequestMeta,
) -> list[AuditRecord]:
    """Move the order's bindings with its state (inside `post_order_event`'s transaction).

    assign: the previous rider's number stops at once, the new rider gets one
    (if policy issues it); pickup: the merchant's stops; deliver: the rider's
    expires after the grace period; cancel: every one stops.
    """
    desk = vault.numbers
    actor = _actor(caller, meta)
    records: list[AuditRecord] = []
    if event == "assign":
        records += desk.release(
            connection, row.id, roles=("rider",), reason="reassigned", now_ms=now_ms, actor=actor
        )
        rider_id = values["rider_id"]
        decision = vault.policy.decide_order(
            PrincipalFacts(rider_id, "rider"),
            "bind_number",
            _facts_after(row, values),
            now_ms=now_ms,
        )
        if decision.allowed:
            records += desk.bind(
                connection,
                OrderRef.of(row),
                holder_id=rider_id,
                holder_role="rider",
                expires_ms=now_ms + desk.config.max_binding_ms,
                now_ms=now_ms,
                actor=actor,
            )
    elif event == "pickup":
        records += desk.release(
            connection, row.id, roles=("merchant",), reason="picked_up", now_ms=now_ms, actor=actor
        )
    elif event == "deliver":
        records += desk.release(
            connection, row.id, roles=("merchant",), reason="delivered", now_ms=now_ms, actor=actor
        )
        desk.end_at(connection, row.id, role="rider", expires_ms=now_ms + desk.config.grace_ms)
    elif event == "cancel":
        records += desk.release(
            connection, row.id, roles=PHONE_ROLES, reason="cancelled", now_ms=now_ms, actor=actor
        )
    return records


def request_contact(
    vault: Vault, caller: Caller, order_id: str, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """A merchant asks for a virtual number to reach the customer (policy decides; before pickup).

    Returns the ``contact`` block; asking again while the number lives returns the same one.

    Raises:
        NotFound: the order is absent, or not the caller's.
        AccessDenied: the caller's order, but policy issues no number now.
    """
    now_ms = vault._now_ms()
    actor = _actor(caller, meta)
    desk = vault.numbers
    refusal: AccessDenied | NotFound | None = None
    records: list[AuditRecord] = []
    with vault._transaction() as connection:
        # Locked (PostgreSQL): two requests at once would otherwise both
        # find no live number and bind two (SQLite has one writer anyway).
        row = _order(connection, order_id, lock=True)
        if row is None:
            refusal = NotFound("no such order")
        else:
            facts = _facts_after(row, {})
            principal = caller.facts()
            decision, known = vault.policy.decide_order_batch(
                principal, ("bind_number", "know_order"), facts, now_ms=now_ms
            )
            if not decision.allowed:
                refusal = (
                    AccessDenied("no virtual number is issued for this order now")
                    if known.allowed
                    else NotFound("no such order")
                )
            else:
                current = desk.contact(connection, caller.principal_id, order_id, now_ms)
                if current.get("virtual_number") is None:
                    records += desk.release(
                        connection,
                        order_id,
                        roles=(caller.role,),
                        reason="renewed",
                        now_ms=now_ms,
                        actor=actor,
                    )
                    records += desk.bind(
                        connection,
                        OrderRef.of(row),
                        holder_id=caller.principal_id,
                        holder_role=caller.role,
                        expires_ms=now_ms + desk.config.merchant_binding_ms,
                        now_ms=now_ms,
                        actor=actor,
                    )
        if refusal is not None:
            records.append(
                actor.record(
                    AuditTag.OPERATION_DENIED,
                    now_ms,
                    decision="deny",
                    order_id=order_id if is_id(order_id, IdKind.ORDER) else None,
                    reason=f"bind_number: {refusal.message}",
                )
            )
        append_events(connection, records)
        contact = (
            desk.contact(connection, caller.principal_id, order_id, now_ms)
            if refusal is None
            else None
        )
    if refusal is not None:
        raise refusal
    assert contact is not None  # noqa: S101 - set whenever there is no refusal
    return contact


class _GatewayPermits:
    """Remembers, for one second, that a principal may use the telephony gateway.

    The provider calls the webhook for every ring; a Cedar decision costs
    about as much as the routing decision itself. Only permits are kept, per
    policy set in force (a reload forgets them), for as long as an API-key
    lookup is trusted; a refusal is decided, and audited, every time.
    """

    _TTL_MS = 1000

    def __init__(self) -> None:
        self._until: dict[tuple[int, str, str], int] = {}
        self._lock = threading.Lock()

    def require(self, vault: Vault, caller: Caller, now_ms: int, meta: RequestMeta) -> None:
        key = (id(vault.policy.source), caller.principal_id, caller.role)
        with self._lock:
            until = self._until.get(key)
        if until is not None and now_ms < until:
            return
        vault._require_vault_action(caller, "route_call", now_ms, meta)
        with self._lock:
            if len(self._until) > 1000:
                self._until.clear()
            self._until[key] = now_ms + self._TTL_MS


_GATEWAY = _GatewayPermits()


def route_telephony(
    vault: Vault, caller: Caller, request: RouteRequest, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Answer a provider's routing callback: whom to connect, or reject (telephony gateway)."""
    now_ms = vault._now_ms()
    _GATEWAY.require(vault, caller, now_ms, meta)
    with vault._transaction() as connection:
        answer, records = route_call(
            vault.numbers, connection, request, now_ms, _actor(caller, meta)
        )
        append_events(connection, records)
    return answer.as_dict()


def report_telephony(
    vault: Vault, caller: Caller, report: CallReport, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Record a provider's call report (start, end; no content); repeats are harmless."""
    now_ms = vault._now_ms()
    _GATEWAY.require(vault, caller, now_ms, meta)
    with vault._transaction() as connection:
        return report_call(connection, report, now_ms)


def order_bindings(
    vault: Vault, caller: Caller, order_id: str, *, meta: RequestMeta = _NO_META
) -> list[dict[str, Any]]:
    """Every binding of one order (numbers, holders, times, status; no real number); service."""
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "view_bindings", now_ms, meta)
    actor = _actor(caller, meta)
    with vault._transaction() as connection:
        if _order(connection, order_id) is None:
            raise NotFound("no such order")
        bindings = vault.numbers.bindings_of(connection, order_id, now_ms)
        append_events(
            connection,
            [
                actor.record(
                    AuditTag.BINDINGS_LISTED,
                    now_ms,
                    order_id=order_id,
                    detail={"bindings": len(bindings)},
                )
            ],
        )
    return bindings


def import_numbers(vault: Vault, entries: list[PoolEntry]) -> ImportReport:
    """Add virtual numbers to their cities' pools (operator; all or none)."""
    now_ms = vault._now_ms()
    with vault._transaction() as connection:
        report = import_pool(connection, entries, now_ms)
        append_events(
            connection,
            [
                _OPERATOR.record(
                    AuditTag.NUMBERS_IMPORTED,
                    now_ms,
                    detail={"added": report.added, "by_city": report.by_city},
                )
            ],
        )
    return report


def register_party_phone(vault: Vault, principal_id: str, phone: str) -> None:
    """Register (or replace) a rider's or merchant's own phone, sealed (operator).

    Raises:
        NotFound: no such rider or merchant.
        Conflict: another principal registered this phone.
    """
    e164 = normalize_phone(phone, vault.default_region)
    now_ms = vault._now_ms()
    with vault._transaction() as connection:
        role = (
            connection.scalar(select(PRINCIPALS.c.role).where(PRINCIPALS.c.id == principal_id))
            if is_id(principal_id, IdKind.PRINCIPAL)
            else None
        )
        if role not in PHONE_ROLES:
            raise NotFound("no such rider or merchant")
        vault.numbers.phones.register(connection, principal_id, e164, now_ms)
        append_events(
            connection,
            [
                _OPERATOR.record(
                    AuditTag.PARTY_PHONE_REGISTERED,
                    now_ms,
                    principal_id=principal_id,
                    role=role,
                )
            ],
        )


def numbers_status(vault: Vault) -> NumbersStatus:
    """Pool usage per city, live bindings, today's leak signals (operator)."""
    with vault.engine.connect() as connection:
        return vault.numbers.status(connection, vault._now_ms())


def sweep_numbers(vault: Vault) -> SweepReport:
    """Release expired bindings and retry the provider's pending unbinds (one batch)."""
    now_ms = vault._now_ms()
    with vault._transaction() as connection:
        report, records = vault.numbers.sweep(connection, now_ms, _OPERATOR)
        append_events(connection, records)
    return report


class BindingSweeper:
    """Sweeps bindings every `interval` seconds inside ``veil serve``, on a daemon thread.

    Expiry itself needs no sweep (routing and views compare with the clock);
    the sweep gives numbers back to the pool and tells the provider.
    """

    def __init__(self, vault: Vault, *, interval: float) -> None:
        self._vault = vault
        self._interval = interval
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sweeping in the background."""
        self._thread = threading.Thread(target=self._run, name="veil-number-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current sweep."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._halt.wait(self._interval):
            try:
                sweep_numbers(self._vault)
            except Exception:
                # A failed sweep changes nothing; the next tick retries.
                log.exception("number sweep failed")


def _order(connection: Connection, order_id: str, *, lock: bool = False) -> Any:
    if not is_id(order_id, IdKind.ORDER):
        return None
    query = select(ORDERS).where(ORDERS.c.id == order_id)
    return connection.execute(query.with_for_update() if lock else query).first()


def number_desk_from_settings(
    settings: Settings, keyring: Keyring, blind_index: BlindIndex, clock: Clock
) -> NumberDesk:
    """Build the numbers desk the settings describe (provider, grace, cool-down, sharing)."""
    provider: NumberProvider
    if settings.numbers_provider == "aliyun":
        try:
            provider = AliyunPnsProvider(
                access_key_id=settings.aliyun_pns_access_key_id,
                access_key_secret=settings.aliyun_pns_access_key_secret.get_secret_value(),
                pool_key=settings.aliyun_pns_pool_key,
                endpoint=settings.aliyun_pns_endpoint,
                clock=clock,
            )
        except ValueError as exc:
            raise ConfigurationError(f"VEIL_ALIYUN_PNS_*: {exc}") from None
    else:
        provider = SimulatedTelco()
    config = NumbersConfig(
        grace_ms=settings.numbers_grace_seconds * 1000,
        cooldown_ms=settings.numbers_cooldown_seconds * 1000,
        pairs_per_number=settings.numbers_pairs_per_number,
        pressure_alert=settings.numbers_pressure_alert,
    )
    return NumberDesk(keyring=keyring, blind_index=blind_index, provider=provider, config=config)
