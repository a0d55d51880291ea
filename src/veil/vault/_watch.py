"""The watch's use-cases: admitting a request, handling alerts, reversing responses.

`admit` is what every authenticated request goes through, over HTTP and in
the simulator alike: authenticate the API key, then consume the rate limits of
the principal, the key, the client address and the business flow.

Alerts are read and handled by admins and security officers (``watch.cedar``);
every read and every change is audited in the same transaction. Only an admin
reinstates a principal the watch suspended or put under step-up.
"""

from __future__ import annotations

import json
import re
from typing import Any

from veil.audit import AuditRecord, AuditTag, append_events
from veil.crypto import api_key_digest
from veil.errors import AuthenticationFailed, InvalidInput
from veil.vault._model import Caller, RequestMeta
from veil.vault._vault import Vault
from veil.watch import (
    ALERT_STATUSES,
    Flow,
    acknowledge_alert,
    alert_document,
    approve_reveal,
    close_alert,
    list_alerts,
    live_controls,
    load_alert,
    reinstate,
)

__all__ = [
    "MAX_ALERTS_LISTED",
    "OPERATOR",
    "acknowledge",
    "admit",
    "alert_of",
    "alerts_for",
    "approve_step_up",
    "close",
    "principal_controls",
    "reinstate_principal",
]

MAX_ALERTS_LISTED = 500
# Who acts when a command runs on the server itself, with database access.
OPERATOR = "operator"
_NO_META = RequestMeta()
# Seven digits in a row look like a phone, ID or card number: reasons are
# people's words, stored and shown, so they must refer to a case, not quote one.
_DIGIT_RUN = re.compile(r"\d{7}")


def admit(vault: Vault, api_key: str, *, flow: Flow, meta: RequestMeta = _NO_META) -> Caller:
    """Authenticate `api_key` and consume the request's rate limits.

    Raises:
        AuthenticationFailed: unknown, revoked, disabled or suspended key.
        RateLimited: a limit is exhausted (also after too many failed keys from one address).
    """
    watch = vault.watch
    try:
        caller = vault.authenticate(api_key)
    except AuthenticationFailed:
        if watch is not None:
            watch.refuse_failed_authentication(client_ip=meta.client_ip, request_id=meta.request_id)
        raise
    if watch is not None:
        watch.admit(
            principal_id=caller.principal_id,
            role=caller.role,
            key_ref=api_key_digest(api_key)[:8].hex(),
            client_ip=meta.client_ip,
            flow=flow,
            request_id=meta.request_id,
        )
    return caller


def alerts_for(
    vault: Vault,
    caller: Caller,
    *,
    status: str | None = None,
    kind: str | None = None,
    principal_id: str | None = None,
    limit: int = 100,
    meta: RequestMeta = _NO_META,
) -> list[dict[str, Any]]:
    """List alerts, newest activity first (admins and security officers)."""
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "view_alerts", now_ms, meta)
    if status is not None and status not in (*ALERT_STATUSES, "active"):
        raise InvalidInput(f"status must be one of {', '.join((*ALERT_STATUSES, 'active'))}")
    if not 1 <= limit <= MAX_ALERTS_LISTED:
        raise InvalidInput(f"limit must be 1 to {MAX_ALERTS_LISTED}")
    with vault._transaction() as connection:
        rows = list_alerts(
            connection, status=status, kind=kind, principal_id=principal_id, limit=limit
        )
        append_events(
            connection,
            [_record(AuditTag.ALERTS_LISTED, caller, now_ms, meta, detail={"count": len(rows)})],
        )
    return [alert_document(row) for row in rows]


