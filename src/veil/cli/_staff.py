"""``veil tickets`` and ``veil policy``: support tickets from the terminal, policies as code."""

from __future__ import annotations

import datetime as dt
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
from veil.errors import ConfigurationError
from veil.policy import (
    CASES_FILE,
    PURPOSES,
    PolicyEngine,
    PolicySource,
    decide_case,
    explain,
    load_cases,
    run_cases,
)
from veil.vault import (
    Caller,
    Vault,
    assign_ticket,
    close_ticket,
    explain_request,
    my_tickets,
    open_ticket,
    ticket_of,
)

__all__ = ["policy_app", "tickets_app"]

tickets_app = typer.Typer(
    help=(
        "Support tickets: a ticket on one order gives its agent a masked view of that order"
        " (and the right to ask for purpose-bound reveals) until it is closed.\n\n"
        "Every command acts as the principal whose API key you give (prompted if not passed),"
        " under the same policies as the HTTP API, and is audited."
    ),
    no_args_is_help=True,
)
policy_app = typer.Typer(
    help=(
        "Policies as code: the .cedar files, schema.cedarschema, quotas.toml and the case"
        f" table {CASES_FILE} in the policy directory (VEIL_POLICY_DIR).\n\n"
        "Edit a rule, run `veil policy check` and `veil policy test`, then reload the server"
        " (POST /v1/admin/policies/reload, or wait for the file watcher)."
    ),
    no_args_is_help=True,
)

ApiKey = Annotated[
    str,
    typer.Option(
        prompt="API key",
        hide_input=True,
        help="The API key of the principal acting (prompted, hidden, if not given).",
    ),
]
PolicyDir = Annotated[
    Path | None,
    typer.Option("--dir", help="Policy directory (default: VEIL_POLICY_DIR)."),
]


def _acting(api_key: str) -> tuple[Vault, Caller]:
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors():
        return vault, vault.authenticate(api_key)
    raise AssertionError("unreachable")  # pragma: no cover


def _print_ticket(ticket: dict[str, Any]) -> None:
    table = Table("ticket", "order", "agent", "origin", "status", "opened", "closed")
    table.add_row(
        ticket["ticket_id"],
        ticket["order_id"],
        ticket["agent_id"],
        ticket["origin"],
        ticket["status"],
        ticket["opened"],
        ticket["closed"] or "",
    )
    console.print(table)


# ---------------------------------------------------------------- tickets


@tickets_app.command("open")
def tickets_open(
    order_id: Annotated[str, typer.Argument(help="The ord_… id the customer contacted about.")],
    api_key: ApiKey,
    agent: Annotated[
        str | None,
        typer.Option(help="The agent (prn_…) to assign; agents omit it to take the ticket."),
    ] = None,
) -> None:
    """Open a ticket on one order (the platform for any agent, an agent for themselves)."""
    vault, caller = _acting(api_key)
    with fail_on_veil_errors():
        _print_ticket(open_ticket(vault, caller, order_id, agent_id=agent))


@tickets_app.command("show")
def tickets_show(
    ticket_id: Annotated[str, typer.Argument(help="The tkt_… id.")], api_key: ApiKey
) -> None:
    """Show one ticket: order, agent, status and times (no customer data)."""
    vault, caller = _acting(api_key)
    with fail_on_veil_errors():
        _print_ticket(ticket_of(vault, caller, ticket_id))


@tickets_app.command("assign")
def tickets_assign(
    ticket_id: Annotated[str, typer.Argument(help="The tkt_… id.")],
    agent: Annotated[str, typer.Argument(help="The agent (prn_…) who takes it over.")],
    api_key: ApiKey,
) -> None:
    """Hand an open ticket to another agent (the platform or an admin)."""
    vault, caller = _acting(api_key)
    with fail_on_veil_errors():
        _print_ticket(assign_ticket(vault, caller, ticket_id, agent))


@tickets_app.command("close")
def tickets_close(
    ticket_id: Annotated[str, typer.Argument(help="The tkt_… id.")], api_key: ApiKey
) -> None:
    """Close a ticket: its agent loses the order's view and reveals at once."""
    vault, caller = _acting(api_key)
    with fail_on_veil_errors():
        _print_ticket(close_ticket(vault, caller, ticket_id))


@tickets_app.command("mine")
def tickets_mine(api_key: ApiKey) -> None:
    """List the calling agent's open tickets."""
    vault, caller = _acting(api_key)
    with fail_on_veil_errors():
        tickets = my_tickets(vault, caller)
    table = Table("ticket", "order", "origin", "opened")
    for ticket in tickets:
        table.add_row(ticket["ticket_id"], ticket["order_id"], ticket["origin"], ticket["opened"])
    console.print(table)


# ---------------------------------------------------------------- policy


def _policy_dir(directory: Path | None) -> Path:
    return directory if directory is not None else load_settings().policy_dir


