"""Call and SMS routing: whom a call to a virtual number connects to, decided per callback.

The provider asks ``(caller, called X, kind, provider_event_id)``; the answer
is *connect to the other party of the caller's live binding on X*, or
*reject*. Rules:

* The caller must be A or B of a binding on X that is live now
  (``released_ms`` NULL and ``now <= expires_ms``, Veil's clock; the time a
  provider claims is never trusted). A calls X → B; B calls X → A; the callee
  sees X either way (AXB symmetry).
* Anyone else is rejected. A stranger, or the former holder calling after the
  binding ended, leaves a **leak signal** naming the holder (``_leaks``). The
  customer calling after the end is rejected without one: their own number
  says nothing about a leak.
* Idempotent on ``provider_event_id``: a repeated callback, however late, gets
  the answer the first one got, and writes no second signal. A second event for
  a call already decided (same ``call_id``) gets that decision too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, bindparam, literal_column, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from veil.audit import AuditRecord, AuditTag
from veil.errors import Conflict, InvalidInput
from veil.ids import IdKind, new_id
from veil.numbers._actor import Actor
from veil.numbers._calls import check_event_ids
from veil.numbers._format import e164_or_none
from veil.numbers._leaks import BindingFacts, record_leak
from veil.store import NUMBER_BINDINGS, NUMBER_CALLS, NUMBER_POOL, Prepared

if TYPE_CHECKING:
    from veil.numbers._desk import NumberDesk

__all__ = ["CALL_KINDS", "RouteAnswer", "RouteRequest", "route_call"]

CALL_KINDS = ("call", "sms")
_B = NUMBER_BINDINGS
_C = NUMBER_CALLS
_MAX_CANDIDATES = 20

REJECT_UNKNOWN = "not a virtual number in service"
REJECT_STRANGER = "the caller is not a party of this number"
REJECT_ENDED = "the number's binding has ended"
REJECT_ERASED = "the customer's data was erased"


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """A provider's routing callback."""

    caller: str = field(repr=False)
    called_x: str
    kind: str
    provider_event_id: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class RouteAnswer:
    """Connect `connect_to`, showing `caller_id` (X) to the callee; or reject, with a reason."""

    action: str
    call_id: str
    reason: str | None = None
    connect_to: str | None = field(default=None, repr=False)
    caller_id: str | None = None
    binding_id: str | None = None
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the webhook's JSON answer."""
        body: dict[str, Any] = {"action": self.action, "call_id": self.call_id}
        if self.action == "connect":
            body.update(
                connect_to=self.connect_to, caller_id=self.caller_id, binding_id=self.binding_id
            )
        else:
            body["reason"] = self.reason
        body["duplicate"] = self.duplicate
        return body


_CALL_COLUMNS = (
    _C.c.id,
    _C.c.call_id,
    _C.c.route_event_id,
    _C.c.kind,
    _C.c.x_number,
    _C.c.caller_digest,
    _C.c.binding_id,
    _C.c.order_id,
    _C.c.caller_party,
    _C.c.decision,
    _C.c.reason,
)
_CALL_BY_EVENT = Prepared(select(*_CALL_COLUMNS).where(_C.c.route_event_id == bindparam("e")))
_CALL_BY_CALL = Prepared(select(*_CALL_COLUMNS).where(_C.c.call_id == bindparam("c")))
_BINDING_COLUMNS = (
    _B.c.id,
    _B.c.order_id,
    _B.c.holder_id,
    _B.c.holder_role,
    _B.c.x_number,
    _B.c.a_digest,
    _B.c.b_digest,
    _B.c.expires_ms,
    _B.c.released_ms,
    _B.c.provider_ref,
)


