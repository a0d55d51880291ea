"""Routing decisions over HTTP: POST /v1/telephony/route (issue 5 goal: p99 ≤ 5 ms).

    .venv/bin/python bench/numbers_route_http.py [--orders 2000] [--duration 15] [--strangers 0.1]

Veil is started with `veil serve` (one worker, SQLite WAL, the audit
integrator in its own process, as by default) with orders picked up and their
riders bound to virtual numbers. `wrk` (Debian package) sends routing
callbacks from a second process, each with a fresh
provider_event_id: riders calling their own number (connect: decrypt the
customer's number, record the call, audit) and a share of strangers calling
a live number (reject, leak signal, alert, audit). It runs once with one
connection (the decision's own latency) and once with four (queueing under
load); the goal is about the first.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import warnings
from pathlib import Path

from _setup import ADDRESS, fresh_vault, machine
from core_http import free_port, run_wrk, serve, wait_up
from sqlalchemy import func, select

from veil.audit import ensure_signing_key
from veil.crypto import InsecureKeyStorageWarning
from veil.numbers import PoolEntry
from veil.store import LEAK_SIGNALS, NUMBER_CALLS, make_engine
from veil.vault import Caller, OrderSpec, import_numbers, register_party_phone

RESULTS = Path("bench/results/numbers")
STRANGER = "+8613700137999"


def lua_script(calls: list[tuple[str, str]], api_key: str, prefix: str) -> str:
    rows = ",\n".join(f'{{"{caller}", "{x}"}}' for caller, x in calls)
    return f"""
local calls = {{
{rows}
}}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {api_key}"
request = function()
  n = n + 1
  local c = calls[(n % #calls) + 1]
  local body = string.format(
    '{{"caller": "%s", "called_x": "%s", "kind": "call", "provider_event_id": "{prefix}-%d"}}',
    c[1], c[2], n)
  return wrk.format(nil, "/v1/telephony/route", nil, body)
end
"""


def _seed(args: argparse.Namespace) -> tuple[list[tuple[str, str]], str]:
    """Orders picked up, riders bound; return (caller, X) pairs to dial and the service key."""
    vault = fresh_vault(RESULTS / "route")
    service_id, service_key = vault.create_principal("service", "bench-backend")
    service = Caller(service_id, "service")
    merchant_id, _ = vault.create_principal("merchant", "bench-merchant")
    riders: list[tuple[str, str]] = []
    for n in range(args.riders):
        rider_id, _ = vault.create_principal("rider", f"bench-rider-{n}")
        phone = f"+86139{n:08d}"
        register_party_phone(vault, rider_id, phone)
        riders.append((rider_id, phone))
    import_numbers(vault, [PoolEntry(f"+86170{n:08d}", ADDRESS.city) for n in range(1000)])
    subjects = [
        vault.create_subject(service, name=f"张{n}", phones=[f"+86138{n:08d}"], addresses=[ADDRESS])
        for n in range(args.orders)
    ]
    calls: list[tuple[str, str]] = []
    for start in range(0, args.orders, 500):
        chunk = subjects[start : start + 500]
        ids = vault.create_orders(service, [OrderSpec(s, merchant_id) for s in chunk])
        for offset, order_id in enumerate(ids):
            rider_id, phone = riders[(start + offset) % len(riders)]
            for event in ("accept", "assign", "pickup"):
                vault.post_order_event(
                    service, order_id, event, rider_id=rider_id if event == "assign" else None
                )
            # Read the number straight from the desk: a seeding loop of views
            # would look like bulk reading to the watch, which suspends the rider.
            with vault.engine.connect() as connection:
                contact = vault.numbers.contact(connection, rider_id, order_id, vault._now_ms())
            calls.append((phone, contact["virtual_number"].replace(" ", "")))
    every = max(1, round(1 / args.strangers)) if args.strangers > 0 else 0
    if every:
        calls = [(STRANGER, x) if n % every == 0 else (p, x) for n, (p, x) in enumerate(calls)]
    vault.engine.dispose()

    return calls, service_key


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--riders", type=int, default=200)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--strangers", type=float, default=0.1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    warnings.simplefilter("ignore", InsecureKeyStorageWarning)

    calls, service_key = _seed(args)
    signing_key = RESULTS / "route" / "audit-signing.key"
    signing_key.unlink(missing_ok=True)
    shutil.rmtree(RESULTS / "route" / "witness", ignore_errors=True)
    ensure_signing_key(signing_key, "veil.localhost/audit")

    env = {
        "VEIL_DATABASE_URL": f"sqlite:///{RESULTS / 'route' / 'veil.db'}",
        "VEIL_KEY_FILE": str(RESULTS / "route" / "veil.key"),
        "VEIL_POLICY_WATCH_SECONDS": "0",
        "VEIL_NUMBERS_SWEEP_SECONDS": "0",
        # As `veil serve` runs by default: the audit integrator in its own process.
        "VEIL_AUDIT_SIGNING_KEY": str(signing_key),
        "VEIL_AUDIT_WITNESS_DIR": str(RESULTS / "route" / "witness"),
        # The telephony gateway is the platform back-end: its callbacks come at
        # the provider's pace, not a person's (the default routing limit is per person).
        "VEIL_RATE_LIMITS": '{"service.routing": "none"}',
        "PYTHONWARNINGS": "ignore",
    }
    port = free_port()
    process = serve("veil", port, env)  # `veil serve`, as a user starts it
    results = {}
    try:
        wait_up(port)
        for connections in (1, 4):
            warm = RESULTS / "route-warm.lua"
            warm.write_text(lua_script(calls, service_key, f"warm{connections}"))
            run_wrk(port, warm, 3, connections)
            script = RESULTS / "route.lua"
            run_id = secrets.token_hex(4)
            script.write_text(lua_script(calls, service_key, f"run{run_id}"))
            cpu_before = _cpu_seconds(process.pid)
            results[connections] = run_wrk(port, script, args.duration, connections)
            served = results[connections]["rps"] * args.duration
            # The server's own CPU per request: what one uncontended core would
            # spend, whatever else the (shared) machine was doing.
            results[connections]["cpu_ms"] = (
                (_cpu_seconds(process.pid) - cpu_before) * 1000 / served if served else 0.0
            )
    finally:
        process.terminate()
        process.wait()

    engine = make_engine(env["VEIL_DATABASE_URL"])
    with engine.connect() as connection:
        decisions = dict(
            connection.execute(
                select(NUMBER_CALLS.c.decision, func.count()).group_by(NUMBER_CALLS.c.decision)
            ).all()
        )
        signals = connection.scalar(select(func.count()).select_from(LEAK_SIGNALS))
    engine.dispose()

    print(f"machine: {machine()}")
    print(
        f"load: wrk -t1 -d{args.duration}s, veil serve 1 worker, SQLite WAL; {len(calls)} bound"
        f" numbers, {args.strangers:.0%} of calls from a stranger (reject + leak signal)"
    )
    print(
        "| connections | requests/s | p50 ms | p90 ms | p99 ms | server CPU ms/request | non-2xx |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for connections, r in results.items():
        print(
            f"| {connections} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} |"
            f" {r['p99_ms']:.2f} | {r['cpu_ms']:.2f} | {r['non_2xx']:.0f} |"
        )
    print(f"call records by decision: {decisions}; leak signals: {signals}")
    print(f"goal: p99 ≤ 5 ms (one connection): {results[1]['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
