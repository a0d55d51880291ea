"""The Merkle tree in the database: a `NodeStore` over ``audit_nodes``.

One row per complete subtree, keyed by ``(level, position)``; level 0 holds the
leaf hashes. Rows are only inserted, never changed (triggers refuse UPDATE and
DELETE), so any root or proof of any past size reads at most ~2·log2(n) rows
with one indexed query.

The store runs inside the caller's transaction: the integrator writes nodes,
the leaf mapping and a checkpoint atomically, and readers see one tree size.
Statements go to the driver cursor directly. A proof is one query, and
SQLAlchemy's statement compilation would cost more than the query itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from veil.audit._merkle import HASH_SIZE, NodeId, NodeRun

__all__ = [
    "DatabaseNodeStore",
    "driver_execute",
    "driver_executemany",
    "driver_read",
    "driver_update",
]

# A proof needs ~2·log2(n) nodes; batches of this many keep each query small
# enough for every driver's parameter limit.
_MAX_IDS_PER_QUERY = 200
_PG_LOOKUP = (
    "SELECT n.level, n.position, n.node_hash"
    " FROM unnest(?::integer[], ?::bigint[]) AS wanted (level, position)"
    " JOIN audit_nodes n ON n.level = wanted.level AND n.position = wanted.position"
)


class DatabaseNodeStore:
    """A `NodeStore` in the ``audit_nodes`` table, inside the caller's transaction.

    Args:
        connection: A connection with a transaction open; the store never commits.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def size(self) -> int:
        """Return the number of leaves integrated so far (level-0 nodes)."""
        [(last,)] = driver_execute(
            self._connection, "SELECT max(position) FROM audit_nodes WHERE level = 0", ()
        )
        return 0 if last is None else int(last) + 1

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hash of each node in `ids`, in order.

        Raises:
            LookupError: A node is not stored (its subtree is not complete).
        """
        found: dict[tuple[int, int], bytes] = {}
        wanted = list(dict.fromkeys((level, position) for level, position in ids))
        for start in range(0, len(wanted), _MAX_IDS_PER_QUERY):
            chunk = wanted[start : start + _MAX_IDS_PER_QUERY]
            sql, params = self._lookup(chunk)
            for level, position, node in driver_execute(self._connection, sql, params):
                found[(int(level), int(position))] = bytes(node)
        try:
            return [found[(level, position)] for level, position in ids]
        except KeyError as exc:
            raise LookupError(f"node {exc.args[0]} is not stored") from None

    def _lookup(self, ids: Sequence[tuple[int, int]]) -> tuple[str, list[Any]]:
        """Return one query that reads the nodes `ids`, each with a primary-key seek."""
        if self._connection.dialect.name == "postgresql":
            # Two arrays joined to the table: one statement text whatever the
            # count, so the driver prepares it once and PostgreSQL plans it once.
            return _PG_LOOKUP, [[level for level, _ in ids], [position for _, position in ids]]
        # An OR of equalities, not a row-value IN list: SQLite plans the OR as one
        # primary-key seek per term, the IN list as a table scan.
        where = " OR ".join(["(level = ? AND position = ?)"] * len(ids))
        sql = f"SELECT level, position, node_hash FROM audit_nodes WHERE {where}"  # noqa: S608
        return sql, [value for pair in ids for value in pair]

    def put_nodes(self, runs: Sequence[NodeRun], size: int) -> None:
        """Insert `runs`, each continuing its level exactly, and check `size` against level 0.

        Raises:
            ValueError: A run leaves a gap or overlaps its level, or `size` does
                not match the leaves stored afterwards.
        """
        ends = self._level_ends(sorted({run.level for run in runs}))
        for level, start, hashes in runs:
            if start != ends.get(level, 0) or len(hashes) % HASH_SIZE:
                raise ValueError(f"run at level {level} does not continue it at {start}")
            ends[level] = start + len(hashes) // HASH_SIZE
        leaves = ends[0] if 0 in ends else self.size()
        if leaves != size:
            raise ValueError(f"tree of size {size} does not match the leaves stored")
        driver_executemany(
            self._connection,
            "INSERT INTO audit_nodes (level, position, node_hash) VALUES (?, ?, ?)",
            list(_rows(runs)),
        )

    def _level_ends(self, levels: Sequence[int]) -> dict[int, int]:
        """Return how many nodes each of `levels` holds (one query)."""
        if not levels:
            return {}
        # One max() per level, each a single index seek; a GROUP BY would read
        # every leaf. The levels are integers, so writing them inline is safe.
        select = " UNION ALL ".join(
            f"SELECT {n}, (SELECT max(position) FROM audit_nodes WHERE level = {n})"  # noqa: S608
            for n in map(int, levels)
        )
        return {
            int(level): 0 if last is None else int(last) + 1
            for level, last in driver_execute(self._connection, select, ())
        }


def _rows(runs: Sequence[NodeRun]) -> Iterator[tuple[int, int, bytes]]:
    for level, start, hashes in runs:
        for offset in range(0, len(hashes), HASH_SIZE):
            yield level, start + offset // HASH_SIZE, hashes[offset : offset + HASH_SIZE]


def driver_execute(connection: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run `sql` (``?`` placeholders) on the driver cursor and return every row.

    Driver errors come back wrapped the way SQLAlchemy wraps them, so callers
    that handle `sqlalchemy.exc.SQLAlchemyError` handle these too.
    """
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_native(connection, sql), tuple(params))
        return list(cursor.fetchall()) if cursor.description is not None else []
    except connection.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(connection, sql, exc) from exc
    finally:
        cursor.close()


def driver_read(connection: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run a read on a connection with no transaction open, holding no lock afterwards.

    On SQLite the statement runs in autocommit mode: a WAL read that does not
    take the write lock every Veil transaction takes (``BEGIN IMMEDIATE``). On
    PostgreSQL it runs in its own short transaction.
    """
    if connection.dialect.name == "sqlite":
        return driver_execute(connection, sql, params)
    with connection.begin():
        return driver_execute(connection, sql, params)


def driver_update(connection: Connection, sql: str, params: Sequence[Any]) -> int:
    """Run one INSERT, UPDATE or DELETE (``?`` placeholders); return the rows it changed."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_native(connection, sql), tuple(params))
        return int(cursor.rowcount)
    except connection.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(connection, sql, exc) from exc
    finally:
        cursor.close()


def driver_executemany(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run `sql` (``?`` placeholders) once per row of `rows` on the driver cursor."""
    if not rows:
        return
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(_native(connection, sql), [tuple(row) for row in rows])
    except connection.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(connection, sql, exc) from exc
    finally:
        cursor.close()


def _native(connection: Connection, sql: str) -> str:
    # Veil's SQL here never holds a literal '?' or '%', so the swap is exact.
    return sql if connection.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def _wrapped(connection: Connection, sql: str, error: Exception) -> Exception:
    return DBAPIError.instance(
        sql,
        None,
        error,
        connection.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        dialect=connection.dialect,
    )
