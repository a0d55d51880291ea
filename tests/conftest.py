"""Shared fixtures: a real database per backend (SQLite and PostgreSQL), a vault, an API client.

Every test that takes `vault` runs twice, once per backend. PostgreSQL gets one
database per test run (created and dropped here); each test starts from empty
tables.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests._require import require
from veil.crypto import BlindIndex, DataKeyCache, Keyring
from veil.policy import DEFAULT_POLICY_DIR, PolicyEngine, PolicySource
from veil.store import Base, make_engine, migrate
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import Caller, Vault
from veil.vault._keys import load_blind_index, register_kek_versions

PG_ADMIN_URL = os.environ.get(
    "VEIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgres"]


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file that each test copies (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "veil.db"
    engine = make_engine(f"sqlite:///{path}", create=True)
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """Create one PostgreSQL database for this test run, migrate it, drop it at the end."""
    if not _pg_available():
        yield None
        return
    name = f"veil_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database URL, once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "veil.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    require(url is not None, f"PostgreSQL at {PG_ADMIN_URL}")
    engine = make_engine(url)
    _truncate(engine)
    engine.dispose()
    yield url


def _truncate(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def provider() -> InMemoryKeyProvider:
    return InMemoryKeyProvider()


def build_vault(
    engine: Engine,
    provider: InMemoryKeyProvider,
    clock: FixedClock,
    *,
    rider_grace_seconds: int = 900,
) -> Vault:
    """Register keys and open a vault on `engine` (what `veil init` + open_vault do)."""
    register_kek_versions(engine, provider, now_ms=0)
    blind_index: BlindIndex = load_blind_index(engine, provider)
    return Vault(
        engine=engine,
        keyring=Keyring(provider, DataKeyCache(max_entries=1000, ttl_seconds=60)),
        blind_index=blind_index,
        policy=PolicyEngine(
            PolicySource.load(DEFAULT_POLICY_DIR), rider_grace_ms=rider_grace_seconds * 1000
        ),
        clock=clock,
    )


@pytest.fixture
def vault(engine: Engine, provider: InMemoryKeyProvider, clock: FixedClock) -> Vault:
    return build_vault(engine, provider, clock)


@pytest.fixture
def service(vault: Vault) -> Caller:
    principal_id, _ = vault.create_principal("service", "backend")
    return Caller(principal_id, "service")
