"""SQLAlchemy 2 models: the only description of Veil's tables.

Columns ending in ``_ct`` hold ciphertext blobs from `veil.crypto.seal_field`;
nothing in this schema holds plaintext PII. Times that policies compare are
stored as integer epoch milliseconds (``*_ms``), the unit Cedar sees.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ALERTS",
    "API_KEYS",
    "AUDIT_CHECKPOINTS",
    "AUDIT_EVENTS",
    "AUDIT_LEASES",
    "AUDIT_LEAVES",
    "AUDIT_NODES",
    "BREAK_GLASS",
    "INDEX_KEYS",
    "KEK_VERSIONS",
    "LEAK_SIGNALS",
    "NUMBER_BINDINGS",
    "NUMBER_CALLS",
    "NUMBER_CALL_REPORTS",
    "NUMBER_POOL",
    "ORDERS",
    "PARTY_PHONES",
    "PARTY_PHONE_KEYS",
    "PRINCIPALS",
    "PRINCIPAL_CONTROLS",
    "PSEUDONYM_KEYS",
    "QUOTA_USAGE",
    "SUBJECTS",
    "SUBJECT_PHONES",
    "TICKETS",
    "WATCH_DAILY_USAGE",
    "Alert",
    "ApiKey",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditLeaf",
    "AuditLease",
    "AuditNode",
    "Base",
    "BreakGlassGrant",
    "DailyUsage",
    "IndexKey",
    "KekVersion",
    "LeakSignal",
    "NumberBinding",
    "NumberCall",
    "NumberCallReport",
    "Order",
    "PartyPhone",
    "PartyPhoneKey",
    "PoolNumber",
    "Principal",
    "PrincipalControl",
    "PseudonymKey",
    "QuotaUsage",
    "Subject",
    "SubjectPhoneIndex",
    "Ticket",
]

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
_SEQ = BigInteger().with_variant(Integer, "sqlite")

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a constraint-naming convention Alembic can diff."""

    metadata = MetaData(naming_convention=_NAMING)


class Principal(Base):
    """Anyone who calls Veil: a service, rider, merchant, agent, analyst, admin or customer."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    # A label for operators ("rider-17"), never a real name.
    label: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Set for customer principals: the subject whose data they may read in full.
    subject_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


class KekVersion(Base):
    """A KEK version known to this database, with a check value that proves the key matches."""

    __tablename__ = "kek_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider: Mapped[str] = mapped_column(String(32))
    check_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class IndexKey(Base):
    """A blind-index key version, wrapped by a KEK."""

    __tablename__ = "index_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class Subject(Base):
    """A customer: a wrapped data key and encrypted contact data.

    Erasure sets ``dek_wrapped`` to NULL (crypto-shredding): every ciphertext
    of the subject, here and in backups, stops opening.
    """

    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kek_version: Mapped[int | None] = mapped_column(Integer, index=True)
    dek_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    phones_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    addresses_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    erased_ms: Mapped[int | None] = mapped_column(BigInteger)


class SubjectPhoneIndex(Base):
    """Blind-index digests of a subject's phones, one row per (key version, digest)."""

    __tablename__ = "subject_phone_index"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True, index=True)


