"""The HTTP edge: authentication, size limits, request ids, routes under ``/v1``.

Routes hold no business rules: they parse, call one vault use-case, and
serialize. Every route except ``/healthz`` and the OpenAPI docs needs an API
key (``Authorization: Bearer veil_…`` or ``X-API-Key``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veil import __version__
from veil.api._errors import install_error_handlers, status_for
from veil.api._flows import flow_of
from veil.api._schemas import (
    AddressIn,
    BatchOrdersIn,
    OrderEventIn,
    OrderIn,
    OrderViewsIn,
    PhoneLookupIn,
    RedactIn,
    SubjectIn,
)
from veil.errors import AuthenticationFailed, VeilError
from veil.ids import IdKind, new_id
from veil.vault import Address, Caller, OrderSpec, RequestMeta, Vault, admit

__all__ = ["create_app"]


class _BodyLimit:
    """Refuse bodies over `limit` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(scope, receive, send, self.limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await _too_large(scope, receive, send, self.limit)


class _RequestId:
    """Give every request an id (``req_…``): in the error body, the audit row and a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id(IdKind.REQUEST)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class _BodyTooLarge(StarletteHTTPException):
    # An HTTPException, because FastAPI turns any other error raised while it
    # reads the body into a 400 "error parsing the body"; this one it re-raises.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse(
        {
            "error": {
                "code": "body_too_large",
                "message": f"request body exceeds {limit} bytes",
                "request_id": scope.get("state", {}).get("request_id"),
            }
        },
        status_code=413,
    )
    await response(scope, receive, send)


async def _caller(request: Request) -> Caller:
    # Async on purpose: the lookup is an in-memory cache hit almost always, and
    # a sync dependency would cost a thread hop per request.
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    api_key = token.strip() if scheme.lower() == "bearer" else request.headers.get("x-api-key", "")
    if not api_key:
        raise AuthenticationFailed("an API key is required (Authorization: Bearer veil_…)")
    vault: Vault = request.app.state.vault
    # Authentication, then the rate limits of the principal, the key, the
    # client address and the route's business flow (veil.watch).
    flow = flow_of(request.method, getattr(request.scope.get("route"), "path", None))
    meta = await _meta(request)
    if vault.watch is not None and vault.watch.remote:
        # Limits kept in Redis cost round trips: off the event loop with them.
        return await run_in_threadpool(admit, vault, api_key, flow=flow, meta=meta)
    return admit(vault, api_key, flow=flow, meta=meta)


async def _meta(request: Request) -> RequestMeta:
    client = request.client.host if request.client else None
    return RequestMeta(request_id=request.state.request_id, client_ip=client)


Auth = Annotated[Caller, Depends(_caller)]
Meta = Annotated[RequestMeta, Depends(_meta)]


def create_app(vault: Vault, *, max_body_bytes: int = 1_048_576) -> FastAPI:
    """Build the ASGI application serving `vault`."""
    app = FastAPI(
        title="Veil",
        version=__version__,
        description=(
            "Privacy vault and leak accountability for delivery platforms. Every route but"
            " /healthz needs `Authorization: Bearer <api key>`."
        ),
        docs_url="/docs",
    )
    app.state.vault = vault
    on_sqlite = vault.engine.dialect.name == "sqlite"
    install_error_handlers(app)

    app.add_middleware(_BodyLimit, limit=max_body_bytes)
    app.add_middleware(_RequestId)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers. Needs no key."""
        return {"status": "ok", "version": __version__}

    @app.get("/v1/me", tags=["principals"])
    def me(who: Auth) -> dict[str, Any]:
        """Who the API key belongs to."""
        return {"principal_id": who.principal_id, "role": who.role}

    @app.post("/v1/subjects", status_code=201, tags=["subjects"])
    def create_subject(body: SubjectIn, who: Auth, request_meta: Meta) -> dict[str, str]:
        """Store a customer's contact data encrypted and return its token (service only)."""
        subject_id = vault.create_subject(
            who,
            name=body.name,
            phones=body.phones,
            addresses=[_address(a) for a in body.addresses],
            meta=request_meta,
        )
        return {"subject_id": subject_id}

    @app.post("/v1/subjects/lookup", tags=["subjects"])
    def lookup_subject(body: PhoneLookupIn, who: Auth, request_meta: Meta) -> dict[str, Any]:
        """Find customers by phone through the blind index (service only)."""
        return {"subject_ids": vault.lookup_subjects_by_phone(who, body.phone, meta=request_meta)}

    @app.delete("/v1/subjects/{subject_id}", status_code=204, tags=["subjects"])
    def erase_subject(subject_id: str, who: Auth, request_meta: Meta) -> Response:
        """Crypto-shred a customer: their data never decrypts again (service only)."""
        vault.erase_subject(who, subject_id, meta=request_meta)
        return Response(status_code=204)

    @app.post("/v1/orders", status_code=201, tags=["orders"])
    def create_order(body: OrderIn, who: Auth, request_meta: Meta) -> dict[str, str]:
        """Create one order with an encrypted contact snapshot (service only)."""
        [order_id] = vault.create_orders(who, [_spec(body)], meta=request_meta)
        return {"order_id": order_id, "state": "created"}

    @app.post("/v1/orders/batch", status_code=201, tags=["orders"])
    def create_orders(body: BatchOrdersIn, who: Auth, request_meta: Meta) -> dict[str, Any]:
        """Create up to 1,000 orders, all or none (service only)."""
        ids = vault.create_orders(who, [_spec(o) for o in body.orders], meta=request_meta)
        return {"order_ids": ids}

    @app.post("/v1/orders/views", tags=["orders"])
    def view_orders(body: OrderViewsIn, who: Auth, request_meta: Meta) -> dict[str, Any]:
        """The caller's view of up to 100 orders; unknown ones come back as errors."""
        outcomes = vault.view_orders(who, body.order_ids, meta=request_meta)
        views = {k: v for k, v in outcomes.items() if not isinstance(v, VeilError)}
        errors = {
            k: {"code": v.code, "status": status_for(v), "message": v.message}
            for k, v in outcomes.items()
            if isinstance(v, VeilError)
        }
        return {"views": views, "errors": errors}

    @app.get("/v1/orders/{order_id}", tags=["orders"])
    async def view_order(order_id: str, who: Auth, request_meta: Meta) -> dict[str, Any]:
        """The caller's view of one order, as its role allows at this moment."""
        if on_sqlite:
            # SQLite serialises writers in-process anyway (every view writes its
            # audit row), so a thread hop would only add latency.
            return vault.view_order(who, order_id, meta=request_meta)
        return await run_in_threadpool(vault.view_order, who, order_id, meta=request_meta)

    @app.post("/v1/orders/{order_id}/events", tags=["orders"])
    def post_event(
        order_id: str, body: OrderEventIn, who: Auth, request_meta: Meta
    ) -> dict[str, str]:
        """Move the order along: accept, assign (rider_id), pickup, deliver, cancel (service)."""
        state = vault.post_order_event(
            who, order_id, body.event, rider_id=body.rider_id, meta=request_meta
        )
        return {"order_id": order_id, "state": state}

    @app.post("/v1/redact", tags=["redaction"])
    def redact(body: RedactIn, who: Auth, request_meta: Meta) -> dict[str, Any]:
        """Replace PII typed into free text with placeholders (service only).

        For text Veil does not store, such as rider-customer chat. Findings give
        offsets and types, never the covered text.
        """
        text, findings = vault.redact_text(
            who, body.text, language=body.language, meta=request_meta
        )
        return {"text": text, "findings": findings}

    @app.get("/v1/me/orders", tags=["orders"])
    def my_orders(who: Auth, request_meta: Meta) -> dict[str, Any]:
        """A rider's or merchant's own active orders (ids and states)."""
        return {"orders": vault.active_orders(who, meta=request_meta)}

    # Imported here: the staff routes import `Auth` and `Meta` from this module.
    from veil.api._staff_routes import router as staff_router  # noqa: PLC0415

    app.include_router(staff_router)
    from veil.api._numbers_routes import router as numbers_router  # noqa: PLC0415

    app.include_router(numbers_router)
    from veil.api._audit_routes import router as audit_router  # noqa: PLC0415

    app.include_router(audit_router)
    from veil.api._watch_routes import router as watch_router  # noqa: PLC0415

    app.include_router(watch_router)
    return app


def _address(body: AddressIn) -> Address:
    return Address(**body.model_dump())


def _spec(body: OrderIn) -> OrderSpec:
    return OrderSpec(
        subject_id=body.subject_id,
        merchant_id=body.merchant_id,
        address=_address(body.address) if body.address else None,
        address_index=body.address_index,
        contact_phone=body.contact_phone,
        contact_name=body.contact_name,
        note=body.note,
    )
