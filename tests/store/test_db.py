"""Engines, migrations and the hot-path statement runner, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from veil.errors import ConfigurationError
from veil.store import (
    AUDIT_EVENTS,
    KEK_VERSIONS,
    Base,
    Prepared,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)

_INSERT_KEK = Prepared(
    insert(KEK_VERSIONS).values(
        version=bindparam("version"),
        provider=bindparam("provider"),
        check_ct=bindparam("check_ct"),
        created_ms=bindparam("created_ms"),
    )
)
_KEK_BY_VERSION = Prepared(select(KEK_VERSIONS).where(KEK_VERSIONS.c.version == bindparam("v")))


def test_the_migrated_schema_is_the_models_schema(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    migrate(engine)  # idempotent
    assert current_revision(engine) == head_revision()


def test_the_migrations_build_exactly_the_models_indexes(engine: Engine) -> None:
    # Each index costs writes; one left behind by a migration (or missing from
    # one) would go unnoticed otherwise.
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        declared = {index.name for index in table.indexes}
        built = {index["name"] for index in inspector.get_indexes(table.name)}
        if engine.dialect.name == "postgresql":
            # Unique constraints are backed by indexes PostgreSQL reports too.
            built -= {c["name"] for c in inspector.get_unique_constraints(table.name)}
        assert built == declared, table.name


def test_no_column_is_named_like_plaintext_pii(engine: Engine) -> None:
    # Contact data lives only in *_ct ciphertext columns.
    pii_words = {"name", "phone", "phones", "address", "addresses", "room", "note"}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            words = set(column.name.split("_"))
            if words & pii_words and column.name != "note_redacted":
                assert column.name.endswith("_ct"), f"{table.name}.{column.name}"


def test_prepared_statements_round_trip(engine: Engine) -> None:
    row = {"version": 7, "provider": "probe", "check_ct": b"\x01\x02", "created_ms": 1}
    with engine.begin() as connection:
        _INSERT_KEK.run_many(connection, [row])
        _INSERT_KEK.run_many(connection, [{**row, "version": 8}, {**row, "version": 9}])
        _INSERT_KEK.run_many(connection, [])
    with engine.connect() as connection:
        found = _KEK_BY_VERSION.first(connection, {"v": 8})
        assert found.provider == "probe"
        assert bytes(found.check_ct) == b"\x01\x02"
        assert _KEK_BY_VERSION.first(connection, {"v": 99}) is None


def test_a_prepared_statement_failure_is_a_sqlalchemy_error(engine: Engine) -> None:
    # Callers turn SQLAlchemyError into StorageUnavailable; a raw driver error
    # would slip past them as an opaque 500.
    row = {"version": 7, "provider": "probe", "check_ct": b"\x01", "created_ms": 1}
    with engine.begin() as connection:
        _INSERT_KEK.run_many(connection, [row])
    with pytest.raises(IntegrityError) as error, engine.begin() as connection:
        _INSERT_KEK.run_many(connection, [row])
    assert isinstance(error.value, SQLAlchemyError)
    assert "probe" not in str(error.value)  # bound values stay out of the message
    with pytest.raises(SQLAlchemyError), engine.connect() as connection:
        Prepared(select(AUDIT_EVENTS).where(text("no_such_column = 1"))).first(connection, {})


def test_opening_a_missing_sqlite_file_is_refused_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(ConfigurationError, match="veil init"):
        make_engine(f"sqlite:///{path}")
    assert not path.exists()
    make_engine(f"sqlite:///{tmp_path / 'sub' / 'new.db'}", create=True).dispose()
    assert (tmp_path / "sub").is_dir()


def test_a_bad_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="VEIL_DATABASE_URL"):
        make_engine("not a url at all")


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}", create=True)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
