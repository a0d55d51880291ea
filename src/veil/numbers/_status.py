"""What operators read about numbers: an order's bindings, pool usage, today's leak signals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from veil.numbers._config import NumbersConfig
from veil.numbers._format import display_number, iso_ms
from veil.numbers._pool import CityUsage, pool_usage
from veil.store import LEAK_SIGNALS, NUMBER_BINDINGS

__all__ = ["NumbersStatus", "numbers_status", "order_bindings"]

_B = NUMBER_BINDINGS


@dataclass(frozen=True, slots=True)
class NumbersStatus:
    """What ``veil numbers status`` shows."""

    provider: str
    cities: list[CityUsage]
    live_bindings: int
    fallbacks_live: int
    leak_signals_today: int
    provider_pending: int


def order_bindings(connection: Connection, order_id: str, now_ms: int) -> list[dict[str, Any]]:
    """Return every binding of an order, oldest first (ids, numbers, times; no real number)."""
    rows = connection.execute(
        select(_B).where(_B.c.order_id == order_id).order_by(_B.c.created_ms, _B.c.id)
    ).all()
    out = []
    for row in rows:
        if row.x_number is None:
            status = "fallback"
        elif row.released_ms is not None:
            status = "released" if row.release_reason != "expired" else "expired"
        elif now_ms > row.expires_ms:
            status = "expired"
        else:
            status = "live"
        out.append(
            {
                "binding_id": row.id,
                "holder_id": row.holder_id,
                "holder_role": row.holder_role,
                "virtual_number": display_number(row.x_number) if row.x_number else None,
                "status": status,
                "created_at": iso_ms(row.created_ms),
                "expires_at": iso_ms(row.expires_ms),
                "released_at": iso_ms(row.released_ms) if row.released_ms else None,
                "release_reason": row.release_reason,
                "fallback_reason": row.fallback_reason,
                "provider_state": row.provider_state,
            }
        )
    return out


def numbers_status(
    connection: Connection, now_ms: int, *, provider: str, config: NumbersConfig
) -> NumbersStatus:
    """Summarise pools, live bindings and today's (UTC) leak signals."""
    day_start = now_ms - now_ms % 86_400_000
    live = _B.c.released_ms.is_(None) & (_B.c.expires_ms >= now_ms)
    return NumbersStatus(
        provider=provider,
        cities=pool_usage(connection, now_ms, config),
        live_bindings=int(
            connection.scalar(select(func.count()).where(live, _B.c.x_number.is_not(None))) or 0
        ),
        fallbacks_live=int(
            connection.scalar(select(func.count()).where(live, _B.c.x_number.is_(None))) or 0
        ),
        leak_signals_today=int(
            connection.scalar(select(func.count()).where(LEAK_SIGNALS.c.at_ms >= day_start)) or 0
        ),
        provider_pending=int(
            connection.scalar(select(func.count()).where(_B.c.provider_state == "unbind_pending"))
            or 0
        ),
    )
