"""``veil redact FILE``: redact a file of notes or messages, one per line, offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from veil.cli._common import console, err_console
from veil.redact import default_redactor

__all__ = ["redact_command"]


def redact_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="UTF-8 text, one note per line.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the redacted lines (default stdout)."),
    ] = None,
    language: Annotated[str, typer.Option(help="Placeholder language: zh or en.")] = "zh",
) -> None:
    """Replace phones, ids, cards, plates, e-mail, WeChat/QQ, addresses and names with placeholders.

    Runs locally with no database and no network: each line is redacted on its
    own and written in the same order. A summary of what was found (counts per
    type, never the values) goes to stderr.
    """
    if language not in {"zh", "en"}:
        err_console.print("[bold red]error:[/] --language must be zh or en")
        raise typer.Exit(2)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        err_console.print(f"[bold red]error:[/] {file} is not UTF-8 text")
        raise typer.Exit(2) from None
    redactor = default_redactor()
    counts: dict[str, int] = {}
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    columns = (TextColumn("redacting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err_console, transient=output is None) as progress:
            task = progress.add_task("redact", total=len(lines))
            for line in lines:
                redaction = redactor.redact(line, language=language)  # type: ignore[arg-type]
                for finding in redaction.findings:
                    counts[str(finding.entity_type)] = counts.get(str(finding.entity_type), 0) + 1
                out.write(redaction.text + "\n")
                progress.advance(task)
    finally:
        if output:
            out.close()
    summary = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items())) or "nothing found"
    err_console.print(f"redacted {len(lines)} line(s); {summary}")
    if output:
        console.print(f"wrote {output}")
