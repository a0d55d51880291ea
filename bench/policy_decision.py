"""Policy decision latency, entity building included (goal: p99 ≤ 1 ms).

    .venv/bin/python bench/policy_decision.py [--iterations 20000]

Each timed call starts from store rows (as the vault reads them), turns them
into facts, builds the Cedar entities and context, asks Cedar, and maps the
answer to Allow/Deny with policy ids: everything a request pays for a
decision except the database read. The shipped policy set is used (every
.cedar file, schema-validated). One thread, no database, warm caches.

Two clocks: wall time (what a caller waits, including any time the OS gives
the core to other processes) and the thread's CPU time (what the decision
itself costs). On a shared machine the wall-clock tail measures the
neighbours; the CPU-time tail measures Veil. The load average is printed.
Results also go to bench/results/policy/decision.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from _setup import machine

from veil.policy import DEFAULT_POLICY_DIR, PolicyEngine, PolicySource, decide_staff_order
from veil.vault._model import Caller
from veil.vault._staff import grant_facts, ticket_facts
from veil.vault._vault import _order_facts

NOW = 1_795_953_600_000
RIDER = Caller("prn_" + "r" * 26, "rider")
AGENT = Caller("prn_" + "a" * 26, "agent")
ADMIN = Caller("prn_" + "d" * 26, "admin")
ORDER_ROW = SimpleNamespace(
    id="ord_" + "o" * 26,
    state="picked_up",
    subject_id="sub_" + "s" * 26,
    merchant_id="prn_" + "m" * 26,
    rider_id=RIDER.principal_id,
    past_rider_ids="",
    created_ms=NOW - 3_600_000,
    assigned_ms=NOW - 1_800_000,
    picked_up_ms=NOW - 600_000,
    delivered_ms=None,
    cancelled_ms=None,
)
TICKET_ROW = SimpleNamespace(
    id="tkt_" + "t" * 26,
    order_id=ORDER_ROW.id,
    agent_id=AGENT.principal_id,
    origin="service",
    opened_ms=NOW - 300_000,
    closed_ms=None,
)
GRANT_ROW = SimpleNamespace(
    id="brk_" + "g" * 26,
    order_id=ORDER_ROW.id,
    requester_id=ADMIN.principal_id,
    requester_role="admin",
    requested_ms=NOW - 600_000,
    expires_ms=NOW + 1_200_000,
    approver_id="prn_" + "e" * 26,
    approved_ms=NOW - 300_000,
    revoked_ms=None,
)


def scenarios(engine: PolicyEngine) -> dict[str, Callable[[], bool]]:
    def rider_view() -> bool:
        facts = _order_facts(ORDER_ROW)
        return engine.decide_orders(RIDER.facts(), "view_order", [facts], now_ms=NOW)[0].allowed

    def agent_view_with_ticket() -> bool:
        [decision] = decide_staff_order(
            engine,
            AGENT.facts(),
            ("view_order",),
            _order_facts(ORDER_ROW),
            now_ms=NOW,
            ticket=ticket_facts(TICKET_ROW),
        )
        return decision.allowed

    def agent_reveal_with_ticket() -> bool:
        [decision] = decide_staff_order(
            engine,
            AGENT.facts(),
            ("reveal",),
            _order_facts(ORDER_ROW),
            now_ms=NOW,
            ticket=ticket_facts(TICKET_ROW),
            purpose="delivery_failed_contact_customer",
            fields=("phone",),
        )
        return decision.allowed

    def admin_reveal_break_glass() -> bool:
        [decision] = decide_staff_order(
            engine,
            ADMIN.facts(),
            ("reveal",),
            _order_facts(ORDER_ROW),
            now_ms=NOW,
            break_glass=grant_facts(GRANT_ROW),
            purpose="safety_incident",
            fields=("name", "phone", "address", "note"),
        )
        return decision.allowed

    def agent_denied_then_know() -> bool:
        # A denial costs a second decision (403 or 404?): both are timed.
        facts = _order_facts(ORDER_ROW)
        [decision] = decide_staff_order(
            engine,
            AGENT.facts(),
            ("reveal",),
            facts,
            now_ms=NOW,
            purpose="delivery_failed_contact_customer",
            fields=("phone",),
        )
        [known] = decide_staff_order(engine, AGENT.facts(), ("know_order",), facts, now_ms=NOW)
        return decision.allowed or known.allowed

    return {
        "rider view (core path)": rider_view,
        "agent masked view, ticket": agent_view_with_ticket,
        "agent reveal, ticket + purpose": agent_reveal_with_ticket,
        "admin reveal, break-glass": admin_reveal_break_glass,
        "agent denied + know_order (2 calls)": agent_denied_then_know,
    }


def percentile(sorted_us: list[float], fraction: float) -> float:
    return sorted_us[min(len(sorted_us) - 1, int(fraction * len(sorted_us)))]


EXPECTED = {
    "rider view (core path)": True,
    "agent masked view, ticket": True,
    "agent reveal, ticket + purpose": True,
    "admin reveal, break-glass": True,
    "agent denied + know_order (2 calls)": False,
}


def measure(run: Callable[[], bool], iterations: int) -> dict[str, float]:
    """Time `iterations` calls on the wall clock and on the thread's CPU clock."""
    for _ in range(2000):
        run()
    wall, cpu = [], []
    gc.disable()
    try:
        for _ in range(iterations):
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            run()
            cpu.append((time.thread_time_ns() - start_cpu) / 1000)
            wall.append((time.perf_counter_ns() - start) / 1000)
    finally:
        gc.enable()
    wall.sort()
    cpu.sort()
    return {
        "p50": percentile(wall, 0.50),
        "p90": percentile(wall, 0.90),
        "p99": percentile(wall, 0.99),
        "p99.9": percentile(wall, 0.999),
        "max": wall[-1],
        "mean": statistics.fmean(wall),
        "cpu_p50": percentile(cpu, 0.50),
        "cpu_p99": percentile(cpu, 0.99),
        "cpu_p99.9": percentile(cpu, 0.999),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    args = parser.parse_args()
    source = PolicySource.load(DEFAULT_POLICY_DIR)
    engine = PolicyEngine(source, rider_grace_ms=900_000)
    results = {}
    print(f"machine: {machine()}")
    print(f"policies: {len(source.id_by_policy)} (every .cedar file in {DEFAULT_POLICY_DIR.name}/)")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(
        f"{'scenario':<38} {'p50':>7} {'p90':>7} {'p99':>7} {'p99.9':>7} {'max':>8}"
        f" | CPU {'p50':>6} {'p99':>6} {'p99.9':>7}  (µs)"
    )
    for name, run in scenarios(engine).items():
        assert run() is EXPECTED[name], name
        row = measure(run, args.iterations)
        results[name] = row
        print(
            f"{name:<38} {row['p50']:>7.0f} {row['p90']:>7.0f} {row['p99']:>7.0f}"
            f" {row['p99.9']:>7.0f} {row['max']:>8.0f} |     {row['cpu_p50']:>6.0f}"
            f" {row['cpu_p99']:>6.0f} {row['cpu_p99.9']:>7.0f}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    worst = max(row["p99"] for row in results.values())
    worst_cpu = max(row["cpu_p99"] for row in results.values())
    print(f"worst p99: wall {worst:.0f} µs, CPU {worst_cpu:.0f} µs (goal ≤ 1000 µs)")
    out = Path("bench/results/policy")
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": machine(),
        "iterations": args.iterations,
        "policies": len(source.id_by_policy),
        "results": results,
    }
    (out / "decision.json").write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
