"""The demo city's PII appears nowhere in the raw SQLite files or a PostgreSQL dump.

Seeds the demo city through the vault on each backend, then greps the bytes an
attacker with a copy of the database would hold: the SQLite file with its WAL
and shared-memory files, or `pg_dump`'s output. The audit rows are checked the
same way, since they are the table most tempting to fill with "context".
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests._require import require
from veil.crypto import normalize_phone
from veil.errors import VeilError
from veil.policy import mask_name, mask_phone
from veil.redact import default_redactor
from veil.sim import DemoCity, seed_demo

# The demo's invented customers, read from the module that seeds them so this
# test follows any change to the demo data.
from veil.sim._demo import _CUSTOMERS as DEMO_CUSTOMERS
from veil.store import AUDIT_EVENTS
from veil.vault import Caller, Vault

NOTES = ["到了打我电话，放前台就行", "3号楼2单元，门口有狗别怕"]


def _phone_forms(raw: str) -> Iterator[str]:
    e164 = normalize_phone(raw)
    national = e164.removeprefix("+86")
    yield raw
    yield e164
    yield national
    yield f"{national[:3]} {national[3:7]} {national[7:]}"
    yield f"{national[:3]}-{national[3:7]}-{national[7:]}"
    yield f"86{national}"
    yield mask_phone(e164)


def _needles() -> dict[str, bytes]:
    """Every plaintext that must not be stored, as UTF-8 bytes, keyed by a label."""
    needles: dict[str, bytes] = {}
    for name, phones, address in DEMO_CUSTOMERS:
        needles[f"name {name}"] = name.encode()
        needles[f"masked name {name}"] = mask_name(name).encode()
        for raw in phones:
            for form in _phone_forms(raw):
                needles[f"phone {form}"] = form.encode()
        for part in ("street", "building", "floor", "unit", "landmark"):
            value = getattr(address, part)
            if value and not value.isascii():
                needles[f"{part} {value}"] = value.encode()
        room = address.room
        # Rooms are short digit strings; search them the ways plaintext would hold them.
        for form in (f'"{room}"', f'"room": "{room}"', f"{room}室", f"{address.floor}{room}"):
            needles[f"room {form}"] = form.encode()
    for note in NOTES:
        # The redacted copy riders read is stored in clear by design; what must
        # not be anywhere is the original of a note that had PII, or its PII.
        findings = default_redactor().redact(note).findings
        if findings:
            needles[f"note {note}"] = note.encode()
        for finding in findings:
            needles[f"note PII {finding.entity_type}"] = note[finding.start : finding.end].encode()
    return needles


NEEDLES = _needles()


def _rooms() -> list[str]:
    return sorted({address.room for _, _, address in DEMO_CUSTOMERS})


def _assert_clean(haystack: bytes, where: str, *, binary: bool = False) -> None:
    # In binary files (SQLite pages full of ciphertext) a 4-byte needle could
    # match random bytes about once in a few thousand runs; there only needles
    # of 5 bytes or more are searched. Text (a dump, audit rows) gets them all.
    needles = {k: v for k, v in NEEDLES.items() if len(v) >= 5 or not binary}
    found = [label for label, needle in needles.items() if needle in haystack]
    assert not found, f"plaintext in {where}: {found}"
    # A bare room number counts only where it stands alone, not inside longer
    # digit runs (timestamps) or hex text (pg_dump writes bytea as hex).
    for room in _rooms():
        if len(room) >= 4:
            pattern = rb"(?<![0-9A-Za-z])" + room.encode() + rb"(?![0-9A-Za-z])"
            assert not re.search(pattern, haystack), f"room {room} in {where}"


@pytest.fixture
def demo(vault: Vault) -> DemoCity:
    city = seed_demo(vault)
    assert len(city.subjects) == len(DEMO_CUSTOMERS)
    return city


def test_the_needles_are_real() -> None:
    # Guard against a vacuous grep: each needle is a non-trivial byte string,
    # and the plaintext forms really come from the demo data.
    assert len(NEEDLES) > 40
    assert NEEDLES["name 许昕"] == "许昕".encode()
    assert NEEDLES["phone 13800138001"] == b"13800138001"
    assert all(len(needle) >= 4 for needle in NEEDLES.values())


def _database_bytes(vault: Vault, db_url: str) -> list[tuple[str, bytes]]:
    """What a thief with a copy of the database holds: files, or a dump."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        database = Path(str(url.database))
        files = sorted(database.parent.glob(database.name + "*"))
        assert database in files
        # While the engine is open the newest pages may live only in the WAL.
        copies = [(path.name, path.read_bytes()) for path in files]
        vault.engine.dispose()  # checkpoints the WAL into the main file
        copies.append((f"{database.name} after checkpoint", database.read_bytes()))
        return copies
    pg_dump = shutil.which("pg_dump")
    require(pg_dump is not None, "pg_dump (apt-get install postgresql-client)")
    assert pg_dump is not None
    command = [pg_dump, "-h", url.host or "127.0.0.1", "-U", url.username or "postgres"]
    dump = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        [*command, str(url.database)], capture_output=True, timeout=60, check=True
    ).stdout
    assert b"COPY public.orders" in dump
    return [("pg_dump", dump)]


def test_no_demo_pii_in_the_database_bytes(vault: Vault, demo: DemoCity, db_url: str) -> None:
    copies = _database_bytes(vault, db_url)
    everything = b"".join(data for _, data in copies)
    # The seeded rows are in the bytes searched (so a clean grep means something).
    for order_id in demo.orders.values():
        assert order_id.encode() in everything
    for where, data in copies:
        _assert_clean(data, where, binary=where != "pg_dump")


def test_the_grep_would_catch_a_plaintext_leak(vault: Vault, demo: DemoCity, db_url: str) -> None:
    # A positive control: put one needle in a plaintext column (a principal's
    # label) and check that the same grep, over the same bytes, finds it.
    vault.create_principal("rider", "rider 13800138004")
    copies = _database_bytes(vault, db_url)
    with pytest.raises(AssertionError, match="phone 13800138004"):
        for where, data in copies:
            _assert_clean(data, where, binary=where != "pg_dump")


def test_no_demo_pii_in_audit_rows(vault: Vault, demo: DemoCity) -> None:
    # Exercise reads too, so that view and denial events are among the rows.
    for label in ("rider-1", "merchant-jiaozi", "customer-xu", "rider-3"):
        principal_id, role, _ = demo.keys[label]
        caller = Caller(principal_id, role, demo.subjects[0] if role == "customer" else None)
        for order_id in demo.orders.values():
            with contextlib.suppress(VeilError):
                vault.view_order(caller, order_id)
    with vault.engine.connect() as connection:
        rows = connection.execute(select(AUDIT_EVENTS)).all()
    assert len(rows) > 30
    tags = {row.tag for row in rows}
    assert {"vault:order:viewed", "vault:order:view_denied", "vault:subject:created"} <= tags
    text = "\n".join(" ".join(str(value) for value in row) for row in rows).encode()
    _assert_clean(text, "audit_events")
