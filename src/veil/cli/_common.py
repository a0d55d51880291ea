"""What every command shares: settings, opening the vault, turning errors into exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console

from veil.config import Settings
from veil.errors import VeilError
from veil.vault import Vault, open_vault

__all__ = ["console", "err_console", "fail_on_veil_errors", "load_settings", "vault_from_settings"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # paths in errors stay whole


def load_settings() -> Settings:
    """Read ``VEIL_*`` settings once, at the edge."""
    try:
        return Settings()
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] invalid VEIL_* setting: {exc}")
        raise typer.Exit(2) from None


@contextlib.contextmanager
def fail_on_veil_errors() -> Iterator[None]:
    """Print a Veil error as one clear line and exit with status 2 (nothing half-done)."""
    try:
        yield
    except VeilError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None


def vault_from_settings(settings: Settings) -> Vault:
    """Open the configured vault or exit with a clear message."""
    with fail_on_veil_errors():
        return open_vault(settings)
    raise AssertionError("unreachable")  # pragma: no cover