class Order(Base):
    """An order: state machine facts in clear, the contact snapshot encrypted per tier.

    The address is split in three ciphertexts so that a view decrypts only
    what its policy grants: area (province, city, district), street (street,
    building, landmark) and detail (unit, floor, room).
    """

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_rider_state", "rider_id", "state"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    rider_id: Mapped[str | None] = mapped_column(String(40))
    # Riders this order was taken away from, space-separated, so that one
    # indexed read tells "was it ever yours" apart from "never yours".
    past_rider_ids: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    accepted_ms: Mapped[int | None] = mapped_column(BigInteger)
    assigned_ms: Mapped[int | None] = mapped_column(BigInteger)
    picked_up_ms: Mapped[int | None] = mapped_column(BigInteger)
    delivered_ms: Mapped[int | None] = mapped_column(BigInteger)
    cancelled_ms: Mapped[int | None] = mapped_column(BigInteger)
    name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    phone_ct: Mapped[bytes] = mapped_column(LargeBinary)
    addr_area_ct: Mapped[bytes] = mapped_column(LargeBinary)
    addr_street_ct: Mapped[bytes] = mapped_column(LargeBinary)
    addr_detail_ct: Mapped[bytes] = mapped_column(LargeBinary)
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The note after redaction (no PII by construction); what staff and riders see.
    note_redacted: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """One access or administrative event. Append-only; never plaintext PII."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    tag: Mapped[str] = mapped_column(String(48))
    # Only subject_id is indexed: the subject access log reads by it, and every
    # index costs each view's commit a page write (migration 0006). Only rows
    # about a subject are in it (0007): most events name none.
    __table_args__ = (
        Index(
            "ix_audit_events_subject_id",
            "subject_id",
            sqlite_where=text("subject_id IS NOT NULL"),
            postgresql_where=text("subject_id IS NOT NULL"),
        ),
    )

    principal_id: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[str | None] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(40))
    fields: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(8))
    policy_ids: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(40))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# Typed handles on the tables, for Core statements on the hot path.
PRINCIPALS = _table(Principal)
API_KEYS = _table(ApiKey)
KEK_VERSIONS = _table(KekVersion)
INDEX_KEYS = _table(IndexKey)
SUBJECTS = _table(Subject)
SUBJECT_PHONES = _table(SubjectPhoneIndex)
ORDERS = _table(Order)
AUDIT_EVENTS = _table(AuditEvent)


# ---- staff access: tickets, break-glass, reveal quotas, alerts, analyst pseudonyms ----


class Ticket(Base):
    """A support case on one order, assigned to one agent; open until ``closed_ms``.

    Holds ids and times only: what the customer said stays in the platform's
    own support tool, never here.
    """

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_order_agent", "order_id", "agent_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    # "service" when the platform opened it for a customer contact, "agent" when
    # an agent opened it; policies trust the first more.
    origin: Mapped[str] = mapped_column(String(16))
    opened_by: Mapped[str] = mapped_column(String(40))
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    closed_by: Mapped[str | None] = mapped_column(String(40))
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)


class BreakGlassGrant(Base):
    """Emergency access to one order: requested, approved by a second admin, expiring.

    While pending, ``expires_ms`` is when the request lapses; once approved, it is
    when access ends. The justification is operator text; the API refuses phone
    and ID numbers in it, and it never enters the audit log or an alert.
    """

    __tablename__ = "break_glass"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    requester_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    requester_role: Mapped[str] = mapped_column(String(16))
    justification: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int] = mapped_column(Integer)
    requested_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    approver_id: Mapped[str | None] = mapped_column(String(40))
    approved_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_by: Mapped[str | None] = mapped_column(String(40))
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)
    alert_id: Mapped[str | None] = mapped_column(String(40))


class QuotaUsage(Base):
    """Reveals used on one day by one principal (scope ``principal``) or one role (``role``).

    Taking a unit is one ``UPDATE … SET used = used + 1 WHERE … AND used < limit``
    whose row count says whether the unit was there, so two requests can never
    both take the last one.
    """

    __tablename__ = "quota_usage"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    holder: Mapped[str] = mapped_column(String(40), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    """Something a security lead must look at (break-glass today; detection adds more).

    ``evidence`` is JSON with ids, counts and times, never plaintext PII.
    """

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[str | None] = mapped_column(String(40), index=True)
    first_seen_ms: Mapped[int] = mapped_column(BigInteger)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger)
    evidence: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default="open")
    # The watch (migration 0005): one alert per incident, its response, who
    # acknowledged or closed it and why, and its delivery to the SIEM webhook.
    dedup_key: Mapped[str | None] = mapped_column(String(120), index=True)
    summary: Mapped[str] = mapped_column(String(200), default="")
    response: Mapped[str | None] = mapped_column(String(16))
    hits: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_by: Mapped[str | None] = mapped_column(String(40))
    acknowledged_ms: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_reason: Mapped[str | None] = mapped_column(String(200))
    closed_by: Mapped[str | None] = mapped_column(String(40))
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    notified_version: Mapped[int] = mapped_column(Integer, default=0)
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0)
    notify_next_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    notify_error: Mapped[str | None] = mapped_column(String(200))


class PseudonymKey(Base):
    """The root secret of analysts' pseudonyms, wrapped by a KEK like a data key."""

    __tablename__ = "pseudonym_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_ms: Mapped[int] = mapped_column(BigInteger)


TICKETS = _table(Ticket)
BREAK_GLASS = _table(BreakGlassGrant)
QUOTA_USAGE = _table(QuotaUsage)
ALERTS = _table(Alert)
PSEUDONYM_KEYS = _table(PseudonymKey)


# ---- the audit log's Merkle tree (veil.audit): leaves, nodes, checkpoints, lease ----


class AuditLeaf(Base):
    """Which audit event is which leaf of the Merkle tree; leaf order is integration order.

    On PostgreSQL a transaction holding a smaller ``seq`` can commit after one
    holding a larger, so leaves are not in ``seq`` order. The mapping lives here,
    so that ``audit_events`` rows are only ever inserted.
    """

    __tablename__ = "audit_leaves"

    leaf_index: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)


