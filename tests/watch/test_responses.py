"""From findings to alerts and responses, on both backends: one alert per incident, suspension,
step-up, protected roles, reinstatement, and no PII anywhere."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from tests._city import ALICE, BOB, City, build_city
from tests._staff_city import build_staff_city
from tests.api._http import CITY_PII
from tests.watch.conftest import rows
from veil.audit import AuditRecord
from veil.errors import AccessDenied, AuthenticationFailed, Conflict, InvalidInput, NotFound
from veil.ids import IdKind, new_id
from veil.store import ALERTS, AUDIT_EVENTS, PRINCIPAL_CONTROLS, PRINCIPALS
from veil.testing import FixedClock
from veil.vault import (
    Caller,
    OrderSpec,
    RequestMeta,
    Vault,
    acknowledge,
    admit,
    alert_of,
    alerts_for,
    approve_step_up,
    close,
    reinstate_principal,
    reveal_order,
)
from veil.watch import Flow, Response, Watch, WatchConfig

META = RequestMeta(client_ip="203.0.113.66")


def _scrape(vault: Vault, key: str, count: int, clock: FixedClock | None = None) -> int:
    """View `count` random order ids with `key` like the API does; return how many got past auth."""
    served = 0
    for _ in range(count):
        try:
            caller = admit(vault, key, flow=Flow.VIEWS, meta=META)
        except AuthenticationFailed:
            break
        served += 1
        with pytest.raises(NotFound):
            vault.view_order(caller, new_id(IdKind.ORDER), meta=META)
        if clock is not None:
            clock.advance(seconds=20)
    return served


def _status(vault: Vault, principal_id: str) -> str:
    [row] = rows(vault, PRINCIPALS, PRINCIPALS.c.id == principal_id)
    return str(row.status)


# ---------------------------------------------------------------- one alert per incident


@pytest.fixture
def watch_config() -> WatchConfig:
    return WatchConfig.from_overrides(responses={"enumeration": "record"})


def test_a_long_scrape_is_one_alert_that_keeps_count(vault: Vault, clock: FixedClock) -> None:
    city = build_city(vault)
    rider = city.riders[0]
    _scrape(vault, city.keys["rider-1"], 60, clock)
    [alert] = rows(vault, ALERTS)
    assert (alert.kind, alert.principal_id, alert.status) == (
        "enumeration",
        rider.principal_id,
        "open",
    )
    assert alert.response == "record"
    assert alert.hits > 1  # updated as the scrape went on, not raised again
    assert alert.last_seen_ms > alert.first_seen_ms
    raised = rows(vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "watch:alert:raised")
    assert len(raised) == 1
    assert json.loads(raised[0].detail)["alert_id"] == alert.id
    assert _status(vault, rider.principal_id) == "active"  # record only, as configured


def test_a_closed_incident_that_recurs_is_a_new_alert_after_an_hour(
    vault: Vault, clock: FixedClock
) -> None:
    city = build_city(vault)
    admin = city.staff["admin"]
    _scrape(vault, city.keys["rider-1"], 12, clock)
    [first] = rows(vault, ALERTS)
    close(vault, admin, first.id, reason="pen test by the red team, ticket SEC-12")
    # The counters started afresh at the closure: nine more misses are not ten.
    _scrape(vault, city.keys["rider-1"], 9, clock)
    assert len(rows(vault, ALERTS)) == 1
    # Within the hour a recurrence stays with the person who closed it...
    _scrape(vault, city.keys["rider-1"], 5, clock)
    assert len(rows(vault, ALERTS)) == 1
    # ...after it, it is a new incident.
    clock.advance(hours=1)
    _scrape(vault, city.keys["rider-1"], 12, clock)
    alerts = rows(vault, ALERTS)
    assert len(alerts) == 2
    assert {a.status for a in alerts} == {"closed", "open"}


# ---------------------------------------------------------------- suspension and reinstatement


@pytest.mark.parametrize("watch_config", [WatchConfig()])
def test_enumeration_suspends_the_key_at_once_and_an_admin_reinstates_it(
    vault: Vault, clock: FixedClock
) -> None:
    city = build_city(vault)
    rider, key = city.riders[0], city.keys["rider-1"]
    admit(vault, key, flow=Flow.VIEWS, meta=META)  # cached now
    served = _scrape(vault, key, 50)
    assert served == 10
    assert _status(vault, rider.principal_id) == "suspended"
    with pytest.raises(AuthenticationFailed):
        admit(vault, key, flow=Flow.VIEWS, meta=META)
    [alert] = rows(vault, ALERTS)
    assert alert.response == "suspend"
    [control] = rows(vault, PRINCIPAL_CONTROLS)
    assert (control.control, control.alert_id, control.imposed_by) == ("suspend", alert.id, "watch")
    [event] = rows(vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "watch:principal:suspended")
    assert event.principal_id == rider.principal_id

    with pytest.raises(AccessDenied):
        reinstate_principal(vault, city.staff["agent"], rider.principal_id, reason="not mine")
    outcome = reinstate_principal(
        vault, city.staff["admin"], rider.principal_id, reason="rider's phone recovered, SEC-31"
    )
    assert outcome == {
        "principal_id": rider.principal_id,
        "status": "active",
        "lifted": ["suspend"],
    }
    assert admit(vault, key, flow=Flow.VIEWS, meta=META).principal_id == rider.principal_id
    [control] = rows(vault, PRINCIPAL_CONTROLS)
    assert control.lifted_by == city.staff["admin"].principal_id
    [event] = rows(vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "admin:principal:reinstated")
    assert json.loads(event.detail)["alert_ids"] == [alert.id]
    # What it did before no longer counts: one more miss does not suspend it again.
    _scrape(vault, key, 1)
    assert _status(vault, rider.principal_id) == "active"
    with pytest.raises(Conflict):
        reinstate_principal(vault, city.staff["admin"], rider.principal_id, reason="again?")


@pytest.mark.parametrize("watch_config", [WatchConfig()])
def test_a_disabled_principal_stays_disabled(vault: Vault) -> None:
    city = build_city(vault)
    rider = city.riders[0]
    vault.disable_principal(rider.principal_id)
    for _ in range(12):
        with pytest.raises(NotFound):
            vault.view_order(rider, new_id(IdKind.ORDER))
    assert _status(vault, rider.principal_id) == "disabled"
    with pytest.raises(Conflict):
        reinstate_principal(vault, None, rider.principal_id, reason="operator")


@pytest.mark.parametrize("watch_config", [WatchConfig()])
def test_the_platform_backend_is_never_suspended_automatically(vault: Vault) -> None:
    city = build_city(vault)
    for _ in range(12):
        with pytest.raises(NotFound):
            vault.view_order(city.service, new_id(IdKind.ORDER))
    [alert] = rows(vault, ALERTS)
    assert (alert.kind, alert.response) == ("enumeration", "record")
    assert _status(vault, city.service.principal_id) == "active"


# ---------------------------------------------------------------- step-up


@pytest.mark.parametrize("watch_config", [WatchConfig()])
def test_policy_denials_put_an_agent_under_step_up_and_a_second_person_approves_each_reveal(
    vault: Vault, clock: FixedClock
) -> None:
    staff = build_staff_city(vault)
    city, agent = staff.city, staff.agents[0]
    orders = [city.order_in("picked_up") for _ in range(9)]
    for order_id in orders[:8]:  # probing without tickets
        with pytest.raises(NotFound):
            reveal_order(
                vault, agent, order_id, fields=["phone"], purpose="delivery_failed_contact_customer"
            )
        clock.advance(seconds=30)
    kinds = {a.kind: a for a in rows(vault, ALERTS)}
    assert kinds["policy_denials"].response == "step_up"
    [control] = rows(vault, PRINCIPAL_CONTROLS, PRINCIPAL_CONTROLS.c.control == "step_up")
    assert control.principal_id == agent.principal_id
    assert _status(vault, agent.principal_id) == "active"

    # A proper ticket is no longer enough on its own.
    target = orders[8]
    ticket = staff.ticket(target)

    def reveal() -> dict[str, object]:
        return reveal_order(
            vault,
            agent,
            target,
            fields=["phone"],
            purpose="delivery_failed_contact_customer",
            ticket_id=ticket,
        )

    with pytest.raises(AccessDenied, match="second approver"):
        reveal()
    with pytest.raises(InvalidInput, match="second person"):
        approve_step_up(vault, Caller(agent.principal_id, "admin"), agent.principal_id, target)
    with pytest.raises(AccessDenied):
        approve_step_up(vault, staff.agents[1], agent.principal_id, target)
    approve_step_up(vault, staff.admins[0], agent.principal_id, target, minutes=5)
    assert reveal()["fields"]["phone"] == "+8613800138001"
    with pytest.raises(AccessDenied, match="second approver"):
        reveal()  # one approval, one reveal
    denied = rows(vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "staff:order:reveal_denied")
    assert any("step-up" in (r.reason or "") for r in denied)
    assert rows(vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "admin:reveal:approved")

    reinstate_principal(vault, staff.admins[1], agent.principal_id, reason="coached, SEC-40")
    assert reveal()["order_id"] == target


# ---------------------------------------------------------------- alerts use-cases


def test_alerts_are_read_and_handled_by_admins_and_security_only(vault: Vault) -> None:
    city = build_city(vault)
    security = city.principal("security", "security-1")
    _scrape(vault, city.keys["rider-2"], 12)
    for who in (city.riders[0], city.staff["agent"], city.staff["analyst"], city.service):
        with pytest.raises(AccessDenied):
            alerts_for(vault, who)
    [alert] = alerts_for(vault, security, status="open")
    assert alert["kind"] == "enumeration"
    assert alert_of(vault, city.staff["admin"], alert["alert_id"])["alert_id"] == alert["alert_id"]
    with pytest.raises(InvalidInput, match="phone"):
        acknowledge(vault, security, alert["alert_id"], reason="called 13800138001 about it")
    acked = acknowledge(vault, security, alert["alert_id"], reason="looking into it, SEC-7")
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged"]["by"] == security.principal_id
    with pytest.raises(Conflict):
        acknowledge(vault, security, alert["alert_id"], reason="again")
    closed = close(vault, city.staff["admin"], alert["alert_id"], reason="stolen phone, SEC-7")
    assert closed["closed"]["reason"] == "stolen phone, SEC-7"
    assert alerts_for(vault, security, status="active") == []
    with pytest.raises(NotFound):
        alert_of(vault, security, "alr_nonexistent")
    tags = {r.tag for r in rows(vault, AUDIT_EVENTS)}
    assert {"watch:alerts:listed", "watch:alert:acknowledged", "watch:alert:closed"} <= tags


# ---------------------------------------------------------------- no PII in alerts


def _harvest(city: City, clock: FixedClock, rider: int) -> None:
    for _ in range(3):
        order_id = city.order_in("picked_up", rider=rider)
        city.vault.view_order(city.riders[rider], order_id)
        clock.advance(minutes=10)
        city.move(order_id, "cancel")


def test_no_plaintext_pii_in_alerts_or_the_watchs_audit_rows(
    vault: Vault, clock: FixedClock
) -> None:
    city = build_city(vault)
    _harvest(city, clock, rider=1)
    _scrape(vault, city.keys["rider-3"], 12, clock)
    alerts = rows(vault, ALERTS)
    assert {a.kind for a in alerts} >= {"harvesting", "enumeration"}
    watch_rows = [
        r for r in rows(vault, AUDIT_EVENTS) if r.tag.startswith(("watch:", "admin:principal"))
    ]
    for text in [
        *(f"{a.evidence} {a.summary}" for a in alerts),
        *(str(r._mapping) for r in watch_rows),
    ]:
        for value in (*CITY_PII, ALICE[0], BOB[0], "1203", "体育西路"):
            assert value not in text


def test_only_committed_records_are_observed(
    vault: Vault, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = build_city(vault)
    seen: list[AuditRecord] = []
    observe = watch.observe

    def recording(records: Sequence[AuditRecord]) -> None:
        seen.extend(records)
        observe(records)

    monkeypatch.setattr(watch, "observe", recording)
    not_a_merchant = OrderSpec(city.subjects[0], city.riders[0].principal_id)
    with pytest.raises(InvalidInput):
        vault.create_orders(city.service, [not_a_merchant])
    assert seen == []
    city.order()
    assert [r.tag.value for r in seen] == ["vault:order:created"]


def test_responses_are_configurable_per_signal() -> None:
    config = WatchConfig.from_overrides(
        responses={"harvesting": "record", "enumeration": "step_up"}
    )
    assert config.response_for("harvesting") is Response.RECORD
    assert config.response_for("enumeration") is Response.STEP_UP
    assert config.response_for("policy_denials") is Response.STEP_UP
