"""The NodeStore contract: every implementation runs these tests.

Each entry of `STORES` makes a fresh, empty store for one test: in memory, or
in the database (SQLite and PostgreSQL), inside a transaction the test owns.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.audit._db import database_url
from veil.audit import DatabaseNodeStore
from veil.audit._merkle import (
    HASH_SIZE,
    MemoryNodeStore,
    NodeId,
    NodeRun,
    NodeStore,
    append_leaves,
    inclusion_proof,
    leaf_hash,
    root_hash,
)
from veil.store import make_engine


def _database(backend: str) -> Callable[[pytest.FixtureRequest], NodeStore]:
    def make(request: pytest.FixtureRequest) -> NodeStore:
        engine = make_engine(database_url(request, backend))
        connection = engine.connect()
        connection.begin()
        request.addfinalizer(engine.dispose)
        request.addfinalizer(connection.close)
        return DatabaseNodeStore(connection)

    return make


STORES: dict[str, Callable[[pytest.FixtureRequest], NodeStore]] = {
    "memory": lambda _: MemoryNodeStore(),
    "database-sqlite": _database("sqlite"),
    "database-postgres": _database("postgres"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> NodeStore:
    return STORES[request.param](request)


def _leaves(start: int, count: int) -> list[bytes]:
    return [leaf_hash(b"event %d" % i) for i in range(start, start + count)]


def test_is_a_node_store(store: NodeStore) -> None:
    assert isinstance(store, NodeStore)
    assert store.size() == 0


def test_returns_what_was_put_in_order(store: NodeStore) -> None:
    a, b, c = (bytes([n]) * HASH_SIZE for n in (1, 2, 3))
    store.put_nodes([NodeRun(0, 0, a + b + c), NodeRun(1, 0, b)], 3)
    assert store.size() == 3
    assert store.get_nodes([NodeId(0, 2), NodeId(1, 0), NodeId(0, 0)]) == [c, b, a]
    assert store.get_nodes([]) == []


def test_a_node_never_put_is_a_lookup_error(store: NodeStore) -> None:
    append_leaves(store, _leaves(0, 3))
    for missing in [NodeId(0, 3), NodeId(1, 1), NodeId(2, 0), NodeId(9, 0)]:
        with pytest.raises(LookupError):
            store.get_nodes([missing])


def test_integration_in_batches_keeps_every_complete_subtree(store: NodeStore) -> None:
    leaves = _leaves(0, 37)
    for start, count in [(0, 1), (1, 4), (5, 27), (32, 5)]:
        assert append_leaves(store, leaves[start : start + count]) == start + count
    assert store.size() == 37
    assert store.get_nodes([NodeId(0, i) for i in range(37)]) == leaves
    # Level 5 holds the one complete 32-leaf subtree; 37 leaves complete no 64.
    assert len(store.get_nodes([NodeId(5, 0)])) == 1
    with pytest.raises(LookupError):
        store.get_nodes([NodeId(6, 0)])
    reference = MemoryNodeStore()
    append_leaves(reference, leaves)
    for size in (1, 5, 32, 33, 37):
        assert root_hash(store, size) == root_hash(reference, size)
    assert inclusion_proof(store, index=36, size=37) == inclusion_proof(
        reference, index=36, size=37
    )


def test_an_empty_batch_changes_nothing(store: NodeStore) -> None:
    append_leaves(store, _leaves(0, 2))
    assert append_leaves(store, []) == 2
    assert store.size() == 2


def test_a_run_that_leaves_a_gap_or_overlaps_is_refused(store: NodeStore) -> None:
    append_leaves(store, _leaves(0, 4))
    node = bytes(HASH_SIZE)
    for bad in ([NodeRun(0, 5, node)], [NodeRun(0, 3, node)], [NodeRun(2, 0, node)]):
        with pytest.raises(ValueError, match="does not continue"):
            store.put_nodes(bad, 5)
    assert store.size() == 4
    assert len(store.get_nodes([NodeId(0, 3), NodeId(2, 0)])) == 2
