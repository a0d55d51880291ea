"""The test city with privacy numbers: registered rider and merchant phones, a pool per city."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests._city import City, build_city
from veil.numbers import RouteAnswer, RouteRequest, parse_pool_csv
from veil.store import ALERTS, AUDIT_EVENTS, LEAK_SIGNALS, NUMBER_BINDINGS
from veil.vault import Caller, Vault
from veil.vault._numbers import import_numbers, register_party_phone, route_telephony

# Invented numbers: riders and merchants in the 139-0013-9xxx block, virtual
# numbers in the 170 range virtual operators use.
RIDER_PHONES = ["+8613900139001", "+8613900139002", "+8613900139003"]
MERCHANT_PHONES = ["+8613900139101", "+8613900139102"]
STRANGER = "+8613700137999"
ALICE_PHONE = "+8613800138001"
BEIJING = [f"+861700000{n:04d}" for n in range(1, 6)]
GUANGZHOU = [f"+861700001{n:04d}" for n in range(1, 4)]


def pool_csv(beijing: list[str] = BEIJING, guangzhou: list[str] = GUANGZHOU) -> str:
    lines = ["number,city"]
    lines += [f"{x},北京市" for x in beijing]
    lines += [f"{x},广州市" for x in guangzhou]
    return "\n".join(lines) + "\n"


def build_numbers_city(vault: Vault, *, csv: str | None = None) -> City:
    """The small city of `tests._city`, with phones registered and pools imported."""
    city = build_city(vault)
    for rider, phone in zip(city.riders, RIDER_PHONES, strict=True):
        register_party_phone(vault, rider.principal_id, phone)
    for merchant, phone in zip(city.merchants, MERCHANT_PHONES, strict=True):
        register_party_phone(vault, merchant.principal_id, phone)
    import_numbers(vault, parse_pool_csv(csv if csv is not None else pool_csv()))
    return city


def x_of(view: dict[str, Any]) -> str:
    """The E.164 virtual number a view shows."""
    shown = view["contact"]["virtual_number"]
    assert shown is not None, view["contact"]
    return "+" + shown.replace(" ", "").lstrip("+")


def call(
    vault: Vault, service: Caller, caller: str, x: str, event_id: str, *, kind: str = "call"
) -> RouteAnswer:
    body = route_telephony(vault, service, RouteRequest(caller, x, kind, event_id))
    return RouteAnswer(
        body["action"],
        body["call_id"],
        reason=body.get("reason"),
        connect_to=body.get("connect_to"),
        caller_id=body.get("caller_id"),
        binding_id=body.get("binding_id"),
        duplicate=body["duplicate"],
    )


def bindings(vault: Vault, order_id: str) -> list[Any]:
    with vault.engine.connect() as connection:
        return connection.execute(
            select(NUMBER_BINDINGS)
            .where(NUMBER_BINDINGS.c.order_id == order_id)
            .order_by(NUMBER_BINDINGS.c.created_ms)
        ).all()


def leak_signals(vault: Vault) -> list[Any]:
    with vault.engine.connect() as connection:
        return connection.execute(select(LEAK_SIGNALS).order_by(LEAK_SIGNALS.c.at_ms)).all()


def alerts(vault: Vault, kind: str | None = None) -> list[Any]:
    with vault.engine.connect() as connection:
        query = select(ALERTS)
        if kind is not None:
            query = query.where(ALERTS.c.kind == kind)
        return connection.execute(query).all()


def audit_tags(vault: Vault) -> list[str]:
    with vault.engine.connect() as connection:
        return list(connection.scalars(select(AUDIT_EVENTS.c.tag).order_by(AUDIT_EVENTS.c.seq)))
