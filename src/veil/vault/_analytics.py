"""Analysts' tables: pseudonymous, district-level, no contact fields.

Each row is one order: a pseudonym for the order and one for the customer
(HMAC under a key derived for the calling analyst: stable across that
analyst's exports, different for every other analyst), the merchant token,
the state, hour-rounded times, delivery minutes, and the address cut to
province, city and district. No name, phone, street, room or note ever
enters this path: only the district tier of the address is decrypted.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from veil.audit import AuditTag, append_events
from veil.crypto import (
    PSEUDONYM_KEY_CONTEXT,
    DataKey,
    Pseudonymizer,
    PseudonymKey,
    open_field,
)
from veil.errors import InvalidInput
from veil.store import ORDERS, PSEUDONYM_KEYS, SUBJECTS
from veil.vault._model import Caller, RequestMeta
from veil.vault._staff import StaffAudit
from veil.vault._vault import Vault
from veil.vault._views import order_field_ref

__all__ = ["MAX_ANALYTICS_ROWS", "export_orders"]

MAX_ANALYTICS_ROWS = 1000
_NO_META = RequestMeta()
_STATES = ("created", "accepted", "rider_assigned", "picked_up", "delivered", "cancelled")
_HOUR_MS = 3_600_000


def export_orders(
    vault: Vault,
    caller: Caller,
    *,
    since: dt.datetime,
    until: dt.datetime,
    state: str | None = None,
    limit: int = 500,
    offset: int = 0,
    meta: RequestMeta = _NO_META,
) -> dict[str, Any]:
    """Return one page of the pseudonymous order table for orders created in [since, until).

    Raises:
        AccessDenied: the caller is not an analyst.
        InvalidInput: a bad window, state, limit or offset.
    """
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "export_analytics", now_ms, meta)
    since_ms, until_ms = _ms(since), _ms(until)
    if not since_ms < until_ms or until_ms - since_ms > 366 * 24 * _HOUR_MS:
        raise InvalidInput("the window must be non-empty and at most 366 days")
    if state is not None and state not in _STATES:
        raise InvalidInput(f"state must be one of {', '.join(_STATES)}")
    if not 1 <= limit <= MAX_ANALYTICS_ROWS or not 0 <= offset <= 1_000_000:
        raise InvalidInput(f"limit must be 1 to {MAX_ANALYTICS_ROWS}, offset 0 to 1000000")
    condition = (ORDERS.c.created_ms >= since_ms) & (ORDERS.c.created_ms < until_ms)
    if state is not None:
        condition = condition & (ORDERS.c.state == state)
    with vault._transaction() as connection:
        key = _pseudonym_key(vault, connection, caller, now_ms)
        rows = connection.execute(
            select(ORDERS, SUBJECTS.c.kek_version, SUBJECTS.c.dek_wrapped)
            .join_from(ORDERS, SUBJECTS, ORDERS.c.subject_id == SUBJECTS.c.id)
            .where(condition)
            .order_by(ORDERS.c.created_ms, ORDERS.c.id)
            .limit(limit + 1)
            .offset(offset)
        ).all()
        more = len(rows) > limit
        table = [_row(vault, key, row) for row in rows[:limit]]
        record = StaffAudit(caller, now_ms, meta).record(
            AuditTag.ANALYTICS_EXPORTED,
            detail={
                "rows": len(table),
                "since": since.isoformat(),
                "until": until.isoformat(),
                "state": state,
                "offset": offset,
            },
            fields=("order.pseudonyms", "address.district"),
        )
        append_events(connection, [record])
    return {
        "rows": table,
        "next_offset": offset + limit if more else None,
        "pseudonyms": "per analyst: stable across your exports, different for every analyst",
    }


def _row(vault: Vault, key: PseudonymKey, row: Any) -> dict[str, Any]:
    district: dict[str, str] = {"province": "", "city": "", "district": ""}
    data_key = vault._data_key(row)
    if data_key is not None:
        district = _district(data_key, row)
    delivery_minutes = (
        round((row.delivered_ms - row.created_ms) / 60_000)
        if row.delivered_ms is not None
        else None
    )
    return {
        "order": key.pseudonym("order", row.id),
        "customer": key.pseudonym("subject", row.subject_id),
        "rider": key.pseudonym("rider", row.rider_id) if row.rider_id else None,
        "merchant_id": row.merchant_id,
        "state": row.state,
        "created_hour": _hour(row.created_ms),
        "delivery_minutes": delivery_minutes,
        "province": district.get("province", ""),
        "city": district.get("city", ""),
        "district": district.get("district", ""),
        "erased": data_key is None,
    }


def _district(data_key: DataKey, row: Any) -> dict[str, str]:
    where = order_field_ref(row.subject_id, row.id, "addr_area")
    area: dict[str, str] = json.loads(open_field(data_key, row.addr_area_ct, where))
    return area


def _hour(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp((epoch_ms // _HOUR_MS) * 3600, tz=dt.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _pseudonym_key(
    vault: Vault, connection: Connection, caller: Caller, now_ms: int
) -> PseudonymKey:
    """Return the caller's pseudonym key, creating the root secret on first use."""
    provider = vault.keyring.provider
    row = connection.execute(
        select(PSEUDONYM_KEYS.c.kek_version, PSEUDONYM_KEYS.c.wrapped).where(
            PSEUDONYM_KEYS.c.version == 1
        )
    ).first()
    if row is None:
        version = provider.current_version()
        wrapped = provider.wrap(version, Pseudonymizer.new_root(), PSEUDONYM_KEY_CONTEXT)
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        # Two first exports may race: the loser's insert does nothing and it
        # reads the winner's secret.
        connection.execute(
            dialect.insert(PSEUDONYM_KEYS)
            .values(version=1, kek_version=version, wrapped=wrapped, created_ms=now_ms)
            .on_conflict_do_nothing()
        )
        row = connection.execute(
            select(PSEUDONYM_KEYS.c.kek_version, PSEUDONYM_KEYS.c.wrapped).where(
                PSEUDONYM_KEYS.c.version == 1
            )
        ).one()
    root = provider.unwrap(row.kek_version, row.wrapped, PSEUDONYM_KEY_CONTEXT)
    return Pseudonymizer(root).for_principal(caller.principal_id)
