"""Watching how Veil is used: alerts today (detection, rate limits and responses build on them)."""

from veil.watch._alerts import SEVERITIES, raise_alert, touch_alert

__all__ = ["SEVERITIES", "raise_alert", "touch_alert"]