@policy_app.command("check")
def policy_check(directory: PolicyDir = None) -> None:
    """Parse every .cedar file, validate it against the schema, read quotas.toml and the cases.

    Exits 2 with the error (naming the file) if anything is wrong; a running
    server would refuse the same directory on reload and keep its old policies.
    """
    folder = _policy_dir(directory)
    with fail_on_veil_errors():
        source = PolicySource.load(folder)
        cases_path = folder / CASES_FILE
        cases = load_cases(cases_path)[0] if cases_path.exists() else []
    permits = sum(1 for p in source.grants_by_policy if p not in source.reason_by_policy)
    console.print(
        f"[green]ok[/] {folder}: {len(source.grants_by_policy)} policies"
        f" ({permits} permit, {len(source.reason_by_policy)} forbid), valid against the schema"
    )
    if (folder / "quotas.toml").exists():
        roles = source.quotas.as_dict()["roles"]
        quota_text = ", ".join(
            f"{role} {q['per_principal']}/{q['role_total']}" for role, q in roles.items()
        )
        console.print(f"quotas per day (per principal/role total): {quota_text or 'none'}")
    else:
        err_console.print("[yellow]warning:[/] no quotas.toml: every reveal quota is zero")
    console.print(f"{len(cases)} test case(s) in {CASES_FILE}; purposes: {', '.join(PURPOSES)}")
    console.print(f"digest {source.digest}")


@policy_app.command("test")
def policy_test(
    directory: PolicyDir = None,
    table: Annotated[
        Path | None, typer.Option(help=f"Case table (default: {CASES_FILE} in the directory).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every case.")] = False,
) -> None:
    """Run the policy test table: each case's decision, deciding policies and reason must match.

    Exits 1 if any case fails, 2 if the policies or the table do not load.
    """
    folder = _policy_dir(directory)
    with fail_on_veil_errors():
        source = PolicySource.load(folder)
        cases, grace_ms = load_cases(table or folder / CASES_FILE)
        results = run_cases(source, cases, rider_grace_ms=grace_ms)
    failed = [r for r in results if not r.passed]
    if verbose or failed:
        grid = Table("", "case", "action", "expected", "got", "policies")
        for result in results if verbose else failed:
            grid.add_row(
                "[green]✓[/]" if result.passed else "[red]✗[/]",
                result.case.name,
                result.case.action,
                result.case.expect,
                "allow" if result.decision.allowed else "deny",
                " ".join(result.decision.policy_ids),
            )
        console.print(grid)
        for result in failed:
            err_console.print(f"[red]FAIL[/] {result.case.name}: {'; '.join(result.problems)}")
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@policy_app.command("explain")
def policy_explain(
    *,
    case: Annotated[
        str | None, typer.Option(help=f"Explain the case of this name in {CASES_FILE}.")
    ] = None,
    principal: Annotated[
        str | None, typer.Option(help="Live: the principal (prn_…) making the request.")
    ] = None,
    action: Annotated[
        str, typer.Option(help="Live: view_order, reveal, open_ticket, approve_break_glass…")
    ] = "reveal",
    order: Annotated[str | None, typer.Option(help="Live: the order (ord_…).")] = None,
    ticket: Annotated[str | None, typer.Option(help="Live: the ticket (tkt_…).")] = None,
    grant: Annotated[str | None, typer.Option(help="Live: the break-glass grant (brk_…).")] = None,
    purpose: Annotated[str | None, typer.Option(help="Live: the reveal's purpose.")] = None,
    fields: Annotated[
        str, typer.Option(help="Live: comma-separated fields (name,phone,address,note).")
    ] = "",
    at: Annotated[
        str | None, typer.Option(help="Live: decide at this ISO 8601 time instead of now.")
    ] = None,
    directory: PolicyDir = None,
) -> None:
    """Say why a request is allowed or denied: the deciding policies and their reasons.

    Either name a case of the test table (--case), or describe a live request
    (--principal, --action, --order/--ticket/--grant, --purpose, --fields): the
    facts are read from the configured database (ids, states, times; never
    customer data) and nothing is written.
    """
    if case is not None:
        folder = _policy_dir(directory)
        with fail_on_veil_errors():
            source = PolicySource.load(folder)
            cases, grace_ms = load_cases(folder / CASES_FILE)
            chosen = next((c for c in cases if c.name == case), None)
            if chosen is None:
                raise ConfigurationError(f"no case named {case!r} in {CASES_FILE}")
            decision = decide_case(PolicyEngine(source, rider_grace_ms=grace_ms), chosen)
        console.print(
            explain(source, decision, role=chosen.principal.role, action=chosen.action).render(),
            highlight=False,
        )
        return
    if principal is None:
        err_console.print("[bold red]error:[/] give --case NAME, or --principal for a live request")
        raise typer.Exit(2)
    vault = vault_from_settings(load_settings())
    with fail_on_veil_errors():
        now_ms = None
        if at is not None:
            try:
                moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigurationError(f"--at {at!r} is not an ISO 8601 time") from None
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            now_ms = int(moment.timestamp() * 1000)
        explanation = explain_request(
            vault,
            principal,
            action,
            order_id=order,
            ticket_id=ticket,
            grant_id=grant,
            purpose=purpose,
            fields=tuple(f.strip() for f in fields.split(",") if f.strip()),
            now_ms=now_ms,
        )
    console.print(explanation.render(), highlight=False)
