"""Faults: when the database refuses the audit row or the write, nothing leaves and nothing sticks.

A trigger makes the real database (SQLite and PostgreSQL) raise on one table;
each test checks that the use-case raises `StorageUnavailable`, that no view
data came back, and that the tables hold exactly what they held before.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from tests._city import ALICE, BOB, City, build_city
from tests.conftest import build_vault
from tests.vault._faults import refusing
from veil.errors import NotFound, StorageUnavailable
from veil.store import AUDIT_EVENTS, ORDERS, SUBJECT_PHONES, SUBJECTS, Base, _db, make_engine
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import Address, OrderSpec, Vault


def _fails() -> pytest.RaisesExc[StorageUnavailable]:
    return pytest.raises(StorageUnavailable)


@pytest.fixture
def city(vault: Vault) -> City:
    return build_city(vault)


def _snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every table, to prove a failed use-case changed nothing."""
    tables: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            key = list(table.primary_key.columns)
            rows = connection.execute(select(table).order_by(*key))
            tables[table.name] = [tuple(row) for row in rows]
    return tables


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def _assert_clean(error: pytest.ExceptionInfo[StorageUnavailable]) -> None:
    message = error.value.message
    # Neither the trigger's text nor SQL nor PII reaches the caller.
    for leaked in ("down", "INSERT", "UPDATE", "audit_events", ALICE[0], BOB[0], "1203", "8001"):
        assert leaked not in message


# ---------------------------------------------------------------- the audit insert fails


def test_a_view_whose_audit_row_fails_returns_nothing(city: City) -> None:
    order_id = city.order_in("picked_up")
    rider = city.riders[0]
    before = _snapshot(city.vault.engine)
    with refusing(city.vault.engine, "audit_events", "INSERT"):
        with pytest.raises(StorageUnavailable) as error:
            city.vault.view_order(rider, order_id)
        _assert_clean(error)
        with pytest.raises(StorageUnavailable):
            city.vault.view_orders(rider, [order_id, "ord_junk"])
    assert _snapshot(city.vault.engine) == before
    # Once the audit log takes writes again, the same view works and is recorded.
    assert city.vault.view_order(rider, order_id)["address"]["room"] == "1203"
    assert _count(city.vault.engine, AUDIT_EVENTS) == len(before["audit_events"]) + 1


def test_a_denial_whose_audit_row_fails_is_an_error_too(city: City) -> None:
    # A denial is also an event; if it cannot be written the caller learns nothing else.
    order_id = city.order_in("picked_up", rider=0)
    with refusing(city.vault.engine, "audit_events", "INSERT"):
        with _fails():
            city.vault.view_order(city.riders[2], order_id)
        with _fails():
            city.vault.active_orders(city.riders[0])
    with pytest.raises(NotFound):
        city.vault.view_order(city.riders[2], order_id)


def test_creating_an_order_while_the_audit_log_fails_leaves_no_order(city: City) -> None:
    before = _snapshot(city.vault.engine)
    spec = OrderSpec(subject_id=city.subjects[0], merchant_id=city.merchants[0].principal_id)
    with refusing(city.vault.engine, "audit_events", "INSERT"):
        with pytest.raises(StorageUnavailable) as error:
            city.vault.create_orders(city.service, [spec, spec, spec])
        _assert_clean(error)
    assert _snapshot(city.vault.engine) == before
    assert _count(city.vault.engine, ORDERS) == 0


def test_creating_a_subject_while_the_audit_log_fails_stores_nothing(city: City) -> None:
    before = _snapshot(city.vault.engine)
    with refusing(city.vault.engine, "audit_events", "INSERT"), _fails():
        city.vault.create_subject(
            city.service, name="东方不败", phones=["13900139555"], addresses=[Address()]
        )
    assert _snapshot(city.vault.engine) == before
    with pytest.raises(NotFound):
        city.vault.lookup_subjects_by_phone(city.service, "13900139555")


def test_a_transition_whose_audit_row_fails_does_not_happen(city: City) -> None:
    order_id = city.order_in("rider_assigned")
    with refusing(city.vault.engine, "audit_events", "INSERT"), _fails():
        city.vault.post_order_event(city.service, order_id, "pickup")
    assert city.vault.view_order(city.service, order_id)["state"] == "rider_assigned"
    # The rider still sees only the building: the pickup never happened.
    assert "room" not in city.vault.view_order(city.riders[0], order_id)["address"]


