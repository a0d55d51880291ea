"""Policy administration: reload without restart, refuse a bad set, audit every change.

A reload parses and validates the whole directory (``.cedar`` files against
the schema, ``quotas.toml``) before anything changes; if any file is bad, the
policy set in force stays in force and the error is returned and audited.
Two ways in: an admin's ``POST /v1/admin/policies/reload``, and a
`PolicyWatcher` that notices changed files (every worker process runs one,
so a change reaches all of them without a restart).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from veil.audit import AuditRecord, AuditTag, append_events
from veil.errors import ConfigurationError, InvalidInput, NotFound
from veil.ids import IdKind, is_id
from veil.policy import (
    ORDER_ACTIONS,
    Decision,
    Explanation,
    PolicySource,
    PrincipalFacts,
    decide_break_glass,
    decide_staff_order,
    decide_ticket,
    decide_vault_action,
    explain,
)
from veil.store import ORDERS, PRINCIPALS
from veil.vault._model import Caller, RequestMeta
from veil.vault._staff import (
    REQUESTER_ROLES,
    detail_json,
    grant_facts,
    load_grant,
    load_ticket,
    own_grants,
    own_tickets,
    ticket_facts,
)
from veil.vault._vault import Vault, _order_facts

__all__ = [
    "PolicyWatcher",
    "explain_request",
    "policy_fingerprint",
    "policy_status",
    "reload_policies",
]

log = logging.getLogger("veil.policy")
_NO_META = RequestMeta()


def policy_status(vault: Vault, caller: Caller, *, meta: RequestMeta = _NO_META) -> dict[str, Any]:
    """Describe the policy set in force (admins): digest, directory, policy ids, quotas."""
    vault._require_vault_action(caller, "view_policies", vault._now_ms(), meta)
    return _status(vault.policy.source)


def reload_policies(
    vault: Vault, caller: Caller, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Load the policy directory again and put it in force (admins).

    Raises:
        AccessDenied: the caller is not an admin.
        InvalidInput: a file is bad; its error is in the message and the old
            policy set stays in force.
    """
    now_ms = vault._now_ms()
    vault._require_vault_action(caller, "reload_policies", now_ms, meta)
    old = vault.policy.source
    if old.directory is None:
        raise InvalidInput("the policies in force were not loaded from a directory")

    def record(tag: AuditTag, **values: Any) -> AuditRecord:
        return AuditRecord(
            tag=tag,
            at_ms=now_ms,
            principal_id=caller.principal_id,
            role=caller.role,
            request_id=meta.request_id,
            client_ip=meta.client_ip,
            **values,
        )

    try:
        new = PolicySource.load(old.directory)
    except ConfigurationError as exc:
        with vault._transaction() as connection:
            append_events(
                connection,
                [
                    record(
                        AuditTag.POLICIES_RELOAD_REFUSED,
                        decision="deny",
                        reason="policy files refused",
                        detail=detail_json({"in_force": old.digest, "error": exc.message[:2000]}),
                    )
                ],
            )
        raise InvalidInput(
            f"policy reload refused; the policy set in force is unchanged: {exc.message}"
        ) from None
    # The audit row commits first: a change nobody recorded must not take effect.
    with vault._transaction() as connection:
        append_events(
            connection,
            [record(AuditTag.POLICIES_RELOADED, decision="allow", detail=_change(old, new))],
        )
    vault.policy.replace(new)
    return {**_status(new), "previous_digest": old.digest, "changed": old.digest != new.digest}


