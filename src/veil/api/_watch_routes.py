"""Watch routes: alerts (list, show, acknowledge, close) and reversing automatic responses.

Transport only: each route parses, calls one vault use-case, serializes. Who
may do what is in ``watch.cedar`` (admins and security officers handle
alerts; only admins reinstate).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from veil.api._app import Auth, Meta
from veil.api._schemas import _Strict
from veil.vault import (
    MAX_ALERTS_LISTED,
    Vault,
    acknowledge,
    alert_of,
    alerts_for,
    approve_step_up,
    close,
    reinstate_principal,
)

__all__ = ["router"]

router = APIRouter()


class ReasonIn(_Strict):
    """Why (kept with the alert or the reinstatement; no phone or ID numbers)."""

    reason: Annotated[str, Field(min_length=3, max_length=200)]


class RevealApprovalIn(_Strict):
    """One reveal of one order that a principal under step-up may make."""

    order_id: Annotated[str, Field(max_length=40)]
    minutes: Annotated[int, Field(ge=1, le=60)] = 15


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


@router.get("/v1/alerts", tags=["watch"])
def get_alerts(
    *,
    who: Auth,
    meta: Meta,
    request: Request,
    status: Annotated[
        str | None, Query(max_length=16, description="open, acknowledged, closed or active.")
    ] = None,
    kind: Annotated[str | None, Query(max_length=48)] = None,
    principal_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ALERTS_LISTED)] = 100,
) -> dict[str, Any]:
    """Alerts, newest activity first, with their evidence (admins, security officers)."""
    alerts = alerts_for(
        _vault(request),
        who,
        status=status,
        kind=kind,
        principal_id=principal_id,
        limit=limit,
        meta=meta,
    )
    return {"alerts": alerts}


@router.get("/v1/alerts/{alert_id}", tags=["watch"])
def get_alert(alert_id: str, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """One alert with its evidence (admins, security officers)."""
    return alert_of(_vault(request), who, alert_id, meta=meta)


@router.post("/v1/alerts/{alert_id}/ack", tags=["watch"])
def ack_alert(
    alert_id: str, body: ReasonIn, who: Auth, meta: Meta, request: Request
) -> dict[str, Any]:
    """Acknowledge an open alert: someone is on it (admins, security officers)."""
    return acknowledge(_vault(request), who, alert_id, reason=body.reason, meta=meta)


@router.post("/v1/alerts/{alert_id}/close", tags=["watch"])
def close_alert(
    alert_id: str, body: ReasonIn, who: Auth, meta: Meta, request: Request
) -> dict[str, Any]:
    """Close an alert, saying why; the principal's counters start afresh."""
    return close(_vault(request), who, alert_id, reason=body.reason, meta=meta)


@router.post("/v1/principals/{principal_id}/reinstate", tags=["watch"])
def reinstate(
    principal_id: str, body: ReasonIn, who: Auth, meta: Meta, request: Request
) -> dict[str, Any]:
    """Lift a suspension or step-up the watch imposed (admins)."""
    return reinstate_principal(_vault(request), who, principal_id, reason=body.reason, meta=meta)


@router.post("/v1/principals/{principal_id}/step-up/approvals", status_code=201, tags=["watch"])
def approve_reveal(
    principal_id: str, body: RevealApprovalIn, who: Auth, meta: Meta, request: Request
) -> dict[str, Any]:
    """Approve one reveal of one order by a principal under step-up (a second person)."""
    return approve_step_up(
        _vault(request), who, principal_id, body.order_id, minutes=body.minutes, meta=meta
    )