def _matches_statement() -> Select[Any]:
    # The caller's bindings on X, a live one first, then the newest: a seek
    # into each party's (party, X, created_ms) index, not X's whole history.
    # (A binding never has A == B: `bind` refuses it.)
    sides = [
        select(*_BINDING_COLUMNS, _B.c.created_ms).where(
            party == bindparam("d"), _B.c.x_number == bindparam("x")
        )
        for party in (_B.c.a_digest, _B.c.b_digest)
    ]
    both = union_all(*sides).subquery()
    return (
        select(*(both.c[column.name] for column in _BINDING_COLUMNS))
        .order_by(both.c.released_ms.is_(None).desc(), both.c.created_ms.desc())
        .limit(literal_column("5"))
        .offset(literal_column("0"))
    )


_MATCHES = Prepared(_matches_statement())
_BINDING = Prepared(select(*_BINDING_COLUMNS).where(_B.c.id == bindparam("id")))
# Everyone who held X recently: whom a stranger's call to X points at.
_CANDIDATES = Prepared(
    select(*_BINDING_COLUMNS)
    .where(
        _B.c.x_number == bindparam("x"),
        or_(_B.c.released_ms.is_(None), _B.c.released_ms > bindparam("since")),
        # Begun at most the longest binding before it ended: bounds the scan
        # of X's history to the lookback.
        _B.c.created_ms > bindparam("begun_after"),
    )
    .order_by(_B.c.created_ms.desc())
    .limit(literal_column(str(_MAX_CANDIDATES)))
    .offset(literal_column("0"))
)
_IN_POOL = Prepared(select(NUMBER_POOL.c.x_number).where(NUMBER_POOL.c.x_number == bindparam("x")))
_ROUTE_VALUES: dict[str, Any] = {
    name: bindparam(name)
    for name in (
        "id",
        "call_id",
        "route_event_id",
        "kind",
        "x_number",
        "caller_digest",
        "binding_id",
        "order_id",
        "caller_party",
        "decision",
        "reason",
        "routed_ms",
    )
}
_CLAIM = {
    "sqlite": Prepared(sqlite.insert(_C).values(_ROUTE_VALUES).on_conflict_do_nothing()),
    "postgresql": Prepared(postgresql.insert(_C).values(_ROUTE_VALUES).on_conflict_do_nothing()),
}
# The call's report came first: fill in the routing half of its row.
_FILL_ROUTE = Prepared(
    update(_C)
    .where(_C.c.call_id == bindparam("call_id"), _C.c.route_event_id.is_(None))
    .values({k: v for k, v in _ROUTE_VALUES.items() if k not in ("id", "call_id")})
)


@dataclass(slots=True)
class _Decision:
    decision: str
    reason: str | None
    party: str
    binding: Any = None
    connect_to: str | None = None
    leak_kind: str | None = None
    leak_bindings: list[Any] = field(default_factory=list)
    lapsed: Any = None


def _caller_digests(desk: NumberDesk, raw: str) -> list[bytes]:
    # A withheld or malformed caller number matches no binding: a stranger.
    e164 = e164_or_none(raw)
    if e164 is None:
        return []
    return [digest for _, digest in desk.blind_index.lookup_digests(e164)]


