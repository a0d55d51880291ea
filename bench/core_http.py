"""Veil's GET /v1/orders/{id} (assigned rider, after pickup) against the 2018 design, over HTTP.

    .venv/bin/python bench/core_http.py [--orders 2000] [--duration 15] [--connections 8]

Both servers run the same way (uvicorn, one worker, SQLite in WAL mode, same
machine) and take the same load from `wrk` (Debian package) in a second
process, one after the other in the same run. The baseline is a plain FastAPI +
SQLAlchemy endpoint returning the same order from plaintext columns (no auth,
no policy, no encryption, no audit). Goals (issue 2): Veil throughput ≥ 0.7 ×
baseline, Veil p99 ≤ 25 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

from _setup import ADDRESS, fresh_vault, machine, picked_up_orders, seed_city
from plain_app import metadata, plain_orders
from sqlalchemy import create_engine, insert

from veil.audit import ensure_signing_key
from veil.crypto import InsecureKeyStorageWarning

RESULTS = Path("bench/results/http")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(port: int, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def lua_script(pairs: list[tuple[str, str]], path_prefix: str, with_key: bool) -> str:
    rows = ",\n".join(f'{{"{order}", "{key}"}}' for order, key in pairs)
    header = 'wrk.headers["Authorization"] = "Bearer " .. pair[2]' if with_key else ""
    return f"""
local pairs = {{
{rows}
}}
local n = 0
request = function()
  n = n + 1
  local pair = pairs[(n % #pairs) + 1]
  {header}
  return wrk.format("GET", "{path_prefix}" .. pair[1])
end
"""


def run_wrk(port: int, script: Path, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": pct("50"),
        "p90_ms": pct("90"),
        "p99_ms": pct("99"),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Serve `app` with uvicorn, one worker; ``veil`` is served by `veil serve` itself."""
    if app == "veil":
        command = [sys.executable, "-m", "veil.cli", "serve", "--host", "127.0.0.1", "--port"]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--factory", "--no-access-log", "--port"]
    command += [str(port), "--workers", "1"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=(RESULTS / f"server-{port}.log").open("wb"),
    )


def plain_database(order_ids: list[str]) -> Path:
    """Write the same orders, in plaintext columns, for the 2018-style endpoint."""
    plain_db = RESULTS / "plain.db"
    plain_db.unlink(missing_ok=True)
    plain_engine = create_engine(f"sqlite:///{plain_db}")
    metadata.create_all(plain_engine)
    with plain_engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        connection.execute(
            insert(plain_orders),
            [
                {
                    "id": order_id,
                    "state": "picked_up",
                    "name": "张三",
                    "phone": "+8613800138000",
                    "note": "放门口",
                    **{k: v for k, v in ADDRESS.as_dict().items() if k != "unit"},
                }
                for order_id in order_ids
            ],
        )
    plain_engine.dispose()
    return plain_db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--integrator",
        choices=["process", "thread", "off"],
        default="process",
        help="where `veil serve` runs the audit integrator (VEIL_AUDIT_INTEGRATOR_MODE), or off",
    )
    parser.add_argument(
        "--watch", choices=["on", "off"], default="on", help="Veil's watch (VEIL_WATCH_ENABLED)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    warnings.simplefilter("ignore", InsecureKeyStorageWarning)

    vault = fresh_vault(RESULTS / "veil")
    signing_key = RESULTS / "veil" / "audit-signing.key"
    signing_key.unlink(missing_ok=True)
    ensure_signing_key(signing_key, "bench.veil.local/audit")
    witness = RESULTS / "veil" / "witness"
    shutil.rmtree(witness, ignore_errors=True)
    city = seed_city(vault)
    targets = picked_up_orders(city, args.orders)
    vault.engine.dispose()

    plain_db = plain_database([order_id for _, _, order_id in targets])

    veil_script = RESULTS / "veil.lua"
    veil_script.write_text(lua_script([(o, k) for _, k, o in targets], "/v1/orders/", True))
    plain_script = RESULTS / "plain.lua"
    plain_script.write_text(lua_script([(o, "") for _, _, o in targets], "/plain/orders/", False))

    results: dict[str, dict[str, float]] = {}
    veil_env = {
        "VEIL_DATABASE_URL": f"sqlite:///{RESULTS / 'veil' / 'veil.db'}",
        "VEIL_KEY_FILE": str(RESULTS / "veil" / "veil.key"),
        "VEIL_AUDIT_SIGNING_KEY": str(signing_key),
        "VEIL_AUDIT_ORIGIN": "bench.veil.local/audit",
        "VEIL_AUDIT_WITNESS_DIR": str(witness),
        "VEIL_AUDIT_INTEGRATOR_MODE": "thread" if args.integrator == "thread" else "process",
        "VEIL_AUDIT_INTEGRATOR": "false" if args.integrator == "off" else "true",
        "VEIL_WATCH_ENABLED": "true" if args.watch == "on" else "false",
        "PYTHONWARNINGS": "ignore",
        # Each benchmark rider reads hundreds of orders a minute, which the watch
        # rightly calls a bulk read: limits far above the load and alerts without
        # suspension keep rate limiting and detection running, and measured.
        "VEIL_RATE_LIMITS": json.dumps(
            {scope: "100000000/minute" for scope in ("principal", "api_key", "client_ip", "views")}
        ),
        "VEIL_WATCH_RESPONSES": json.dumps({"bulk_read": "record", "harvesting": "record"}),
    }
    plain_env = {"PLAIN_DATABASE_URL": f"sqlite:///{plain_db}", "PYTHONPATH": "bench"}
    for name, app, env, script in (
        ("plain (2018 design)", "plain_app:app_from_env", plain_env, plain_script),
        ("veil", "veil", veil_env, veil_script),
    ):
        port = free_port()
        process = serve(app, port, env)
        try:
            try:
                wait_up(port)
            except RuntimeError:
                sys.exit((RESULTS / f"server-{port}.log").read_text()[-2000:])
            run_wrk(port, script, 3, args.connections)  # warm-up
            results[name] = run_wrk(port, script, args.duration, args.connections)
        finally:
            process.terminate()
            process.wait()

    veil, plain = results["veil"], results["plain (2018 design)"]
    print(f"machine: {machine()}")
    print(
        f"load: wrk -t1 -c{args.connections} -d{args.duration}s, uvicorn 1 worker, SQLite WAL;"
        f" audit integrator: {args.integrator}; watch: {args.watch}"
    )
    print("| endpoint | requests/s | p50 ms | p90 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['non_2xx']:.0f} |"
        )
    print(
        f"ratio veil/plain throughput: {veil['rps'] / plain['rps']:.2f} (goal ≥ 0.70); "
        f"veil p99 {veil['p99_ms']:.1f} ms (goal ≤ 25 ms)"
    )
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
