"""Rate limits: per principal, key, client address and flow; 429 with Retry-After, audited."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests._city import City, build_city
from tests.api._http import TestClient, bearer, error_of
from tests.watch.conftest import REDIS_URL, rows
from veil.api import create_app
from veil.errors import ConfigurationError
from veil.ids import IdKind, new_id
from veil.store import AUDIT_EVENTS
from veil.testing import FixedClock
from veil.vault import Vault
from veil.watch import DEFAULT_RATE_LIMITS, Flow, RateLimits, Watch, WatchConfig


def _limits(**overrides: str) -> RateLimits:
    return RateLimits({**DEFAULT_RATE_LIMITS, **overrides})


def _hit(
    limits: RateLimits, principal: str = "prn_a", flow: Flow = Flow.VIEWS, **kw: str
) -> object:
    return limits.check(
        role=kw.get("role", "rider"),
        principal_id=principal,
        key_ref=kw.get("key", "key-" + principal),
        client_ref=kw.get("ip", "ip-" + principal),
        flow=flow,
    )


def test_a_flow_budget_is_per_principal_and_says_when_to_retry() -> None:
    limits = _limits(views="3/minute")
    assert [_hit(limits) for _ in range(3)] == [None, None, None]
    refusal = _hit(limits)
    assert refusal is not None
    assert (refusal.scope, refusal.limit) == ("views", "3 per 1 minute")
    assert 1 <= refusal.retry_after <= 60
    assert _hit(limits, "prn_b") is None  # another principal has its own budget
    assert _hit(limits, flow=Flow.OTHER) is None  # other routes are not views


@pytest.mark.parametrize(
    ("overrides", "scope", "kw"),
    [
        ({"principal": "2/minute"}, "principal", {}),
        ({"api_key": "2/minute"}, "api_key", {}),
        ({"client_ip": "2/minute"}, "client_ip", {}),
        ({"reveals": "2/minute"}, "reveals", {}),
    ],
)
def test_each_scope_is_enforced(overrides: dict[str, str], scope: str, kw: dict[str, str]) -> None:
    limits = _limits(**overrides)
    flow = Flow.REVEALS if scope == "reveals" else Flow.VIEWS
    assert _hit(limits, flow=flow) is None
    assert _hit(limits, flow=flow) is None
    refusal = _hit(limits, flow=flow)
    assert refusal is not None and refusal.scope == scope


def test_one_address_shared_by_many_principals_has_one_budget() -> None:
    limits = _limits(client_ip="3/minute")
    results = [_hit(limits, f"prn_{n}", ip="203.0.113.9") for n in range(4)]
    assert results[:3] == [None, None, None]
    assert results[3] is not None


def test_a_role_override_lifts_or_tightens_a_limit() -> None:
    limits = _limits(**{"views": "2/minute", "service.views": "none", "agent.views": "1/minute"})
    assert all(_hit(limits, "prn_s", role="service") is None for _ in range(10))
    assert _hit(limits, "prn_g", role="agent") is None
    assert _hit(limits, "prn_g", role="agent") is not None


def test_failed_authentications_are_counted_per_address() -> None:
    limits = _limits(auth_failures="2/minute")
    assert limits.check_failed_authentication("ip-1") is None
    assert limits.check_failed_authentication("ip-1") is None
    assert limits.check_failed_authentication("ip-1") is not None
    assert limits.check_failed_authentication("ip-2") is None


@pytest.mark.parametrize("text", ["lots", "10 per fortnight", "-1/minute"])
def test_a_malformed_limit_is_refused_at_start_up(text: str) -> None:
    with pytest.raises(ConfigurationError, match="rate limit"):
        RateLimits({"views": text})


def test_an_unknown_scope_or_signal_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="scope"):
        WatchConfig.from_overrides(rate_limits={"veiws": "1/second"})
    with pytest.raises(ConfigurationError, match="signal"):
        WatchConfig.from_overrides(responses={"scraping": "suspend"})
    with pytest.raises(ConfigurationError, match="one of"):
        WatchConfig.from_overrides(responses={"enumeration": "ban"})
    with pytest.raises(ConfigurationError, match="threshold"):
        WatchConfig.from_overrides(thresholds={"enumeration": {"misses_1d": 3}})


def test_two_processes_sharing_redis_share_one_budget(redis_namespace: str) -> None:
    # Two RateLimits on one Redis namespace are two Veil processes' views of it.
    table = {**DEFAULT_RATE_LIMITS, "views": "5/minute"}
    first = RateLimits(table, REDIS_URL, namespace=redis_namespace)
    second = RateLimits(table, REDIS_URL, namespace=redis_namespace)
    assert first.remote and second.remote
    outcomes = [_hit(first if n % 2 else second) for n in range(8)]
    assert sum(o is None for o in outcomes) == 5


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def watch_config() -> WatchConfig:
    return WatchConfig.from_overrides(
        rate_limits={"views": "3/minute", "auth_failures": "4/minute"}
    )


@pytest.fixture
def limited(watch: Watch, watch_config: WatchConfig) -> Watch:
    watch.limits = RateLimits(watch_config.rate_limits)
    return watch


@pytest.fixture
def client(vault: Vault, limited: Watch) -> Iterator[TestClient]:
    with TestClient(create_app(vault), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_fourth_view_in_a_minute_is_429_with_retry_after_and_audited(
    client: TestClient, vault: Vault, clock: FixedClock
) -> None:
    city: City = build_city(vault)
    headers = bearer(city.keys["rider-1"])
    order_id = city.order_in("picked_up")
    assert [
        client.get(f"/v1/orders/{order_id}", headers=headers).status_code for _ in range(3)
    ] == [
        200,
        200,
        200,
    ]
    response = client.get(f"/v1/orders/{order_id}", headers=headers)
    error = error_of(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "views" in error["message"]
    # Other flows still work: the rider may list its orders... but that is a view too.
    assert client.get("/v1/me", headers=headers).status_code == 200
    # A second refusal within seconds is counted into the next audit row, not written alone.
    client.get(f"/v1/orders/{order_id}", headers=headers)
    [event] = rows(vault, AUDIT_EVENTS, AUDIT_EVENTS.c.tag == "api:request:rate_limited")
    assert event.principal_id == city.riders[0].principal_id
    assert event.decision == "deny"
    assert json.loads(event.detail)["scope"] == "views"
    assert event.request_id == error["request_id"]


def test_too_many_bad_keys_from_one_address_are_429(client: TestClient) -> None:
    statuses = [
        client.get("/v1/me", headers=bearer("veil_" + new_id(IdKind.REQUEST))).status_code
        for _ in range(6)
    ]
    assert statuses == [401, 401, 401, 401, 429, 429]


def test_the_memory_storage_needs_no_timer_thread_and_still_forgets() -> None:
    from limits.storage import MemoryStorage

    # The two upstream hooks the quiet storage relies on (limits 5.x).
    assert hasattr(MemoryStorage, "_MemoryStorage__schedule_expiry")
    assert hasattr(MemoryStorage, "_MemoryStorage__expire_events")
    limits = _limits(principal="1/second", api_key="1/second", client_ip="1/second")
    storage: Any = limits._storage
    threading.Event().wait(0.05)  # the one timer upstream's constructor starts
    before = {t for t in threading.enumerate() if isinstance(t, threading.Timer)}
    for n in range(500):
        _hit(limits, f"prn_{n}", flow=Flow.OTHER)
    after = {t for t in threading.enumerate() if isinstance(t, threading.Timer)}
    assert after <= before
    assert len(storage.storage) >= 500
    threading.Event().wait(1.1)  # every counter has expired by now
    _hit(limits, "prn_late", flow=Flow.OTHER)
    assert len(storage.storage) == 3  # the late request's three counters