def route_call(
    desk: NumberDesk, connection: Connection, request: RouteRequest, now_ms: int, actor: Actor
) -> tuple[RouteAnswer, list[AuditRecord]]:
    """Decide one routing callback inside the caller's transaction; return answer and audit rows.

    Raises:
        InvalidInput: the kind or an id is malformed.
        Conflict: the event id was already used for a different call.
    """
    if request.kind not in CALL_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CALL_KINDS)}")
    call_id = request.call_id or request.provider_event_id
    check_event_ids(request.provider_event_id, call_id)
    digests = _caller_digests(desk, request.caller)
    x_number = e164_or_none(request.called_x)
    seen = _CALL_BY_EVENT.first(connection, {"e": request.provider_event_id})
    if seen is not None:
        return _replay(
            desk,
            connection,
            seen=seen,
            request=request,
            x_number=x_number,
            digests=digests,
            now_ms=now_ms,
            actor=actor,
        )

    decided = _decide(desk, connection, x_number, digests, now_ms)
    row_id = new_id(IdKind.CALL)
    binding = decided.binding
    values = {
        "id": row_id,
        "call_id": call_id,
        "route_event_id": request.provider_event_id,
        "kind": request.kind,
        "x_number": x_number,
        "caller_digest": digests[0] if digests else None,
        "binding_id": binding.id if binding is not None else None,
        "order_id": binding.order_id if binding is not None else None,
        "caller_party": decided.party,
        "decision": decided.decision,
        "reason": decided.reason,
        "routed_ms": now_ms,
    }
    # Claim the event (and the call) before any side effect: of two copies
    # of one callback racing, exactly one writes signals and audit rows.
    if _CLAIM[connection.dialect.name].run(connection, values) == 0:
        seen = _CALL_BY_EVENT.first(connection, {"e": request.provider_event_id})
        if seen is None and _FILL_ROUTE.run(connection, values) == 0:
            seen = _CALL_BY_CALL.first(connection, {"c": call_id})
        if seen is not None:
            return _replay(
                desk,
                connection,
                seen=seen,
                request=request,
                x_number=x_number,
                digests=digests,
                now_ms=now_ms,
                actor=actor,
            )
        row_id = connection.scalar(select(_C.c.id).where(_C.c.call_id == call_id)) or row_id

    records: list[AuditRecord] = []
    if decided.lapsed is not None:
        # The binding ended by time and nobody swept it yet: end it now.
        records += desk.end_binding(
            connection, decided.lapsed, reason="expired", now_ms=now_ms, actor=actor
        )
    if decided.leak_kind is not None:
        for leaked in decided.leak_bindings:
            records += record_leak(
                connection,
                BindingFacts(
                    leaked.id,
                    leaked.order_id,
                    leaked.holder_id,
                    leaked.holder_role,
                    leaked.x_number,
                ),
                kind=decided.leak_kind,
                caller_digest=digests[0] if digests else None,
                call_row_id=row_id,
                candidates=len(decided.leak_bindings),
                now_ms=now_ms,
                actor=actor,
            )
    answer = _answer(row_id, decided, x_number)
    records.insert(0, _call_record(actor, answer, decided, request.kind, now_ms))
    return answer, records


def _decide(
    desk: NumberDesk,
    connection: Connection,
    x_number: str | None,
    digests: list[bytes],
    now_ms: int,
) -> _Decision:
    if x_number is None:
        return _Decision("reject", REJECT_UNKNOWN, "unknown")
    matches: list[Any] = []
    for digest in digests:
        matches += _MATCHES.all(connection, {"x": x_number, "d": digest})
    matches = [m._replace(a_digest=_raw(m.a_digest), b_digest=_raw(m.b_digest)) for m in matches]
    live = [m for m in matches if m.released_ms is None and now_ms <= m.expires_ms]
    if live:
        return _connect(desk, connection, live[0], digests)
    if matches:
        return _ended(matches, digests)
    return _stranger(desk, connection, x_number, now_ms)


def _connect(
    desk: NumberDesk, connection: Connection, binding: Any, digests: list[bytes]
) -> _Decision:
    """The caller is a party of a live binding: connect them to the other party."""
    if binding.b_digest in digests:
        party = binding.holder_role
        target = desk.open_order_phone(connection, binding.order_id)
    else:
        party = "customer"
        target = desk.phones.open(connection, binding.holder_id)
    if target is None:
        return _Decision("reject", REJECT_ERASED, party, binding)
    return _Decision("connect", None, party, binding, connect_to=target)


def _ended(matches: list[Any], digests: list[bytes]) -> _Decision:
    """The caller was a party of a binding on X that has ended."""
    newest = max(matches, key=lambda m: m.released_ms or m.expires_ms)
    lapsed = newest if newest.released_ms is None else None
    if newest.b_digest in digests:
        # The rider or merchant it was issued to, calling after it ended.
        return _Decision(
            "reject",
            REJECT_ENDED,
            "former_holder",
            newest,
            leak_kind="former_holder",
            leak_bindings=[newest],
            lapsed=lapsed,
        )
    return _Decision("reject", REJECT_ENDED, "customer", newest, lapsed=lapsed)


