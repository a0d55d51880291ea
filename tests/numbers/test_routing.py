"""Routing callbacks: who connects to whom, at the edges of time, duplicated and out of order."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tests._city import City
from tests.numbers._numbers_city import (
    ALICE_PHONE,
    BEIJING,
    RIDER_PHONES,
    STRANGER,
    alerts,
    audit_tags,
    bindings,
    call,
    leak_signals,
    x_of,
)
from veil.audit import AuditTag
from veil.errors import AccessDenied, Conflict, InvalidInput
from veil.numbers import (
    LEAK_ALERT,
    CallReport,
    RouteEvent,
    RouteRequest,
    SimulatedTelco,
    call_record,
)
from veil.policy import DEFAULT_POLICY_DIR, PolicySource
from veil.store import AUDIT_EVENTS
from veil.testing import FixedClock
from veil.vault import Caller, Vault, report_telephony, route_telephony


def _picked_up(city: City, rider: int = 0) -> tuple[str, str]:
    order_id = city.order_in("picked_up", rider=rider)
    return order_id, x_of(city.vault.view_order(city.riders[rider], order_id))


# ---------------------------------------------------------------- who connects


def test_the_rider_reaches_the_customer_and_the_customer_the_rider(city: City) -> None:
    _, x = _picked_up(city)
    rider_call = call(city.vault, city.service, RIDER_PHONES[0], x, "r-1")
    assert rider_call.action == "connect"
    assert rider_call.connect_to == ALICE_PHONE
    assert rider_call.caller_id == x  # the customer sees X, not the rider's number
    back = call(city.vault, city.service, ALICE_PHONE, x, "c-1")
    assert back.action == "connect"
    assert back.connect_to == RIDER_PHONES[0]
    assert back.caller_id == x  # AXB symmetry: the rider sees the same X
    assert back.binding_id == rider_call.binding_id


def test_any_spelling_of_the_caller_number_is_recognised(city: City) -> None:
    _, x = _picked_up(city)
    for n, spelling in enumerate(["13900139001", "+86 139 0013 9001", "0086-139-0013-9001"]):
        assert call(city.vault, city.service, spelling, x, f"s-{n}").action == "connect"


def test_sms_is_routed_like_a_call(city: City) -> None:
    _, x = _picked_up(city)
    answer = call(city.vault, city.service, RIDER_PHONES[0], x, "sms-1", kind="sms")
    assert (answer.action, answer.connect_to) == ("connect", ALICE_PHONE)


def test_a_rider_calling_from_another_phone_is_a_stranger(city: City) -> None:
    _, x = _picked_up(city)
    answer = call(city.vault, city.service, RIDER_PHONES[1], x, "other")
    assert answer.action == "reject"
    assert answer.connect_to is None


def test_a_number_not_in_service_is_rejected_without_a_signal(city: City) -> None:
    for n, x in enumerate(["+8617099999999", "not a number", ""]):
        answer = call(city.vault, city.service, RIDER_PHONES[0], x, f"u-{n}")
        assert (answer.action, answer.reason) == ("reject", "not a virtual number in service")
    # A pool number nobody holds: rejected, nothing to attribute.
    assert call(city.vault, city.service, STRANGER, BEIJING[-1], "idle").action == "reject"
    assert leak_signals(city.vault) == []


# ---------------------------------------------------------------- expiry boundary


@pytest.mark.parametrize(
    ("offset_ms", "action"),
    [(-1000, "connect"), (0, "connect"), (1000, "reject")],
    ids=["grace-1s", "grace", "grace+1s"],
)
def test_routing_at_delivered_plus_grace(
    city: City, clock: FixedClock, offset_ms: int, action: str
) -> None:
    order_id, x = _picked_up(city)
    city.move(order_id, "deliver")
    clock.advance(minutes=15, milliseconds=offset_ms)
    answer = call(city.vault, city.service, RIDER_PHONES[0], x, "edge")
    assert answer.action == action
    customer = call(city.vault, city.service, ALICE_PHONE, x, "edge-c")
    assert customer.action == action


# ---------------------------------------------------------------- leak signals


def test_a_stranger_calling_a_live_number_is_rejected_and_names_the_holder(city: City) -> None:
    order_id, x = _picked_up(city, rider=1)
    answer = call(city.vault, city.service, STRANGER, x, "stranger-1")
    assert (answer.action, answer.reason) == ("reject", "the caller is not a party of this number")
    [signal] = leak_signals(city.vault)
    assert signal.kind == "stranger"
    assert signal.holder_id == city.riders[1].principal_id
    assert signal.order_id == order_id
    assert signal.caller_digest is not None  # the caller, blind-indexed, for attribution
    [alert] = alerts(city.vault, LEAK_ALERT)
    assert alert.principal_id == city.riders[1].principal_id
    assert alert.severity == "high"
    evidence = json.loads(alert.evidence)
    assert evidence["binding_id"] == signal.binding_id
    assert "170" not in alert.evidence and "137" not in alert.evidence
    assert AuditTag.LEAK_SIGNAL.value in audit_tags(city.vault)
    # The binding itself still works for its parties.
    assert call(city.vault, city.service, RIDER_PHONES[1], x, "ok").action == "connect"


def test_repeated_stranger_calls_touch_one_alert(city: City) -> None:
    _, x = _picked_up(city)
    for n in range(3):
        call(city.vault, city.service, STRANGER, x, f"again-{n}")
    assert len(leak_signals(city.vault)) == 3
    [alert] = alerts(city.vault, LEAK_ALERT)
    assert json.loads(alert.evidence)["signals"] == 3


def test_a_former_rider_calling_an_expired_number_names_that_rider(
    city: City, clock: FixedClock
) -> None:
    order_id, x = _picked_up(city, rider=2)
    city.move(order_id, "deliver")
    clock.advance(hours=2)
    answer = call(city.vault, city.service, RIDER_PHONES[2], x, "late")
    assert (answer.action, answer.reason) == ("reject", "the number's binding has ended")
    [signal] = leak_signals(city.vault)
    assert signal.kind == "former_holder"
    assert signal.holder_id == city.riders[2].principal_id
    [alert] = alerts(city.vault, LEAK_ALERT)
    assert alert.principal_id == city.riders[2].principal_id
    # Routing ended the lapsed binding on the way and gave its number back.
    [binding] = bindings(city.vault, order_id)
    assert binding.release_reason == "expired"
    assert binding.released_ms == binding.expires_ms


def test_a_stranger_calling_an_expired_number_names_its_last_holder(
    city: City, clock: FixedClock
) -> None:
    order_id, x = _picked_up(city, rider=0)
    city.move(order_id, "deliver")
    clock.advance(days=3)
    assert call(city.vault, city.service, STRANGER, x, "resold").action == "reject"
    [signal] = leak_signals(city.vault)
    assert (signal.kind, signal.holder_id) == ("stranger", city.riders[0].principal_id)


def test_a_stranger_is_attributed_to_a_binding_that_ended_just_inside_the_lookback(
    city: City, clock: FixedClock
) -> None:
    # The longest a binding can live bounds how far back routing reads X's
    # history: this binding lived that long and ended 1 ms inside the lookback.
    config = city.vault.numbers.config
    order_id = city.order_in("rider_assigned", rider=0)
    x = x_of(city.vault.view_order(city.riders[0], order_id))
    clock.advance(milliseconds=config.longest_binding_ms + config.leak_lookback_ms - 1)
    assert call(city.vault, city.service, STRANGER, x, "old-list").action == "reject"
    [signal] = leak_signals(city.vault)
    assert (signal.kind, signal.holder_id) == ("stranger", city.riders[0].principal_id)
    clock.advance(milliseconds=2)  # now it ended 1 ms before the lookback
    assert call(city.vault, city.service, "+8613700137998", x, "older-list").action == "reject"
    assert len(leak_signals(city.vault)) == 1


def test_the_reassigned_rider_is_cut_off_at_once_and_flagged(city: City, clock: FixedClock) -> None:
    order_id = city.order_in("rider_assigned", rider=0)
    x = x_of(city.vault.view_order(city.riders[0], order_id))
    clock.advance(seconds=1)
    city.move(order_id, "assign", rider=1)
    answer = call(city.vault, city.service, RIDER_PHONES[0], x, "cut")
    assert answer.action == "reject"
    [signal] = leak_signals(city.vault)
    assert (signal.kind, signal.holder_id) == ("former_holder", city.riders[0].principal_id)


def test_the_customer_calling_after_the_end_is_rejected_without_a_signal(
    city: City, clock: FixedClock
) -> None:
    order_id, x = _picked_up(city)
    city.move(order_id, "deliver")
    clock.advance(minutes=16)
    answer = call(city.vault, city.service, ALICE_PHONE, x, "thanks")
    assert (answer.action, answer.reason) == ("reject", "the number's binding has ended")
    assert leak_signals(city.vault) == []


def test_calls_are_audited_without_numbers(city: City) -> None:
    _, x = _picked_up(city)
    call(city.vault, city.service, RIDER_PHONES[0], x, "a-1")
    call(city.vault, city.service, STRANGER, x, "a-2")
    with city.vault.engine.connect() as connection:
        rows = connection.execute(
            select(AUDIT_EVENTS).where(AUDIT_EVENTS.c.tag.like("numbers:call:%"))
        ).all()
    assert [r.tag for r in rows] == [
        AuditTag.CALL_CONNECTED.value,
        AuditTag.CALL_REJECTED.value,
    ]
    assert rows[0].fields == "phone.routed"
    text = repr(rows)
    for number in (ALICE_PHONE, RIDER_PHONES[0], STRANGER, "13800138001", "13700137999"):
        assert number not in text


# ---------------------------------------------------------------- callbacks


def test_a_duplicated_callback_gets_the_first_answer_and_no_second_signal(city: City) -> None:
    _, x = _picked_up(city)
    first = call(city.vault, city.service, STRANGER, x, "dup")
    again = call(city.vault, city.service, STRANGER, x, "dup")
    assert again.duplicate and not first.duplicate
    assert (again.action, again.reason) == (first.action, first.reason)
    assert again.call_id == first.call_id
    assert len(leak_signals(city.vault)) == 1


def test_a_delayed_duplicate_of_a_connected_call_still_connects(
    city: City, clock: FixedClock
) -> None:
    # The provider retries a callback for a call that rang during the delivery;
    # the retry arrives after the number ended. It gets the answer the call got.
    order_id, x = _picked_up(city)
    first = call(city.vault, city.service, RIDER_PHONES[0], x, "slow")
    city.move(order_id, "deliver")
    clock.advance(hours=1)
    again = call(city.vault, city.service, RIDER_PHONES[0], x, "slow")
    assert (again.action, again.connect_to, again.duplicate) == ("connect", ALICE_PHONE, True)
    assert again.call_id == first.call_id
    # A new event for a new call at that time is decided now: rejected.
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "new").action == "reject"
    assert leak_signals(city.vault)[0].kind == "former_holder"


def test_an_event_id_reused_for_another_call_is_refused(city: City) -> None:
    _, x = _picked_up(city)
    call(city.vault, city.service, RIDER_PHONES[0], x, "same")
    with pytest.raises(Conflict):
        call(city.vault, city.service, STRANGER, x, "same")
    with pytest.raises(Conflict):
        call(city.vault, city.service, RIDER_PHONES[0], x, "same", kind="sms")


def test_malformed_callbacks_are_refused(city: City) -> None:
    _, x = _picked_up(city)
    for request in (
        RouteRequest(RIDER_PHONES[0], x, "fax", "e-1"),
        RouteRequest(RIDER_PHONES[0], x, "call", ""),
        RouteRequest(RIDER_PHONES[0], x, "call", "id with spaces"),
        RouteRequest(RIDER_PHONES[0], x, "call", "x" * 65),
    ):
        with pytest.raises(InvalidInput):
            route_telephony(city.vault, city.service, request)


def test_only_the_service_may_route(city: City) -> None:
    _, x = _picked_up(city)
    with pytest.raises(AccessDenied):
        route_telephony(city.vault, city.riders[0], RouteRequest(RIDER_PHONES[0], x, "call", "e"))


def _deliver(vault: Vault, service: Caller, event: RouteEvent | CallReport) -> str:
    if isinstance(event, RouteEvent):
        body = route_telephony(
            vault,
            service,
            RouteRequest(
                event.caller, event.called_x, event.kind, event.provider_event_id, event.call_id
            ),
        )
        return str(body["action"])
    return str(report_telephony(vault, service, event)["status"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duplicated_and_reordered_callbacks_leave_one_consistent_call_record(
    city: City, seed: int
) -> None:
    _, x = _picked_up(city)
    telco = SimulatedTelco(rng=random.Random(seed))  # noqa: S311 - a replayable shuffle
    now = city.vault._now_ms()
    ring = telco.dial(RIDER_PHONES[0], x)
    report = telco.hang_up(ring, started_ms=now + 3_000, ended_ms=now + 63_000)
    outcomes = [
        _deliver(city.vault, city.service, event)
        for event in telco.deliveries([ring, report], duplicates=2, shuffle=True)
    ]
    assert sorted(outcomes) == sorted(["connect"] * 3 + ["recorded"] + ["duplicate"] * 2)
    with city.vault.engine.connect() as connection:
        record = call_record(connection, ring.call_id)
    assert record is not None
    assert record["decision"] == "connect"
    assert record["caller_party"] == "rider"
    assert (record["started_ms"], record["ended_ms"]) == (now + 3_000, now + 63_000)
    assert record["duration_ms"] == 60_000
    assert "13900139001" not in repr(record) and "13800138001" not in repr(record)


def test_a_late_second_report_does_not_rewrite_the_call(city: City) -> None:
    _, x = _picked_up(city)
    telco = SimulatedTelco(rng=random.Random(7))  # noqa: S311 - a replayable shuffle
    ring = telco.dial(RIDER_PHONES[0], x)
    _deliver(city.vault, city.service, ring)
    first = CallReport("rep-1", ring.call_id, 1_000, 11_000)
    second = CallReport("rep-2", ring.call_id, 2_000, 99_000)
    assert _deliver(city.vault, city.service, first) == "recorded"
    assert _deliver(city.vault, city.service, second) == "recorded"
    with city.vault.engine.connect() as connection:
        record = call_record(connection, ring.call_id)
    assert record is not None
    assert (record["started_ms"], record["ended_ms"]) == (1_000, 11_000)
    assert record["duration_ms"] == 10_000


def test_a_report_that_ends_before_it_starts_is_refused(city: City) -> None:
    with pytest.raises(InvalidInput):
        report_telephony(city.vault, city.service, CallReport("bad", "call-1", 5_000, 1_000))


def test_an_erased_customer_is_never_connected(city: City) -> None:
    order_id, x = _picked_up(city)
    city.vault.erase_subject(city.service, city.subjects[0])
    answer = call(city.vault, city.service, RIDER_PHONES[0], x, "erased")
    assert (answer.action, answer.reason) == ("reject", "the customer's data was erased")
    assert order_id


def test_a_report_that_arrives_before_its_routing_callback_is_kept(city: City) -> None:
    _, x = _picked_up(city)
    telco = SimulatedTelco(rng=random.Random(11))  # noqa: S311 - a replayable id
    ring = telco.dial(RIDER_PHONES[0], x)
    early = telco.hang_up(ring, started_ms=1_000, ended_ms=31_000)
    assert _deliver(city.vault, city.service, early) == "recorded"
    with city.vault.engine.connect() as connection:
        pending = call_record(connection, ring.call_id)
    assert pending is not None and pending["decision"] is None
    assert _deliver(city.vault, city.service, ring) == "connect"
    assert _deliver(city.vault, city.service, ring) == "connect"  # and its duplicate
    with city.vault.engine.connect() as connection:
        record = call_record(connection, ring.call_id)
    assert record is not None
    assert (record["decision"], record["duration_ms"]) == ("connect", 30_000)


def test_a_policy_reload_that_forbids_routing_applies_at_once(city: City, tmp_path: Path) -> None:
    _, x = _picked_up(city)
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "before").action == "connect"
    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    (policies / "stop.cedar").write_text(
        '@id("numbers.stop")\n@reason("telephony is switched off")\n'
        'forbid (principal, action == Veil::Action::"route_call", resource);\n',
        encoding="utf-8",
    )
    city.vault.policy.replace(PolicySource.load(policies))
    with pytest.raises(AccessDenied):
        call(city.vault, city.service, RIDER_PHONES[0], x, "after")
