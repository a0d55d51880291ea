"""Hot-path statements: compiled once per dialect, run on the driver cursor.

SQLAlchemy Core rebuilds a cache key for every execution, which costs more than
the query itself on the view path (one indexed read, one audit insert). A
`Prepared` statement keeps the SQLAlchemy definition, so it is portable across
SQLite and PostgreSQL, but compiles it once per dialect and hands the driver
the SQL text directly.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

__all__ = ["Prepared"]


class Prepared:
    """A Core statement compiled once per dialect and executed on the raw cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, Any]] = {}

    def _compile(self, connection: Connection) -> tuple[str, tuple[str, ...] | None, Any]:
        name = connection.dialect.name
        cached = self._compiled.get(name)
        if cached is None:
            compiled: Any = self._statement.compile(dialect=connection.dialect)
            positions = tuple(compiled.positiontup) if compiled.positional else None
            columns = getattr(compiled, "_result_columns", None) or []
            row_type = namedtuple("Row", [c[0] for c in columns]) if columns else None
            cached = (compiled.string, positions, row_type)
            self._compiled[name] = cached
        return cached

    def _args(self, positions: tuple[str, ...] | None, params: Mapping[str, Any]) -> Any:
        return tuple(params[name] for name in positions) if positions is not None else params

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Run a SELECT and return its first row (attribute access by column name), or None."""
        sql, positions, row_type = self._compile(connection)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, self._args(positions, params))
            row = cursor.fetchone()
        except connection.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(connection, sql, exc) from exc
        finally:
            cursor.close()
        return None if row is None or row_type is None else row_type(*row)

    def all(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Run a SELECT and return every row (attribute access by column name)."""
        sql, positions, row_type = self._compile(connection)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, self._args(positions, params))
            rows = cursor.fetchall()
        except connection.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(connection, sql, exc) from exc
        finally:
            cursor.close()
        return [] if row_type is None else [row_type(*row) for row in rows]

    def run(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run an INSERT/UPDATE/DELETE once and return how many rows it touched."""
        sql, positions, _ = self._compile(connection)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, self._args(positions, params))
            count = int(cursor.rowcount)
        except connection.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(connection, sql, exc) from exc
        finally:
            cursor.close()
        return count

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT/UPDATE once per parameter set."""
        if not rows:
            return
        sql, positions, _ = self._compile(connection)
        cursor = connection.connection.cursor()
        try:
            if len(rows) == 1:
                cursor.execute(sql, self._args(positions, rows[0]))
            else:
                cursor.executemany(sql, [self._args(positions, row) for row in rows])
        except connection.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(connection, sql, exc) from exc
        finally:
            cursor.close()


def _wrapped(connection: Connection, sql: str, error: Exception) -> Exception:
    # The driver's own exception, wrapped the way Core would wrap it, so callers
    # that turn `SQLAlchemyError` into `StorageUnavailable` see this one too.
    return DBAPIError.instance(
        sql,
        None,
        error,
        connection.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        dialect=connection.dialect,
    )
