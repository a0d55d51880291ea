"""Audit routes: signed checkpoints and Merkle proofs, and a customer's access log.

Transport only: each route parses, calls one vault use-case, serializes. Who
may call what is in ``audit.cedar``. Hashes are standard base64; proofs are
RFC 9162 paths, O(log n) hashes each.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request

from veil.api._app import Auth, Meta
from veil.audit import BackgroundIntegrator, Integrator
from veil.vault import (
    MAX_ACCESS_LOG_ENTRIES,
    Vault,
    access_log,
    audit_checkpoint,
    audit_consistency_proof,
    audit_inclusion_proof,
)

__all__ = ["router", "run_integrator"]

router = APIRouter(tags=["audit"])

_Count = Annotated[int, Query(ge=0, le=2**48)]
_Limit = Annotated[int, Query(ge=1, le=MAX_ACCESS_LOG_ENTRIES)]
_Cursor = Annotated[int | None, Query(ge=1, le=2**48)]


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


@router.get("/v1/audit/checkpoint")
def get_checkpoint(who: Auth, meta: Meta, request: Request) -> dict[str, Any]:
    """The latest signed checkpoint: size, root hash, time and the C2SP note (admin, auditor)."""
    return audit_checkpoint(_vault(request), who, meta=meta)


@router.get("/v1/audit/proof/inclusion")
def get_inclusion_proof(
    who: Auth, meta: Meta, request: Request, index: _Count, size: _Count
) -> dict[str, Any]:
    """The inclusion proof of leaf `index` in the tree of `size` leaves (admin, auditor)."""
    return audit_inclusion_proof(_vault(request), who, index=index, size=size, meta=meta)


@router.get("/v1/audit/proof/consistency")
def get_consistency_proof(
    who: Auth,
    meta: Meta,
    request: Request,
    old_size: Annotated[int, Query(alias="from", ge=0, le=2**48)],
    new_size: Annotated[int, Query(alias="to", ge=0, le=2**48)],
) -> dict[str, Any]:
    """The consistency proof from the tree of `from` leaves to the tree of `to` (admin, auditor)."""
    return audit_consistency_proof(
        _vault(request), who, old_size=old_size, new_size=new_size, meta=meta
    )


@router.get("/v1/me/access-log")
def my_access_log(
    who: Auth, meta: Meta, request: Request, limit: _Limit = 50, before: _Cursor = None
) -> dict[str, Any]:
    """Who accessed my data: role, pseudonymous label, time, fields, purpose, order (customer)."""
    return access_log(_vault(request), who, limit=limit, before=before, meta=meta)


@router.get("/v1/subjects/{subject_id}/access-log")
def subject_access_log(
    subject_id: str,
    *,
    who: Auth,
    meta: Meta,
    request: Request,
    limit: _Limit = 50,
    before: _Cursor = None,
) -> dict[str, Any]:
    """A customer's access log, for the platform acting on the customer's request (service)."""
    return access_log(
        _vault(request), who, subject_id=subject_id, limit=limit, before=before, meta=meta
    )


def run_integrator(app: FastAPI, integrator: Integrator) -> None:
    """Run `integrator` on a background thread for as long as `app` serves."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        background = BackgroundIntegrator(integrator).start()
        try:
            async with inner(served) as state:
                yield state
        finally:
            # Joining waits for the current round; keep the event loop free meanwhile.
            await asyncio.to_thread(background.stop)

    app.router.lifespan_context = lifespan
