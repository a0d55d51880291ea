"""Persistence: SQLAlchemy 2 models, Alembic migrations, engines. No business rules here."""

from veil.store._db import current_revision, head_revision, make_engine, migrate
from veil.store._models import (
    API_KEYS,
    AUDIT_EVENTS,
    INDEX_KEYS,
    KEK_VERSIONS,
    ORDERS,
    PRINCIPALS,
    SUBJECT_PHONES,
    SUBJECTS,
    ApiKey,
    AuditEvent,
    Base,
    IndexKey,
    KekVersion,
    Order,
    Principal,
    Subject,
    SubjectPhoneIndex,
)
from veil.store._prepared import Prepared

__all__ = [
    "API_KEYS",
    "AUDIT_EVENTS",
    "INDEX_KEYS",
    "KEK_VERSIONS",
    "ORDERS",
    "PRINCIPALS",
    "SUBJECTS",
    "SUBJECT_PHONES",
    "ApiKey",
    "AuditEvent",
    "Base",
    "IndexKey",
    "KekVersion",
    "Order",
    "Prepared",
    "Principal",
    "Subject",
    "SubjectPhoneIndex",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
]