def test_an_erasure_whose_audit_row_fails_does_not_happen(city: City) -> None:
    before = _snapshot(city.vault.engine)
    with refusing(city.vault.engine, "audit_events", "INSERT"), _fails():
        city.vault.erase_subject(city.service, city.subjects[0])
    assert _snapshot(city.vault.engine) == before
    assert city.vault.lookup_subjects_by_phone(city.service, ALICE[1]) == [city.subjects[0]]


# ---------------------------------------------------------------- a write fails mid-request


def test_a_batch_refused_at_its_second_order_leaves_no_order_at_all(city: City) -> None:
    first, second = city.merchants[0].principal_id, city.merchants[1].principal_id
    specs = [
        OrderSpec(subject_id=city.subjects[0], merchant_id=first),
        OrderSpec(subject_id=city.subjects[1], merchant_id=second),
        OrderSpec(subject_id=city.subjects[0], merchant_id=first),
    ]
    before = _snapshot(city.vault.engine)
    with refusing(city.vault.engine, "orders", "INSERT", when=f"NEW.merchant_id = '{second}'"):
        with pytest.raises(StorageUnavailable) as error:
            city.vault.create_orders(city.service, specs)
        _assert_clean(error)
        # The first order alone goes through: the trigger refuses only the second.
        assert len(city.vault.create_orders(city.service, [specs[0]])) == 1
    after = _snapshot(city.vault.engine)
    assert len(after["orders"]) == 1
    assert len(after["audit_events"]) == len(before["audit_events"]) + 1
    with city.vault.engine.connect() as connection:
        assert set(connection.scalars(select(ORDERS.c.merchant_id))) == {first}


def test_an_order_update_refused_mid_request_changes_nothing(city: City) -> None:
    order_id = city.order_in("picked_up")
    before = _snapshot(city.vault.engine)
    with refusing(city.vault.engine, "orders", "UPDATE"), _fails():
        city.vault.post_order_event(city.service, order_id, "deliver")
    assert _snapshot(city.vault.engine) == before


def test_a_subject_whose_phone_index_is_refused_is_not_stored(city: City) -> None:
    before = _snapshot(city.vault.engine)
    with refusing(city.vault.engine, "subject_phone_index", "INSERT"), _fails():
        city.vault.create_subject(
            city.service, name="东方不败", phones=["13900139555"], addresses=[]
        )
    assert _snapshot(city.vault.engine) == before


def test_an_erasure_refused_half_way_leaves_the_subject_whole(city: City) -> None:
    # The subject row is updated first, then the phone index is deleted: refuse the second.
    order_id = city.order_in("picked_up", subject=0)
    with refusing(city.vault.engine, "subject_phone_index", "DELETE"), _fails():
        city.vault.erase_subject(city.service, city.subjects[0])
    with city.vault.engine.connect() as connection:
        row = connection.execute(select(SUBJECTS).where(SUBJECTS.c.id == city.subjects[0])).one()
    assert row.dek_wrapped is not None
    assert row.erased_ms is None
    assert _count(city.vault.engine, SUBJECT_PHONES) == 2
    city.vault.keyring.cache.clear()  # read the key back from the database, not the cache
    assert city.vault.view_order(city.customers[0], order_id)["customer"]["name"] == ALICE[0]


# ---------------------------------------------------------------- the database stays locked


def test_a_view_that_waits_too_long_for_the_writer_lock_is_unavailable(
    tmp_path: Path,
    sqlite_template: Path,
    provider: InMemoryKeyProvider,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SQLite only (PostgreSQL locks rows). Another Veil process, here a second
    # engine with its own handle on the lock file, holds a write transaction
    # longer than the busy timeout.
    path = tmp_path / "veil.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    city = build_city(build_vault(engine, provider, clock))
    order_id = city.order_in("picked_up")
    rider = city.riders[0]
    monkeypatch.setattr(_db, "_BUSY_SECONDS", 0.05)
    other = make_engine(f"sqlite:///{path}")
    with other.begin() as connection:
        connection.execute(text("SELECT 1"))
        with pytest.raises(StorageUnavailable) as error:
            city.vault.view_order(rider, order_id)
        _assert_clean(error)
    other.dispose()
    assert city.vault.view_order(rider, order_id)["address"]["room"] == "1203"
    engine.dispose()
