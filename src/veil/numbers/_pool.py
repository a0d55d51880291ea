"""The number pool: virtual numbers per city, imported from a CSV, handed out under one rule.

Allocation rule: a binding gets the least loaded, least recently bound active
number of its city that

* has room (fewer than ``pairs_per_number`` live bindings), and
* is not live, nor ended within the cool-down, in any binding with the same
  A (customer) or the same B (rider or merchant).

So a call from A or from B to X names exactly one binding (AXB symmetry), and
a number comes back to the same people only after the cool-down. The
database holds the rule too: partial unique indexes refuse two live bindings
with the same (X, A) or (X, B), so concurrent allocations cannot break it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)

from veil.errors import InvalidInput
from veil.numbers._config import NumbersConfig
from veil.numbers._format import parse_x_number
from veil.store import NUMBER_BINDINGS, NUMBER_POOL, Prepared

__all__ = [
    "CityUsage",
    "ImportReport",
    "PoolEntry",
    "PoolPick",
    "city_has_pool",
    "give_back_number",
    "import_pool",
    "parse_pool_csv",
    "pick_number",
    "pool_usage",
    "take_number",
]

_POOL = NUMBER_POOL
_BINDINGS = NUMBER_BINDINGS
_MAX_CITY = 64


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """One virtual number and the city whose pool it joins."""

    x_number: str
    city: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: numbers added, numbers already in the same pool, per city."""

    added: int
    already_present: int
    by_city: dict[str, int]


@dataclass(frozen=True, slots=True)
class PoolPick:
    """The number allocation chose, and how loaded it was before this binding."""

    x_number: str
    live_count: int


@dataclass(frozen=True, slots=True)
class CityUsage:
    """A city pool's usage, for ``veil numbers status`` and the pressure metric."""

    city: str
    numbers: int
    numbers_in_use: int
    live_bindings: int
    capacity: int

    @property
    def pressure(self) -> float:
        """Return live bindings over capacity (0 for an empty pool)."""
        return self.live_bindings / self.capacity if self.capacity else 0.0


def parse_pool_csv(
    text: str, *, default_city: str | None = None, region: str = "CN"
) -> list[PoolEntry]:
    """Read ``number,city`` lines (a header line is optional; ``#`` starts a comment).

    Without a city column every number joins `default_city`.

    Raises:
        InvalidInput: naming the first bad line; nothing is imported.
    """
    entries: dict[str, PoolEntry] = {}
    number_col, city_col = 0, 1
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        lowered = [cell.lower() for cell in cells]
        if not entries and any(name in lowered for name in ("number", "x_number", "x")):
            number_col = next(i for i, c in enumerate(lowered) if c in ("number", "x_number", "x"))
            city_col = lowered.index("city") if "city" in lowered else -1
            continue
        try:
            x_number = parse_x_number(cells[number_col], region)
        except (InvalidInput, IndexError):
            raise InvalidInput(f"line {line_no}: not a phone number") from None
        city = cells[city_col] if 0 <= city_col < len(cells) and cells[city_col] else default_city
        if not city or len(city) > _MAX_CITY:
            raise InvalidInput(f"line {line_no}: a city (1 to {_MAX_CITY} characters) is needed")
        earlier = entries.get(x_number)
        if earlier is not None and earlier.city != city:
            raise InvalidInput(f"line {line_no}: the number is listed for two cities")
        entries[x_number] = PoolEntry(x_number, city)
    if not entries:
        raise InvalidInput("the file lists no numbers")
    return list(entries.values())


def import_pool(connection: Connection, entries: Sequence[PoolEntry], now_ms: int) -> ImportReport:
    """Add numbers to their cities' pools (all or none).

    Raises:
        InvalidInput: a number already belongs to another city's pool.
    """
    wanted = {entry.x_number: entry.city for entry in entries}
    known: dict[str, str] = {}
    numbers = list(wanted)
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        for x_number, city in connection.execute(
            select(_POOL.c.x_number, _POOL.c.city).where(_POOL.c.x_number.in_(chunk))
        ):
            known[x_number] = city
    moved = [x for x, city in known.items() if wanted[x] != city]
    if moved:
        raise InvalidInput(
            f"{len(moved)} number(s) already belong to another city's pool; retire them first"
        )
    fresh = [
        {
            "x_number": x,
            "city": city,
            "status": "active",
            "live_count": 0,
            "last_bound_ms": 0,
            "imported_ms": now_ms,
        }
        for x, city in wanted.items()
        if x not in known
    ]
    for start in range(0, len(fresh), 500):
        connection.execute(insert(_POOL), fresh[start : start + 500])
    by_city: dict[str, int] = {}
    for x, city in wanted.items():
        if x not in known:
            by_city[city] = by_city.get(city, 0) + 1
    return ImportReport(len(fresh), len(known), by_city)


