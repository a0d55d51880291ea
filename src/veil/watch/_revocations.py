"""Telling every Veil process that a principal was suspended, so cached keys stop at once.

Each process caches API-key lookups for a moment (``VEIL_API_KEY_CACHE_SECONDS``).
A suspension changes the database, then announces the principal id: locally by
calling the registered callbacks (the vault drops its cache), and, with Redis,
on a pub/sub channel every process listens to. The cache's short lifetime is
the backstop if a message is lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Revocations"]

log = logging.getLogger("veil.watch")


class Revocations:
    """Announce suspensions to this process and, through Redis, to every other."""

    def __init__(self, client: Any | None = None, *, namespace: str = "veil") -> None:
        self._client = client
        self.channel = f"{namespace}:revocations"
        self._callbacks: list[Callable[[str], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def subscribe(self, callback: Callable[[str], None]) -> None:
        """Call `callback(principal_id)` whenever any process announces a suspension."""
        self._callbacks.append(callback)

    def announce(self, principal_id: str) -> None:
        """Tell this process now, and every other through Redis."""
        self._deliver(principal_id)
        if self._client is not None:
            try:
                self._client.publish(self.channel, principal_id)
            except Exception:  # The database change stands; caches expire on their own.
                log.warning(
                    "could not publish a suspension; other processes see it once their"
                    " API-key cache entries expire"
                )

    def start(self) -> None:
        """Listen for other processes' announcements (with Redis; idempotent)."""
        if self._client is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._listen, name="veil-revocations", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5)

    def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _deliver(self, principal_id: str) -> None:
        for callback in self._callbacks:
            try:
                callback(principal_id)
            except Exception:  # One bad listener must not keep the others from hearing it.
                log.exception("a revocation listener failed")

    def _listen(self) -> None:
        assert self._client is not None  # noqa: S101 - start() checked it; narrows for mypy
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._ready.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message and message.get("type") == "message":
                        data = message["data"]
                        self._deliver(data.decode() if isinstance(data, bytes) else str(data))
            except Exception:  # Redis restarted: resubscribe after a pause.
                log.warning("revocation channel lost; resubscribing")
                self._stop.wait(1.0)
            finally:
                # Closing a broken connection may fail too; there is nothing left to do.
                with contextlib.suppress(Exception):
                    pubsub.close()
