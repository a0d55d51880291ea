"""`veil serve` runs the audit integrator as its own child process, and stops it with itself.

Real processes: `veil init` in a temporary home, `veil serve` on a free port,
requests over HTTP, checkpoints read back from the witness directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

VEIL = str(Path(sys.executable).with_name("veil"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[tuple[int, str]]:
    """Return (pid, command line) of the live processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(entry.name), command))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    env.update(
        {
            "VEIL_DATABASE_URL": f"sqlite:///{tmp_path / 'veil.db'}",
            "VEIL_KEY_FILE": str(tmp_path / "veil.key"),
            "VEIL_AUDIT_SIGNING_KEY": str(tmp_path / "audit.key"),
            "VEIL_AUDIT_WITNESS_DIR": str(tmp_path / "witness"),
            "VEIL_POLICY_WATCH_SECONDS": "0",
            "VEIL_WATCH_SWEEP_SECONDS": "0",
            "VEIL_NUMBERS_SWEEP_SECONDS": "0",
        }
    )
    subprocess.run([VEIL, "init"], env=env, check=True, capture_output=True, cwd=tmp_path)  # noqa: S603
    yield tmp_path, env


def _serve(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [VEIL, "serve", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, f"veil serve exited with {process.returncode}"
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _until(up, 60, "veil serve to answer /healthz")
    return process, url


def _integrators(server: subprocess.Popen[bytes]) -> list[int]:
    return [pid for pid, command in _children(server.pid) if "audit integrate" in command]


def _witnessed(home: Path) -> int:
    files = list((home / "witness").glob("*.jsonl"))
    return sum(1 for f in files for line in f.read_text().splitlines() if line.strip())


def test_serve_integrates_in_a_child_process_and_stops_it(
    home: tuple[Path, dict[str, str]],
) -> None:
    directory, env = home
    server, url = _serve(directory, env)
    try:
        _until(lambda: len(_integrators(server)) == 1, 30, "one integrator child")
        (child,) = _integrators(server)
        # Audited work: refused requests are audit events too.
        for _ in range(5):
            httpx.get(f"{url}/v1/orders/ord_{'a' * 26}", headers={"Authorization": "Bearer x"})
        _until(lambda: _witnessed(directory) >= 1, 30, "a witnessed checkpoint")
        assert _integrators(server) == [child]  # still the same child: it never died
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    _until(lambda: not _alive(child), 30, "the integrator child to stop with the server")


def test_an_orphaned_integrator_stops_by_itself(home: tuple[Path, dict[str, str]]) -> None:
    directory, env = home
    server, _ = _serve(directory, env)
    try:
        _until(lambda: len(_integrators(server)) == 1, 30, "one integrator child")
        (child,) = _integrators(server)
    finally:
        server.kill()  # no chance to stop its child
        server.wait(timeout=30)
    _until(lambda: not _alive(child), 30, "the orphaned integrator to stop")


def test_thread_mode_runs_no_child(home: tuple[Path, dict[str, str]]) -> None:
    directory, env = home
    server, url = _serve(directory, {**env, "VEIL_AUDIT_INTEGRATOR_MODE": "thread"})
    try:
        httpx.get(f"{url}/v1/orders/ord_{'a' * 26}", headers={"Authorization": "Bearer x"})
        _until(lambda: _witnessed(directory) >= 1, 30, "a checkpoint from the in-worker thread")
        assert _integrators(server) == []
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