def explain_request(
    vault: Vault,
    principal_id: str,
    action: str,
    *,
    order_id: str | None = None,
    ticket_id: str | None = None,
    grant_id: str | None = None,
    purpose: str | None = None,
    fields: tuple[str, ...] = (),
    now_ms: int | None = None,
) -> Explanation:
    """Decide a request from the facts in the store, as the API would, and explain it.

    For an operator's `veil policy explain`: it reads facts (ids, states,
    times), never contact data, and writes nothing. Without `ticket_id` or
    `grant_id`, the principal's own ticket or grant on the order is used,
    exactly as on the view and reveal paths.

    Raises:
        NotFound: the principal, order, ticket or grant does not exist.
        InvalidInput: the action needs an object that was not named.
    """
    now_ms = vault._now_ms() if now_ms is None else now_ms
    with vault.engine.connect() as connection:
        who = (
            connection.execute(
                select(PRINCIPALS.c.id, PRINCIPALS.c.role, PRINCIPALS.c.subject_id).where(
                    PRINCIPALS.c.id == principal_id
                )
            ).first()
            if is_id(principal_id, IdKind.PRINCIPAL)
            else None
        )
        if who is None:
            raise NotFound("no such principal")
        caller = Caller(who.id, who.role, who.subject_id)
        principal = PrincipalFacts(who.id, who.role, who.subject_id)
        ticket_row = load_ticket(connection, ticket_id) if ticket_id else None
        grant_row = load_grant(connection, grant_id) if grant_id else None
        if (ticket_id and ticket_row is None) or (grant_id and grant_row is None):
            raise NotFound("no such ticket or grant")
        decision: Decision
        if action in ORDER_ACTIONS:
            order = (
                connection.execute(select(ORDERS).where(ORDERS.c.id == order_id)).first()
                if order_id and is_id(order_id, IdKind.ORDER)
                else None
            )
            if order is None:
                raise NotFound("no such order")
            ticket = ticket_facts(ticket_row) if ticket_row is not None else None
            if ticket is None and caller.role == "agent":
                ticket = own_tickets(connection, caller, [order.id], now_ms).get(order.id)
            grant = grant_facts(grant_row) if grant_row is not None else None
            if grant is None and caller.role in REQUESTER_ROLES:
                grant = own_grants(connection, caller, [order.id], now_ms).get(order.id)
            [decision] = decide_staff_order(
                vault.policy,
                principal,
                (action,),
                _order_facts(order),
                now_ms=now_ms,
                ticket=ticket,
                break_glass=grant,
                purpose=purpose if action == "reveal" else None,
                fields=fields,
            )
        elif ticket_row is not None and action.endswith("_ticket"):
            [decision] = decide_ticket(
                vault.policy, principal, (action,), ticket_facts(ticket_row), now_ms=now_ms
            )
        elif grant_row is not None and action.endswith("_break_glass"):
            [decision] = decide_break_glass(
                vault.policy, principal, (action,), grant_facts(grant_row), now_ms=now_ms
            )
        elif action.endswith(("_ticket", "_break_glass")):
            raise InvalidInput(f"{action} needs --ticket or --grant")
        else:
            decision = decide_vault_action(vault.policy, principal, action, now_ms=now_ms)
    return explain(vault.policy.source, decision, role=caller.role, action=action)


def policy_fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Return (name, size, mtime) of every policy file: cheap to compare, no parsing."""
    entries = []
    for path in sorted(directory.iterdir()):
        if path.suffix in {".cedar", ".cedarschema", ".toml"}:
            stat = path.stat()
            entries.append((path.name, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class PolicyWatcher:
    """Reloads the policies when their files change; a bad change is refused and audited once.

    `check` does one round (tests call it directly); `start` runs it every
    `interval` seconds on a daemon thread.
    """

    def __init__(self, vault: Vault, *, interval: float = 2.0) -> None:
        directory = vault.policy.source.directory
        if directory is None:
            raise ConfigurationError("the policies in force were not loaded from a directory")
        self._vault = vault
        self._directory = directory
        self._interval = interval
        self._seen = policy_fingerprint(directory)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> str:
        """Reload if the files changed; return ``unchanged``, ``reloaded`` or ``refused``."""
        try:
            fingerprint = policy_fingerprint(self._directory)
        except OSError as exc:
            log.error("cannot read policy directory %s: %s", self._directory, exc)
            return "refused"
        if fingerprint == self._seen:
            return "unchanged"
        # Remember it first: a bad set is refused (and audited) once, not every round.
        self._seen = fingerprint
        vault = self._vault
        old = vault.policy.source
        now_ms = vault._now_ms()
        try:
            new = PolicySource.load(self._directory)
        except ConfigurationError as exc:
            log.error("policy files changed but were refused; the old set stays: %s", exc.message)
            self._append(
                AuditRecord(
                    tag=AuditTag.POLICIES_RELOAD_REFUSED,
                    at_ms=now_ms,
                    decision="deny",
                    reason="policy files refused",
                    detail=detail_json(
                        {"trigger": "file change", "in_force": old.digest, "error": exc.message}
                    ),
                )
            )
            return "refused"
        self._append(
            AuditRecord(
                tag=AuditTag.POLICIES_RELOADED,
                at_ms=now_ms,
                decision="allow",
                detail=_change(old, new, trigger="file change"),
            )
        )
        vault.policy.replace(new)
        log.info("policies reloaded from %s (%s)", self._directory, new.digest[:12])
        return "reloaded"

    def start(self) -> None:
        """Check every `interval` seconds on a daemon thread until `stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="veil-policy-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (it finishes its current round)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:  # A watcher that dies silently would freeze the policies.
                log.exception("policy watcher round failed; retrying")

    def _append(self, record: AuditRecord) -> None:
        with self._vault._transaction() as connection:
            append_events(connection, [record])


def _change(old: PolicySource, new: PolicySource, *, trigger: str = "admin") -> str:
    return detail_json(
        {
            "trigger": trigger,
            "from": old.digest,
            "to": new.digest,
            "changed": old.digest != new.digest,
            "policies_added": sorted(set(new.grants_by_policy) - set(old.grants_by_policy)),
            "policies_removed": sorted(set(old.grants_by_policy) - set(new.grants_by_policy)),
        }
    )


def _status(source: PolicySource) -> dict[str, Any]:
    return {
        "digest": source.digest,
        "directory": str(source.directory) if source.directory else None,
        "policy_ids": sorted(source.grants_by_policy),
        "quotas": source.quotas.as_dict(),
    }
