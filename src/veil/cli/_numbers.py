"""``veil numbers``: the virtual-number pool, its pressure, bindings and leak signals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.cli._common import (
    console,
    err_console,
    fail_on_veil_errors,
    load_settings,
    vault_from_settings,
)
from veil.errors import InvalidInput
from veil.numbers import parse_pool_csv
from veil.vault import import_numbers, numbers_status, register_party_phone, sweep_numbers

__all__ = ["numbers_app"]

numbers_app = typer.Typer(
    help=(
        "Privacy numbers: riders and merchants reach customers through virtual numbers that"
        " stop working when the delivery ends.\n\n"
        "Import a city's pool (`veil numbers import`), register riders' own phones"
        " (`veil numbers phone`, or `veil principals create rider … --phone`), watch the pool"
        " (`veil numbers status`)."
    ),
    no_args_is_help=True,
)


@numbers_app.command("import")
def numbers_import(
    csv_file: Annotated[
        Path, typer.Argument(help="CSV of `number,city` lines (header optional).", exists=True)
    ],
    city: Annotated[
        str | None, typer.Option(help="City for every number, when the file has no city column.")
    ] = None,
) -> None:
    """Add virtual numbers to their cities' pools (all or none; numbers already there are kept)."""
    settings = load_settings()
    vault = vault_from_settings(settings)
    with fail_on_veil_errors():
        try:
            text = csv_file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(f"{csv_file} is not UTF-8 text") from None
        entries = parse_pool_csv(text, default_city=city, region=settings.default_region)
        report = import_numbers(vault, entries)
    console.print(
        f"added [bold]{report.added}[/] number(s); {report.already_present} already in the pool"
    )
    for name, count in sorted(report.by_city.items()):
        console.print(f"  {name}: +{count}")


@numbers_app.command("phone")
def numbers_phone(
    principal_id: Annotated[str, typer.Argument(help="The rider's or merchant's prn_… id.")],
    phone: Annotated[str, typer.Argument(help="Their own phone (the B side of every binding).")],
) -> None:
    """Register (or replace) a rider's or merchant's own phone; it is stored sealed, never shown."""
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors():
        register_party_phone(vault, principal_id, phone)
    console.print(f"phone registered for {principal_id}")


@numbers_app.command("status")
def numbers_status_command() -> None:
    """Pool usage per city (numbers, in use, live bindings, pressure), leak signals today."""
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors():
        status = numbers_status(vault)
    table = Table("city", "numbers", "in use", "live bindings", "capacity", "pressure")
    for usage in status.cities:
        table.add_row(
            usage.city,
            str(usage.numbers),
            str(usage.numbers_in_use),
            str(usage.live_bindings),
            str(usage.capacity),
            f"{usage.pressure:.1%}",
        )
    console.print(f"provider: [bold]{status.provider}[/]")
    console.print(table)
    console.print(f"live bindings: {status.live_bindings}")
    console.print(f"orders on in-app contact (no number issued): {status.fallbacks_live}")
    console.print(f"leak signals today (UTC): [bold]{status.leak_signals_today}[/]")
    if status.provider_pending:
        err_console.print(
            f"[yellow]{status.provider_pending} unbind(s) not yet confirmed by the provider[/]"
        )


@numbers_app.command("sweep")
def numbers_sweep() -> None:
    """Release expired bindings now and retry unbinds the provider has not confirmed."""
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors():
        report = sweep_numbers(vault)
    console.print(
        f"released {report.expired} expired binding(s); retried {report.provider_retried}"
        f" provider unbind(s), {report.provider_failed} still failing"
    )
