"""``veil`` commands: init, serve, demo, principals, keys."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from veil.audit import ensure_signing_key, public_key_path
from veil.cli._audit import audit_app
from veil.cli._common import (
    console,
    err_console,
    fail_on_veil_errors,
    load_settings,
    vault_from_settings,
)
from veil.cli._numbers import numbers_app
from veil.cli._redact import redact_command
from veil.cli._sidecar import IntegratorProcess
from veil.cli._staff import policy_app, tickets_app
from veil.cli._watch import add_principal_commands, alerts_app, sim_app
from veil.crypto import normalize_phone
from veil.errors import InvalidInput
from veil.vault import (
    ROLES,
    init_vault,
    integrator_from_settings,
    key_status,
    register_party_phone,
    rewrap_all,
)

__all__ = ["app", "main"]

app = typer.Typer(
    help=(
        "Veil: a privacy vault and leak-accountability service for delivery platforms.\n\n"
        "Configuration comes from VEIL_* environment variables (see the README).\n"
        "Start with `veil init`, then `veil demo seed` and `veil serve`."
    ),
    no_args_is_help=True,
    add_completion=False,
)
principals_app = typer.Typer(help="Create, list and disable API principals.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Key-encryption keys: status, rotation, online rewrap.", no_args_is_help=True
)
demo_app = typer.Typer(help="The demo city used by `make run`.", no_args_is_help=True)
app.add_typer(principals_app, name="principals")
app.add_typer(keys_app, name="keys")
app.add_typer(demo_app, name="demo")
app.add_typer(tickets_app, name="tickets")
app.add_typer(policy_app, name="policy")
app.add_typer(numbers_app, name="numbers")
app.add_typer(audit_app, name="audit")
app.add_typer(alerts_app, name="alerts")
app.add_typer(sim_app, name="sim")
app.command("redact")(redact_command)
add_principal_commands(principals_app)


@app.command()
def init() -> None:
    """Create the key file (if local), the database schema and the first keys.

    Safe to run again: it migrates the schema and registers new KEK versions,
    and refuses to touch a database whose keys the configured provider cannot open.
    """
    settings = load_settings()
    with fail_on_veil_errors():
        report = init_vault(settings)
    if report.created_key_file:
        console.print(f"created key file [bold]{settings.key_file}[/] (mode 0600)")
    console.print(f"database schema at revision [bold]{report.migrated_to}[/]")
    if report.registered_kek_versions:
        versions = ", ".join(map(str, report.registered_kek_versions))
        console.print(f"registered KEK version(s) {versions}")
    with fail_on_veil_errors():
        if ensure_signing_key(settings.audit_signing_key, settings.audit_origin):
            console.print(
                f"created audit signing key [bold]{settings.audit_signing_key}[/] (mode 0600);"
                f" public key {public_key_path(settings.audit_signing_key)}"
            )
    console.print(
        "[green]ready.[/] Next: `veil demo seed` or `veil principals create service backend`"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default VEIL_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default VEIL_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default VEIL_WORKERS).")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs), with the audit integrator beside it.

    The integrator (VEIL_AUDIT_INTEGRATOR) runs as its own child process by
    default (VEIL_AUDIT_INTEGRATOR_MODE=process): it hashes every audit event
    into the Merkle tree and signs checkpoints on another core, so it never
    takes the interpreter from a request. It stops when the server stops.
    """
    import uvicorn

    settings = load_settings()
    # Open once here so that a bad key file or an uninitialised database fails
    # with a clear message before the server starts.
    vault = vault_from_settings(settings)
    if settings.audit_integrator:
        with fail_on_veil_errors():
            integrator_from_settings(settings, vault.engine)
    vault.engine.dispose()
    sidecar = (
        IntegratorProcess().start()
        if settings.audit_integrator and settings.audit_integrator_mode == "process"
        else None
    )
    try:
        uvicorn.run(
            "veil.api._serve:app_from_settings",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers or settings.workers,
            log_level="info",
            access_log=False,
        )
    finally:
        if sidecar is not None:
            sidecar.stop()


@principals_app.command("create")
def principals_create(
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}.")],
    label: Annotated[
        str, typer.Argument(help="A label for operators, e.g. rider-17 (not a real name).")
    ],
    subject: Annotated[
        str | None, typer.Option(help="For customers: the sub_… id they stand for.")
    ] = None,
    phone: Annotated[
        str | None,
        typer.Option(help="For riders and merchants: their own phone, for virtual numbers."),
    ] = None,
) -> None:
    """Create a principal and print its API key (shown once, stored only as a hash)."""
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors():
        if phone is not None:
            if role not in ("rider", "merchant"):
                raise InvalidInput("--phone is for riders and merchants")
            normalize_phone(phone, vault.default_region)  # refuse a bad phone before creating
        principal_id, api_key = vault.create_principal(role, label, subject_id=subject)
        if phone is not None:
            register_party_phone(vault, principal_id, phone)
    console.print(f"principal [bold]{principal_id}[/] ({role}, {label})")
    if phone is not None:
        console.print("phone registered (sealed; virtual numbers connect to it)")
    console.print(f"API key: [bold yellow]{api_key}[/]  (shown once; store it now)")


@principals_app.command("list")
def principals_list() -> None:
    """List principals (ids, roles, labels, status); never keys."""
    vault = vault_from_settings(load_settings())
    table = Table("id", "role", "label", "status")
    for row in vault.list_principals():
        table.add_row(row["id"], row["role"], row["label"], row["status"])
    console.print(table)


