"""RFC 6962 / RFC 9162 Merkle tree: hashing, a node store, proofs and their verification.

Hashing follows RFC 9162 §2.1.1, so any Certificate Transparency or C2SP tool
recomputes the same roots::

    leaf hash = SHA-256(0x00 ‖ canonical event bytes)
    node hash = SHA-256(0x01 ‖ left ‖ right)
    empty tree = SHA-256("")

Node addressing: node ``(level, position)`` is the root of the complete subtree
over leaves ``[position · 2^level, (position + 1) · 2^level)``; level 0 holds
the leaf hashes. A `NodeStore` keeps only complete subtrees. Once written they never
change (the log is append-only), so every root, inclusion proof and consistency
proof of any past size is a fold over at most ~2·log2(n) stored nodes: one
`NodeStore.get_nodes` call and no recomputation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from veil.errors import InvalidInput, VeilError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryNodeStore",
    "NodeId",
    "NodeRun",
    "NodeStore",
    "ProofError",
    "RunningRoot",
    "append_leaves",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(VeilError):
    """A Merkle proof does not verify, or its sizes and hashes cannot belong together."""

    code = "proof_invalid"


class NodeId(NamedTuple):
    """The address of a complete subtree: its height, and its position at that height.

    Node ``(level, position)`` covers leaves ``[position · 2^level, (position + 1) · 2^level)``.
    """

    level: int
    position: int


class NodeRun(NamedTuple):
    """Consecutive new nodes of one level: ``(level, start)``, ``(level, start + 1)``, ….

    Attributes:
        level: The level of every node in the run.
        start: The index of the first node.
        hashes: The node hashes concatenated, `HASH_SIZE` bytes each.
    """

    level: int
    start: int
    hashes: bytes


@runtime_checkable
class NodeStore(Protocol):
    """Where the hashes of complete subtrees live (memory, or the database).

    An implementation only stores and returns bytes; `append_leaves` decides
    what to write. Writes are append-only: each `put_nodes` extends every level
    it touches at its end, so a database may keep one row per node or one blob
    per run. Implementations: `MemoryNodeStore`, and the database-backed store in
    `veil.audit`; all run the conformance test in ``tests/audit``.
    """

    def size(self) -> int:
        """Return the number of leaves integrated so far."""
        ...

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hash of each node in `ids`, in order.

        Raises:
            LookupError: A node is not stored (its subtree is not complete).
        """
        ...

    def put_nodes(self, runs: Sequence[NodeRun], size: int) -> None:
        """Store `runs` and record that the tree now has `size` leaves, atomically."""
        ...


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of one leaf (an event's canonical bytes)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node."""
    return _sha256(_NODE_PREFIX + left + right).digest()


class MemoryNodeStore:
    """A `NodeStore` in memory: one `bytearray` per level, 32 bytes per node.

    A tree of n leaves holds just under 2n nodes, so 10 million leaves take about
    640 MB and no per-node Python object. Used by the offline tools, tests and
    benchmarks.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = []
        self._size = 0

    def size(self) -> int:
        """Return the number of leaves integrated so far."""
        return self._size

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hash of each node in `ids`, in order."""
        levels = self._levels
        out = []
        for level, index in ids:
            start = index * HASH_SIZE
            if level >= len(levels) or index < 0 or start + HASH_SIZE > len(levels[level]):
                raise LookupError(f"node ({level}, {index}) is not stored")
            out.append(bytes(levels[level][start : start + HASH_SIZE]))
        return out

    def put_nodes(self, runs: Sequence[NodeRun], size: int) -> None:
        """Append each run at the end of its level and record the new size."""
        if size < self._size:
            raise ValueError(f"tree size cannot shrink from {self._size} to {size}")
        # Check every run before writing any, so a bad batch leaves no trace.
        # Runs must continue their level exactly: a gap or an overlap means two
        # integrators raced or a caller lost track of the size.
        levels = len(self._levels)
        for level, start, hashes in runs:
            stored = len(self._levels[level]) if level < levels else 0
            if level > levels or start * HASH_SIZE != stored or len(hashes) % HASH_SIZE:
                raise ValueError(f"run at level {level} does not continue it at {start}")
            levels = max(levels, level + 1)
        for level, _, hashes in runs:
            if level == len(self._levels):
                self._levels.append(bytearray())
            self._levels[level] += hashes
        self._size = size


def append_leaves(store: NodeStore, leaf_hashes: Sequence[bytes]) -> int:
    """Integrate a batch of leaf hashes into `store` and return the new tree size.

    Reads the old tree's right edge (at most log2(n) nodes), computes every node
    that the batch completes, and writes them with one `NodeStore.put_nodes`.
    The cost is one hash per new node: about one per leaf.

    Raises:
        InvalidInput: A leaf hash is not 32 bytes.
    """
    if any(len(h) != HASH_SIZE for h in leaf_hashes):
        raise InvalidInput(f"leaf hashes must be {HASH_SIZE} bytes")
    old = store.size()
    if not leaf_hashes:
        return old
    new = old + len(leaf_hashes)
    # A new parent at level L + 1 may need one old left child: the old tree's
    # complete subtree at level L, which exists exactly when bit L of `old` is set.
    edge_levels = [level for level in range(old.bit_length()) if old >> level & 1]
    edge_ids = [NodeId(level, (old >> level) - 1) for level in edge_levels]
    edge = dict(zip(edge_levels, store.get_nodes(edge_ids), strict=True))

    sha256 = _sha256
    prefix = _NODE_PREFIX
    runs = []
    level, start, run = 0, old, b"".join(leaf_hashes)
    while True:
        runs.append(NodeRun(level, start, run))
        first_parent, end_parent = old >> (level + 1), new >> (level + 1)
        if first_parent == end_parent:
            break
        children = edge[level] + run if old >> level & 1 else run
        stop = (end_parent - first_parent) * 2 * HASH_SIZE
        run = b"".join([sha256(prefix + children[o : o + 64]).digest() for o in range(0, stop, 64)])
        level, start = level + 1, first_parent
    store.put_nodes(runs, new)
    return new


def root_hash(store: NodeStore, size: int) -> bytes:
    """Return the root hash of the tree's first `size` leaves.

    Raises:
        InvalidInput: `size` is negative or larger than the store.
    """
    if not 0 <= size <= store.size():
        raise InvalidInput(f"tree size {size} is outside 0..{store.size()}")
    if size == 0:
        return EMPTY_ROOT
    return _fold(store.get_nodes(_range_ids(0, size)))


def inclusion_proof(store: NodeStore, *, index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.

    The proof lists sibling hashes from the leaf upwards, as RFC 9162 §2.1.3.1
    PATH(m, D[n]) does.

    Raises:
        InvalidInput: Unless ``0 <= index < size <= store.size()``.
    """
    if not 0 <= index < size <= store.size():
        raise InvalidInput(f"no leaf {index} in a tree of size {size} (log size {store.size()})")
    # Walk down RFC 9162's recursion: a range [lo, hi) splits at the largest power
    # of two below its width; the half without the leaf is the next sibling.
    groups: list[list[NodeId]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            groups.append(_range_ids(mid, hi))
            hi = mid
        else:
            groups.append(_range_ids(lo, mid))
            lo = mid
    groups.reverse()
    return _fold_groups(store, groups)


def consistency_proof(store: NodeStore, *, old_size: int, new_size: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof from the tree of `old_size` to `new_size`.

    Empty when `old_size` is 0 or equals `new_size` (nothing to prove).

    Raises:
        InvalidInput: Unless ``0 <= old_size <= new_size <= store.size()``.
    """
    if not 0 <= old_size <= new_size <= store.size():
        raise InvalidInput(
            f"no consistency proof from {old_size} to {new_size} (log size {store.size()})"
        )
    if old_size in (0, new_size):
        return []
    # RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b), unrolled; `whole` is b: the old
    # tree is still the entire left part, so its root need not be sent.
    groups: list[list[NodeId]] = []
    lo, hi, whole = 0, new_size, True
    while old_size != hi:
        mid = lo + _split(hi - lo)
        if old_size <= mid:
            groups.append(_range_ids(mid, hi))
            hi = mid
        else:
            groups.append(_range_ids(lo, mid))
            lo, whole = mid, False
    if not whole:
        groups.append(_range_ids(lo, hi))
    groups.reverse()
    return _fold_groups(store, groups)


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` sits at `index` in the tree of `size` leaves with `root`.

    Implements RFC 9162 §2.1.3.2.

    Raises:
        ProofError: The proof does not verify.
    """
    _check_hashes(leaf_hash, root, *proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} cannot be in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is high")
    if r != root:
        raise ProofError(f"inclusion proof of leaf {index} does not lead to the root")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of `old_size` with `old_root` is a prefix of the one with `new_root`.

    Implements RFC 9162 §2.1.4.2. Stricter than the RFC in one place: a tree of
    size 0 must carry the empty-tree hash, so a malformed old checkpoint cannot
    pass as "nothing to prove".

    Raises:
        ProofError: The proof does not verify.
    """
    _check_hashes(old_root, new_root, *proof)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of size {old_size} cannot precede one of size {new_size}")
    if old_size in (0, new_size):
        _verify_trivial_consistency(old_size, new_size, old_root, new_root, proof)
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is a complete subtree of the new one, so the
        # proof omits its root and the verifier supplies it.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the tree is high")
    if (fr, sr) != (old_root, new_root):
        raise ProofError(
            f"consistency proof does not lead to the roots of sizes {old_size} and {new_size}"
        )


def _verify_trivial_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check the cases with nothing to prove: an empty old tree, or equal sizes."""
    if proof:
        raise ProofError("consistency proof must be empty for these sizes")
    expected = new_root if old_size == new_size else EMPTY_ROOT
    if old_root != expected:
        raise ProofError(f"roots of size {old_size} differ")


class RunningRoot:
    """The right edge of a growing tree: the root at any size, in O(log n) memory.

    Used where leaves stream past once (the offline verifier): it keeps one hash
    per set bit of the size, not the tree.
    """

    __slots__ = ("_edge", "_size")

    def __init__(self) -> None:
        self._edge: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """Return the number of leaves appended."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        edge = self._edge
        edge.append(leaf)
        self._size += 1
        # Each trailing zero bit of the new size is a pair of equal-height
        # subtrees that just became complete and merge into their parent.
        size = self._size
        while not size & 1:
            right = edge.pop()
            edge[-1] = _sha256(_NODE_PREFIX + edge[-1] + right).digest()
            size >>= 1

    def root(self) -> bytes:
        """Return the root hash at the current size."""
        return _fold(self._edge) if self._edge else EMPTY_ROOT


def _split(width: int) -> int:
    """Return the largest power of two strictly below `width` (RFC 9162's k), for width ≥ 2."""
    return 1 << ((width - 1).bit_length() - 1)


def _range_ids(begin: int, end: int) -> list[NodeId]:
    """Return the complete subtrees that exactly cover leaves [begin, end), left to right."""
    ids = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            # A subtree must start at a multiple of its own width.
            level = min(level, (begin & -begin).bit_length() - 1)
        ids.append(NodeId(level, begin >> level))
        begin += 1 << level
    return ids


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Combine subtree roots, left to right and decreasing in height, into one root."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _fold_groups(store: NodeStore, groups: Sequence[Sequence[NodeId]]) -> list[bytes]:
    """Fetch every node of every group in one call and fold each group into one hash."""
    hashes = store.get_nodes([node for group in groups for node in group])
    out, at = [], 0
    for group in groups:
        out.append(_fold(hashes[at : at + len(group)]))
        at += len(group)
    return out


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError(f"every hash in a proof must be {HASH_SIZE} bytes")
