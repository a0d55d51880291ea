"""Analysts: pseudonymous, district-level order tables; never a contact field."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from sqlalchemy import select

from tests._city import ALICE, BOB
from tests._staff_city import StaffCity, build_staff_city
from veil.errors import AccessDenied, InvalidInput
from veil.store import AUDIT_EVENTS, PSEUDONYM_KEYS
from veil.vault import Caller, Vault, export_orders

DAY = (dt.datetime(2026, 11, 29, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, tzinfo=dt.UTC))


@pytest.fixture
def staff(vault: Vault) -> StaffCity:
    return build_staff_city(vault)


def export(staff: StaffCity, analyst: Caller, **kwargs: object) -> dict[str, object]:
    return export_orders(staff.vault, analyst, since=DAY[0], until=DAY[1], **kwargs)  # type: ignore[arg-type]


def test_rows_are_pseudonymous_district_level_and_free_of_contact_data(staff: StaffCity) -> None:
    assert staff.analyst is not None
    for subject, state in ((0, "delivered"), (1, "picked_up"), (0, "cancelled")):
        staff.city.order_in(state, subject=subject)
    table = export(staff, staff.analyst)
    rows = table["rows"]
    assert isinstance(rows, list)
    assert len(rows) == 3
    assert table["next_offset"] is None
    first = rows[0]
    assert set(first) == {
        "order", "customer", "rider", "merchant_id", "state", "created_hour",
        "delivery_minutes", "province", "city", "district", "erased",
    }  # fmt: skip
    assert first["created_hour"] == "2026-11-29T12:00:00Z"
    assert sorted(row["district"] for row in rows) == ["天河区", "朝阳区", "朝阳区"]
    # The two orders of one customer share a pseudonym; the other customer's differs.
    by_customer = Counter(row["customer"] for row in rows)
    assert sorted(by_customer.values()) == [1, 2]
    [alice] = [name for name, count in by_customer.items() if count == 2]
    assert {row["district"] for row in rows if row["customer"] == alice} == {"朝阳区"}
    text = json.dumps(table, ensure_ascii=False)
    for secret in (ALICE[0], BOB[0], "13800138001", "13800138002", "1203", "602", "建国路"):
        assert secret not in text
    for real_id in (*staff.city.subjects, *(c.principal_id for c in staff.city.riders)):
        assert real_id not in text


def test_pseudonyms_are_stable_for_an_analyst_and_differ_between_analysts(staff: StaffCity) -> None:
    assert staff.analyst is not None
    staff.city.order_in("delivered")
    other = staff.city.principal("analyst", "analyst-2")
    first = export(staff, staff.analyst)["rows"]
    again = export(staff, staff.analyst)["rows"]
    theirs = export(staff, other)["rows"]
    assert isinstance(first, list) and isinstance(again, list) and isinstance(theirs, list)
    assert first[0]["customer"] == again[0]["customer"]
    assert first[0]["order"] == again[0]["order"]
    assert first[0]["customer"] != theirs[0]["customer"]
    assert first[0]["order"] != theirs[0]["order"]
    # One root secret, created on first use and stored wrapped by the KEK.
    with staff.vault.engine.connect() as connection:
        [(version, wrapped)] = connection.execute(
            select(PSEUDONYM_KEYS.c.version, PSEUDONYM_KEYS.c.wrapped)
        ).all()
    assert version == 1
    assert len(wrapped) > 32


def test_erased_customers_keep_a_pseudonym_and_lose_their_district(staff: StaffCity) -> None:
    assert staff.analyst is not None
    staff.city.order_in("delivered")
    staff.vault.erase_subject(staff.city.service, staff.city.subjects[0])
    [row] = export(staff, staff.analyst)["rows"]  # type: ignore[misc]
    assert row["erased"] is True
    assert row["district"] == ""


def test_pages_filters_and_audit(staff: StaffCity) -> None:
    assert staff.analyst is not None
    for _ in range(3):
        staff.city.order_in("delivered")
    staff.city.order_in("created")
    page = export(staff, staff.analyst, limit=2)
    assert page["next_offset"] == 2
    rest = export(staff, staff.analyst, limit=2, offset=2)
    assert rest["next_offset"] is None
    assert len(export(staff, staff.analyst, state="created")["rows"]) == 1  # type: ignore[arg-type]
    with staff.vault.engine.connect() as connection:
        audited = connection.execute(
            select(AUDIT_EVENTS).where(AUDIT_EVENTS.c.tag == "analyst:orders:exported")
        ).all()
    assert len(audited) == 3
    assert json.loads(audited[0].detail)["rows"] == 2
    assert audited[0].fields == "order.pseudonyms address.district"


@pytest.mark.parametrize("role", ["agent", "admin", "service", "rider"])
def test_only_analysts_export(staff: StaffCity, role: str) -> None:
    caller = {
        "agent": staff.agents[0],
        "admin": staff.admins[0],
        "service": staff.city.service,
        "rider": staff.city.riders[0],
    }[role]
    with pytest.raises(AccessDenied):
        export(staff, caller)


def test_bad_windows_are_refused(staff: StaffCity) -> None:
    assert staff.analyst is not None
    with pytest.raises(InvalidInput, match="window"):
        export_orders(staff.vault, staff.analyst, since=DAY[1], until=DAY[0])
    with pytest.raises(InvalidInput, match="state"):
        export(staff, staff.analyst, state="lost")
