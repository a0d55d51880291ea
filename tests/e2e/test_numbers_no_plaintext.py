"""Riders' and merchants' registered phones appear nowhere in the database bytes or audit rows."""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from tests.e2e.test_no_plaintext import _database_bytes
from veil.errors import VeilError
from veil.numbers import RouteRequest
from veil.sim import seed_demo
from veil.store import ALERTS, AUDIT_EVENTS
from veil.vault import Caller, Vault, route_telephony


def _forms(e164: str) -> list[bytes]:
    national = e164.removeprefix("+86")
    return [
        form.encode() for form in (e164, national, f"{national[:3]} {national[3:7]} {national[7:]}")
    ]


def test_party_phones_are_never_stored_in_clear(vault: Vault, db_url: str) -> None:
    demo = seed_demo(vault)
    assert len(demo.phones) == 5
    service = Caller(demo.keys["platform-backend"][0], "service")
    # Route some calls so that call records, leak signals and alerts exist too.
    rider = Caller(demo.keys["rider-1"][0], "rider")
    x = vault.view_order(rider, demo.orders["picked_up"])["contact"]["virtual_number"]
    for n, caller in enumerate([demo.phones["rider-1"], "+8613700137999", demo.phones["rider-2"]]):
        with contextlib.suppress(VeilError):
            route_telephony(
                vault, service, RouteRequest(caller, x.replace(" ", ""), "call", f"e{n}")
            )
    with vault.engine.connect() as connection:
        audit = connection.execute(select(AUDIT_EVENTS)).all()
        alerts = connection.execute(select(ALERTS)).all()
    assert any(row.tag == "numbers:leak:signal" for row in audit)
    text = "\n".join(" ".join(map(str, row)) for row in [*audit, *alerts]).encode()
    copies = _database_bytes(vault, db_url)
    for phone in [*demo.phones.values(), "+8613700137999"]:
        for form in _forms(phone):
            assert form not in text, phone
            for where, data in copies:
                assert form not in data, (phone, where)
