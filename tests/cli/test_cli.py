"""The ``veil`` command line, run in-process against files in a temporary directory."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import Result

from tests.cli.conftest import Veil
from veil.cli import app
from veil.config import Settings
from veil.crypto import InsecureKeyStorageWarning, LocalKeyFile
from veil.errors import AuthenticationFailed
from veil.store import current_revision, head_revision, make_engine
from veil.vault import Caller, Vault, open_vault


def _ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _settings(home: Path, key_file: Path | None = None) -> Settings:
    return Settings(
        database_url=f"sqlite:///{home / 'var' / 'veil.db'}",
        key_file=key_file or home / "var" / "veil.key",
    )


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


# ---------------------------------------------------------------- init


def test_init_creates_a_private_key_file_and_the_schema(veil: Veil, home: Path) -> None:
    output = _ok(veil("init"))
    key_file = home / "var" / "veil.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"created key file {key_file}" in output
    assert "registered KEK version(s) 1" in output
    engine = make_engine(f"sqlite:///{home / 'var' / 'veil.db'}")
    assert current_revision(engine) == head_revision()
    engine.dispose()
    # Running it again changes nothing and says so.
    key_before = key_file.read_bytes()
    again = _ok(veil("init"))
    assert "created key file" not in again
    assert "registered KEK" not in again
    assert key_file.read_bytes() == key_before


# ---------------------------------------------------------------- demo seed


def test_demo_seed_prints_keys_and_three_working_curl_lines(veil: Veil, home: Path) -> None:
    from tests.api._http import TestClient
    from veil.api import create_app

    _ok(veil("init"))
    keys_file = home / "demo-keys.json"
    output = _ok(veil("demo", "seed", "--keys-file", str(keys_file)))
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    document = json.loads(keys_file.read_text(encoding="utf-8"))
    for label, (principal_id, role, api_key) in document["keys"].items():
        assert re.search(rf"{label}\s+{role}\s+{principal_id}\s+{api_key}", output), label
    curls = re.findall(
        r"^curl -s -H 'Authorization: Bearer (veil_\S+)' (http://127\.0\.0\.1:8080)(/v1/orders/ord_\w+)$",
        output,
        flags=re.MULTILINE,
    )
    assert len(curls) == 3
    # The printed lines work: same requests, same vault, through the real app.
    with pytest.warns(InsecureKeyStorageWarning):
        vault = open_vault(_settings(home))
    with TestClient(create_app(vault)) as client:
        statuses = [
            client.get(path, headers={"Authorization": f"Bearer {key}"}) for key, _, path in curls
        ]
    vault.engine.dispose()
    assert [r.status_code for r in statuses] == [200, 200, 403]
    assert statuses[0].json()["address"]["room"] == "1203"
    assert statuses[1].json()["customer"] == {"name": "许*"}
    assert statuses[2].json()["error"]["message"] == "delivery window closed"
    # A second seed does not seed twice; it prints the same keys.
    again = _ok(veil("demo", "seed", "--keys-file", str(keys_file)))
    assert "already seeded" in again
    assert re.findall(r"veil_\S+", again) == re.findall(r"veil_\S+", output)


# ---------------------------------------------------------------- principals


def test_principals_create_list_disable(veil: Veil, home: Path) -> None:
    _ok(veil("init"))
    created = _ok(veil("principals", "create", "rider", "rider-17"))
    principal_id = re.search(r"principal (prn_[a-z2-7]{26}) \(rider, rider-17\)", created)
    api_key = re.search(r"API key: (veil_\S+)", created)
    assert principal_id and api_key
    assert "shown once" in created

    listed = _ok(veil("principals", "list"))
    assert re.search(rf"{principal_id[1]}\s.*rider\s.*rider-17\s.*active", listed)
    assert api_key[1] not in listed  # keys are never listed

    disabled = _ok(veil("principals", "disable", principal_id[1], "--reason", "left the fleet"))
    assert f"disabled {principal_id[1]}" in disabled
    assert re.search(rf"{principal_id[1]}\s.*disabled", _ok(veil("principals", "list")))
    vault = open_vault(_settings(home))
    with pytest.raises(AuthenticationFailed):
        vault.authenticate(api_key[1])
    vault.engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("principals", "create", "wizard", "x"), "role must be one of"),
        (("principals", "create", "customer", "c-1"), "needs the subject id"),
        (("principals", "create", "rider", "x" * 65), "label must be 1 to 64"),
        (("principals", "disable", "prn_" + "a" * 26), "no such principal"),
    ],
)
def test_principal_mistakes_exit_non_zero_with_a_message(
    veil: Veil, args: tuple[str, ...], message: str
) -> None:
    _ok(veil("init"))
    result = veil(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- keys


def test_keys_rotate_rewrap_status(veil: Veil, home: Path) -> None:
    _ok(veil("init"))
    _ok(veil("demo", "seed", "--keys-file", str(home / "demo.json")))
    status = _ok(veil("keys", "status"))
    assert "provider: local-file, current KEK version 1" in status
    assert re.search(r"│\s*1\s*│\s*5\s*│", status)
    assert "erased subjects (crypto-shredded): 0" in status

    rotated = _ok(veil("keys", "rotate"))
    assert "KEK version 2 added and registered" in rotated
    keks = json.loads((home / "var" / "veil.key").read_text(encoding="utf-8"))["keks"]
    assert sorted(keks) == ["1", "2"]
    assert stat.S_IMODE((home / "var" / "veil.key").stat().st_mode) == 0o600
    status = _ok(veil("keys", "status"))
    assert "current KEK version 2" in status
    assert re.search(r"│\s*1\s*│\s*5\s*│", status)
    assert re.search(r"│\s*2\s*│\s*0\s*│", status)

    rewrapped = _ok(veil("keys", "rewrap", "--batch-size", "2"))
    assert "rewrapped 5 data key(s) under KEK version 2" in rewrapped
    status = _ok(veil("keys", "status"))
    assert re.search(r"│\s*1\s*│\s*0\s*│", status)
    assert re.search(r"│\s*2\s*│\s*5\s*│", status)
    # The demo still reads after the rotation.
    vault = open_vault(_settings(home))
    assert len(vault.lookup_subjects_by_phone(_service(vault), "13800138001")) == 1
    vault.engine.dispose()


def _service(vault: Vault) -> Caller:
    principal_id, _ = vault.create_principal("service", "cli-test")
    return Caller(principal_id, "service")


# ---------------------------------------------------------------- wrong or missing keys


@pytest.mark.parametrize(
    "command",
    [
        ("principals", "list"),
        ("principals", "create", "rider", "r-9"),
        ("keys", "status"),
        ("keys", "rotate"),
        ("keys", "rewrap"),
        ("demo", "seed", "--keys-file", "demo.json"),
        ("serve", "--port", "1"),
    ],
)
def test_a_missing_or_wrong_key_file_stops_every_command_and_writes_nothing(
    veil: Veil, home: Path, command: tuple[str, ...]
) -> None:
    _ok(veil("init"))
    database = home / "var" / "veil.db"
    before = _fingerprint(database)
    other = home / "other.key"
    LocalKeyFile.create(other)
    other_before = other.read_bytes()
    for key_file, message in [
        (home / "absent.key", "does not exist"),
        (other, "does not hold KEK version 1"),
    ]:
        result = veil(*command, key_file=key_file)
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output
        assert _fingerprint(database) == before
    assert not (home / "absent.key").exists()
    assert other.read_bytes() == other_before  # `keys rotate` did not add a version to it
    assert not (home / "demo.json").exists()


def test_init_refuses_a_database_that_belongs_to_another_key(veil: Veil, home: Path) -> None:
    _ok(veil("init"))
    database = home / "var" / "veil.db"
    before = _fingerprint(database)
    other = home / "other.key"
    LocalKeyFile.create(other)
    result = veil("init", key_file=other)
    assert result.exit_code == 2
    assert "does not hold KEK version 1" in result.output
    assert _fingerprint(database) == before


def test_commands_before_init_say_to_run_init_and_create_nothing(veil: Veil, home: Path) -> None:
    LocalKeyFile.create(home / "var" / "veil.key")
    result = veil("principals", "list")
    assert result.exit_code == 2
    assert "veil init" in result.output
    assert not (home / "var" / "veil.db").exists()


# ---------------------------------------------------------------- help


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.extend(_commands(command, (*prefix, name)))
        else:
            found.append((*prefix, name))
    return found


# Typer ships its own copy of Click, so commands are told apart by shape, not class.
ROOT: Any = typer.main.get_command(app)
COMMANDS = _commands(ROOT)


def test_every_command_is_covered() -> None:
    assert {" ".join(c) for c in COMMANDS} >= {
        "",
        "init",
        "serve",
        "demo",
        "demo seed",
        "principals",
        "principals create",
        "principals list",
        "principals disable",
        "keys",
        "keys rotate",
        "keys rewrap",
        "keys status",
    }


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "veil")
def test_help_of_every_command_exits_0_and_explains(veil: Veil, command: tuple[str, ...]) -> None:
    output = _ok(veil(*command, "--help"))
    assert "Usage:" in output
    target = ROOT
    for name in command:
        target = target.commands[name]
    summary = (target.help or "").strip().splitlines()[0]
    assert len(summary) > 15
    # Rich may re-wrap the text; compare words.
    assert summary.split()[:4] == output[output.index(summary.split()[0]) :].split()[:4]
    for param in target.params:
        if param.param_type_name == "option" and param.help:
            # Hidden options (plumbing between Veil's own processes) stay out of --help.
            assert (param.opts[0] in output) != getattr(param, "hidden", False), param.opts[0]
