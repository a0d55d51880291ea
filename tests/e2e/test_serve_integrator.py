"""`veil serve` runs the audit integrator as its own child process, and stops it with itself.

Real processes: `veil init` in a temporary home, `veil serve` on a free port,
requests over HTTP, checkpoints read back from the witness directory.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e._serve import free_port, init_home, start_serve, wait_up


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
    yield tmp_path, init_home(tmp_path, {"VEIL_NUMBERS_SWEEP_SECONDS": "0"})


def _serve(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = start_serve(home, env, port)
    url = f"http://127.0.0.1:{port}"
    wait_up(url, process)
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
