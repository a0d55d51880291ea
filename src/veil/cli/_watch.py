"""``veil alerts``, ``veil sim`` and the watch's ``veil principals`` commands.

Alerts are read here as the operator on the server (database access, like
``veil principals list``); over HTTP, admins and security officers use
``/v1/alerts``. Reinstating a principal from here is the operator's act and is
audited as such.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from veil.cli._common import (
    console,
    err_console,
    fail_on_veil_errors,
    load_settings,
    vault_from_settings,
)
from veil.vault import approve_step_up, principal_controls, reinstate_principal
from veil.watch import alert_document, list_alerts, load_alert

__all__ = ["add_principal_commands", "alerts_app", "sim_app"]

alerts_app = typer.Typer(
    help=(
        "Alerts raised by the watch (enumeration, harvesting, peer outliers...) and by"
        " break-glass requests: one per incident, with evidence (ids, counts, times; no PII).\n\n"
        "Admins and security officers handle them over HTTP: GET /v1/alerts,"
        " POST /v1/alerts/{id}/ack and /close."
    ),
    no_args_is_help=True,
)
sim_app = typer.Typer(
    help="The synthetic city: a realistic day of orders with attacks, and what was caught.",
    no_args_is_help=True,
)


def _when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "-"
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged, closed, or active (not closed).")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. enumeration.")] = None,
    principal: Annotated[str | None, typer.Option(help="Only alerts about this prn_… id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List alerts, newest activity first."""
    vault = vault_from_settings(load_settings())
    with vault.engine.connect() as connection:
        rows = list_alerts(
            connection, status=status, kind=kind, principal_id=principal, limit=limit
        )
    labels = {p["id"]: p["label"] for p in vault.list_principals()}
    if as_json:
        for row in rows:
            print(json.dumps(alert_document(row), sort_keys=True, ensure_ascii=False))
        return
    table = Table("id", "kind", "severity", "status", "principal", "last seen", "hits", "response")
    for row in rows:
        who = row.principal_id or "-"
        if row.principal_id in labels:
            who = f"{row.principal_id} ({labels[row.principal_id]})"
        table.add_row(
            row.id,
            row.kind,
            row.severity,
            row.status,
            who,
            _when(row.last_seen_ms),
            str(row.hits),
            row.response or "-",
        )
    console.print(table)
    if not rows:
        console.print("no alerts")


@alerts_app.command("show")
def alerts_show(alert_id: Annotated[str, typer.Argument(help="The alr_… id.")]) -> None:
    """Show one alert: summary, evidence, who acknowledged or closed it and why."""
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors(), vault.engine.connect() as connection:
        row = load_alert(connection, alert_id)
    document = alert_document(row)
    console.print(f"[bold]{row.id}[/] {row.kind} ({row.severity}, {row.status})")
    console.print(row.summary or "", highlight=False)
    console.print(
        f"first seen {_when(row.first_seen_ms)}, last seen {_when(row.last_seen_ms)},"
        f" {row.hits} hit(s), response: {row.response or '-'}"
    )
    if row.notify_error:
        console.print(f"webhook: {row.notify_error}")
    print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


def add_principal_commands(principals_app: typer.Typer) -> None:
    """Add ``reinstate``, ``controls`` and ``approve-reveal`` to ``veil principals``."""

    @principals_app.command("reinstate")
    def principals_reinstate(
        principal_id: Annotated[str, typer.Argument(help="The prn_… id to reinstate.")],
        reason: Annotated[str, typer.Option(help="Why (kept and audited; no phone numbers).")],
    ) -> None:
        """Lift a suspension or step-up the watch imposed; the principal's keys work again."""
        vault = vault_from_settings(load_settings())
        with fail_on_veil_errors():
            outcome = reinstate_principal(vault, None, principal_id, reason=reason)
        lifted = ", ".join(outcome["lifted"]) or "suspension"
        console.print(f"reinstated {principal_id} ({lifted} lifted); status {outcome['status']}")

    @principals_app.command("controls")
    def principals_controls(
        principal_id: Annotated[str, typer.Argument(help="The prn_… id.")],
    ) -> None:
        """Show the watch's controls in force on a principal (suspension, step-up, approvals)."""
        vault = vault_from_settings(load_settings())
        rows = principal_controls(vault, principal_id)
        table = Table("control", "order", "alert", "imposed by", "since", "until", "reason")
        for row in rows:
            table.add_row(
                row["control"],
                row["order_id"] or "-",
                row["alert_id"] or "-",
                row["imposed_by"],
                _when(row["imposed_ms"]),
                _when(row["expires_ms"]),
                row["reason"],
            )
        console.print(table)
        if not rows:
            console.print("no controls in force")

    @principals_app.command("approve-reveal")
    def principals_approve_reveal(
        principal_id: Annotated[str, typer.Argument(help="The prn_… id under step-up.")],
        order_id: Annotated[str, typer.Argument(help="The ord_… id it may reveal once.")],
        minutes: Annotated[int, typer.Option(min=1, max=60)] = 15,
    ) -> None:
        """Approve one reveal of one order by a principal under step-up (the second person)."""
        vault = vault_from_settings(load_settings())
        with fail_on_veil_errors():
            approval = approve_step_up(vault, None, principal_id, order_id, minutes=minutes)
        console.print(
            f"approved one reveal of {order_id} by {principal_id}"
            f" until {_when(approval['expires_ms'])}"
        )


@sim_app.command("run")
def sim_run(
    *,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="Attack to inject (repeat, or comma-separated); 'all' for every one, 'none'.",
        ),
    ] = None,
    principals: Annotated[int, typer.Option(min=50, max=100_000)] = 2000,
    hours: Annotated[float, typer.Option(min=1, max=24 * 30)] = 24.0,
    seed: Annotated[int, typer.Option(help="Seed of the city and its day.")] = 7,
    workdir: Annotated[
        Path | None, typer.Option(help="Keep the simulated vault here (default: a temp dir).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run a seeded city through Veil in process, with attacks; print who was caught, when."""
    from veil.sim import SCENARIOS, run_simulation

    names: list[str] = []
    for item in scenario or ["all"]:
        names.extend(part.strip() for part in item.split(",") if part.strip())
    if "all" in names:
        names = list(SCENARIOS)
    names = [n for n in names if n != "none"]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        err_console.print(
            f"[bold red]error:[/] unknown scenario {', '.join(unknown)};"
            f" known: {', '.join(SCENARIOS)}, all, none"
        )
        raise typer.Exit(2)
    settings = load_settings()
    # The report says what was raised; the watch's own log lines would repeat it.
    logging.getLogger("veil.watch").setLevel(logging.ERROR)

    def progress(done: float, total: float) -> None:
        err_console.print(f"simulated {done:g} of {total:g} h", end="\r")

    report = run_simulation(
        scenarios=names,
        principals=principals,
        hours=hours,
        seed=seed,
        directory=workdir,
        thresholds=settings.watch_thresholds,
        responses=settings.watch_responses,
        progress=progress,
    )
    err_console.print()
    if as_json:
        print(json.dumps(_report_json(report), indent=2, sort_keys=True))
    else:
        print(report.render())


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "seed": report.seed,
        "hours": report.hours,
        "roles": report.roles,
        "orders": report.orders,
        "requests": report.requests,
        "seconds": round(report.seconds, 1),
        "outcomes": [vars(o) for o in report.outcomes],
        "false_alerts": report.false_alerts,
        "false_per_1000_principals_per_day": round(report.false_per_1000_day, 3),
        "goals": [{"goal": text, "met": ok} for text, ok in report.goals()],
    }
