"""The simulator's way in: Veil's HTTP routes, called in process, behind the same checks.

Each call does what the HTTP edge does for the matching route: `admit` (API
key, rate limits of principal, key, client address and business flow), then
the one vault use-case, and answers with the status the API would send. It
skips only JSON and sockets, so a simulated day runs in minutes while every
policy decision, audit row and detection is Veil's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from veil.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    RateLimited,
    StorageUnavailable,
    VeilError,
)
from veil.ids import IdKind, new_id
from veil.vault import (
    Caller,
    OrderSpec,
    RequestMeta,
    Vault,
    admit,
    close_ticket,
    export_orders,
    open_ticket,
    reveal_order,
)
from veil.watch import Flow

__all__ = ["Gateway", "Reply"]

_STATUS: tuple[tuple[type[VeilError], int], ...] = (
    (AuthenticationFailed, 401),
    (NotFound, 404),
    (AccessDenied, 403),
    (Conflict, 409),
    (QuotaExceeded, 429),
    (RateLimited, 429),
    (InvalidInput, 422),
    (StorageUnavailable, 503),
)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the API would have answered: a status and, on success, the body."""

    status: int
    body: Any = None

    @property
    def ok(self) -> bool:
        """Tell whether the request succeeded (2xx)."""
        return 200 <= self.status < 300


def _status(error: VeilError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


class Gateway:
    """Veil's routes as method calls: API key and client address in, `Reply` out."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.requests = 0

    def call(
        self, api_key: str, flow: Flow, client_ip: str, use: Callable[[Caller, RequestMeta], Any]
    ) -> Reply:
        """Admit the request like the HTTP edge does, then run `use(caller, meta)`."""
        self.requests += 1
        meta = RequestMeta(request_id=new_id(IdKind.REQUEST), client_ip=client_ip)
        try:
            caller = admit(self.vault, api_key, flow=flow, meta=meta)
            return Reply(200, use(caller, meta))
        except VeilError as error:
            return Reply(_status(error), error.code)

    # ---- the routes the simulated city uses

    def view_order(self, api_key: str, client_ip: str, order_id: str) -> Reply:
        """``GET /v1/orders/{order_id}``."""
        return self.call(
            api_key, Flow.VIEWS, client_ip, lambda c, m: self.vault.view_order(c, order_id, meta=m)
        )

    def view_orders(self, api_key: str, client_ip: str, order_ids: Sequence[str]) -> Reply:
        """``POST /v1/orders/views``: the body maps ids to views or errors."""

        def use(caller: Caller, meta: RequestMeta) -> dict[str, int]:
            outcomes = self.vault.view_orders(caller, order_ids, meta=meta)
            return {k: _status(v) if isinstance(v, VeilError) else 200 for k, v in outcomes.items()}

        return self.call(api_key, Flow.VIEWS, client_ip, use)

    def create_orders(self, api_key: str, client_ip: str, specs: Sequence[OrderSpec]) -> Reply:
        """``POST /v1/orders/batch``."""
        return self.call(
            api_key,
            Flow.OTHER,
            client_ip,
            lambda c, m: self.vault.create_orders(c, specs, meta=m),
        )

    def order_event(
        self, api_key: str, client_ip: str, order_id: str, event: str, rider_id: str | None = None
    ) -> Reply:
        """``POST /v1/orders/{order_id}/events``."""
        return self.call(
            api_key,
            Flow.OTHER,
            client_ip,
            lambda c, m: self.vault.post_order_event(c, order_id, event, rider_id=rider_id, meta=m),
        )

    def open_ticket(
        self, api_key: str, client_ip: str, order_id: str, agent_id: str | None = None
    ) -> Reply:
        """``POST /v1/tickets``."""
        return self.call(
            api_key,
            Flow.OTHER,
            client_ip,
            lambda c, m: open_ticket(self.vault, c, order_id, agent_id=agent_id, meta=m),
        )

    def close_ticket(self, api_key: str, client_ip: str, ticket_id: str) -> Reply:
        """``POST /v1/tickets/{ticket_id}/close``."""
        return self.call(
            api_key,
            Flow.OTHER,
            client_ip,
            lambda c, m: close_ticket(self.vault, c, ticket_id, meta=m),
        )

    def reveal(
        self,
        api_key: str,
        client_ip: str,
        order_id: str,
        *,
        fields: Sequence[str],
        purpose: str,
        ticket_id: str | None = None,
    ) -> Reply:
        """``POST /v1/orders/{order_id}/reveal``."""
        return self.call(
            api_key,
            Flow.REVEALS,
            client_ip,
            lambda c, m: reveal_order(
                self.vault, c, order_id, fields=fields, purpose=purpose, ticket_id=ticket_id, meta=m
            ),
        )

    def analytics(self, api_key: str, client_ip: str, since: Any, until: Any) -> Reply:
        """``GET /v1/analytics/orders``."""
        return self.call(
            api_key,
            Flow.LOOKUPS,
            client_ip,
            lambda c, m: export_orders(self.vault, c, since=since, until=until, limit=200, meta=m),
        )
