"""The ``veil`` command line (Typer + Rich)."""

from veil.cli._main import app, main

__all__ = ["app", "main"]
