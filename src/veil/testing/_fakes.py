"""A settable clock and an in-memory `KeyProvider`."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from veil.crypto import aesgcm_unwrap, aesgcm_wrap
from veil.errors import DecryptionFailed

__all__ = ["FixedClock", "InMemoryKeyProvider"]


class FixedClock:
    """A clock that stands still until told to move: window edges become testable."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        """Return the clock's current time."""
        return self._now

    def set(self, moment: dt.datetime) -> None:
        """Jump to `moment`."""
        self._now = moment

    def advance(self, **delta: float) -> dt.datetime:
        """Move forward by a `timedelta(**delta)` and return the new time."""
        self._now += dt.timedelta(**delta)
        return self._now


class InMemoryKeyProvider:
    """KEKs held in process memory; for tests and the simulator only."""

    def __init__(self) -> None:
        self._keks: dict[int, bytes] = {1: secrets.token_bytes(32)}

    @property
    def name(self) -> str:
        """Return ``in-memory``."""
        return "in-memory"

    def versions(self) -> Sequence[int]:
        """Return the KEK versions, ascending."""
        return sorted(self._keks)

    def current_version(self) -> int:
        """Return the highest KEK version."""
        return max(self._keks)

    def add_version(self) -> int:
        """Add a fresh KEK version."""
        version = self.current_version() + 1
        self._keks[version] = secrets.token_bytes(32)
        return version

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        """Wrap `key` under KEK `version`."""
        return aesgcm_wrap(self._kek(version), key, context)

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap a key wrapped by `wrap`."""
        return aesgcm_unwrap(self._kek(version), wrapped, context)

    def _kek(self, version: int) -> bytes:
        try:
            return self._keks[version]
        except KeyError:
            raise DecryptionFailed(f"KEK version {version} is unknown") from None
