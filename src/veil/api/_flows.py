"""Which business flow a route belongs to, for its rate limits (`veil.watch.Flow`).

Flows are what a scraper wants at scale: order views, reveals, lookups
(customers by phone, analysts' tables), and call routing through virtual
numbers. Every other authenticated route is ``other``: it still counts against
the principal's, the key's and the client address's limits.
"""

from __future__ import annotations

from veil.watch import Flow

__all__ = ["flow_of"]

_FLOWS: dict[tuple[str, str], Flow] = {
    ("GET", "/v1/orders/{order_id}"): Flow.VIEWS,
    ("POST", "/v1/orders/views"): Flow.VIEWS,
    ("GET", "/v1/me/orders"): Flow.VIEWS,
    ("POST", "/v1/orders/{order_id}/reveal"): Flow.REVEALS,
    ("POST", "/v1/subjects/lookup"): Flow.LOOKUPS,
    ("GET", "/v1/analytics/orders"): Flow.LOOKUPS,
    ("GET", "/v1/subjects/{subject_id}/access-log"): Flow.LOOKUPS,
    ("POST", "/v1/orders/{order_id}/contact"): Flow.ROUTING,
    ("GET", "/v1/numbers/bindings"): Flow.ROUTING,
}


def flow_of(method: str, route_path: str | None) -> Flow:
    """Return the flow of a route, by method and path template (``/v1/orders/{order_id}``)."""
    if route_path is None:
        return Flow.OTHER
    flow = _FLOWS.get((method, route_path))
    if flow is not None:
        return flow
    if route_path.startswith("/v1/telephony/"):
        return Flow.ROUTING
    return Flow.OTHER
