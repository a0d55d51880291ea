"""Virtual-number bind + unbind, in process, on SQLite (issue 5 goal: ≥ 2,000 pairs/s).

    .venv/bin/python bench/numbers_bind.py [--rounds 7] [--cycles 2000] [--riders 500]

One cycle binds a customer's order to a rider through a number of the city's
pool and releases it again, each in its own transaction with its audit row,
exactly as assignment and cancellation do (pool pick with the cool-down
exclusions, the provider call to the built-in simulator, the pool counters).
SQLite checkpoints its WAL on a background thread, as under `veil serve`.
The cycles run in `--rounds` rounds; the median round is the figure (the
host's speed drifts between rounds), with the worst and best beside it.
Then, for context, the same through the vault's public use-case: reassigning
orders to another rider (Cedar decisions, order update, release + bind,
audit) in one transaction each.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from _setup import ADDRESS, fresh_vault, machine
from sqlalchemy import select

from veil.audit import append_events
from veil.crypto import InsecureKeyStorageWarning
from veil.numbers import Actor, OrderRef, PoolEntry
from veil.store import ORDERS, BackgroundCheckpointer
from veil.vault import Caller, OrderSpec, Vault, import_numbers, register_party_phone

RESULTS = Path("bench/results/numbers")


def _seed(args: argparse.Namespace) -> tuple[Vault, Caller, list[str], list[str], list[OrderRef]]:
    """A fresh vault: riders with phones, a pool, one new order per customer."""
    vault = fresh_vault(RESULTS / "bind")
    service_id, _ = vault.create_principal("service", "bench-backend")
    service = Caller(service_id, "service")
    merchant_id, _ = vault.create_principal("merchant", "bench-merchant")
    riders = []
    for n in range(args.riders):
        rider_id, _ = vault.create_principal("rider", f"bench-rider-{n}")
        register_party_phone(vault, rider_id, f"+86139{n:08d}")
        riders.append(rider_id)
    import_numbers(vault, [PoolEntry(f"+86170{n:08d}", ADDRESS.city) for n in range(args.pool)])
    subjects = [
        vault.create_subject(service, name=f"张{n}", phones=[f"+86138{n:08d}"], addresses=[ADDRESS])
        for n in range(args.customers)
    ]
    order_ids: list[str] = []
    for start in range(0, args.customers, 1000):
        chunk = subjects[start : start + 1000]
        order_ids += vault.create_orders(service, [OrderSpec(s, merchant_id) for s in chunk])
    with vault.engine.connect() as connection:
        rows = {
            row.id: OrderRef.of(row)
            for row in connection.execute(select(ORDERS).where(ORDERS.c.id.in_(order_ids)))
        }
    orders = [rows[order_id] for order_id in order_ids]
    return vault, service, riders, order_ids, orders


def _reassign(
    vault: Vault, service: Caller, riders: list[str], targets: list[str]
) -> tuple[float, float]:
    """The public use-case: reassign orders to another rider (each once); per second, per CPU-s."""
    for n, order_id in enumerate(targets):
        vault.post_order_event(service, order_id, "accept")
        vault.post_order_event(service, order_id, "assign", rider_id=riders[n % len(riders)])
    started, cpu_started = time.perf_counter(), time.process_time()
    for n, order_id in enumerate(targets):
        rider_id = riders[(n + 1) % len(riders)]
        vault.post_order_event(service, order_id, "assign", rider_id=rider_id)
    return (
        len(targets) / (time.perf_counter() - started),
        len(targets) / (time.process_time() - cpu_started),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cycles", type=int, default=2_000, help="cycles per round")
    parser.add_argument("--riders", type=int, default=500)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--pool", type=int, default=1_000)
    parser.add_argument("--reassignments", type=int, default=2_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore", InsecureKeyStorageWarning)

    vault, service, riders, order_ids, orders = _seed(args)
    # As `veil serve` runs it: WAL checkpoints on their own thread, not in a commit.
    BackgroundCheckpointer(vault.engine, interval=2.0).start()
    service_id = service.principal_id
    desk = vault.numbers
    actor = Actor(service_id, "service")

    def cycle(n: int) -> None:
        order = orders[n % len(orders)]
        now_ms = vault._now_ms()
        with vault._transaction() as connection:
            records = desk.bind(
                connection,
                order,
                holder_id=riders[n % len(riders)],
                holder_role="rider",
                expires_ms=now_ms + desk.config.max_binding_ms,
                now_ms=now_ms,
                actor=actor,
            )
            append_events(connection, records)
        with vault._transaction() as connection:
            records = desk.release(
                connection,
                order.id,
                roles=("rider",),
                reason="cancelled",
                now_ms=now_ms,
                actor=actor,
            )
            append_events(connection, records)

    for n in range(200):  # warm-up: statement caches, data-key cache
        cycle(n)
    done = 200
    rounds: list[tuple[float, float]] = []  # (pairs per second wall, per CPU-second)
    for _ in range(args.rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(done, done + args.cycles):
            cycle(n)
        done += args.cycles
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        rounds.append((args.cycles / elapsed, args.cycles / cpu))
    rounds.sort()
    status = desk.status
    with vault.engine.connect() as connection:
        summary = status(connection, vault._now_ms())
    assert summary.live_bindings == 0, "every binding was released"
    bound, bound_cpu = rounds[len(rounds) // 2]

    reassign, reassign_cpu = _reassign(vault, service, riders, order_ids[: args.reassignments])

    print(f"machine: {machine()}")
    print(
        f"setup: SQLite WAL, {args.riders} riders, {args.customers} customers,"
        f" {args.pool} pool numbers, simulator provider; median of {args.rounds} rounds of"
        f" {args.cycles:,} cycles (worst {rounds[0][0]:,.0f}, best {rounds[-1][0]:,.0f} pairs/s)"
    )
    # On a shared machine wall time includes waiting for a core; per CPU-second
    # is what one uncontended core would do.
    print("| operation | per second (wall) | per CPU-second | goal |")
    print("|---|---:|---:|---:|")
    print(
        f"| bind + unbind (desk, 2 transactions, audited) | {bound:,.0f} | {bound_cpu:,.0f}"
        " | ≥ 2,000 |"
    )
    print(
        f"| reassign via `post_order_event` (release + bind) | {reassign:,.0f}"
        f" | {reassign_cpu:,.0f} | — |"
    )
    vault.engine.dispose()


if __name__ == "__main__":
    main()
