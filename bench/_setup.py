"""Shared set-up for the benchmarks: a fresh vault on SQLite with a seeded city."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from veil.config import Settings
from veil.crypto import LocalKeyFile
from veil.vault import Address, Caller, OrderSpec, Vault, init_vault, open_vault

ADDRESS = Address(
    "北京市", "北京市", "朝阳区", "建国路88号", "华贸酒店", "", "12层", "1203", "前台"
)


@dataclass
class BenchCity:
    vault: Vault
    service: Caller
    merchant: Caller
    riders: list[Caller]
    rider_keys: list[str]
    subjects: list[str]


def fresh_vault(directory: Path) -> Vault:
    """Initialise and open a vault with a local key file in `directory` (SQLite, WAL)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("veil.db", "veil.db-wal", "veil.db-shm", "veil.key"):
        (directory / name).unlink(missing_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{directory / 'veil.db'}", key_file=directory / "veil.key"
    )
    init_vault(settings)
    return open_vault(settings)


def seed_city(vault: Vault, *, subjects: int = 200, riders: int = 20) -> BenchCity:
    service_id, _ = vault.create_principal("service", "bench-backend")
    service = Caller(service_id, "service")
    merchant_id, _ = vault.create_principal("merchant", "bench-merchant")
    rider_callers, rider_keys = [], []
    for n in range(riders):
        rider_id, key = vault.create_principal("rider", f"bench-rider-{n}")
        rider_callers.append(Caller(rider_id, "rider"))
        rider_keys.append(key)
    subject_ids = [
        vault.create_subject(service, name=f"张{n}", phones=[f"+86138{n:08d}"], addresses=[ADDRESS])
        for n in range(subjects)
    ]
    return BenchCity(
        vault, service, Caller(merchant_id, "merchant"), rider_callers, rider_keys, subject_ids
    )


def picked_up_orders(city: BenchCity, count: int) -> list[tuple[Caller, str, str]]:
    """Create `count` orders, each assigned and picked up; return (rider, rider key, order)."""
    specs = [
        OrderSpec(city.subjects[n % len(city.subjects)], city.merchant.principal_id, note="放门口")
        for n in range(count)
    ]
    out = []
    for start in range(0, count, 500):
        ids = city.vault.create_orders(city.service, specs[start : start + 500])
        for offset, order_id in enumerate(ids):
            n = (start + offset) % len(city.riders)
            rider = city.riders[n]
            city.vault.post_order_event(city.service, order_id, "accept")
            city.vault.post_order_event(
                city.service, order_id, "assign", rider_id=rider.principal_id
            )
            city.vault.post_order_event(city.service, order_id, "pickup")
            out.append((rider, city.rider_keys[n], order_id))
    return out


def machine() -> str:
    """Describe the machine the benchmark ran on."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    sqlite = subprocess.run(
        ["python3", "-c", "import sqlite3; print(sqlite3.sqlite_version)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, SQLite {sqlite}"
    )


_ = LocalKeyFile  # re-exported for bench scripts that open key files directly
