"""A small audit log built in memory, and an exporter shaped like the database one.

The mutation tests tamper with the *rows* (as a DBA would) and then export
them the way `veil audit export` does: rows in index order, each event with the
leaf hash the node store holds for its index, and each checkpoint right after
the events it covers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from veil.audit._checkpoint import Checkpoint, sign_checkpoint
from veil.audit._export import ExportWriter
from veil.audit._merkle import (
    MemoryNodeStore,
    NodeId,
    append_leaves,
    consistency_proof,
    leaf_hash,
    root_hash,
)
from veil.audit._witness import append_witness_checkpoint, latest_witness_checkpoint
from veil.crypto import NoteSigner

ORIGIN = "veil.test/audit"
T0_MS = 1_718_000_000_000


def event_bytes(index: int) -> bytes:
    """Return canonical-looking event bytes (the real ones come from veil.audit._events)."""
    fields = ["phone", "address", "name"][index % 3]
    return (
        b'{"v":1,"tag":"vault:order:viewed","at_ms":%d,"principal":"p-%d","role":"rider",'
        b'"order":"o-%d","fields":"%s","decision":"allow"}'
        % (T0_MS + index, index % 7, index, fields.encode())
    )


@dataclass
class Row:
    """One audit row as the export reads it."""

    index: int
    event: bytes
    leaf: bytes


@dataclass
class Log:
    """A log: its rows, its tree and the checkpoints it signed (size, note)."""

    signer: NoteSigner
    events: list[bytes]
    store: MemoryNodeStore = field(default_factory=MemoryNodeStore)
    checkpoints: list[tuple[int, str]] = field(default_factory=list)

    def rows(self) -> list[Row]:
        leaves = self.store.get_nodes([NodeId(0, i) for i in range(self.store.size())])
        return [Row(i, e, leaves[i]) for i, e in enumerate(self.events)]


def build_log(
    signer: NoteSigner,
    events: list[bytes],
    *,
    checkpoint_every: int,
    witness_dir: Path | None = None,
) -> Log:
    """Integrate `events` in batches, signing a checkpoint after each batch."""
    log = Log(signer, list(events))
    for start in range(0, len(events), checkpoint_every):
        batch = events[start : start + checkpoint_every]
        size = append_leaves(log.store, [leaf_hash(e) for e in batch])
        checkpoint = Checkpoint(ORIGIN, size, root_hash(log.store, size), T0_MS + size)
        note = sign_checkpoint(checkpoint, signer)
        log.checkpoints.append((size, note))
        if witness_dir is not None:
            witness(log, note, witness_dir)
    return log


def witness(log: Log, note: str, witness_dir: Path) -> None:
    """Append `note` to the witness, with the consistency proof the integrator supplies."""
    latest = latest_witness_checkpoint(witness_dir, ORIGIN, log.signer.verifier)
    size = int(note.split("\n")[1])
    proof = consistency_proof(log.store, old_size=latest.size, new_size=size) if latest else []
    append_witness_checkpoint(witness_dir, note, log.signer.verifier, consistency_proof=proof)


def export(path: Path, rows: list[Row], checkpoints: list[tuple[int, str]]) -> Path:
    """Write rows and checkpoints as the database exporter does."""
    pending = sorted(checkpoints, key=lambda item: item[0])
    with path.open("wb") as handle, ExportWriter(handle, origin=ORIGIN) as writer:
        for row in rows:
            while pending and pending[0][0] <= row.index:
                writer.write_checkpoint(pending.pop(0)[1])
            writer.write_event(row.index, row.event, leaf_hash=row.leaf)
        for _, note in pending:
            writer.write_checkpoint(note)
    return path


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def event_line_numbers(path: Path) -> dict[int, int]:
    """Map each event index to its 0-based line number in the file."""
    out = {}
    for number, line in enumerate(read_lines(path)):
        if line.startswith(b'{"i":'):
            out[json.loads(line)["i"]] = number
    return out
