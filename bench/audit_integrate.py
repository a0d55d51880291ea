"""Audit log in the database: sustained append + integration, proof latency, export.

    .venv/bin/python bench/audit_integrate.py [--seconds 60] [--per-txn 100] [--rate 10000]
        [--proof-leaves 10000000] [--proofs 5000] [--skip-sustained] [--skip-proofs]
        [--views --pairs 6 --window 4]

1. Sustained: one thread appends audit events (the view path's shape, ~330
   bytes canonical) in transactions of `--per-txn` events as fast as it can,
   while a `BackgroundIntegrator` (one thread, as inside ``veil serve``)
   integrates them and signs a checkpoint every round, witnessed with fsync.
   SQLite (WAL) in one process, so both share the GIL and SQLite's one writer.
   Reports append and integration rates and the checkpoint lag of every event:
   from its commit to the signing of the first checkpoint that covers it.
   Goal (issue 4): >= 10,000 events/s with lag <= 5 s. `--rate` paces the
   appends (a sustained rate); without it they go flat out, faster than one
   integrator thread sharing the process can follow, and the lag grows.
2. Export: `export_log` of the sustained run's database (events/s).
3. Rider views with and without the integrator (``--views``): the view loop of
   bench/core_inprocess.py on one vault, in alternating windows of
   `--window` seconds with the integrator stopped and running (as inside
   ``veil serve``; each running window starts once it has caught up), so load
   from elsewhere on the machine hits both alike.
   Goal: the integrator costs the views at most 10 %.
4. Proofs: a tree of `--proof-leaves` leaves built straight into
   ``audit_nodes`` (SQLite), then `--proofs` random inclusion proofs at the
   full size, each in its own read transaction as the API serves them, and
   each verified. Goal: <= 1 ms at 10 M leaves.

Everything runs at the size asked for. Files go to bench/results/audit/
(deleted at the end; the proof tree, ~1 GB at 10 M leaves, is kept with --keep
and timed again without rebuilding it with --reuse).
Results are printed and written to bench/results/audit/integrate.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from _setup import machine
from sqlalchemy import Engine, text

from veil.audit import (
    AuditRecord,
    AuditTag,
    BackgroundIntegrator,
    DatabaseNodeStore,
    Integrator,
    append_events,
    append_leaves,
    export_log,
    log_inclusion_proof,
    root_hash,
    verify_inclusion,
)
from veil.crypto import InsecureKeyStorageWarning, NoteSigner
from veil.store import make_engine, migrate

ORIGIN = "bench.veil.local/audit"
RESULTS = Path("bench/results/audit")
T0_MS = 1_764_417_600_000


def fresh_sqlite(name: str) -> tuple[Path, str]:
    path = RESULTS / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    engine = make_engine(url, create=True)
    migrate(engine)
    engine.dispose()
    return path, url


def record(n: int) -> AuditRecord:
    return AuditRecord(
        AuditTag.ORDER_VIEWED,
        T0_MS + n,
        "allow",
        principal_id=f"prn_{n % 5000:026d}",
        role="rider",
        order_id=f"ord_{n:026d}",
        subject_id=f"sub_{n % 100_000:026d}",
        fields=("order.state", "name.masked", "phone.masked", "address.full", "note.redacted"),
        policy_ids=("view.rider.to-door",),
        request_id=f"req_{n:026d}",
        client_ip="10.1.2.3",
    )


def wait_for_checkpoint(engine: Engine, size: int) -> None:
    signed = text("SELECT coalesce(max(tree_size), 0) FROM audit_checkpoints")
    while True:
        with engine.connect() as connection:
            if connection.execute(signed).scalar_one() >= size:
                return
        time.sleep(0.05)


def commit_lags(
    commits: list[tuple[float, int]], checkpoints: list[tuple[int, float]]
) -> list[float]:
    """The lag of the last event of each commit (the worst of that commit): seconds from
    its commit to the first checkpoint that covers it."""
    lags = []
    at = 0
    for committed_at, count in commits:
        while checkpoints[at][0] < count:
            at += 1
        lags.append(checkpoints[at][1] - committed_at)
    return lags


def sustained(seconds: float, per_txn: int, rate: float = 0.0) -> dict[str, float]:
    path, url = fresh_sqlite("sustained.db")
    engine = make_engine(url)
    witness = RESULTS / "sustained-witness"
    for old in witness.glob("*"):
        old.unlink()
    signer = NoteSigner.generate(ORIGIN)
    integrator = Integrator(engine, signer=signer, origin=ORIGIN, witness_dir=witness)
    background = BackgroundIntegrator(integrator, interval=0.25).start()
    while not integrator.holds_lock:
        time.sleep(0.01)

    commits: list[tuple[float, int]] = []  # (wall time, events committed so far)
    stop = threading.Event()

    def writer() -> None:
        count = 0
        begun = time.perf_counter()
        while not stop.is_set():
            if rate > 0:
                # Paced: never ahead of `rate` events/s since the start.
                ahead = count / rate - (time.perf_counter() - begun)
                if ahead > 0:
                    time.sleep(ahead)
            with engine.begin() as connection:
                append_events(connection, [record(count + i) for i in range(per_txn)])
            count += per_txn
            commits.append((time.time(), count))

    thread = threading.Thread(target=writer)
    started = time.time()
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    appended_s = time.time() - started
    appended = commits[-1][1]
    # Let the integrator catch up and sign a checkpoint over everything, then stop it.
    while integrator.tree_size < appended:
        time.sleep(0.05)
    caught_up_s = time.time() - started
    wait_for_checkpoint(engine, appended)
    background.stop()

    with engine.connect() as connection:
        checkpoints = [
            (int(size), int(ms) / 1000)
            for size, ms in connection.execute(
                text("SELECT tree_size, timestamp_ms FROM audit_checkpoints ORDER BY tree_size")
            )
        ]
    lags = commit_lags(commits, checkpoints)
    export_path = RESULTS / "sustained-export.jsonl"
    start = time.perf_counter()
    with export_path.open("wb") as handle:
        summary = export_log(engine, handle, origin=ORIGIN)
    export_s = time.perf_counter() - start
    export_path.unlink()
    engine.dispose()
    db_mb = sum(
        Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists()
    )
    return {
        "seconds": seconds,
        "target_rate": rate,
        "events_per_txn": per_txn,
        "appended": appended,
        "append_events_per_s": appended / appended_s,
        "integrated_events_per_s": appended / caught_up_s,
        "checkpoints": len(checkpoints),
        "lag_p50_s": statistics.median(lags),
        "lag_p99_s": statistics.quantiles(lags, n=100)[98],
        "lag_max_s": max(lags),
        "export_events": summary.events,
        "export_events_per_s": summary.events / export_s,
        "database_mb": db_mb / 1e6,
    }


def views(pairs: int, window: float) -> dict[str, Any]:
    from _setup import fresh_vault, picked_up_orders, seed_city

    directory = RESULTS / "views"
    vault = fresh_vault(directory)
    city = seed_city(vault)
    targets = picked_up_orders(city, 2000)
    for rider, _, order_id in targets[:200]:
        vault.view_order(rider, order_id)
    witness = directory / "witness"
    for old in witness.glob("*"):
        old.unlink()
    signer = NoteSigner.generate(ORIGIN)
    rates: dict[bool, list[float]] = {False: [], True: []}
    integrator_cpu: list[float] = []
    done = 0
    for _ in range(pairs):
        for running in (False, True):
            background = None
            if running:
                integrator = Integrator(
                    vault.engine, signer=signer, origin=ORIGIN, witness_dir=witness
                )
                background = BackgroundIntegrator(integrator).start()
                # Catch up on the events of the window before, then time the
                # steady state: the integrator keeping pace with the views.
                with vault.engine.connect() as connection:
                    backlog = connection.execute(text("SELECT count(*) FROM audit_events"))
                    total = backlog.scalar_one()
                while integrator.tree_size < total:
                    time.sleep(0.01)
            cpu_before = _thread_cpu(background)
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < window:
                rider, _, order_id = targets[done % len(targets)]
                vault.view_order(rider, order_id)
                done += 1
                count += 1
            elapsed = time.perf_counter() - start
            rates[running].append(count / elapsed)
            if background is not None:
                integrator_cpu.append((_thread_cpu(background) - cpu_before) / elapsed)
                background.stop()
    vault.engine.dispose()
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    return {
        "pairs": pairs,
        "window_s": window,
        "views_per_s_without": without,
        "views_per_s_with": with_,
        "cost_percent": 100 * (1 - with_ / without),
        # CPU the integrator's thread used per second of views (share of one core).
        "integrator_cpu_share": statistics.median(integrator_cpu),
        "windows_without": rates[False],
        "windows_with": rates[True],
    }


def _thread_cpu(background: BackgroundIntegrator | None) -> float:
    """Return the CPU seconds the integrator's thread has used so far (Linux)."""
    thread = getattr(background, "_thread", None)
    if thread is None or thread.ident is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def proofs(leaves: int, count: int, *, keep: bool, reuse: bool, url: str | None) -> dict[str, Any]:
    path = RESULTS / "proofs.db"
    reused = reuse and (url is not None or path.exists())
    if url is None:
        url = f"sqlite:///{path}" if reused else fresh_sqlite("proofs.db")[1]
    engine = make_engine(url)
    backend = engine.dialect.name
    if backend == "postgresql" and not reused:
        migrate(engine)
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_nodes"))
    batch = 100_000
    start = time.perf_counter()
    with engine.connect() as connection:
        with connection.begin():
            built = DatabaseNodeStore(connection).size()
        if reused and built != leaves:
            raise SystemExit(f"{path} holds {built:,} leaves, not {leaves:,}; drop --reuse")
        for first in range(built, leaves, batch):
            with connection.begin():
                store = DatabaseNodeStore(connection)
                hashes = [
                    hashlib.sha256(b"\x00leaf %d" % i).digest()
                    for i in range(first, min(first + batch, leaves))
                ]
                append_leaves(store, hashes)
    build_s = time.perf_counter() - start
    rng = random.Random(6962)
    make, check, cpu = [], [], []
    with engine.connect() as connection:
        with connection.begin():
            root = root_hash(DatabaseNodeStore(connection), leaves)
        for _ in range(count):
            index = rng.randrange(leaves)
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            with connection.begin():
                proof = log_inclusion_proof(connection, index=index, size=leaves)
            t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            verify_inclusion(
                leaf_hash=proof.leaf_hash, index=index, size=leaves, proof=proof.path, root=root
            )
            t2 = time.perf_counter_ns()
            make.append((t1 - t0) / 1e6)
            cpu.append((c1 - c0) / 1e6)
            check.append((t2 - t1) / 1e6)
    if backend == "postgresql":
        with engine.connect() as connection:
            size = connection.execute(text("SELECT pg_total_relation_size('audit_nodes')"))
            db_gb = size.scalar_one() / 1e9
        engine.dispose()
        keep = True
    else:
        engine.dispose()
        db_gb = path.stat().st_size / 1e9
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    return {
        "backend": backend,
        "proof_leaves": leaves,
        "reused_tree": reused,
        "build_s": build_s,
        "build_leaves_per_s": leaves / build_s,
        "database_gb": db_gb,
        "proof_p50_ms": pct(make, 50),
        "proof_p99_ms": pct(make, 99),
        # This thread's CPU time per proof: on SQLite all the work; on a shared
        # machine the wall-clock tail is mostly waiting for a core.
        "proof_cpu_p50_ms": pct(cpu, 50),
        "proof_cpu_p99_ms": pct(cpu, 99),
        "verify_p50_ms": pct(check, 50),
        "verify_p99_ms": pct(check, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--per-txn", type=int, default=100)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="pace appends at this many events/s (0: flat out)"
    )
    parser.add_argument("--proof-leaves", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=5_000)
    parser.add_argument("--skip-sustained", action="store_true")
    parser.add_argument("--skip-proofs", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the proof tree's database")
    parser.add_argument("--views", action="store_true", help="also time rider views A/B")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--reuse", action="store_true", help="reuse a kept proof tree")
    parser.add_argument(
        "--proof-url", help="build the proof tree in this database instead (e.g. PostgreSQL)"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", InsecureKeyStorageWarning)
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / "integrate.json"
    # A partial run (--skip-…) updates its part of the last results.
    results: dict[str, object] = json.loads(output.read_text()) if output.exists() else {}
    results["machine"] = machine()
    print(f"machine: {results['machine']}")
    if not args.skip_sustained:
        run = sustained(args.seconds, args.per_txn, args.rate)
        results["sustained"] = run
        paced = f"paced at {args.rate:,.0f} events/s" if args.rate else "unpaced"
        print(
            f"sustained {run['seconds']:.0f} s ({paced}), {run['events_per_txn']} events per append"
            f" transaction: appended {run['append_events_per_s']:,.0f} events/s, integrated"
            f" {run['integrated_events_per_s']:,.0f} events/s ({run['appended']:,} events,"
            f" {run['checkpoints']} checkpoints)"
        )
        print(
            f"  checkpoint lag: p50 {run['lag_p50_s']:.2f} s, p99 {run['lag_p99_s']:.2f} s,"
            f" max {run['lag_max_s']:.2f} s; database {run['database_mb']:,.0f} MB"
        )
        print(
            f"  export: {run['export_events']:,} events at"
            f" {run['export_events_per_s']:,.0f} events/s"
        )
    if not args.skip_proofs:
        run = proofs(
            args.proof_leaves,
            args.proofs,
            keep=args.keep or args.reuse,
            reuse=args.reuse,
            url=args.proof_url,
        )
        results["proofs" if args.proof_url is None else "proofs_" + str(run["backend"])] = run
        if not run["reused_tree"]:
            print(
                f"proof tree of {run['proof_leaves']:,} leaves built in {run['build_s']:.0f} s"
                f" ({run['build_leaves_per_s']:,.0f} leaves/s, {run['database_gb']:.2f} GB)"
            )
        print(
            f"  inclusion proof from {run['backend']} (own read transaction): p50"
            f" {run['proof_p50_ms']:.3f} ms, p99 {run['proof_p99_ms']:.3f} ms (CPU p50"
            f" {run['proof_cpu_p50_ms']:.3f} ms, p99 {run['proof_cpu_p99_ms']:.3f} ms);"
            f" verify p50 {run['verify_p50_ms']:.3f} ms"
        )
    if args.views:
        run = views(args.pairs, args.window)
        results["views"] = run
        print(
            f"rider views, {run['pairs']} alternating pairs of {run['window_s']:.0f} s windows:"
            f" {run['views_per_s_without']:,.0f}/s without the integrator,"
            f" {run['views_per_s_with']:,.0f}/s with it ({run['cost_percent']:+.1f} % cost);"
            f" the integrator's thread used {100 * run['integrator_cpu_share']:.1f} % of a core"
        )
    output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
