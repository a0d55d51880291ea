"""The signal stores: one conformance test, run against memory and against the real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.watch.conftest import redis_client
from veil.watch import MemorySignals, RedisSignals, SignalStore

MINUTE = 60_000
T0 = 1_796_090_400_000


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[SignalStore]:
    if request.param == "memory":
        yield MemorySignals()
        return
    namespace = request.getfixturevalue("redis_namespace")
    client = redis_client()
    yield RedisSignals(client, namespace=namespace)
    assert client is not None
    client.close()


def test_it_is_a_signal_store(store: SignalStore) -> None:
    assert isinstance(store, SignalStore)


def test_a_windowed_set_counts_distinct_members_since_a_moment(store: SignalStore) -> None:
    for n in range(5):
        store.mark("touch:p", f"ord_{n}", T0 + n * MINUTE, 60 * MINUTE)
    store.mark("touch:p", "ord_0", T0 + 10 * MINUTE, 60 * MINUTE)  # seen again: moves, not added
    assert store.count("touch:p", T0) == 5
    # At the edge: a member seen exactly at `since` counts, one a millisecond before does not.
    assert store.count("touch:p", T0 + 4 * MINUTE) == 2
    assert store.count("touch:p", T0 + 4 * MINUTE + 1) == 1
    assert store.members("touch:p", T0, 3) == ["ord_0", "ord_4", "ord_3"]
    assert store.count("touch:other", T0) == 0


def test_members_older_than_the_window_are_dropped(store: SignalStore) -> None:
    store.mark("miss:p", "a", T0, 10 * MINUTE)
    store.mark("miss:p", "b", T0 + 11 * MINUTE, 10 * MINUTE)
    assert store.count("miss:p", 0) == 1


def test_a_memo_is_kept_and_recalled(store: SignalStore) -> None:
    store.remember("viewer:o", "prn_1", T0, 60 * MINUTE)
    assert store.recall("viewer:o", T0 + MINUTE) == "prn_1"
    store.remember("viewer:o", "prn_2", T0 + MINUTE, 60 * MINUTE)
    assert store.recall("viewer:o", T0 + 2 * MINUTE) == "prn_2"
    assert store.recall("viewer:none", T0) is None


def test_a_tally_adds_up(store: SignalStore) -> None:
    store.add("use:d:p", "views", 1, 60 * MINUTE)
    store.add("use:d:p", "views", 2, 60 * MINUTE)
    store.add("use:d:p", "night", 1, 60 * MINUTE)
    store.flush()
    assert store.tally("use:d:p") == {"views": 3, "night": 1}
    assert store.tally("use:d:none") == {}


def test_two_redis_stores_share_their_windows(redis_namespace: str) -> None:
    one, two = redis_client(), redis_client()
    first = RedisSignals(one, namespace=redis_namespace)
    second = RedisSignals(two, namespace=redis_namespace)
    first.mark("miss:p", "ord_1", T0, MINUTE)
    first.flush()
    second.mark("miss:p", "ord_2", T0, MINUTE)
    assert first.count("miss:p", T0) == 1  # the second's write is still in its pipeline
    second.flush()
    assert first.count("miss:p", T0) == 2
    assert second.count("miss:p", T0) == 2
