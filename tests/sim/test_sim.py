"""The simulator: a small seeded city, its attacks caught within the issue's goals."""

from __future__ import annotations

import pytest

from tests._city import build_city
from tests.watch.conftest import attach
from veil.ids import IdKind, new_id
from veil.sim import SCENARIOS, Gateway, run_simulation, scenario_named
from veil.testing import FixedClock
from veil.vault import Vault
from veil.watch import Watch


def test_a_city_day_with_attacks_meets_the_goals() -> None:
    report = run_simulation(
        scenarios=["stolen-key-sequential", "agent-probing", "fake-rider", "colluders"],
        principals=150,
        hours=24,
        seed=5,
    )
    outcomes = {o.scenario: o for o in report.outcomes}
    stolen = outcomes["stolen-key-sequential"]
    assert stolen.alerted_after is not None and stolen.alerted_after <= 100
    assert stolen.suspended_after is not None and stolen.suspended_after <= 100
    assert stolen.leaked == 0
    probing = outcomes["agent-probing"]
    assert probing.alerted_after is not None and probing.alerted_after <= 20
    fake = outcomes["fake-rider"]
    assert fake.alerted_after is not None and fake.alerted_after <= 10
    assert fake.suspended
    assert "collusion" in outcomes["colluders"].alert_kinds
    assert report.orders > 800
    assert report.false_alerts == []
    assert all(ok for _, ok in report.goals())
    text = report.render()
    assert "[met] fake-rider: alerted within 10 orders seen in full" in text


def test_the_same_seed_makes_the_same_day() -> None:
    runs = [run_simulation(principals=60, hours=8, seed=9) for _ in range(2)]
    assert runs[0].orders == runs[1].orders
    assert runs[0].requests == runs[1].requests
    assert runs[0].roles == runs[1].roles


def test_scenarios_are_known_by_name() -> None:
    assert {"stolen-key-random", "agent-probing", "fake-rider", "insider", "colluders"} <= set(
        SCENARIOS
    )
    with pytest.raises(ValueError, match="no scenario"):
        scenario_named("alien-invasion")


def test_the_gateway_answers_like_the_api(vault: Vault, clock: FixedClock) -> None:
    attach(vault, Watch(engine=vault.engine, clock=clock))
    city = build_city(vault)
    gateway = Gateway(vault)
    key = city.keys["rider-1"]
    order_id = city.order_in("picked_up")
    assert gateway.view_order(key, "10.0.0.9", order_id).status == 200
    assert gateway.view_order(key, "10.0.0.9", new_id(IdKind.ORDER)).status == 404
    assert gateway.view_order("veil_not-a-key", "10.0.0.9", order_id).status == 401
    delivered = city.order_in("delivered")
    clock.advance(hours=1)
    assert gateway.view_order(key, "10.0.0.9", delivered).status == 403
    assert gateway.requests == 4