def alert_of(
    vault: Vault, caller: Caller, alert_id: str, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Return one alert with its evidence (admins and security officers)."""
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "view_alerts", now_ms, meta)
    with vault._transaction() as connection:
        row = load_alert(connection, alert_id)
        append_events(
            connection,
            [_record(AuditTag.ALERTS_LISTED, caller, now_ms, meta, detail={"alert_id": row.id})],
        )
    return alert_document(row)


def acknowledge(
    vault: Vault, caller: Caller, alert_id: str, *, reason: str, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Acknowledge an open alert: someone is on it (admins and security officers)."""
    return _handle(vault, caller, alert_id, reason, meta, close=False)


def close(
    vault: Vault, caller: Caller, alert_id: str, *, reason: str, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Close an alert; its principal's counters start afresh (admins and security officers)."""
    return _handle(vault, caller, alert_id, reason, meta, close=True)


def _handle(
    vault: Vault, caller: Caller, alert_id: str, reason: str, meta: RequestMeta, *, close: bool
) -> dict[str, Any]:
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "manage_alerts", now_ms, meta)
    text = _checked_reason(reason)
    change = close_alert if close else acknowledge_alert
    with vault._transaction() as connection:
        row = change(connection, alert_id, by=caller.principal_id, reason=text, now_ms=now_ms)
        append_events(
            connection,
            [
                _record(
                    AuditTag.ALERT_CLOSED if close else AuditTag.ALERT_ACKNOWLEDGED,
                    caller,
                    now_ms,
                    meta,
                    detail={"alert_id": row.id, "kind": row.kind, "about": row.principal_id},
                )
            ],
        )
    if close and vault.watch is not None and row.principal_id is not None:
        vault.watch.forget(row.principal_id, now_ms)
    return alert_document(row)


def reinstate_principal(
    vault: Vault,
    caller: Caller | None,
    principal_id: str,
    *,
    reason: str,
    meta: RequestMeta = _NO_META,
) -> dict[str, Any]:
    """Lift a suspension or step-up (an admin; `caller` None is the operator on the server).

    Raises:
        NotFound: no such principal.
        Conflict: nothing to lift.
    """
    now_ms = vault._now_ms()
    if caller is not None:
        vault._require_vault_action(caller, "reinstate_principal", now_ms, meta)
    text = _checked_reason(reason)
    by = caller.principal_id if caller is not None else OPERATOR
    with vault._transaction() as connection:
        outcome = reinstate(connection, principal_id, by=by, reason=text, now_ms=now_ms)
    if vault.watch is not None:
        vault.watch.forget(principal_id, now_ms)
    vault.forget_cached_callers()
    return outcome


def approve_step_up(
    vault: Vault,
    caller: Caller | None,
    principal_id: str,
    order_id: str,
    *,
    minutes: int = 15,
    meta: RequestMeta = _NO_META,
) -> dict[str, Any]:
    """Approve one reveal of one order by a principal under step-up (a second person)."""
    now_ms = vault._now_ms()
    if caller is not None:
        vault._require_vault_action(caller, "approve_step_up", now_ms, meta)
    by = caller.principal_id if caller is not None else OPERATOR
    with vault._transaction() as connection:
        return approve_reveal(
            connection, principal_id, order_id, by=by, minutes=minutes, now_ms=now_ms
        )


def principal_controls(vault: Vault, principal_id: str) -> list[dict[str, Any]]:
    """Return the controls in force on a principal (for operators on the server)."""
    with vault.engine.connect() as connection:
        rows = live_controls(connection, principal_id)
    return [
        {
            "control": row.control,
            "order_id": row.order_id,
            "alert_id": row.alert_id,
            "reason": row.reason,
            "imposed_by": row.imposed_by,
            "imposed_ms": row.imposed_ms,
            "expires_ms": row.expires_ms,
        }
        for row in rows
    ]


def _checked_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not 3 <= len(text) <= 200:
        raise InvalidInput("reason must be 3 to 200 characters")
    if _DIGIT_RUN.search(text):
        raise InvalidInput("reason must not contain phone, ID or card numbers; refer to the case")
    return text


def _record(
    tag: AuditTag, caller: Caller, now_ms: int, meta: RequestMeta, *, detail: dict[str, Any]
) -> AuditRecord:
    return AuditRecord(
        tag,
        now_ms,
        "allow",
        principal_id=caller.principal_id,
        role=caller.role,
        request_id=meta.request_id,
        client_ip=meta.client_ip,
        detail=json.dumps(detail, sort_keys=True),
    )
