"""Fixtures for watch tests: a vault with a watch on both backends, Redis when there is one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests._require import require
from tests.conftest import build_vault
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import Vault
from veil.watch import Watch, WatchConfig

REDIS_URL = os.environ.get("VEIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client() -> Any | None:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        client.ping()
        return client
    except redis.RedisError:
        return None


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A Redis key prefix of this test only; its keys are deleted afterwards."""
    client = redis_client()
    require(client is not None, f"Redis at {REDIS_URL}")
    namespace = f"veil-test-{secrets.token_hex(4)}"
    yield namespace
    assert client is not None
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)
    client.close()


def attach(vault: Vault, watch: Watch) -> Vault:
    """Give `vault` a watch, as `open_vault` does."""
    vault.watch = watch
    watch.on_revocation(lambda _principal: vault.forget_cached_callers())
    return vault


@pytest.fixture
def watch_config() -> WatchConfig:
    return WatchConfig()


@pytest.fixture
def watch(engine: Engine, clock: FixedClock, watch_config: WatchConfig) -> Watch:
    return Watch(engine=engine, clock=clock, config=watch_config)


@pytest.fixture
def vault(engine: Engine, provider: InMemoryKeyProvider, clock: FixedClock, watch: Watch) -> Vault:
    return attach(build_vault(engine, provider, clock), watch)


def rows(vault: Vault, table: Any, *where: Any) -> list[Any]:
    with vault.engine.connect() as connection:
        return list(connection.execute(select(table).where(*where)).all())
