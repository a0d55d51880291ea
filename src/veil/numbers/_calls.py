"""Call records: when a call through a virtual number started and ended; never its content.

One row per provider call id (``number_calls``). The routing callback fills
the decision (``_routing``); the provider's call report fills start, end and
duration. Reports may arrive before the routing callback, twice, or late: a
report event is applied once, and the first report of a call sets its times.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from veil.errors import InvalidInput
from veil.ids import IdKind, new_id
from veil.numbers._format import display_number
from veil.numbers._providers import CallReport
from veil.store import NUMBER_CALL_REPORTS, NUMBER_CALLS, Prepared

__all__ = ["call_record", "check_event_ids", "report_call"]

_C = NUMBER_CALLS
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,64}$")

_CLAIM_REPORT = {
    "sqlite": Prepared(
        sqlite.insert(NUMBER_CALL_REPORTS)
        .values(
            provider_event_id=bindparam("e"), call_id=bindparam("c"), received_ms=bindparam("now")
        )
        .on_conflict_do_nothing()
    ),
    "postgresql": Prepared(
        postgresql.insert(NUMBER_CALL_REPORTS)
        .values(
            provider_event_id=bindparam("e"), call_id=bindparam("c"), received_ms=bindparam("now")
        )
        .on_conflict_do_nothing()
    ),
}
_REPORT_VALUES: dict[str, Any] = {
    "id": bindparam("id"),
    "call_id": bindparam("c"),
    "started_ms": bindparam("s"),
    "ended_ms": bindparam("e"),
    "duration_ms": bindparam("d"),
}
_INSERT_REPORTED = {
    "sqlite": Prepared(sqlite.insert(_C).values(_REPORT_VALUES).on_conflict_do_nothing()),
    "postgresql": Prepared(postgresql.insert(_C).values(_REPORT_VALUES).on_conflict_do_nothing()),
}
_FILL_TIMES = Prepared(
    update(_C)
    .where(_C.c.call_id == bindparam("c"))
    .values(
        started_ms=func.coalesce(_C.c.started_ms, bindparam("s")),
        ended_ms=func.coalesce(_C.c.ended_ms, bindparam("e")),
        duration_ms=func.coalesce(_C.c.duration_ms, bindparam("d")),
    )
)


def check_event_ids(event_id: str, call_id: str) -> None:
    """Refuse provider ids that are empty, too long, or not printable ASCII."""
    if not _EVENT_ID.match(event_id):
        raise InvalidInput("provider_event_id must be 1 to 64 printable ASCII characters")
    if not _EVENT_ID.match(call_id):
        raise InvalidInput("call_id must be 1 to 64 printable ASCII characters")


def report_call(connection: Connection, report: CallReport, now_ms: int) -> dict[str, Any]:
    """Record a call report (start, end, duration; no content); repeats change nothing.

    Raises:
        InvalidInput: an id is malformed, or the call ends before it starts.
    """
    check_event_ids(report.provider_event_id, report.call_id)
    started, ended = report.started_ms, report.ended_ms
    for moment in (started, ended):
        if moment is not None and not 0 <= moment < 2**53:
            raise InvalidInput("call times must be epoch milliseconds")
    if started is not None and ended is not None and ended < started:
        raise InvalidInput("a call cannot end before it starts")
    dialect = connection.dialect.name
    claimed = _CLAIM_REPORT[dialect].run(
        connection, {"e": report.provider_event_id, "c": report.call_id, "now": now_ms}
    )
    if claimed == 0:
        return {"call_id": report.call_id, "status": "duplicate"}
    duration = ended - started if started is not None and ended is not None else 0
    times = {"c": report.call_id, "s": started, "e": ended, "d": duration}
    # The report may come before the routing callback: then it starts the row.
    if _INSERT_REPORTED[dialect].run(connection, {"id": new_id(IdKind.CALL), **times}) == 0:
        _FILL_TIMES.run(connection, times)
    return {"call_id": report.call_id, "status": "recorded"}


def call_record(connection: Connection, call_id: str) -> dict[str, Any] | None:
    """Return one call's record by the provider's call id (no numbers, no content)."""
    row = connection.execute(select(_C).where(_C.c.call_id == call_id)).first()
    if row is None:
        return None
    return {
        "call_id": row.call_id,
        "kind": row.kind,
        "virtual_number": display_number(row.x_number) if row.x_number else None,
        "binding_id": row.binding_id,
        "order_id": row.order_id,
        "caller_party": row.caller_party,
        "decision": row.decision,
        "reason": row.reason,
        "routed_ms": row.routed_ms,
        "started_ms": row.started_ms,
        "ended_ms": row.ended_ms,
        "duration_ms": row.duration_ms,
    }
