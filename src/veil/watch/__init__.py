"""Watching how Veil is used: rate limits, detection, alerts and automatic responses.

`Watch` is the one object the vault and the HTTP edge talk to. Detectors
(`Detector`, registered with `register`) read observations reduced from the
audit log and the request stream; findings become alerts (one per incident),
delivered to a SIEM by a signed webhook; each signal has a configured
response (record, step-up, suspend), reversible by an admin.
"""

from veil.watch import _baseline, _inline  # noqa: F401 - registers the shipped detectors
from veil.watch._alerts import (
    ALERT_STATUSES,
    SEVERITIES,
    AlertChange,
    acknowledge_alert,
    alert_document,
    close_alert,
    list_alerts,
    load_alert,
    raise_alert,
    record_finding,
    safe_evidence,
    touch_alert,
)
from veil.watch._analysis import Analyzer
from veil.watch._baseline import load_usage, save_usage
from veil.watch._config import (
    DEFAULT_RATE_LIMITS,
    DEFAULT_RESPONSES,
    PROTECTED_ROLES,
    Response,
    Thresholds,
    WatchConfig,
)
from veil.watch._detectors import (
    DETECTORS,
    Detector,
    Finding,
    Signals,
    UsageDay,
    build_detectors,
    register,
)
from veil.watch._limits import Flow, RateLimits, Refusal
from veil.watch._observations import Act, Observation, Outcome, observe_record
from veil.watch._responses import (
    STEP_UP_REASON,
    WATCH_ACTOR,
    approve_reveal,
    live_controls,
    reinstate,
    reveal_hold,
)
from veil.watch._revocations import Revocations
from veil.watch._signals import MemorySignals, RedisSignals, SignalStore
from veil.watch._watch import Watch
from veil.watch._webhook import DELIVERY_HEADER, WebhookSender, webhook_body

__all__ = [
    "ALERT_STATUSES",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RESPONSES",
    "DELIVERY_HEADER",
    "DETECTORS",
    "PROTECTED_ROLES",
    "SEVERITIES",
    "STEP_UP_REASON",
    "WATCH_ACTOR",
    "Act",
    "AlertChange",
    "Analyzer",
    "Detector",
    "Finding",
    "Flow",
    "MemorySignals",
    "Observation",
    "Outcome",
    "RateLimits",
    "RedisSignals",
    "Refusal",
    "Response",
    "Revocations",
    "SignalStore",
    "Signals",
    "Thresholds",
    "UsageDay",
    "Watch",
    "WatchConfig",
    "WebhookSender",
    "acknowledge_alert",
    "alert_document",
    "approve_reveal",
    "build_detectors",
    "close_alert",
    "list_alerts",
    "live_controls",
    "load_alert",
    "load_usage",
    "observe_record",
    "raise_alert",
    "record_finding",
    "register",
    "reinstate",
    "reveal_hold",
    "safe_evidence",
    "save_usage",
    "touch_alert",
    "webhook_body",
]
