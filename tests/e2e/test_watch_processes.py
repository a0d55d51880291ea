"""Two `veil serve` processes, one SQLite database, one Redis: one rate limit, one suspension.

The processes are real (subprocesses on free ports, set up with `veil init`);
they share nothing but the database file and the Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests._city import HOTEL
from tests._require import require
from tests.e2e._serve import free_port, init_home, start_serve, wait_up
from tests.watch.conftest import REDIS_URL, redis_client
from veil.config import Settings
from veil.ids import IdKind, new_id
from veil.vault import Caller, OrderSpec, open_vault

pytestmark = pytest.mark.redis


@dataclass
class Deployment:
    urls: list[str]
    keys: dict[str, str]
    order_id: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    client = redis_client()
    require(client is not None, f"Redis at {REDIS_URL}")
    assert client is not None
    home = tmp_path_factory.mktemp("two-veils")
    namespace = f"veil-test-{new_id(IdKind.REQUEST)[-8:]}"
    env = init_home(
        home,
        {
            "VEIL_AUDIT_INTEGRATOR": "false",
            "VEIL_REDIS_URL": REDIS_URL,
            "VEIL_REDIS_NAMESPACE": namespace,
            "VEIL_RATE_LIMITS": json.dumps({"views": "10/minute"}),
            # Long enough that only the revocation message can explain a quick 401.
            "VEIL_API_KEY_CACHE_SECONDS": "60",
        },
    )
    settings = Settings(
        database_url=env["VEIL_DATABASE_URL"],
        key_file=Path(env["VEIL_KEY_FILE"]),
        watch_enabled=False,
        redis_url=None,
    )
    vault = open_vault(settings)
    keys: dict[str, str] = {}
    ids: dict[str, str] = {}
    for role, label in [
        ("service", "backend"),
        ("merchant", "merchant-1"),
        ("rider", "rider-1"),
        ("rider", "rider-stolen"),
        ("admin", "admin-1"),
    ]:
        ids[label], keys[label] = vault.create_principal(role, label)
    service = Caller(ids["backend"], "service")
    subject_id = vault.create_subject(
        service,
        name="许昕",
        phones=["+86 138 0013 8001"],
        addresses=[HOTEL],
    )
    [order_id] = vault.create_orders(service, [OrderSpec(subject_id, ids["merchant-1"])])
    vault.post_order_event(service, order_id, "accept")
    vault.post_order_event(service, order_id, "assign", rider_id=ids["rider-1"])
    vault.post_order_event(service, order_id, "pickup")
    vault.engine.dispose()

    ports = [free_port(), free_port()]
    result = Deployment([f"http://127.0.0.1:{port}" for port in ports], keys, order_id)
    try:
        for port in ports:
            result.processes.append(start_serve(home, env, port))
        for url, process in zip(result.urls, result.processes, strict=True):
            wait_up(url, process)
        yield result
    finally:
        for process in result.processes:
            process.terminate()
        for process in result.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
        client.close()
        shutil.rmtree(home, ignore_errors=True)


def _get(url: str, path: str, key: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_two_processes_enforce_one_shared_rate_limit(deployment: Deployment) -> None:
    key, path = deployment.keys["rider-1"], f"/v1/orders/{deployment.order_id}"
    responses = [_get(deployment.urls[n % 2], path, key) for n in range(14)]
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 4, statuses
    # Both processes refused once the shared budget was spent.
    refused_by = {n % 2 for n, s in enumerate(statuses) if s == 429}
    assert refused_by == {0, 1}
    for response in responses:
        if response.status_code == 429:
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            assert response.json()["error"]["code"] == "rate_limited"


def test_a_suspension_on_one_process_stops_the_key_on_the_other_at_once(
    deployment: Deployment,
) -> None:
    first, second = deployment.urls
    key = deployment.keys["rider-stolen"]
    assert _get(second, "/v1/me", key).status_code == 200  # cached there for a minute now
    misses = [_get(first, f"/v1/orders/{new_id(IdKind.ORDER)}", key).status_code for _ in range(10)]
    assert misses == [404] * 10
    deadline = time.monotonic() + 10
    while _get(first, "/v1/me", key).status_code != 401:
        assert time.monotonic() < deadline, "the first process never suspended the key"
        time.sleep(0.05)
    suspended_at = time.monotonic()
    while _get(second, "/v1/me", key).status_code != 401:
        assert time.monotonic() - suspended_at < 1.0, "the second process still takes the key"
        time.sleep(0.02)
    # One incident, one alert, whichever process is asked.
    for url in deployment.urls:
        alerts = _get(url, "/v1/alerts?kind=enumeration", deployment.keys["admin-1"]).json()
        [alert] = alerts["alerts"]
        assert alert["response"] == "suspend"
