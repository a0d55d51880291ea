"""Fixtures for CLI tests: a `veil` runner whose settings point into a temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from veil.cli import app

Veil = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no .env and no var/, so nothing leaks in from the repo."""
    monkeypatch.chdir(tmp_path)
    for name in ("VEIL_DATABASE_URL", "VEIL_KEY_FILE", "VEIL_KEY_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def veil(home: Path) -> Veil:
    """Run ``veil ARGS...`` with VEIL_DATABASE_URL and VEIL_KEY_FILE under `home`."""
    runner = CliRunner()

    def run(*args: str, key_file: Path | None = None, database: Path | None = None) -> Result:
        env = {
            "VEIL_DATABASE_URL": f"sqlite:///{database or home / 'var' / 'veil.db'}",
            "VEIL_KEY_FILE": str(key_file or home / "var" / "veil.key"),
            "COLUMNS": "200",
        }
        return runner.invoke(app, list(args), env=env)

    return run
