"""The SIEM webhook, against a real local HTTP receiver: signed, retried with backoff, no PII."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from tests._city import ALICE, build_city
from tests.api._http import CITY_PII
from tests.watch.conftest import rows
from veil.clock import to_epoch_ms
from veil.crypto import WEBHOOK_SIGNATURE_HEADER, SignatureInvalid, verify_webhook
from veil.errors import ConfigurationError, NotFound
from veil.ids import IdKind, new_id
from veil.store import ALERTS
from veil.testing import FixedClock
from veil.vault import Vault, acknowledge
from veil.watch import DELIVERY_HEADER, Watch, WebhookSender, raise_alert

SECRET = b"siem-shared-secret-for-tests"


@dataclass
class Receiver:
    """A SIEM stand-in: answers with the queued statuses (then 200), keeps what it got."""

    statuses: list[int] = field(default_factory=list)
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.got.append((dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/siem/veil"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _scrape_alert(vault: Vault) -> str:
    city = build_city(vault)
    for _ in range(10):
        with pytest.raises(NotFound):
            vault.view_order(city.riders[0], new_id(IdKind.ORDER))
    # Real traffic with PII around it: views that disclosed a full address.
    order_id = city.order_in("picked_up", rider=1)
    vault.view_order(city.riders[1], order_id)
    [alert] = rows(vault, ALERTS)
    return str(alert.id)


def _sender(vault: Vault, clock: FixedClock, url: str, **kw: Any) -> WebhookSender:
    return WebhookSender(vault.engine, clock, url, SECRET, backoff_seconds=10, **kw)


def test_an_alert_is_delivered_signed_after_retries_with_backoff(
    vault: Vault, clock: FixedClock, receiver: Receiver
) -> None:
    alert_id = _scrape_alert(vault)
    sender = _sender(vault, clock, receiver.url)
    receiver.statuses = [500, 503]
    now = to_epoch_ms(clock.now())
    assert sender.deliver_due(now) == 0
    [row] = rows(vault, ALERTS)
    assert (row.notify_attempts, row.notify_next_ms, row.notify_error) == (
        1,
        now + 10_000,
        "HTTP 500",
    )
    assert sender.deliver_due(now + 9_999) == 0  # not due yet: nothing sent
    assert len(receiver.got) == 1
    assert sender.deliver_due(now + 10_000) == 0  # second try: 503, then twice the wait
    [row] = rows(vault, ALERTS)
    assert (row.notify_attempts, row.notify_next_ms) == (2, now + 10_000 + 20_000)
    assert sender.deliver_due(now + 30_000) == 1
    [row] = rows(vault, ALERTS)
    assert (row.notified_version, row.notify_attempts, row.notify_error) == (row.version, 0, None)
    assert sender.deliver_due(now + 60_000) == 0  # delivered: not again

    assert len(receiver.got) == 3
    for headers, body in receiver.got:
        assert headers[DELIVERY_HEADER] == f"{alert_id}.1"  # the receiver can drop duplicates
        signature = headers[WEBHOOK_SIGNATURE_HEADER]
        timestamp = int(signature.split(",")[0].removeprefix("t="))
        verify_webhook(SECRET, body, signature, now=timestamp)
        with pytest.raises(SignatureInvalid):
            verify_webhook(
                SECRET, body.replace(b"enumeration", b"nothing"), signature, now=timestamp
            )
        with pytest.raises(SignatureInvalid):
            verify_webhook(b"another secret", body, signature, now=timestamp)
        with pytest.raises(SignatureInvalid):
            verify_webhook(SECRET, body, signature, now=timestamp + 3600)
    document = json.loads(receiver.got[-1][1])
    assert document["type"] == "veil.alert.raised"
    assert document["alert"]["alert_id"] == alert_id
    assert document["alert"]["kind"] == "enumeration"
    assert document["alert"]["evidence"]["counters"]["distinct_refused"] == 10


def test_acknowledging_is_delivered_too_without_the_operators_words(
    vault: Vault, clock: FixedClock, receiver: Receiver
) -> None:
    alert_id = _scrape_alert(vault)
    sender = _sender(vault, clock, receiver.url)
    assert sender.deliver_due() == 1
    admin = vault.authenticate(vault.create_principal("admin", "admin-9")[1])
    # A name in an operator's reason stays in Veil; the SIEM gets who and when.
    acknowledge(vault, admin, alert_id, reason=f"customer {ALICE[0]} called us about it")
    assert sender.deliver_due() == 1
    document = json.loads(receiver.got[-1][1])
    assert document["type"] == "veil.alert.acknowledged"
    assert document["delivery_id"] == f"{alert_id}.2"
    assert document["alert"]["acknowledged"] == {
        "by": admin.principal_id,
        "at_ms": document["alert"]["acknowledged"]["at_ms"],
    }
    for _, body in receiver.got:
        text = body.decode("ascii")
        for value in (*CITY_PII, ALICE[0], "1203"):
            assert value not in text
            assert json.dumps(value)[1:-1] not in text  # nor \\u-escaped


def test_the_sender_gives_up_after_its_attempts_and_says_so(
    vault: Vault, clock: FixedClock, receiver: Receiver
) -> None:
    _scrape_alert(vault)
    sender = _sender(vault, clock, receiver.url, max_attempts=2)
    receiver.statuses = [500] * 5
    now = to_epoch_ms(clock.now())
    sender.deliver_due(now)
    sender.deliver_due(now + 10_000)
    [row] = rows(vault, ALERTS)
    assert row.notify_error == "gave up after 2 attempts: HTTP 500"
    assert row.notified_version == row.version
    assert sender.deliver_due(now + 3_600_000) == 0
    assert len(receiver.got) == 2


def test_an_unreachable_receiver_is_retried(vault: Vault, clock: FixedClock) -> None:
    _scrape_alert(vault)
    sender = _sender(vault, clock, "http://127.0.0.1:9/nothing-listens-here", timeout_seconds=1)
    assert sender.deliver_due() == 0
    [row] = rows(vault, ALERTS)
    assert row.notify_attempts == 1
    assert row.notify_error in {"URLError", "ConnectionRefusedError", "TimeoutError"}


def test_break_glass_alerts_raised_by_the_staff_code_are_delivered(
    vault: Vault, clock: FixedClock, receiver: Receiver
) -> None:
    with vault.engine.begin() as connection:
        alert_id = raise_alert(
            connection,
            kind="break_glass",
            severity="high",
            principal_id=None,
            evidence={"order_id": new_id(IdKind.ORDER), "minutes": 30},
            now_ms=to_epoch_ms(clock.now()),
        )
    assert _sender(vault, clock, receiver.url).deliver_due() == 1
    assert json.loads(receiver.got[0][1])["alert"]["alert_id"] == alert_id


def test_a_webhook_needs_an_http_url_and_a_secret(vault: Vault, clock: FixedClock) -> None:
    with pytest.raises(ConfigurationError, match="http"):
        WebhookSender(vault.engine, clock, "file:///etc/passwd", SECRET)
    with pytest.raises(ConfigurationError, match="SECRET"):
        WebhookSender(vault.engine, clock, "https://siem.example/veil", b"")


def test_the_watch_runs_the_sender_in_the_background(
    vault: Vault, clock: FixedClock, receiver: Receiver, watch: Watch
) -> None:
    _scrape_alert(vault)
    watch.webhook = _sender(vault, clock, receiver.url)
    watch.webhook.start(interval_seconds=0.05)
    try:
        for _ in range(100):
            if receiver.got:
                break
            threading.Event().wait(0.05)
    finally:
        watch.stop()
    assert len(receiver.got) == 1
    with vault.engine.connect() as connection:
        assert connection.scalar(select(ALERTS.c.notified_version)) == 1
