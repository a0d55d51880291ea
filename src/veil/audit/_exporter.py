"""`veil audit export`: the log as the database holds it, in the ``veil-audit-export/1`` format.

The exporter writes what it finds and judges nothing: each integrated event in
leaf order with the leaf hash the tree holds for its index, every checkpoint
right after the events it covers, then the events not integrated yet. The
offline verifier does the judging.

It reads in chunks of leaves, each in its own short read (on SQLite one that
does not take the write lock), so a long export never holds up the vault. The
tree size read first bounds the export: leaves and checkpoints added while it
runs belong to the next export.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import Engine

from veil.audit._canonical import EVENT_FIELDS, EVENT_FORMAT, canonical_event_values
from veil.audit._export import ExportWriter
from veil.audit._store import driver_read
from veil.errors import InvalidInput

__all__ = ["ExportSummary", "export_log"]

_CHUNK = 10_000
_COLUMNS = ", ".join(f"e.{name}" for name in EVENT_FIELDS)
_LEAVES = (
    f"SELECT l.leaf_index, n.node_hash, {_COLUMNS} FROM audit_leaves l"  # noqa: S608
    " JOIN audit_events e ON e.seq = l.seq"
    " JOIN audit_nodes n ON n.level = 0 AND n.position = l.leaf_index"
    " WHERE l.leaf_index >= ? AND l.leaf_index < ? ORDER BY l.leaf_index"
)
_NOT_INTEGRATED = (
    f"SELECT {_COLUMNS} FROM audit_events e WHERE e.seq > ? AND NOT EXISTS"  # noqa: S608
    " (SELECT 1 FROM audit_leaves l WHERE l.seq = e.seq AND l.leaf_index < ?)"
    " ORDER BY e.seq LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export holds.

    Attributes:
        tree_size: Leaves in the tree when the export started (its bound).
        events: Event lines written (integrated and not).
        pending: Of those, events not integrated into that tree.
        checkpoints: Checkpoint lines written.
    """

    tree_size: int
    events: int
    pending: int
    checkpoints: int


def export_log(
    engine: Engine,
    handle: BinaryIO,
    *,
    origin: str,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the log in `engine` to `handle` as a ``veil-audit-export/1`` file.

    Args:
        engine: The vault's database.
        handle: A binary file open for writing.
        origin: The log's origin (the header line).
        progress: Called as ``progress(events written, events expected)``.
    """
    with engine.connect() as connection:
        [(last_leaf, total)] = driver_read(
            connection,
            "SELECT (SELECT max(position) FROM audit_nodes WHERE level = 0),"
            " (SELECT count(*) FROM audit_events)",
            (),
        )
        size = 0 if last_leaf is None else int(last_leaf) + 1
        checkpoints = driver_read(
            connection,
            "SELECT tree_size, signed_checkpoint FROM audit_checkpoints WHERE tree_size <= ?"
            " ORDER BY tree_size",
            (size,),
        )
        pending_notes = [(int(tree_size), str(note)) for tree_size, note in checkpoints]
        written = pending = 0
        with ExportWriter(handle, origin=origin) as writer:
            for start in range(0, size, _CHUNK):
                rows = driver_read(connection, _LEAVES, (start, min(start + _CHUNK, size)))
                for index, node, *values in rows:
                    while pending_notes and pending_notes[0][0] <= index:
                        writer.write_checkpoint(pending_notes.pop(0)[1])
                    event = _event_bytes(values)
                    writer.write_event(int(index), event, leaf_hash=bytes(node))
                    written += 1
                if progress is not None:
                    progress(written, int(total))
            for _, note in pending_notes:
                writer.write_checkpoint(note)
            after = 0
            while True:
                rows = driver_read(connection, _NOT_INTEGRATED, (after, size, _CHUNK))
                for values in rows:
                    writer.write_event(size + pending, _event_bytes(values), leaf_hash=None)
                    pending += 1
                    after = int(values[0])
                if progress is not None:
                    progress(written + pending, max(int(total), written + pending))
                if len(rows) < _CHUNK:
                    break
    return ExportSummary(size, written + pending, pending, len(checkpoints))


def _event_bytes(values: Sequence[Any]) -> bytes:
    """Return the canonical bytes of a row, or, for a row no longer well-typed, its best spelling.

    A row a database administrator edited into a shape Veil never writes (SQLite
    lets a text land in an integer column) is still exported: its bytes then
    differ from the integrated leaf, and the verifier names the event.
    """
    try:
        return canonical_event_values(values)
    except InvalidInput:
        loose = {
            name: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
            for name, value in zip(EVENT_FIELDS, values, strict=True)
        }
        text = json.dumps(loose, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return f"{EVENT_FORMAT}\n{text}".encode()
