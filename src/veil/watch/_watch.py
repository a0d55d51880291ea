"""The watch: admission (rate limits), observation (detectors), alerts and responses.

The vault hands the watch every audit record it committed (`observe`); the
HTTP edge asks it to admit each authenticated request (`admit`). Observations
update cheap counters; a detector that crosses a threshold yields a finding,
which becomes an alert (one per incident) and, the first time, the configured
response (record, step-up, suspend). `sweep` runs the heavier peer baselines
and belongs in a periodic job, never on a request.

With the embedded default (no Redis) observations are processed on the
request's thread right after its commit: a few dictionary updates. With Redis,
a worker thread applies them in batches, so a request never waits on Redis
round trips for detection.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import secrets
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from veil.audit import AuditRecord, AuditTag, append_events
from veil.clock import Clock, to_epoch_ms
from veil.crypto import keyed_reference
from veil.errors import RateLimited
from veil.watch._alerts import AlertChange, record_finding
from veil.watch._analysis import Analyzer
from veil.watch._baseline import load_usage, save_usage
from veil.watch._config import PROTECTED_ROLES, Response, WatchConfig
from veil.watch._detectors import DAY_MS, HOUR_MS, Detector, Finding
from veil.watch._limits import Flow, RateLimits, Refusal
from veil.watch._responses import impose
from veil.watch._revocations import Revocations
from veil.watch._signals import MemorySignals, RedisSignals, SignalStore
from veil.watch._webhook import WebhookSender

if TYPE_CHECKING:
    from veil.config import Settings

__all__ = ["Watch"]

log = logging.getLogger("veil.watch")

# Within this time, a finding about an incident already recorded is not
# written again (the alert's counters move at most once a minute).
_REFRESH_MS = 60_000
# A refused request writes one audit event per principal and scope per window;
# the refusals in between are counted into the next one.
_RATE_AUDIT_MS = 10_000
_QUEUE_SIZE = 100_000


class Watch:
    """Rate limits, detection, alerts and automatic responses for one vault."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        config: WatchConfig | None = None,
        signals: SignalStore | None = None,
        limits: RateLimits | None = None,
        revocations: Revocations | None = None,
        webhook: WebhookSender | None = None,
        reference_key: bytes | None = None,
        background: bool = False,
        sweep_seconds: float = 0.0,
        detectors: Sequence[Detector] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.config = config or WatchConfig()
        self.limits = limits
        self.revocations = revocations or Revocations()
        self.webhook = webhook
        key = reference_key or secrets.token_bytes(32)
        self._reference: Callable[[str], str] = functools.lru_cache(maxsize=65_536)(
            functools.partial(keyed_reference, key)
        )
        self.analyzer = Analyzer(
            thresholds=self.config.thresholds,
            store=signals,
            detectors=detectors,
            reference=self._reference,
        )
        self.signals = self.analyzer.signals
        self._usage = self.analyzer.usage
        self._lock = threading.Lock()
        self._recorded: dict[str, tuple[int, str]] = {}
        self._rate_audit: dict[tuple[str, str], tuple[int, int]] = {}
        self._queue: queue.Queue[Sequence[AuditRecord] | None] | None = (
            queue.Queue(_QUEUE_SIZE) if background else None
        )
        self.dropped = 0
        self._working = False
        self._sweep_seconds = sweep_seconds
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine, clock: Clock) -> Watch:
        """Build the watch a deployment configured (memory, or Redis when ``VEIL_REDIS_URL``)."""
        config = WatchConfig.from_overrides(
            rate_limits=settings.rate_limits,
            thresholds=settings.watch_thresholds,
            responses=settings.watch_responses,
        )
        namespace = settings.redis_namespace
        client = None
        signals: SignalStore = MemorySignals()
        if settings.redis_url:
            import redis  # noqa: PLC0415 - only deployments with several processes need it

            client = redis.Redis.from_url(settings.redis_url, socket_timeout=2.0)
            signals = RedisSignals(client, namespace=namespace)
        webhook = None
        if settings.webhook_url:
            webhook = WebhookSender(
                engine,
                clock,
                settings.webhook_url,
                settings.webhook_secret.get_secret_value().encode(),
                max_attempts=settings.webhook_max_attempts,
                backoff_seconds=settings.webhook_backoff_seconds,
            )
        return cls(
            engine=engine,
            clock=clock,
            config=config,
            signals=signals,
            limits=RateLimits(
                config.rate_limits, settings.redis_url or "memory://", namespace=namespace
            ),
            revocations=Revocations(client, namespace=namespace),
            webhook=webhook,
            reference_key=_shared_reference_key(client, namespace),
            background=client is not None,
            sweep_seconds=settings.watch_sweep_seconds,
        )

    # ------------------------------------------------------------------ admission

    @property
    def remote(self) -> bool:
        """Tell whether admission talks to Redis (the HTTP edge then leaves the event loop)."""
        return self.limits is not None and self.limits.remote

    def admit(
        self,
        *,
        principal_id: str,
        role: str,
        key_ref: str,
        client_ip: str | None,
        flow: Flow,
        request_id: str | None = None,
    ) -> None:
        """Consume the request's rate limits, or raise `RateLimited` (audited) when over one."""
        if self.limits is None:
            return
        client_ref = self._reference(client_ip) if client_ip else None
        refusal = self.limits.check(
            role=role, principal_id=principal_id, key_ref=key_ref, client_ref=client_ref, flow=flow
        )
        if refusal is not None:
            self._refused(refusal, principal_id, role, client_ip, request_id)

    def refuse_failed_authentication(
        self, *, client_ip: str | None, request_id: str | None = None
    ) -> None:
        """Count a failed authentication; raise `RateLimited` once an address has too many."""
        if self.limits is None or client_ip is None:
            return
        refusal = self.limits.check_failed_authentication(self._reference(client_ip))
        if refusal is not None:
            self._refused(refusal, None, None, client_ip, request_id)

    def _refused(
        self,
        refusal: Refusal,
        principal_id: str | None,
        role: str | None,
        client_ip: str | None,
        request_id: str | None,
    ) -> None:
        now_ms = to_epoch_ms(self.clock.now())
        holder = principal_id or "address:" + self._reference(client_ip or "")
        with self._lock:
            last_ms, suppressed = self._rate_audit.get((holder, refusal.scope), (0, 0))
            write = now_ms - last_ms >= _RATE_AUDIT_MS
            self._rate_audit[(holder, refusal.scope)] = (
                (now_ms, 0) if write else (last_ms, suppressed + 1)
            )
        record = AuditRecord(
            AuditTag.REQUEST_RATE_LIMITED,
            now_ms,
            "deny",
            principal_id=principal_id,
            role=role,
            reason=f"rate limit {refusal.limit} ({refusal.scope})",
            request_id=request_id,
            client_ip=client_ip,
            detail=json.dumps(
                {"scope": refusal.scope, "limit": refusal.limit, "refused_since_last": suppressed},
                sort_keys=True,
            ),
        )
        if write:
            with self.engine.begin() as connection:
                append_events(connection, [record])
        self.observe([record])
        raise RateLimited(
            f"too many requests ({refusal.scope}: {refusal.limit});"
            f" retry in {refusal.retry_after} s",
            retry_after=refusal.retry_after,
        )

    # ------------------------------------------------------------------ observation

    def observe(self, records: Sequence[AuditRecord]) -> None:
        """Take the audit records of one committed transaction."""
        if not records:
            return
        if self._queue is None or not self._working:
            # No worker (the embedded default, or a one-shot command): inline.
            self._process(records)
            return
        try:
            self._queue.put_nowait(records)
        except queue.Full:
            self.dropped += len(records)

    def flush(self) -> None:
        """Wait until every observation taken so far has been processed."""
        if self._queue is not None:
            if any(t.name == "veil-watch-worker" and t.is_alive() for t in self._threads):
                self._queue.join()
            else:
                while True:
                    try:
                        batch = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if batch is not None:
                        self._process(batch)
                    self._queue.task_done()
        with self._lock:
            self.signals.store.flush()

    def report(self, finding: Finding, now_ms: int | None = None) -> AlertChange | None:
        """Raise (or update) an alert for a finding made elsewhere (another package's signal)."""
        return self._record(finding, to_epoch_ms(self.clock.now()) if now_ms is None else now_ms)

    def _process(self, records: Sequence[AuditRecord]) -> None:
        with self._lock:
            findings = self.analyzer.analyze(records)
        for finding, at_ms in findings:
            try:
                self._record(finding, at_ms)
            except Exception:  # Detection must never turn a served request into an error.
                log.exception("could not record a %s finding", finding.kind)

    # ------------------------------------------------------------------ findings, alerts, responses

    def _record(self, finding: Finding, now_ms: int) -> AlertChange | None:
        key = finding.dedup_key
        with self._lock:
            last = self._recorded.get(key)
            if last is not None and now_ms - last[0] < _REFRESH_MS and not _worse(finding, last[1]):
                return None
            self._recorded[key] = (now_ms, finding.severity)
        response = self.config.response_for(finding.kind)
        if response is Response.SUSPEND and finding.role in PROTECTED_ROLES:
            response = Response.RECORD
        change = record_finding(
            self.engine, finding, response=response.value, now_ms=now_ms, reopen_after_ms=HOUR_MS
        )
        if change is not None and change.opened:
            log.warning("alert %s raised: %s", change.alert_id, finding.summary)
            self._respond(finding, change, response, now_ms)
        return change

    def _respond(
        self, finding: Finding, change: AlertChange, response: Response, now_ms: int
    ) -> None:
        if response is Response.RECORD:
            return
        targets = [finding.principal_id] if finding.principal_id else list(finding.related)
        for principal_id in targets:
            imposed = impose(
                self.engine,
                principal_id,
                response.value,
                alert_id=change.alert_id,
                reason=f"{finding.kind}: {finding.summary}",
                now_ms=now_ms,
            )
            if imposed and response is Response.SUSPEND:
                self.revocations.announce(principal_id)

    def forget(self, principal_id: str, at_ms: int) -> None:
        """Stop counting what a principal did before `at_ms` (after a reinstatement or closure)."""
        with self._lock:
            self.signals.reset(principal_id, at_ms)
            for key in [k for k in self._recorded if k.endswith(":" + principal_id)]:
                del self._recorded[key]

    def on_revocation(self, callback: Callable[[str], None]) -> None:
        """Call `callback(principal_id)` when any process suspends a principal."""
        self.revocations.subscribe(callback)

    # ------------------------------------------------------------------ the periodic job

    def sweep(self, now_ms: int | None = None) -> list[AlertChange]:
        """Save today's usage, compare every principal with its peers, record the outliers."""
        now = to_epoch_ms(self.clock.now()) if now_ms is None else now_ms
        self.flush()
        days = (self._usage.day_of(now - DAY_MS), self._usage.day_of(now))
        with self._lock:
            tallies = [u for day in days for u in self._usage.read_day(day, self.signals)]
        save_usage(self.engine, tallies, now)
        span = self.config.thresholds.peer_outlier.days
        history = load_usage(self.engine, self._usage.day_of(now - (span - 1) * DAY_MS))
        changes = []
        for detector in self.analyzer.detectors:
            for finding in detector.sweep(history, now):
                change = self._record(finding, now)
                if change is not None:
                    changes.append(change)
        return changes

    # ------------------------------------------------------------------ threads

    def start(self) -> None:
        """Start the background parts: worker, revocation listener, webhook, periodic sweep."""
        self.revocations.start()
        if self.webhook is not None:
            self.webhook.start()
        if self._queue is not None:
            self._spawn("veil-watch-worker", self._work)
            self._working = True
        if self._sweep_seconds > 0:
            self._spawn("veil-watch-sweep", self._sweep_forever)

    def stop(self) -> None:
        """Stop every background thread (processing what is queued first)."""
        if self._queue is not None and self._working:
            self._queue.put(None)
        self._working = False
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        self.revocations.stop()
        if self.webhook is not None:
            self.webhook.stop()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        if any(t.name == name and t.is_alive() for t in self._threads):
            return
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        assert self._queue is not None  # noqa: S101 - only started with a queue
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self._process(batch)
            except Exception:
                log.exception("watch worker failed on a batch; continuing")
            finally:
                self._queue.task_done()

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self._sweep_seconds):
            try:
                self.sweep()
            except Exception:
                log.exception("peer-baseline sweep failed; retrying next round")


def _worse(finding: Finding, severity: str) -> bool:
    order = ("low", "medium", "high", "critical")
    return order.index(finding.severity) > order.index(severity)


def _shared_reference_key(client: Any | None, namespace: str) -> bytes:
    # Every process must name an address the same way; with Redis they agree on
    # a random key kept there, without it one process needs no agreement.
    if client is None:
        return secrets.token_bytes(32)
    name = f"{namespace}:reference-key"
    try:
        client.set(name, secrets.token_hex(32), nx=True)
        value = client.get(name)
        return bytes.fromhex(value.decode() if isinstance(value, bytes) else str(value))
    except Exception:  # Redis down at start-up: commands still work; addresses differ per process.
        log.warning("Redis unavailable at start-up; client addresses are keyed per process")
        return secrets.token_bytes(32)
