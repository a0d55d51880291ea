"""The numbers service's knobs, with the defaults the README documents."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NumbersConfig"]

_MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class NumbersConfig:
    """How long numbers live, how they are shared and when the pool raises its hand.

    Attributes:
        grace_ms: How long after delivery the rider's number still connects
            (``VEIL_NUMBERS_GRACE_SECONDS``, default 15 minutes).
        cooldown_ms: How long after a binding ends its number is not handed to
            either of its parties again, so a late call cannot reach a new
            stranger (``VEIL_NUMBERS_COOLDOWN_SECONDS``, default 30 minutes).
        max_binding_ms: The longest a binding lives even if the order never
            ends (the provider needs an expiry at bind time; default 12 hours).
        merchant_binding_ms: How long a merchant's number lives (it ends at
            pickup at the latest; default 30 minutes).
        pairs_per_number: How many live bindings may share one number (with
            different parties); Alibaba PNS allows 200 pairs per X.
        pressure_alert: The pool load (0–1) from which allocation raises a
            pool-pressure alert, before the pool is exhausted.
        leak_lookback_ms: How far back a stranger's call to a number is
            attributed to the bindings that held it (default 30 days).
    """

    grace_ms: int = 15 * _MINUTE_MS
    cooldown_ms: int = 30 * _MINUTE_MS
    max_binding_ms: int = 12 * 60 * _MINUTE_MS
    merchant_binding_ms: int = 30 * _MINUTE_MS
    pairs_per_number: int = 200
    pressure_alert: float = 0.8
    leak_lookback_ms: int = 30 * 24 * 60 * _MINUTE_MS

    def __post_init__(self) -> None:
        if self.pairs_per_number < 1:
            raise ValueError("pairs_per_number must be at least 1")
        if not 0 < self.pressure_alert <= 1:
            raise ValueError("pressure_alert must be in (0, 1]")
        for name in ("grace_ms", "cooldown_ms", "leak_lookback_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.max_binding_ms < _MINUTE_MS or self.merchant_binding_ms < _MINUTE_MS:
            # Providers refuse an expiry less than a minute ahead.
            raise ValueError("bindings must live at least one minute")

    @property
    def longest_binding_ms(self) -> int:
        """Return the longest any binding lives, rider's or merchant's (a bound on its end)."""
        return max(self.max_binding_ms, self.merchant_binding_ms)