def _held_by_parties() -> list[ColumnElement[bool]]:
    # For the candidate number: no binding with the same A or the same B that
    # is live, or ended within the cool-down. Each test is one seek into a
    # party-first index ((party, X) live unique; (party, X, created_ms)), so a
    # candidate costs the same however many bindings the party ever had. A
    # binding ends at the latest at its expiry, at most the longest binding
    # after it began: one begun before `recent_from` cannot have ended within
    # the cool-down. Live ones are read without that bound: a binding the
    # sweep has not yet released still holds its number.
    b = _BINDINGS.c
    candidate = _POOL.c.x_number
    tests: list[ColumnElement[bool]] = []
    for party, param in ((b.a_digest, "a"), (b.b_digest, "b")):
        tests.append(
            ~exists().where(
                party == bindparam(param), b.x_number == candidate, b.released_ms.is_(None)
            )
        )
        tests.append(
            ~exists().where(
                party == bindparam(param),
                b.x_number == candidate,
                b.created_ms > bindparam("recent_from"),
                b.released_ms > bindparam("cool_from"),
            )
        )
    return tests


def _pick_statement(excluded: Iterable[str] = ()) -> Select[Any]:
    # Constants are written into the SQL: a `Prepared` statement binds only
    # the parameters its caller names.
    conditions = [
        _POOL.c.city == bindparam("city"),
        _POOL.c.status == literal_column("'active'"),
        *_held_by_parties(),
    ]
    skip = list(excluded)
    if skip:
        conditions.append(_POOL.c.x_number.not_in(skip))
    return (
        select(_POOL.c.x_number, _POOL.c.live_count)
        .where(and_(*conditions))
        .order_by(_POOL.c.live_count, _POOL.c.last_bound_ms, _POOL.c.x_number)
        .limit(literal_column("1"))
        .offset(literal_column("0"))
        # PostgreSQL: a concurrent allocation skips the number this one is
        # taking instead of queueing behind it (SQLite has one writer anyway).
        .with_for_update(skip_locked=True)
    )


_PICK = Prepared(_pick_statement())
_TAKE = Prepared(
    update(_POOL)
    .where(_POOL.c.x_number == bindparam("x"))
    .values(live_count=_POOL.c.live_count + literal_column("1"), last_bound_ms=bindparam("now"))
)
_GIVE_BACK = Prepared(
    update(_POOL)
    .where(_POOL.c.x_number == bindparam("x"), _POOL.c.live_count > literal_column("0"))
    .values(live_count=_POOL.c.live_count - literal_column("1"))
)


def pick_number(
    connection: Connection,
    *,
    city: str,
    a_digest: bytes,
    b_digest: bytes,
    now_ms: int,
    config: NumbersConfig,
    excluded: frozenset[str] = frozenset(),
) -> PoolPick | None:
    """Choose a number for a new (A, B) binding in `city`, or None if none is free."""
    params = {
        "city": city,
        "a": a_digest,
        "b": b_digest,
        "cool_from": now_ms - config.cooldown_ms,
        "recent_from": now_ms - config.cooldown_ms - config.longest_binding_ms,
    }
    if excluded:
        row = connection.execute(_pick_statement(excluded), params).first()
    else:
        row = _PICK.first(connection, params)
    # The least loaded number this party may have: if it is full, all are.
    if row is None or row.live_count >= config.pairs_per_number:
        return None
    return PoolPick(row.x_number, int(row.live_count))


def take_number(connection: Connection, x_number: str, now_ms: int) -> None:
    """Count one more live binding on `x_number`."""
    _TAKE.run_many(connection, [{"x": x_number, "now": now_ms}])


def give_back_number(connection: Connection, x_number: str) -> None:
    """Count one live binding fewer on `x_number`."""
    _GIVE_BACK.run_many(connection, [{"x": x_number}])


def city_has_pool(connection: Connection, city: str) -> bool:
    """Tell whether `city` has any active number at all."""
    return (
        connection.scalar(
            select(_POOL.c.x_number)
            .where(_POOL.c.city == city, _POOL.c.status == "active")
            .limit(1)
        )
        is not None
    )


def pool_usage(connection: Connection, now_ms: int, config: NumbersConfig) -> list[CityUsage]:
    """Return each city pool's size, numbers in use, live bindings and capacity."""
    sizes: dict[str, tuple[int, int]] = {
        str(city): (int(total), int(in_use or 0))
        for city, total, in_use in connection.execute(
            select(
                _POOL.c.city,
                func.count(),
                func.sum(case((_POOL.c.live_count > 0, 1), else_=0)),
            )
            .where(_POOL.c.status == "active")
            .group_by(_POOL.c.city)
        )
    }
    live: dict[str, int] = {
        str(city): int(count)
        for city, count in connection.execute(
            select(_POOL.c.city, func.count())
            .select_from(_BINDINGS.join(_POOL, _BINDINGS.c.x_number == _POOL.c.x_number))
            .where(_BINDINGS.c.released_ms.is_(None), _BINDINGS.c.expires_ms >= now_ms)
            .group_by(_POOL.c.city)
        )
    }
    return [
        CityUsage(
            city=city,
            numbers=total,
            numbers_in_use=in_use,
            live_bindings=int(live.get(city, 0)),
            capacity=total * config.pairs_per_number,
        )
        for city, (total, in_use) in sorted(sizes.items())
    ]
