"""Time as a parameter: every window Veil enforces reads the time from a `Clock`."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["Clock", "SystemClock", "to_epoch_ms"]


class Clock(Protocol):
    """Something that says what time it is, in UTC."""

    def now(self) -> dt.datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """Return the current time as an aware UTC datetime."""
        return dt.datetime.now(dt.UTC)


def to_epoch_ms(moment: dt.datetime) -> int:
    """Return `moment` as integer milliseconds since the Unix epoch.

    Policies compare times as integers (Cedar `Long`), which keeps decisions
    exact at window edges and cheap to evaluate.
    """
    return int(moment.timestamp() * 1000)
