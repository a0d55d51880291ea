"""Real `veil` processes for the end-to-end tests: a home set up by `veil init`, `veil serve`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

VEIL = str(Path(sys.executable).with_name("veil"))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def init_home(home: Path, settings: dict[str, str]) -> dict[str, str]:
    """Run `veil init` in `home` with its files there; return the environment for `veil serve`.

    The caller's VEIL_* variables are dropped; `settings` adds to (or replaces)
    the home's own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    env.update(
        {
            "VEIL_DATABASE_URL": f"sqlite:///{home / 'veil.db'}",
            "VEIL_KEY_FILE": str(home / "veil.key"),
            "VEIL_AUDIT_SIGNING_KEY": str(home / "audit.key"),
            "VEIL_AUDIT_WITNESS_DIR": str(home / "witness"),
            "VEIL_POLICY_WATCH_SECONDS": "0",
            "VEIL_WATCH_SWEEP_SECONDS": "0",
            **settings,
        }
    )
    subprocess.run([VEIL, "init"], env=env, check=True, capture_output=True, cwd=home)  # noqa: S603
    return env


def start_serve(home: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start `veil serve` on `port` (without waiting for it to answer)."""
    return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [VEIL, "serve", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until `url` answers /healthz; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"veil serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")