@principals_app.command("disable")
def principals_disable(
    principal_id: Annotated[str, typer.Argument(help="The prn_… id to disable.")],
    reason: Annotated[
        str, typer.Option(help="Why (goes to the audit log).")
    ] = "disabled by operator",
) -> None:
    """Disable a principal: all its API keys stop working."""
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors():
        vault.disable_principal(principal_id, reason=reason)
    console.print(f"disabled {principal_id}")


@keys_app.command("status")
def keys_status() -> None:
    """Show KEK versions and how many customer data keys each one wraps."""
    vault = vault_from_settings(load_settings())
    status = key_status(vault.engine, vault.keyring.provider)
    console.print(
        f"provider: [bold]{status.provider}[/], current KEK version {status.current_version}"
    )
    table = Table("KEK version", "data keys wrapped")
    for version in status.kek_versions:
        table.add_row(str(version), str(status.subjects_by_kek_version.get(version, 0)))
    console.print(table)
    console.print(f"erased subjects (crypto-shredded): {status.erased_subjects}")
    console.print(f"blind-index key versions: {status.index_key_versions}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new KEK version; new data keys use it. Run `veil keys rewrap` afterwards."""
    settings = load_settings()
    vault = vault_from_settings(settings)
    with fail_on_veil_errors():
        version = vault.keyring.provider.add_version()
        init_vault(settings, provider=vault.keyring.provider)
    console.print(
        f"KEK version [bold]{version}[/] added and registered; now run `veil keys rewrap`"
    )


@keys_app.command("rewrap")
def keys_rewrap(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 500,
) -> None:
    """Rewrap every data key under the current KEK, online, without decrypting field data."""
    vault = vault_from_settings(load_settings())
    columns = (
        TextColumn("rewrapping data keys"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console) as progress, fail_on_veil_errors():
        task = progress.add_task("rewrap", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        count = rewrap_all(vault.engine, vault.keyring, batch_size=batch_size, progress=update)
    current = vault.keyring.provider.current_version()
    console.print(f"rewrapped {count} data key(s) under KEK version {current}")


@demo_app.command("seed")
def demo_seed(
    keys_file: Annotated[
        Path, typer.Option(help="Where the demo API keys are kept (mode 0600).")
    ] = Path("var/demo-keys.json"),
    base_url: Annotated[
        str, typer.Option(help="URL printed in the curl lines.")
    ] = "http://127.0.0.1:8080",
) -> None:
    """Seed a small demo city (once) and print its API keys and three curl lines to try."""
    from veil.sim import seed_demo

    if keys_file.exists():
        document = json.loads(keys_file.read_text(encoding="utf-8"))
        console.print(f"demo already seeded (keys in {keys_file})")
    else:
        vault = vault_from_settings(load_settings())
        with fail_on_veil_errors():
            city = seed_demo(vault)
        document = {
            "keys": city.keys,
            "orders": city.orders,
            "phones": city.phones,
            "scraper": city.scraper,
        }
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
    _print_demo(document, base_url)
    scraper = document.get("scraper")
    if scraper:
        console.print(
            f"\n[bold]a simulated scraper[/] ({scraper['label']}) walked random order ids with"
            f" a rider key; the watch suspended it after {scraper['requests']} requests."
            " See `veil alerts list`."
        )


@demo_app.command("env")
def demo_env(
    keys_file: Annotated[
        Path, typer.Option(help="Where `veil demo seed` kept the demo API keys.")
    ] = Path("var/demo-keys.json"),
) -> None:
    """Print `export` lines for the demo keys and orders, for the README's curl tour.

    Use it as: eval "$(veil demo env)"
    """
    if not keys_file.exists():
        err_console.print(f"[bold red]error:[/] {keys_file} does not exist; run `veil demo seed`")
        raise typer.Exit(2)
    document = json.loads(keys_file.read_text(encoding="utf-8"))
    for label, (principal_id, _, api_key) in document["keys"].items():
        name = label.upper().replace("-", "_")
        print(f"export {name}={api_key} {name}_ID={principal_id}")
    for state, order_id in document["orders"].items():
        print(f"export ORDER_{state.upper()}={order_id}")
    for label, phone in document.get("phones", {}).items():
        print(f"export {label.upper().replace('-', '_')}_PHONE={phone}")


def _print_demo(document: dict[str, dict[str, list[str]]], base_url: str) -> None:
    console.print("[bold]demo principals[/] (label, role, principal id, API key):")
    for label, (principal_id, role, api_key) in document["keys"].items():
        console.print(f"  {label:<18} {role:<9} {principal_id}  {api_key}", highlight=False)
    orders = document["orders"]
    keys = {label: value[2] for label, value in document["keys"].items()}
    lines = [
        (
            "rider-1 after pickup: full address, masked name and phone",
            keys["rider-1"],
            orders["picked_up"],
        ),
        (
            "merchant on the same order: surname and district only",
            keys["merchant-jiaozi"],
            orders["picked_up"],
        ),
        (
            "rider-2, delivered an hour ago: 403 delivery window closed",
            keys["rider-2"],
            orders["delivered_window_closed"],
        ),
    ]
    console.print("\n[bold]try these:[/]")
    for title, api_key, order_id in lines:
        console.print(f"# {title}")
        console.print(
            f"curl -s -H 'Authorization: Bearer {api_key}' {base_url}/v1/orders/{order_id}",
            soft_wrap=True,
            highlight=False,
        )


def main() -> None:
    """Run the ``veil`` command line."""
    app()
