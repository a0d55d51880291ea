"""Privacy-number routes: the telephony webhooks, a merchant's number request, the bindings list.

Transport only: each route parses, calls one vault use-case, serializes. The
rules are in ``veil.numbers`` and ``numbers.cedar``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from veil.api._app import Auth, Meta
from veil.numbers import CallReport, RouteRequest, parse_secret_reports
from veil.vault import Vault, order_bindings, report_telephony, request_contact, route_telephony

__all__ = ["router"]

router = APIRouter()

_EventId = Annotated[str, Field(min_length=1, max_length=64)]
_MAX_RECEIPTS_BYTES = 256 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RouteIn(_Strict):
    """A provider's routing callback: who dialled which virtual number."""

    caller: Annotated[str, Field(max_length=32)]
    called_x: Annotated[str, Field(min_length=1, max_length=32)]
    kind: Annotated[str, Field(pattern="^(call|sms)$")] = "call"
    provider_event_id: _EventId
    call_id: _EventId | None = None


class ReportIn(_Strict):
    """A provider's call report: when the call was answered and when it ended (no content)."""

    provider_event_id: _EventId
    call_id: _EventId
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def _ms(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


@router.post("/v1/telephony/route", tags=["numbers"])
async def route(body: RouteIn, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Whom a call or SMS to a virtual number connects to, or reject (telephony gateway).

    Idempotent on ``provider_event_id``: a repeated callback gets the first answer.
    """
    # Async on purpose: the decision is a few indexed reads and one commit,
    # cheaper than the hop to the thread pool (the view route does the same).
    return route_telephony(
        _vault(request),
        who,
        RouteRequest(body.caller, body.called_x, body.kind, body.provider_event_id, body.call_id),
        meta=meta,
    )


@router.post("/v1/telephony/report", tags=["numbers"])
def report(body: ReportIn, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Record a call's start and end (no content); repeats and early reports are fine."""
    return report_telephony(
        _vault(request),
        who,
        CallReport(body.provider_event_id, body.call_id, _ms(body.started_at), _ms(body.ended_at)),
        meta=meta,
    )


@router.post("/v1/telephony/receipts/aliyun", tags=["numbers"])
async def aliyun_receipts(who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """Alibaba PNS ``SecretReport`` receipts (HTTP push), recorded as call reports."""
    body = await request.body()
    reports = parse_secret_reports(body[:_MAX_RECEIPTS_BYTES])
    vault = _vault(request)
    outcomes = [report_telephony(vault, who, item, meta=meta)["status"] for item in reports]
    # Alibaba expects this exact shape, or it pushes the receipts again.
    return {"code": 0, "msg": "成功", "recorded": outcomes.count("recorded")}


@router.get("/v1/numbers/bindings", tags=["numbers"])
def bindings(
    who: Auth,
    meta: Meta,
    request: Request,
    order: Annotated[str, Query(max_length=40, description="The order (ord_…).")],
) -> dict[str, Any]:
    """An order's bindings: numbers, holders, times, status; never a real number (service)."""
    return {"order_id": order, "bindings": order_bindings(_vault(request), who, order, meta=meta)}


@router.post("/v1/orders/{order_id}/contact", tags=["numbers"])
def contact(order_id: str, who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """A merchant asks for a virtual number to reach the customer (before pickup)."""
    return {
        "order_id": order_id,
        "contact": request_contact(_vault(request), who, order_id, meta=meta),
    }
