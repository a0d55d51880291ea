"""Break-glass: two admins, a justification, an alert, an expiry, marked in the audit log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from tests._staff_city import JUSTIFICATION, StaffCity, build_staff_city
from veil.errors import AccessDenied, Conflict, InvalidInput, NotFound
from veil.ids import IdKind, is_id
from veil.store import ALERTS, AUDIT_EVENTS
from veil.testing import FixedClock
from veil.vault import (
    Vault,
    approve_break_glass,
    list_break_glass,
    request_break_glass,
    reveal_order,
    revoke_break_glass,
)

SAFETY = "safety_incident"
ALL_FIELDS = ["name", "phone", "address", "note"]


@pytest.fixture
def staff(vault: Vault) -> StaffCity:
    return build_staff_city(vault)


def rows(vault: Vault, table: Any, *where: Any) -> list[Any]:
    with vault.engine.connect() as connection:
        return list(connection.execute(select(table).where(*where)))


def test_a_request_does_nothing_until_a_second_admin_approves(staff: StaffCity) -> None:
    order_id = staff.city.order_in("delivered")
    admin, second = staff.admins
    grant = request_break_glass(staff.vault, admin, order_id, justification=JUSTIFICATION)
    assert is_id(grant["break_glass_id"], IdKind.BREAK_GLASS)
    assert grant["status"] == "pending"
    with pytest.raises(AccessDenied, match="awaits a second admin's approval"):
        reveal_order(staff.vault, admin, order_id, fields=["phone"], purpose=SAFETY)
    with pytest.raises(AccessDenied, match="second, different admin"):
        approve_break_glass(staff.vault, admin, grant["break_glass_id"])
    approved = approve_break_glass(staff.vault, second, grant["break_glass_id"])
    assert approved["status"] == "active"
    assert approved["approver_id"] == second.principal_id
    assert approved["expires"] == "2026-11-29T12:30:00.000Z"
    answer = reveal_order(staff.vault, admin, order_id, fields=ALL_FIELDS, purpose=SAFETY)
    assert answer["fields"]["phone"] == "+8613800138001"
    assert answer["fields"]["address"]["room"] == "1203"
    assert answer["break_glass_id"] == grant["break_glass_id"]
    assert answer["policy_ids"] == ["reveal.break-glass"]
    # The approver gained nothing.
    with pytest.raises(NotFound):
        reveal_order(staff.vault, second, order_id, fields=["phone"], purpose=SAFETY)


def test_every_request_raises_a_high_severity_alert_without_pii(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    grant_id = staff.grant(order_id, staff.safety[0])
    [alert] = rows(staff.vault, ALERTS)
    assert is_id(alert.id, IdKind.ALERT)
    assert (alert.kind, alert.severity, alert.status) == ("break_glass", "high", "open")
    assert alert.principal_id == staff.safety[0].principal_id
    evidence = json.loads(alert.evidence)
    assert evidence["break_glass_id"] == grant_id
    assert evidence["order_id"] == order_id
    assert evidence["approved_by"] == staff.admins[0].principal_id
    # Neither the justification nor any contact data is evidence.
    assert "assault" not in alert.evidence
    answer = reveal_order(staff.vault, staff.safety[0], order_id, fields=["phone"], purpose=SAFETY)
    [alert] = rows(staff.vault, ALERTS)
    assert json.loads(alert.evidence)["last_reveal_id"] == answer["reveal_id"]
    assert "13800138001" not in alert.evidence


def test_break_glass_is_marked_in_the_audit_log(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    grant_id = staff.grant(order_id)
    reveal_order(staff.vault, staff.admins[0], order_id, fields=["phone"], purpose=SAFETY)
    tags = [
        r.tag for r in rows(staff.vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag.contains("break_glass"))
    ]
    assert tags == [
        "staff:break_glass:requested",
        "staff:break_glass:approved",
        "staff:order:break_glass_revealed",
    ]
    [revealed] = rows(
        staff.vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "staff:order:break_glass_revealed"
    )
    assert json.loads(revealed.detail)["break_glass_id"] == grant_id
    assert revealed.purpose == SAFETY
    [raised] = rows(staff.vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "watch:alert:raised")
    assert json.loads(raised.detail)["severity"] == "high"


@pytest.mark.parametrize("offset_s", [-1, 0, 1])
def test_the_grant_expires_by_itself(staff: StaffCity, clock: FixedClock, offset_s: int) -> None:
    order_id = staff.city.order_in("picked_up")
    staff.grant(order_id)
    approved_at = clock.now()
    clock.set(approved_at + dt.timedelta(minutes=30, seconds=offset_s))
    if offset_s < 0:
        reveal_order(staff.vault, staff.admins[0], order_id, fields=["phone"], purpose=SAFETY)
        assert staff.vault.view_order(staff.admins[0], order_id)["state"] == "picked_up"
    else:
        with pytest.raises(AccessDenied, match="the break-glass grant has expired"):
            reveal_order(staff.vault, staff.admins[0], order_id, fields=["phone"], purpose=SAFETY)
        with pytest.raises(AccessDenied, match="expired"):
            staff.vault.view_order(staff.admins[0], order_id)


def test_an_unapproved_request_lapses(staff: StaffCity, clock: FixedClock) -> None:
    order_id = staff.city.order_in("picked_up")
    grant_id = staff.grant(order_id, approve=False)
    clock.advance(minutes=30)
    with pytest.raises(Conflict, match="lapsed"):
        approve_break_glass(staff.vault, staff.admins[1], grant_id)
    # A new request can then be made.
    staff.grant(order_id)


def test_revoking_ends_access_at_once(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    grant_id = staff.grant(order_id, staff.safety[0])
    revoked = revoke_break_glass(staff.vault, staff.admins[1], grant_id)
    assert revoked["status"] == "revoked"
    with pytest.raises(AccessDenied, match="revoked"):
        reveal_order(staff.vault, staff.safety[0], order_id, fields=["phone"], purpose=SAFETY)
    with pytest.raises(Conflict, match="already revoked"):
        revoke_break_glass(staff.vault, staff.safety[0], grant_id)
    # Another safety officer cannot see or touch it.
    with pytest.raises(NotFound):
        revoke_break_glass(staff.vault, staff.safety[1], grant_id)


def test_only_admins_and_safety_officers_ask_and_only_admins_approve(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    for caller in (staff.agents[0], staff.analyst, staff.city.service):
        assert caller is not None
        with pytest.raises((AccessDenied, NotFound)):
            request_break_glass(staff.vault, caller, order_id, justification=JUSTIFICATION)
    grant_id = staff.grant(order_id, staff.safety[0], approve=False)
    with pytest.raises(NotFound):
        approve_break_glass(staff.vault, staff.safety[1], grant_id)
    with pytest.raises(AccessDenied, match="second, different admin"):
        approve_break_glass(staff.vault, staff.safety[0], grant_id)
    with pytest.raises(Conflict, match="pending grant"):
        request_break_glass(staff.vault, staff.safety[0], order_id, justification=JUSTIFICATION)
    denied = rows(staff.vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "staff:break_glass:denied")
    assert len(denied) == 6
    assert all(r.decision == "deny" for r in denied)


@pytest.mark.parametrize(
    ("justification", "problem"),
    [
        ("urgent", "10 to 500 characters"),
        ("customer 13800138001 says the rider threatened her", "phone, ID or card numbers"),
        ("ID 110101199003074514 given by the police officer", "phone, ID or card numbers"),
    ],
)
def test_justifications_must_not_carry_numbers_that_identify_people(
    staff: StaffCity, justification: str, problem: str
) -> None:
    order_id = staff.city.order_in("picked_up")
    with pytest.raises(InvalidInput, match=problem):
        request_break_glass(staff.vault, staff.admins[0], order_id, justification=justification)


def test_dates_and_case_numbers_are_fine_in_a_justification(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    text = "police request filed 2026-11-29 10:30, case JZ-2026-1129, officer badge 0451"
    grant = request_break_glass(staff.vault, staff.admins[0], order_id, justification=text)
    assert grant["justification"] == text


def test_durations_are_bounded_by_the_policy_files(staff: StaffCity, clock: FixedClock) -> None:
    order_id = staff.city.order_in("picked_up")
    with pytest.raises(InvalidInput, match="minutes must be 1 to 60"):
        request_break_glass(
            staff.vault, staff.admins[0], order_id, justification=JUSTIFICATION, minutes=120
        )
    grant = request_break_glass(
        staff.vault, staff.admins[0], order_id, justification=JUSTIFICATION, minutes=5
    )
    approved = approve_break_glass(staff.vault, staff.admins[1], grant["break_glass_id"])
    assert approved["expires"] == "2026-11-29T12:05:00.000Z"


def test_admins_list_every_open_request_safety_officers_their_own(staff: StaffCity) -> None:
    first = staff.city.order_in("picked_up")
    second = staff.city.order_in("delivered")
    mine = staff.grant(first, staff.safety[0], approve=False)
    theirs = staff.grant(second, staff.safety[1])
    assert {g["break_glass_id"] for g in list_break_glass(staff.vault, staff.admins[0])} == {
        mine,
        theirs,
    }
    listed = list_break_glass(staff.vault, staff.safety[0])
    assert [g["break_glass_id"] for g in listed] == [mine]
    assert listed[0]["justification"] == JUSTIFICATION
    with pytest.raises(AccessDenied):
        list_break_glass(staff.vault, staff.agents[0])
