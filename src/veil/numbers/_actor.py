"""Who asked for the work a numbers call does, for the audit rows it returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from veil.audit import AuditRecord, AuditTag

__all__ = ["Actor"]


# json.dumps with options builds a new encoder per call; one, reused, is the same text.
_DETAIL = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Actor:
    """The request behind an operation: where it came from (principal, request id, IP)."""

    principal_id: str | None = None
    role: str | None = None
    request_id: str | None = None
    client_ip: str | None = None

    def record(
        self,
        tag: AuditTag,
        at_ms: int,
        *,
        decision: str = "allow",
        principal_id: str | None = None,
        role: str | None = None,
        order_id: str | None = None,
        fields: tuple[str, ...] = (),
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Return an audit record of this request.

        `principal_id` and `role` name whom the event is about when that is not
        the requester (the holder a number was issued to, or who a leak signal
        names); the requester is then kept in the detail.
        """
        about = principal_id is not None and principal_id != self.principal_id
        body = dict(detail or {})
        if about and self.principal_id is not None:
            body["requested_by"] = self.principal_id
        return AuditRecord(
            tag=tag,
            at_ms=at_ms,
            decision=decision,
            principal_id=principal_id if about else self.principal_id,
            role=role if about else self.role,
            order_id=order_id,
            fields=fields,
            reason=reason,
            request_id=self.request_id,
            client_ip=self.client_ip,
            detail=_DETAIL.encode(body) if body else None,
        )
