"""Make the real database refuse work: a trigger that raises, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine, text

_NAME = "veil_test_refuse"


@contextlib.contextmanager
def refusing(
    engine: Engine, table: str, operation: str, *, when: str | None = None
) -> Iterator[None]:
    """Make `operation` (INSERT, UPDATE, DELETE) on `table` fail while the block runs.

    `when` is an optional SQL condition on ``NEW``/``OLD`` (same syntax on both
    backends for simple comparisons) so a statement can fail part-way through.
    The trigger is always dropped afterwards: PostgreSQL's test database is
    shared by the whole run.
    """
    condition = f"WHEN ({when})" if when else ""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    f"CREATE TRIGGER {_NAME} BEFORE {operation} ON {table} {condition}"
                    f" BEGIN SELECT RAISE(ABORT, '{table} down'); END"
                )
            )
        else:
            connection.execute(
                text(
                    f"CREATE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS"
                    f" $$ BEGIN RAISE EXCEPTION '{table} down'; END $$"
                )
            )
            connection.execute(
                text(
                    f"CREATE TRIGGER {_NAME} BEFORE {operation} ON {table} FOR EACH ROW"
                    f" {condition} EXECUTE FUNCTION {_NAME}()"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.execute(text(f"DROP TRIGGER IF EXISTS {_NAME}"))
            else:
                connection.execute(text(f"DROP TRIGGER IF EXISTS {_NAME} ON {table}"))
                connection.execute(text(f"DROP FUNCTION IF EXISTS {_NAME}()"))
