"""In-process throughput of rider views (audit row included) and bulk ingest, one core.

    .venv/bin/python bench/core_inprocess.py [--orders 3000] [--seconds 5] [--profile]
        [--integrator]

Runs on SQLite (WAL) in ./bench/results/inprocess/, with WAL checkpoints on a
background thread as under `veil serve`. Goals (issue 2): ≥ 3,000 rider views/s,
≥ 2,000 orders/s bulk ingest. The first pass over the orders (cold caches: data
keys, parsed policy entities, statements) is reported on its own; then the
views run in `--rounds` rounds of `--seconds` each, and the median round is
the figure (the best and worst are printed too: this VM's neighbours move
single rounds by ±20 %). With --integrator, the audit
integrator runs on its own thread as inside `veil serve` (caught up before the
views are timed); issue 4 allows it to cost the views at most 10 %.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import warnings
from pathlib import Path

from _setup import BenchCity, fresh_vault, machine, picked_up_orders, seed_city
from sqlalchemy import text

from veil.audit import BackgroundIntegrator, Integrator
from veil.crypto import InsecureKeyStorageWarning, NoteSigner
from veil.store import BackgroundCheckpointer
from veil.vault import Caller, OrderSpec, Vault

Targets = list[tuple[Caller, str, str]]


def start_integrator(vault: Vault) -> BackgroundIntegrator:
    """Start the audit integrator on its own thread and wait until it has caught up."""
    witness = Path("bench/results/inprocess/witness")
    for old in witness.glob("*"):
        old.unlink()  # the database is new, so is its log
    origin = "bench.veil.local/audit"
    integrator = Integrator(
        vault.engine, signer=NoteSigner.generate(origin), origin=origin, witness_dir=witness
    )
    background = BackgroundIntegrator(integrator).start()
    with vault.engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    while integrator.tree_size < total:
        time.sleep(0.05)
    return background


def stop_integrator(background: BackgroundIntegrator | None) -> None:
    if background is not None:
        background.stop()
        print(f"audit integrator ran alongside: tree size {background.integrator.tree_size:,}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key (with --profile)")
    parser.add_argument("--top", type=int, default=25, help="rows of the profile to print")
    parser.add_argument(
        "--integrator", action="store_true", help="run the audit integrator alongside"
    )
    return parser.parse_args()


def bulk_ingest(vault: Vault, city: BenchCity) -> float:
    """Ingest 10,000 orders in batches of 500 (one transaction each); return orders/s."""
    specs = [
        OrderSpec(city.subjects[n % len(city.subjects)], city.merchant.principal_id, note="不要辣")
        for n in range(10_000)
    ]
    start = time.perf_counter()
    for offset in range(0, len(specs), 500):
        vault.create_orders(city.service, specs[offset : offset + 500])
    return len(specs) / (time.perf_counter() - start)


def batched_views(vault: Vault, city: BenchCity, targets: Targets, seconds: float) -> float:
    """A rider's app refreshes its active orders together: 5 orders per call, one
    transaction, one policy call, five audit rows. Return views/s."""
    by_rider: dict[str, list[str]] = {}
    for rider, _, order_id in targets:
        by_rider.setdefault(rider.principal_id, []).append(order_id)
    batches = [
        (rider, by_rider[rider.principal_id][i : i + 5])
        for rider in city.riders
        for i in range(0, len(by_rider[rider.principal_id]) - 4, 5)
    ]
    batched = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        rider, ids = batches[batched % len(batches)]
        outcomes = vault.view_orders(rider, ids)
        assert all(isinstance(v, dict) for v in outcomes.values())
        batched += 1
    return batched * 5 / (time.perf_counter() - start)


def main() -> None:
    args = parse_args()
    warnings.simplefilter("ignore", InsecureKeyStorageWarning)

    vault = fresh_vault(Path("bench/results/inprocess"))
    checkpointer = BackgroundCheckpointer(vault.engine)
    checkpointer.start()
    city = seed_city(vault)
    ingest_rate = bulk_ingest(vault, city)

    targets = picked_up_orders(city, args.orders)
    start = time.perf_counter()
    for rider, _, order_id in targets:  # cold: every order's first view
        vault.view_order(rider, order_id)
    cold_rate = len(targets) / (time.perf_counter() - start)
    background = start_integrator(vault) if args.integrator else None

    def run() -> tuple[int, float]:
        done = 0
        start = time.perf_counter()
        deadline = start + args.seconds
        while time.perf_counter() < deadline:
            rider, _, order_id = targets[done % len(targets)]
            vault.view_order(rider, order_id)
            done += 1
        return done, time.perf_counter() - start

    rounds = sorted(
        (done / elapsed, elapsed / done) for done, elapsed in (run() for _ in range(args.rounds))
    )
    view_rate, per_view = rounds[len(rounds) // 2]
    batched_rate = batched_views(vault, city, targets, args.seconds)
    stop_integrator(background)
    checkpointer.stop()
    print(f"machine: {machine()}")
    print(f"bulk ingest: {ingest_rate:,.0f} orders/s (10,000 orders, batches of 500)")
    print(f"rider views, first view of each order (cold caches): {cold_rate:,.0f} views/s")
    print(
        f"rider views (after pickup, audit row in the same transaction): {view_rate:,.0f} views/s"
        f" (median of {args.rounds} rounds of {args.seconds:g} s; {per_view * 1e6:,.0f} µs each;"
        f" worst {rounds[0][0]:,.0f}, best {rounds[-1][0]:,.0f})"
    )
    print(f"rider views, 5 active orders per call (batch endpoint): {batched_rate:,.0f} views/s")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run()
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
