"""Reading the log from the database: checkpoints, proofs, and one subject's events.

Every function runs inside the caller's transaction, so a checkpoint and the
proofs served against it come from one consistent view of the tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from veil.audit._canonical import EVENT_FIELDS, canonical_event
from veil.audit._checkpoint import Checkpoint
from veil.audit._merkle import NodeId, NodeRun, consistency_proof, inclusion_proof
from veil.audit._store import DatabaseNodeStore, driver_execute
from veil.errors import InvalidInput

__all__ = [
    "InclusionProof",
    "LoggedEvent",
    "StoredCheckpoint",
    "inclusion_proofs",
    "latest_checkpoint",
    "log_consistency_proof",
    "log_inclusion_proof",
    "subject_events",
]

_COLUMNS = ", ".join(f"e.{name}" for name in EVENT_FIELDS)


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: its parsed fields and the signed note itself."""

    checkpoint: Checkpoint
    note: str


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 9162 inclusion proof: the leaf at `index` in the tree of `size` leaves.

    Attributes:
        index: The leaf's index.
        size: The tree size the proof leads to the root of.
        leaf_hash: The leaf hash the tree holds at `index`.
        path: Sibling hashes from the leaf upwards.
    """

    index: int
    size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event row, its canonical bytes, and its leaf index (None until integrated)."""

    row: Mapping[str, Any]
    canonical: bytes
    leaf_index: int | None


def latest_checkpoint(connection: Connection) -> StoredCheckpoint | None:
    """Return the newest stored checkpoint, or None before the first one is signed."""
    rows = driver_execute(
        connection,
        "SELECT tree_size, root_hash, timestamp_ms, signed_checkpoint FROM audit_checkpoints"
        " ORDER BY tree_size DESC LIMIT 1",
        (),
    )
    if not rows:
        return None
    size, root, timestamp_ms, note = rows[0]
    origin = str(note).split("\n", 1)[0]
    return StoredCheckpoint(Checkpoint(origin, int(size), bytes(root), int(timestamp_ms)), note)


def log_inclusion_proof(connection: Connection, *, index: int, size: int) -> InclusionProof:
    """Return the inclusion proof of leaf `index` in the tree of `size` leaves.

    Raises:
        InvalidInput: Unless ``0 <= index < size <=`` the integrated tree size.
    """
    return inclusion_proofs(connection, [index], size=size)[index]


def inclusion_proofs(
    connection: Connection, indexes: Sequence[int], *, size: int
) -> dict[int, InclusionProof]:
    """Return the inclusion proofs of several leaves in the tree of `size` leaves.

    One query for the tree size, then one per proof (its path and its leaf together).

    Raises:
        InvalidInput: An index is outside ``0 <= index < size <=`` the tree size.
    """
    store = _ProofReads(DatabaseNodeStore(connection))
    proofs = {}
    for index in dict.fromkeys(indexes):
        if not 0 <= index < size <= store.size():
            raise InvalidInput(
                f"no leaf {index} in a tree of size {size} (the log has {store.size()} leaves)"
            )
        store.also_fetch = NodeId(0, index)
        path = inclusion_proof(store, index=index, size=size)
        proofs[index] = InclusionProof(index, size, store.fetched, tuple(path))
    return proofs


class _ProofReads:
    """A read-only view of the tree for serving proofs with as few queries as possible.

    It reads the tree size once, and fetches the leaf being proved in the same
    query as its proof's nodes.
    """

    def __init__(self, store: DatabaseNodeStore) -> None:
        self._store = store
        self._size = store.size()
        self.also_fetch = NodeId(0, 0)
        self.fetched = b""

    def size(self) -> int:
        return self._size

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        hashes = self._store.get_nodes([*ids, self.also_fetch])
        self.fetched = hashes.pop()
        return hashes

    def put_nodes(self, runs: Sequence[NodeRun], size: int) -> None:
        raise NotImplementedError("a proof view does not write")


def log_consistency_proof(connection: Connection, *, old_size: int, new_size: int) -> list[bytes]:
    """Return the consistency proof from the tree of `old_size` to the one of `new_size`.

    Raises:
        InvalidInput: Unless ``0 <= old_size <= new_size <=`` the tree size.
    """
    return consistency_proof(DatabaseNodeStore(connection), old_size=old_size, new_size=new_size)


def subject_events(
    connection: Connection, subject_id: str, *, limit: int, before_seq: int | None = None
) -> list[LoggedEvent]:
    """Return the newest `limit` events about one subject (older than `before_seq`), newest first.

    Each comes with its canonical bytes, recomputed from the row as it is now,
    and its leaf index if it has been integrated.
    """
    sql = (
        f"SELECT l.leaf_index, {_COLUMNS} FROM audit_events e"  # noqa: S608 - column names only
        " LEFT JOIN audit_leaves l ON l.seq = e.seq WHERE e.subject_id = ?"
    )
    params: list[Any] = [subject_id]
    if before_seq is not None:
        sql += " AND e.seq < ?"
        params.append(before_seq)
    sql += " ORDER BY e.seq DESC LIMIT ?"
    params.append(limit)
    events = []
    for leaf_index, *values in driver_execute(connection, sql, params):
        row = dict(zip(EVENT_FIELDS, values, strict=True))
        events.append(
            LoggedEvent(row, canonical_event(row), None if leaf_index is None else int(leaf_index))
        )
    return events
