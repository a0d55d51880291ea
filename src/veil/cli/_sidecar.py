"""The audit integrator as a child process of `veil serve`.

Integration is CPU work in Python (canonical bytes, hashes, tree nodes). On a
thread inside a worker it shares the interpreter lock with the requests and
shows up in their tail latency; as its own process it runs on another core and
meets the workers only at the database (SQLite's write lock, held a few
milliseconds per batch). The log's lock still guarantees one integrator.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

__all__ = ["IntegratorProcess"]

log = logging.getLogger("veil.audit")

_RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


class IntegratorProcess:
    """Run ``veil audit integrate`` as a child, restart it if it dies, stop it with the server."""

    def __init__(self) -> None:
        self._halt = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """Return the running child's process id, if any."""
        with self._lock:
            return self._child.pid if self._child is not None else None

    def start(self) -> IntegratorProcess:
        """Start the child and the thread that keeps it running."""
        self._spawn()
        self._thread = threading.Thread(target=self._supervise, name="veil-integrator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the child to stop (it finishes its round and releases the log's lock)."""
        self._halt.set()
        with self._lock:
            child = self._child
        if child is None:
            return
        child.terminate()
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("audit integrator did not stop in %.0f s; killing it", timeout)
            child.kill()
            child.wait()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _spawn(self) -> None:
        command = [sys.executable, "-m", "veil.cli", "audit", "integrate"]
        command += ["--parent-pid", str(os.getpid())]
        with self._lock:
            # Under the lock, so that `stop` (which sets the flag first) never
            # misses a child started while it was stopping.
            if self._halt.is_set():
                return
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - own CLI
            self._child = child
        log.info("audit integrator started (pid %d)", child.pid)

    def _supervise(self) -> None:
        failures = 0
        while not self._halt.is_set():
            with self._lock:
                child = self._child
            if child is None:
                return
            code = child.wait()
            if self._halt.is_set():
                return
            delay = _RESTART_DELAYS[min(failures, len(_RESTART_DELAYS) - 1)]
            failures += 1
            log.error("audit integrator exited with %d; restarting in %.0f s", code, delay)
            if self._halt.wait(delay):
                return
            self._spawn()