class AuditNode(Base):
    """The hash of one complete subtree (level 0: a leaf hash); written once, never changed.

    Node ``(level, position)`` covers leaves ``[position · 2^level, (position + 1) · 2^level)``.
    """

    __tablename__ = "audit_nodes"
    # One B-tree keyed by (level, position): each level grows at its own end.
    __table_args__ = ({"sqlite_with_rowid": False},)

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    node_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed tree head: the C2SP checkpoint note exactly as the integrator signed it."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signed_checkpoint: Mapped[str] = mapped_column(Text)


class AuditLease(Base):
    """Which integrator may extend a log, until when (SQLite; PostgreSQL uses an advisory lock)."""

    __tablename__ = "audit_leases"

    origin: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_ms: Mapped[int] = mapped_column(BigInteger)


AUDIT_LEAVES = _table(AuditLeaf)
AUDIT_NODES = _table(AuditNode)
AUDIT_CHECKPOINTS = _table(AuditCheckpoint)
AUDIT_LEASES = _table(AuditLease)


# ---- privacy numbers (veil.numbers): pool, registered phones, bindings, calls, leak signals ----

# A binding is live until it is released; the partial unique indexes below hold
# only live rows, so that the database itself refuses two live bindings that
# share a virtual number and a party (on SQLite and PostgreSQL alike).
_LIVE = text("released_ms IS NULL")


class PoolNumber(Base):
    """A virtual number (X) of a city's pool. X belongs to the platform: it is not PII.

    ``live_count`` is how many live bindings use the number now; allocation
    takes the least loaded, least recently bound number of the city.
    """

    __tablename__ = "number_pool"
    __table_args__ = (
        # Allocation walks this index in order and stops at the first number
        # that fits: no sort, however large the pool.
        Index("ix_number_pool_pick", "city", "status", "live_count", "last_bound_ms", "x_number"),
    )

    x_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    live_count: Mapped[int] = mapped_column(Integer, default=0)
    last_bound_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    imported_ms: Mapped[int] = mapped_column(BigInteger)


class PartyPhoneKey(Base):
    """The key that seals riders' and merchants' registered phones, wrapped by a KEK."""

    __tablename__ = "party_phone_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class PartyPhone(Base):
    """The registered phone of a rider or merchant (a binding's B party): sealed, and blind-indexed.

    The digest is unique: two principals with one phone would make a call from
    it to a virtual number ambiguous.
    """

    __tablename__ = "party_phones"
    __table_args__ = (Index("uq_party_phones_digest", "digest_version", "digest", unique=True),)

    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    key_version: Mapped[int] = mapped_column(Integer)
    phone_ct: Mapped[bytes] = mapped_column(LargeBinary)
    digest_version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    registered_ms: Mapped[int] = mapped_column(BigInteger)


