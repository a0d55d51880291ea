"""Providers: one conformance test for every `NumberProvider`; the Alibaba PNS adapter against
a local fake of the service that checks every signature (no outside network)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator

import pytest

from tests._city import City
from tests.numbers._numbers_city import RIDER_PHONES, bindings, build_numbers_city, call, x_of
from veil.numbers import (
    AliyunPnsProvider,
    BindRequest,
    NumberProvider,
    ProviderUnavailable,
    SimulatedTelco,
    canonical_query,
    parse_secret_reports,
    string_to_sign,
)
from veil.testing import FakePnsServer, FixedClock
from veil.vault import Vault, numbers_status, sweep_numbers

KEY_ID = "LTAI-test-key"
SECRET = "test-secret-not-real"
POOL_KEY = "FC100000000000001"


@pytest.fixture
def pns() -> Iterator[FakePnsServer]:
    with FakePnsServer(access_key_id=KEY_ID, access_key_secret=SECRET, pool_key=POOL_KEY) as fake:
        yield fake


def _aliyun(pns: FakePnsServer, *, secret: str = SECRET) -> AliyunPnsProvider:
    return AliyunPnsProvider(
        access_key_id=KEY_ID,
        access_key_secret=secret,
        pool_key=POOL_KEY,
        endpoint=pns.endpoint,
        clock=FixedClock(),
    )


def _request(reference: str = "bnd_reference") -> BindRequest:
    expires = int(dt.datetime(2026, 11, 29, 12, 15, tzinfo=dt.UTC).timestamp() * 1000)
    return BindRequest("+8613800138001", "+8613900139001", "+8617000000001", expires, reference)


# ---------------------------------------------------------------- conformance

Factory = Callable[[FakePnsServer], NumberProvider]
PROVIDERS: dict[str, Factory] = {
    "simulator": lambda _pns: SimulatedTelco(),
    "aliyun": _aliyun,
}


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_provider_binds_and_unbinds(name: str, pns: FakePnsServer) -> None:
    provider = PROVIDERS[name](pns)
    assert isinstance(provider, NumberProvider)
    assert provider.name
    first = provider.bind(_request("bnd_one"))
    second = provider.bind(_request("bnd_two"))
    assert first.provider_ref != second.provider_ref
    assert first.x_number == "+8617000000001"
    provider.unbind(first.provider_ref, first.x_number)
    provider.unbind(first.provider_ref, first.x_number)  # unbinding twice is harmless
    provider.unbind(second.provider_ref, second.x_number)


def test_a_bind_request_shows_no_numbers_in_its_repr() -> None:
    text = repr(_request())
    assert "13800138001" not in text and "13900139001" not in text


# ---------------------------------------------------------------- Alibaba PNS adapter


def test_canonicalization_follows_the_rpc_rules() -> None:
    query = canonical_query({"b": "a b*c~d", "A": "北京", "c": "x/y+z"})
    assert query == "A=%E5%8C%97%E4%BA%AC&b=a%20b%2Ac~d&c=x%2Fy%2Bz"
    assert string_to_sign("GET", {"k": "v=1"}) == "GET&%2F&k%3Dv%253D1"


def test_bind_axb_sends_signed_requests_with_an_opaque_reference(pns: FakePnsServer) -> None:
    provider = _aliyun(pns)
    bound = provider.bind(_request("bnd_opaque"))
    [sent] = pns.requests
    assert sent["Action"] == "BindAxb"
    assert sent["Version"] == "2017-05-25"
    assert sent["SignatureMethod"] == "HMAC-SHA1"
    assert (sent["PhoneNoA"], sent["PhoneNoB"], sent["PhoneNoX"]) == (
        "13800138001",
        "13900139001",
        "17000000001",
    )
    assert sent["Expiration"] == "2026-11-29 20:15:00"  # Beijing time
    assert sent["OutId"] == "bnd_opaque"
    assert sent["PoolKey"] == POOL_KEY
    assert pns.bindings[bound.provider_ref]["OutId"] == "bnd_opaque"


def test_the_fake_refuses_a_request_signed_with_the_wrong_secret(pns: FakePnsServer) -> None:
    with pytest.raises(ProviderUnavailable, match="SignatureDoesNotMatch"):
        _aliyun(pns, secret="wrong-secret").bind(_request())
    assert pns.bindings == {}


def test_a_provider_error_names_the_code_not_the_numbers(pns: FakePnsServer) -> None:
    pns.fail_next()
    with pytest.raises(ProviderUnavailable) as error:
        _aliyun(pns).bind(_request())
    assert "isp.SYSTEM_ERROR" in error.value.message
    assert "13800138001" not in error.value.message


def test_an_unreachable_provider_is_unavailable() -> None:
    provider = AliyunPnsProvider(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        pool_key=POOL_KEY,
        endpoint="http://127.0.0.1:9/",
        timeout_seconds=0.5,
    )
    with pytest.raises(ProviderUnavailable, match="did not answer"):
        provider.bind(_request())


def test_secret_reports_become_call_reports_without_numbers() -> None:
    body = json.dumps(
        [
            {
                "pool_key": POOL_KEY,
                "sub_id": "1000000001",
                "call_id": "abc123",
                "phone_no": "13800138001",
                "secret_no": "17000000001",
                "peer_no": "13900139001",
                "call_time": "2026-11-29 20:01:00",
                "start_time": "2026-11-29 20:01:05",
                "release_time": "2026-11-29 20:02:05",
                "out_id": "bnd_opaque",
                "record_url": "https://example.invalid/rec.mp3",
            },
            {"call_id": ""},
            "garbage",
        ]
    ).encode()
    [report] = parse_secret_reports(body)
    assert report.call_id == "aliyun:abc123"
    assert report.ended_ms is not None and report.started_ms is not None
    assert report.ended_ms - report.started_ms == 60_000
    assert report.started_ms == int(
        dt.datetime(2026, 11, 29, 12, 1, 5, tzinfo=dt.UTC).timestamp() * 1000
    )
    assert "13800138001" not in repr(report)
    assert parse_secret_reports(b"not json") == []


# ---------------------------------------------------------------- through the vault


@pytest.fixture
def pns_city(vault: Vault, pns: FakePnsServer, clock: FixedClock) -> City:
    vault.numbers.provider = AliyunPnsProvider(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        pool_key=POOL_KEY,
        endpoint=pns.endpoint,
        clock=clock,
    )
    return build_numbers_city(vault)


def test_assignment_binds_at_the_provider_and_delivery_unbinds(
    pns_city: City, pns: FakePnsServer, clock: FixedClock
) -> None:
    city = pns_city
    order_id = city.order_in("picked_up")
    x = x_of(city.vault.view_order(city.riders[0], order_id))
    [binding] = bindings(city.vault, order_id)
    held = pns.bindings[binding.provider_ref]
    assert held["OutId"] == binding.id  # the binding id: no order id, no name, no address
    assert held["PhoneNoX"] == x.removeprefix("+86")
    for sent in pns.requests:
        assert order_id not in json.dumps(sent)
    city.move(order_id, "deliver")
    clock.advance(minutes=16)
    report = sweep_numbers(city.vault)
    assert report.expired == 1
    assert pns.bindings == {}
    assert pns.requests[-1]["Action"] == "UnbindSubscription"
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "after").action == "reject"


def test_a_provider_outage_at_bind_falls_back_to_in_app_contact(
    pns_city: City, pns: FakePnsServer
) -> None:
    city = pns_city
    pns.fail_next()
    order_id = city.order_in("rider_assigned")
    contact = city.vault.view_order(city.riders[0], order_id)["contact"]
    assert contact["virtual_number"] is None
    assert contact["reason"] == "the telephony provider is unavailable; use in-app contact"
    # Nothing was left taken: the pool is untouched.
    assert all(c.numbers_in_use == 0 for c in numbers_status(city.vault).cities)


def test_a_provider_outage_at_unbind_still_cuts_calls_and_is_retried(
    pns_city: City, pns: FakePnsServer
) -> None:
    city = pns_city
    order_id = city.order_in("rider_assigned")
    x = x_of(city.vault.view_order(city.riders[0], order_id))
    pns.fail_next()
    city.move(order_id, "cancel")
    [binding] = bindings(city.vault, order_id)
    assert binding.provider_state == "unbind_pending"
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "cut").action == "reject"
    assert numbers_status(city.vault).provider_pending == 1
    report = sweep_numbers(city.vault)
    assert (report.provider_retried, report.provider_failed) == (1, 0)
    assert bindings(city.vault, order_id)[0].provider_state == "unbound"
    assert pns.bindings == {}