def _stranger(desk: NumberDesk, connection: Connection, x_number: str, now_ms: int) -> _Decision:
    """The caller was never a party on X: every recent holder of X is a candidate leaker."""
    since = now_ms - desk.config.leak_lookback_ms
    begun_after = since - desk.config.longest_binding_ms
    candidates = _CANDIDATES.all(
        connection, {"x": x_number, "since": since, "begun_after": begun_after}
    )
    if candidates:
        return _Decision(
            "reject",
            REJECT_STRANGER,
            "stranger",
            candidates[0] if len(candidates) == 1 else None,
            leak_kind="stranger",
            leak_bindings=list(candidates),
        )
    if _IN_POOL.first(connection, {"x": x_number}) is None:
        return _Decision("reject", REJECT_UNKNOWN, "unknown")
    return _Decision("reject", REJECT_STRANGER, "stranger")


def _raw(value: Any) -> bytes | None:
    # Drivers hand bytea back as bytes or memoryview; compare as bytes.
    return None if value is None else bytes(value)


def _answer(
    row_id: str, decided: _Decision, x_number: str | None, *, duplicate: bool = False
) -> RouteAnswer:
    if decided.decision == "connect":
        return RouteAnswer(
            "connect",
            row_id,
            connect_to=decided.connect_to,
            caller_id=x_number,
            binding_id=decided.binding.id,
            duplicate=duplicate,
        )
    return RouteAnswer("reject", row_id, reason=decided.reason, duplicate=duplicate)


def _replay(
    desk: NumberDesk,
    connection: Connection,
    *,
    seen: Any,
    request: RouteRequest,
    x_number: str | None,
    digests: list[bytes],
    now_ms: int,
    actor: Actor,
) -> tuple[RouteAnswer, list[AuditRecord]]:
    """Answer a repeated callback exactly as the first one was answered."""
    same_caller = (seen.caller_digest is None and not digests) or (
        seen.caller_digest is not None and bytes(seen.caller_digest) in digests
    )
    if seen.x_number != x_number or seen.kind != request.kind or not same_caller:
        raise Conflict("this provider_event_id (or call_id) was already used for another call")
    binding = (
        _BINDING.first(connection, {"id": seen.binding_id}) if seen.binding_id is not None else None
    )
    decided = _Decision(seen.decision, seen.reason, seen.caller_party, binding)
    if seen.decision == "connect" and binding is not None:
        # The same answer, even if the binding ended since: the provider is
        # retrying a call that was connected when it rang.
        target = (
            desk.open_order_phone(connection, binding.order_id)
            if seen.caller_party != "customer"
            else desk.phones.open(connection, binding.holder_id)
        )
        if target is None:
            decided = _Decision("reject", REJECT_ERASED, seen.caller_party, binding)
        else:
            decided.connect_to = target
    answer = _answer(seen.id, decided, x_number, duplicate=True)
    return answer, [_call_record(actor, answer, decided, request.kind, now_ms)]


def _call_record(
    actor: Actor, answer: RouteAnswer, decided: _Decision, kind: str, now_ms: int
) -> AuditRecord:
    binding = decided.binding
    detail: dict[str, Any] = {
        "call_id": answer.call_id,
        "kind": kind,
        "party": decided.party,
        "duplicate": answer.duplicate,
    }
    if binding is not None:
        detail["binding_id"] = binding.id
        detail["holder_id"] = binding.holder_id
    if answer.action == "connect":
        return actor.record(
            AuditTag.CALL_CONNECTED,
            now_ms,
            order_id=binding.order_id if binding is not None else None,
            fields=("phone.routed",),
            detail=detail,
        )
    return actor.record(
        AuditTag.CALL_REJECTED,
        now_ms,
        decision="deny",
        order_id=binding.order_id if binding is not None else None,
        reason=answer.reason,
        detail=detail,
    )