class NumberBinding(Base):
    """An AXB binding: customer (A) ↔ virtual number (X) ↔ rider or merchant (B), for one order.

    A and B are held as blind-index digests only; the router decrypts the real
    numbers from the order and from ``party_phones`` when it connects a call.
    ``x_number`` is NULL when no number could be issued (``fallback_reason``
    says why: the party then uses in-app contact). Live until ``released_ms``;
    calls connect only while ``now <= expires_ms`` as well.
    """

    __tablename__ = "number_bindings"
    __table_args__ = (
        # Party first: allocation reads a party's live numbers from these.
        Index(
            "uq_number_bindings_live_xb",
            "b_digest",
            "x_number",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        Index(
            "uq_number_bindings_live_xa",
            "a_digest",
            "x_number",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        # The order's bindings (live or not) for its views, releases and listing.
        # At most one live binding per order and holder role is kept by the
        # order's own row: every bind follows an update or a locked read of it.
        Index("ix_number_bindings_order_holder", "order_id", "holder_id", "created_ms"),
        # Insert-only columns: releasing a binding rewrites no entry here.
        Index("ix_number_bindings_x", "x_number", "created_ms"),
        # A party's bindings on a number by time: allocation asks, per candidate
        # number, whether the party gave it back within the cool-down; routing
        # finds the caller's bindings on the called number.
        Index("ix_number_bindings_a", "a_digest", "x_number", "created_ms"),
        Index("ix_number_bindings_b", "b_digest", "x_number", "created_ms"),
        # No index on the expiry: the sweep reads the live rows through the
        # live partial indexes above (migration 0008); each index costs every
        # bind and release a page write.
        # Only unbinds the provider has not confirmed: the sweep's retry list.
        Index(
            "ix_number_bindings_unbind_pending",
            "provider_state",
            sqlite_where=text("provider_state = 'unbind_pending'"),
            postgresql_where=text("provider_state = 'unbind_pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    holder_id: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    holder_role: Mapped[str] = mapped_column(String(16))
    x_number: Mapped[str | None] = mapped_column(String(20))
    a_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    b_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    released_ms: Mapped[int | None] = mapped_column(BigInteger)
    release_reason: Mapped[str | None] = mapped_column(String(32))
    fallback_reason: Mapped[str | None] = mapped_column(String(120))
    # The provider's id of the binding (Alibaba ``SubsId``) and whether the
    # provider still has to hear about an unbind (the sweep retries).
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    provider_state: Mapped[str] = mapped_column(String(16), default="none")


class NumberCall(Base):
    """A call or SMS through a virtual number: who the router connected, when; never content.

    One row per provider call id. The routing callback fills the decision, the
    provider's call report fills start, end and duration; they may arrive in
    either order and more than once.
    """

    __tablename__ = "number_calls"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    route_event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[str | None] = mapped_column(String(8))
    x_number: Mapped[str | None] = mapped_column(String(20))
    caller_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    binding_id: Mapped[str | None] = mapped_column(String(40), index=True)
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    caller_party: Mapped[str | None] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(64))
    routed_ms: Mapped[int | None] = mapped_column(BigInteger)
    started_ms: Mapped[int | None] = mapped_column(BigInteger)
    ended_ms: Mapped[int | None] = mapped_column(BigInteger)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)


class NumberCallReport(Base):
    """A provider call report already applied, by its event id (reports come more than once)."""

    __tablename__ = "number_call_reports"

    provider_event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    received_ms: Mapped[int] = mapped_column(BigInteger)


class LeakSignal(Base):
    """A call to a virtual number from someone it was not issued to, or after it ended.

    Evidence for attribution: it names the binding's holder, the rider or
    merchant the number was handed to. The caller is kept as a blind digest.
    """

    __tablename__ = "number_leak_signals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    binding_id: Mapped[str] = mapped_column(String(40), index=True)
    order_id: Mapped[str] = mapped_column(String(40))
    holder_id: Mapped[str] = mapped_column(String(40), index=True)
    holder_role: Mapped[str] = mapped_column(String(16))
    x_number: Mapped[str] = mapped_column(String(20))
    caller_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    call_id: Mapped[str] = mapped_column(String(40))
    alert_id: Mapped[str | None] = mapped_column(String(40))


NUMBER_POOL = _table(PoolNumber)
PARTY_PHONE_KEYS = _table(PartyPhoneKey)
PARTY_PHONES = _table(PartyPhone)
NUMBER_BINDINGS = _table(NumberBinding)
NUMBER_CALLS = _table(NumberCall)
NUMBER_CALL_REPORTS = _table(NumberCallReport)
LEAK_SIGNALS = _table(LeakSignal)


# ---- the watch (veil.watch): responses in force on principals, daily usage for baselines ----


class PrincipalControl(Base):
    """A response in force on a principal: ``suspend``, ``step_up``, or a reveal ``approval``.

    A suspension also sets the principal's status to ``suspended``; a step-up
    makes each of its reveals wait for an ``approval`` row on that order, given
    by a second person. Lifting a control (an admin's reinstatement, or an
    approval used up) fills the ``lifted_*`` columns; rows are never deleted.
    """

    __tablename__ = "principal_controls"
    __table_args__ = (Index("ix_principal_controls_live", "principal_id", "lifted_ms"),)

    id: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    principal_id: Mapped[str] = mapped_column(String(40))
    control: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(40))
    alert_id: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(200))
    imposed_by: Mapped[str] = mapped_column(String(40))
    imposed_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int | None] = mapped_column(BigInteger)
    lifted_by: Mapped[str | None] = mapped_column(String(40))
    lifted_ms: Mapped[int | None] = mapped_column(BigInteger)
    lift_reason: Mapped[str | None] = mapped_column(String(200))


class DailyUsage(Base):
    """How much one principal used Veil on one local day: counts only, for peer baselines."""

    __tablename__ = "watch_daily_usage"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    views: Mapped[int] = mapped_column(Integer, default=0)
    reveals: Mapped[int] = mapped_column(Integer, default=0)
    subjects: Mapped[int] = mapped_column(Integer, default=0)
    night: Mapped[int] = mapped_column(Integer, default=0)
    self_tickets: Mapped[int] = mapped_column(Integer, default=0)
    # Acts in the local hours 00–08, 08–16 and 16–24: the shift it works.
    early: Mapped[int] = mapped_column(Integer, default=0)
    daytime: Mapped[int] = mapped_column(Integer, default=0)
    evening: Mapped[int] = mapped_column(Integer, default=0)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


PRINCIPAL_CONTROLS = _table(PrincipalControl)
WATCH_DAILY_USAGE = _table(DailyUsage)
