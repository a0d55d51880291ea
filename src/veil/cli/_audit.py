"""``veil audit``: integrate the log, export it, verify an export offline."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine

from veil.audit import AuditVerificationFailed, Integrator, export_log, verify_export
from veil.cli._common import console, err_console, fail_on_veil_errors, load_settings
from veil.config import Settings
from veil.crypto import NoteVerifier
from veil.errors import ConfigurationError, VeilError
from veil.store import checkpoint_in_background, current_revision, head_revision, make_engine
from veil.vault import integrator_from_settings

__all__ = ["audit_app"]

audit_app = typer.Typer(
    help=(
        "The tamper-evident audit log: integrate events into the Merkle tree, export the"
        " log, verify an export offline with only the public key."
    ),
    no_args_is_help=True,
)


@contextlib.contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    """Open the database, refusing one that is not migrated to this Veil's schema."""
    with fail_on_veil_errors():
        engine = make_engine(settings.database_url, sqlite_cache_mib=settings.sqlite_cache_mib)
    try:
        with fail_on_veil_errors():
            if current_revision(engine) != head_revision():
                raise ConfigurationError(
                    "the database schema is not at this Veil's revision; run `veil init`"
                )
        yield engine
    finally:
        engine.dispose()


@audit_app.command("integrate")
def integrate(
    once: Annotated[
        bool, typer.Option("--once", help="Integrate what is waiting, sign, and exit.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.05, max=5.0, help="Seconds between rounds.")
    ] = 1.0,
    parent_pid: Annotated[
        int | None,
        typer.Option(hidden=True, help="Stop when this process (the server) is gone."),
    ] = None,
) -> None:
    """Append new audit events to the Merkle tree and sign checkpoints (one per log: locked).

    A second integrator of the same log waits for the first to stop. Without
    --once it runs until interrupted (Ctrl-C or SIGTERM). `veil serve` runs
    this as its child process (VEIL_AUDIT_INTEGRATOR_MODE=process).
    """
    settings = load_settings()
    with _engine(settings) as engine, fail_on_veil_errors():
        if parent_pid is not None and settings.sqlite_checkpoint_seconds > 0:
            _leave_checkpoints_to_the_server(engine)
        _integrate(
            integrator_from_settings(settings, engine),
            once=once,
            interval=interval,
            parent=parent_pid,
        )


def _leave_checkpoints_to_the_server(engine: Engine) -> None:
    # The server's workers checkpoint a SQLite WAL in the background. A commit
    # of this process that crossed SQLite's automatic threshold would copy the
    # whole WAL while holding every writer back (30-50 ms, every couple of
    # seconds at 1,000 requests/s: the routing p99).
    if engine.dialect.name == "sqlite":
        checkpoint_in_background(engine)


def _integrate(
    integrator: Integrator, *, once: bool, interval: float, parent: int | None = None
) -> None:
    if once:
        holder = integrator.try_acquire()
        if holder is not None:
            err_console.print(f"waiting for the integrator lock ({holder}) …")
            integrator.acquire()
        try:
            integrated, checkpoint = 0, None
            while True:
                result = integrator.integrate(checkpoint=True)
                integrated += result.integrated
                checkpoint = result.checkpoint or checkpoint
                if not result.more:
                    break
        finally:
            integrator.release()
        signed = f"; signed checkpoint at size {checkpoint.size}" if checkpoint else ""
        console.print(f"integrated {integrated} event(s); tree size {integrator.tree_size}{signed}")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if parent is not None:
        # A server killed without a chance to stop its child: stop with it.
        def orphaned() -> None:
            while not stop.wait(1.0):
                if os.getppid() != parent:
                    stop.set()

        threading.Thread(target=orphaned, name="veil-parent-watch", daemon=True).start()
    console.print(f"integrating {integrator.origin} (Ctrl-C to stop)")
    try:
        integrator.run(stop, interval=interval)
    except KeyboardInterrupt:
        stop.set()
    console.print(f"stopped at tree size {integrator.tree_size}")


@audit_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the export (JSON Lines).")],
) -> None:
    """Write every event and checkpoint to FILE (veil-audit-export/1) for `veil audit verify`."""
    settings = load_settings()
    columns = (
        TextColumn("exporting audit events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        _engine(settings) as engine,
        fail_on_veil_errors(),
        Progress(*columns, console=err_console) as progress,
        file.open("wb") as handle,
    ):
        task = progress.add_task("export", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = export_log(engine, handle, origin=settings.audit_origin, progress=update)
    console.print(
        f"exported {summary.events} event(s) ({summary.pending} not integrated yet) and"
        f" {summary.checkpoints} checkpoint(s) to {file}"
    )


@audit_app.command("verify")
def verify(
    export_file: Annotated[
        Path, typer.Argument(metavar="EXPORT", help="An export from `veil audit export`.")
    ],
    public_key: Annotated[
        Path,
        typer.Option("--public-key", help="The log's public key file (audit-signing.pub)."),
    ],
    witness: Annotated[
        Path | None,
        typer.Option("--witness", help="A witness directory whose checkpoints must match too."),
    ] = None,
) -> None:
    """Verify an export offline: recompute the tree, check every signature and the witness.

    Needs no database and no running Veil. Exits 0 when everything verifies, 1
    naming the first failure (its kind and first bad index), 2 on unusable input.
    """
    try:
        verifier = NoteVerifier.load(public_key)
        report = verify_export(export_file, verifier, witness)
    except AuditVerificationFailed as exc:
        console.print(exc.report.summary(), highlight=False, soft_wrap=True)
        first = exc.report.first_failure
        err_console.print(f"[bold red]verification FAILED:[/] {first}", highlight=False)
        raise typer.Exit(1) from None
    except (VeilError, OSError) as exc:
        message = exc.message if isinstance(exc, VeilError) else str(exc)
        err_console.print(f"[bold red]error:[/] {message}")
        raise typer.Exit(2) from None
    console.print(report.summary(), highlight=False, soft_wrap=True)
    console.print("[green]verified.[/]")
