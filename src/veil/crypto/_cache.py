"""An in-process cache of unwrapped data keys, bounded in size and in time.

Unwrapping costs a KEK operation (microseconds locally, milliseconds on an HSM);
the cache keeps hot subjects' keys in memory for a short TTL. Erasing a subject
evicts its key at once.
"""

from __future__ import annotations

import threading

from cachetools import TTLCache

from veil.crypto._envelope import DataKey

__all__ = ["DataKeyCache"]


class DataKeyCache:
    """Thread-safe TTL + LRU-bounded map from subject id to its `DataKey`."""

    def __init__(self, *, max_entries: int, ttl_seconds: float) -> None:
        self._entries: TTLCache[str, DataKey] = TTLCache(maxsize=max_entries, ttl=ttl_seconds)
        self._lock = threading.Lock()

    def get(self, subject_id: str) -> DataKey | None:
        """Return the cached key of `subject_id`, or None."""
        with self._lock:
            return self._entries.get(subject_id)

    def put(self, subject_id: str, key: DataKey) -> None:
        """Remember `key` for `subject_id` until the TTL runs out or space is needed."""
        with self._lock:
            self._entries[subject_id] = key

    def evict(self, subject_id: str) -> None:
        """Forget `subject_id`'s key (used by erase)."""
        with self._lock:
            self._entries.pop(subject_id, None)

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
