"""Two watches on one Redis, as two Veil processes: shared counters, one alert, one suspension."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests._city import build_city
from tests.conftest import build_vault
from tests.watch.conftest import attach, redis_client, rows
from veil.errors import AuthenticationFailed, NotFound
from veil.ids import IdKind, new_id
from veil.store import ALERTS, PRINCIPALS
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import Vault
from veil.watch import RedisSignals, Revocations, Watch


@pytest.fixture
def pair(
    engine: Engine, provider: InMemoryKeyProvider, clock: FixedClock, redis_namespace: str
) -> Iterator[tuple[Vault, Vault]]:
    """Two vaults on one database, each with its own watch on the shared Redis."""
    vaults = []
    watches = []
    for _ in range(2):
        client = redis_client()
        watch = Watch(
            engine=engine,
            clock=clock,
            signals=RedisSignals(client, namespace=redis_namespace),
            revocations=Revocations(client, namespace=redis_namespace),
            background=True,
        )
        vaults.append(attach(build_vault(engine, provider, clock), watch))
        watches.append(watch)
        watch.start()
    yield vaults[0], vaults[1]
    for watch in watches:
        watch.stop()


def test_misses_split_across_processes_add_up_to_one_alert_and_one_suspension(
    pair: tuple[Vault, Vault],
) -> None:
    first, second = pair
    city = build_city(first)
    rider, key = city.riders[0], city.keys["rider-1"]
    assert second.authenticate(key).principal_id == rider.principal_id  # cached there
    told = threading.Event()
    assert second.watch is not None
    second.watch.on_revocation(lambda principal_id: told.set())
    for n in range(10):
        vault = first if n % 2 else second
        with pytest.raises(NotFound):
            vault.view_order(rider, new_id(IdKind.ORDER))
    for vault in pair:
        assert vault.watch is not None
        vault.watch.flush()
    [alert] = rows(first, ALERTS)
    assert alert.kind == "enumeration"
    assert alert.evidence.count("ord_") >= 5  # evidence from the process that saw the tenth
    [status] = [r.status for r in rows(first, PRINCIPALS, PRINCIPALS.c.id == rider.principal_id)]
    assert status == "suspended"
    # The other process hears of it through Redis and drops its cached key at once.
    assert told.wait(2.0)
    with pytest.raises(AuthenticationFailed):
        second.authenticate(key)
