"""Audit Merkle log: integration throughput, inclusion-proof latency, offline verification.

    .venv/bin/python bench/audit_merkle.py [--events 10000000] [--proofs 10000] [--keep]

1. Integrate: hash `--events` events of ~200 bytes and append them to a
   `MemoryNodeStore` in batches of 10,000, signing a checkpoint every 50,000
   (≈ 5 s of traffic at 10,000 events/s). Goal (issue 4): ≥ 10,000 events/s.
2. Inclusion proofs at the full size: `--proofs` random leaves, each timed
   (generation from the store, then verification). Goal: ≤ 1 ms at 10 M leaves.
3. Export and verify: write the export file (not timed against a goal), then
   `verify_export` it, witness included. Goal: ≤ 120 s for 10 M events.

Everything runs at the full size asked for; nothing is extrapolated. The export
(≈ 3.4 GB at 10 M events) goes to bench/results/audit/ and is deleted unless
``--keep``. Results are printed and written to bench/results/audit/merkle.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from _setup import machine

from veil.audit._checkpoint import Checkpoint, sign_checkpoint
from veil.audit._export import ExportWriter
from veil.audit._merkle import (
    MemoryNodeStore,
    NodeId,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_inclusion,
)
from veil.audit._verify import verify_export
from veil.audit._witness import append_witness_checkpoint
from veil.crypto import NoteSigner

ORIGIN = "bench.veil.local/audit"
BATCH = 10_000
CHECKPOINT_EVERY = 50_000
T0_MS = 1_718_000_000_000
RESULTS = Path("bench/results/audit")


def event(index: int) -> bytes:
    """Return ~200 canonical-looking bytes for event `index`."""
    return (
        b'{"v":1,"tag":"vault:order:viewed","at_ms":%d,"principal":"pr_%08d","role":"rider",'
        b'"order":"or_%012d","subject":"su_%010d","fields":"phone address",'
        b'"policies":"rider-window","decision":"allow"}'
        % (T0_MS + index, index % 5000, index, index % 100_000)
    )


def integrate(
    store: MemoryNodeStore, signer: NoteSigner, count: int, witness: Path
) -> tuple[float, list[str]]:
    notes = []
    start = time.perf_counter()
    for first in range(0, count, BATCH):
        leaves = [leaf_hash(event(i)) for i in range(first, min(first + BATCH, count))]
        size = append_leaves(store, leaves)
        if size % CHECKPOINT_EVERY == 0 or size == count:
            checkpoint = Checkpoint(ORIGIN, size, root_hash(store, size), T0_MS + size)
            notes.append(sign_checkpoint(checkpoint, signer))
    elapsed = time.perf_counter() - start
    # Witnessing (an fsync per checkpoint) is kept out of the integration time;
    # the verifier then checks the export against every witnessed checkpoint.
    previous = 0
    for note in notes:
        size = int(note.split("\n")[1])
        proof = consistency_proof(store, old_size=previous, new_size=size)
        append_witness_checkpoint(witness, note, signer.verifier, consistency_proof=proof)
        previous = size
    return elapsed, notes


def time_proofs(store: MemoryNodeStore, proofs: int) -> dict[str, float]:
    size = store.size()
    root = root_hash(store, size)
    rng = random.Random(4)
    make, check = [], []
    for index in (rng.randrange(size) for _ in range(proofs)):
        t0 = time.perf_counter_ns()
        proof = inclusion_proof(store, index=index, size=size)
        t1 = time.perf_counter_ns()
        leaf = store.get_nodes([NodeId(0, index)])[0]
        t2 = time.perf_counter_ns()
        verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=root)
        t3 = time.perf_counter_ns()
        make.append((t1 - t0) / 1e6)
        check.append((t3 - t2) / 1e6)

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    return {
        "proof_p50_ms": pct(make, 50),
        "proof_p99_ms": pct(make, 99),
        "verify_p50_ms": pct(check, 50),
        "verify_p99_ms": pct(check, 99),
    }


def write_export(path: Path, store: MemoryNodeStore, notes: list[str]) -> float:
    start = time.perf_counter()
    pending = [(int(note.split("\n")[1]), note) for note in notes]
    size = store.size()
    with path.open("wb") as handle, ExportWriter(handle, origin=ORIGIN) as writer:
        for first in range(0, size, BATCH):
            last = min(first + BATCH, size)
            leaves = store.get_nodes([NodeId(0, i) for i in range(first, last)])
            for i, leaf in zip(range(first, last), leaves, strict=True):
                writer.write_event(i, event(i), leaf_hash=leaf)
            while pending and pending[0][0] <= last:
                writer.write_checkpoint(pending.pop(0)[1])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the export file")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    witness = RESULTS / "witness"
    for old in witness.glob("*"):
        old.unlink()
    signer = NoteSigner.generate(ORIGIN)
    store = MemoryNodeStore()

    integrate_s, notes = integrate(store, signer, args.events, witness)
    print(
        f"integrate {args.events:,} events: {integrate_s:.1f} s,"
        f" {args.events / integrate_s:,.0f} events/s"
    )
    proofs = time_proofs(store, args.proofs)
    print(
        f"inclusion proof at {args.events:,} leaves: p50 {proofs['proof_p50_ms']:.3f} ms,"
        f" p99 {proofs['proof_p99_ms']:.3f} ms (verify p50 {proofs['verify_p50_ms']:.3f} ms,"
        f" p99 {proofs['verify_p99_ms']:.3f} ms)"
    )
    path = RESULTS / "export.jsonl"
    export_s = write_export(path, store, notes)
    size_gb = path.stat().st_size / 1e9
    print(f"write export: {export_s:.1f} s, {size_gb:.2f} GB")
    del store  # the verifier runs without the tree in memory, as an auditor would

    start = time.perf_counter()
    report = verify_export(path, signer.verifier, witness)
    verify_s = time.perf_counter() - start
    print(
        f"verify export: {verify_s:.1f} s, {report.events / verify_s:,.0f} events/s"
        f" ({report.checkpoints} checkpoints, {report.witness_checkpoints} witnessed)"
    )
    if not args.keep:
        path.unlink()

    results = {
        "machine": machine(),
        "events": args.events,
        "integrate_s": integrate_s,
        "integrate_events_per_s": args.events / integrate_s,
        **proofs,
        "export_write_s": export_s,
        "export_gb": size_gb,
        "verify_s": verify_s,
        "verify_events_per_s": report.events / verify_s,
    }
    (RESULTS / "merkle.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
