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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ALERTS",
    "API_KEYS",
    "AUDIT_EVENTS",
    "BREAK_GLASS",
    "INDEX_KEYS",
    "KEK_VERSIONS",
    "ORDERS",
    "PRINCIPALS",
    "PSEUDONYM_KEYS",
    "QUOTA_USAGE",
    "SUBJECTS",
    "SUBJECT_PHONES",
    "TICKETS",
    "Alert",
    "ApiKey",
    "AuditEvent",
    "Base",
    "BreakGlassGrant",
    "IndexKey",
    "KekVersion",
    "Order",
    "Principal",
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
    principal_id: Mapped[str | None] = mapped_column(String(40), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(40), index=True)
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
