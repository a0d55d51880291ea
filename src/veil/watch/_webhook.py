"""Alerts to the SIEM: signed JSON over HTTP, retried with exponential backoff.

The alerts table is the outbox. Every alert carries a version (raised = 1; a
severity escalation, an acknowledgement or a closure add one) and the version
the SIEM last received; the sender posts each alert whose version is ahead,
so an alert raised inside any transaction (a break-glass request, a finding)
is delivered without a second write path. Several processes may send: each
claims an alert with a conditional update before posting, and every delivery
carries ``X-Veil-Delivery`` (alert id and version) so the receiver can drop
the rare duplicate.

The body is `alert_document` without the operators' free-text reasons: ids,
kinds, counts and times, no PII. ``X-Veil-Signature`` is HMAC-SHA256 over the
timestamp and the body (`veil.crypto.sign_webhook`).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Row, select, update

from veil.clock import Clock, to_epoch_ms
from veil.crypto import WEBHOOK_SIGNATURE_HEADER, sign_webhook
from veil.errors import ConfigurationError
from veil.store import ALERTS
from veil.watch._alerts import alert_document

__all__ = ["DELIVERY_HEADER", "Poster", "WebhookSender", "webhook_body"]

log = logging.getLogger("veil.watch")

DELIVERY_HEADER = "X-Veil-Delivery"
_LEASE_MS = 60_000
_MAX_BACKOFF_MS = 600_000

# post(url, body, headers, timeout_seconds) -> HTTP status; raises on network errors.
Poster = Callable[[str, bytes, Mapping[str, str], float], int]


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    # The URL's scheme was checked to be http(s) when the sender was built.
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def webhook_body(row: Row[Any], now_ms: int) -> bytes:
    """Return the JSON body that announces `row` (its current version) to the SIEM."""
    if row.status == "closed":
        event = "closed"
    elif row.status == "acknowledged":
        event = "acknowledged"
    else:
        event = "raised" if row.version == 1 else "updated"
    document = {
        "type": f"veil.alert.{event}",
        "delivery_id": f"{row.id}.{row.version}",
        "sent_at_ms": now_ms,
        "alert": alert_document(row, with_reasons=False),
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=True).encode("ascii")


class WebhookSender:
    """Deliver changed alerts to one URL, signed, with retries."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        url: str,
        secret: bytes,
        *,
        max_attempts: int = 8,
        backoff_seconds: float = 2.0,
        timeout_seconds: float = 5.0,
        post: Poster = _post,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError("VEIL_WEBHOOK_URL must be an http:// or https:// URL")
        if not secret:
            raise ConfigurationError("VEIL_WEBHOOK_SECRET must be set when VEIL_WEBHOOK_URL is")
        self.engine = engine
        self.clock = clock
        self.url = url
        self._secret = secret
        self.max_attempts = max_attempts
        self.backoff_ms = int(backoff_seconds * 1000)
        self.timeout = timeout_seconds
        self._post = post
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver_due(self, now_ms: int | None = None, limit: int = 20) -> int:
        """Post every alert that is due; return how many the receiver accepted."""
        now = to_epoch_ms(self.clock.now()) if now_ms is None else now_ms
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(ALERTS)
                .where(
                    ALERTS.c.notified_version < ALERTS.c.version,
                    ALERTS.c.notify_next_ms <= now,
                )
                .order_by(ALERTS.c.last_seen_ms)
                .limit(limit)
            ).all()
        delivered = 0
        for row in rows:
            if self._claim(row, now):
                delivered += self._send(row, now)
        return delivered

    def _claim(self, row: Row[Any], now: int) -> bool:
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(ALERTS)
                .where(
                    ALERTS.c.id == row.id,
                    ALERTS.c.version == row.version,
                    ALERTS.c.notify_next_ms == row.notify_next_ms,
                )
                .values(notify_next_ms=now + _LEASE_MS)
            ).rowcount
        return bool(claimed)

    def _send(self, row: Row[Any], now: int) -> int:
        body = webhook_body(row, now)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "veil-watch",
            DELIVERY_HEADER: f"{row.id}.{row.version}",
            WEBHOOK_SIGNATURE_HEADER: sign_webhook(self._secret, body, timestamp=now // 1000),
        }
        error: str | None = None
        try:
            status = self._post(self.url, body, headers, self.timeout)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except Exception as exc:  # Network errors of any kind: retry later.
            error = type(exc).__name__
        values: dict[str, Any]
        if error is None:
            values = {
                "notified_version": row.version,
                "notify_attempts": 0,
                "notify_next_ms": 0,
                "notify_error": None,
            }
        else:
            attempts = row.notify_attempts + 1
            if attempts >= self.max_attempts:
                log.error(
                    "alert %s: webhook gave up after %d attempts (%s)", row.id, attempts, error
                )
                values = {
                    "notified_version": row.version,
                    "notify_attempts": attempts,
                    "notify_next_ms": 0,
                    "notify_error": f"gave up after {attempts} attempts: {error}",
                }
            else:
                wait = min(self.backoff_ms * 2 ** (attempts - 1), _MAX_BACKOFF_MS)
                values = {
                    "notify_attempts": attempts,
                    "notify_next_ms": now + wait,
                    "notify_error": error,
                }
        with self.engine.begin() as connection:
            connection.execute(update(ALERTS).where(ALERTS.c.id == row.id).values(**values))
        return 1 if error is None else 0

    def start(self, interval_seconds: float = 1.0) -> None:
        """Deliver in a background thread every `interval_seconds` (idempotent)."""
        if self._thread is not None:
            return

        def run() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.deliver_due()
                except Exception:  # A sender that dies silently would hide every alert.
                    log.exception("webhook round failed; retrying")

        self._thread = threading.Thread(target=run, name="veil-webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
