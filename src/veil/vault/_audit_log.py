"""The audit log as callers see it: checkpoints and proofs, and a subject's access log.

* Admins and auditors read the latest signed checkpoint and inclusion and
  consistency proofs (Cedar action ``read_audit_proofs``): what a monitor or
  a second organisation needs to hold the log to what it signed.
* A customer reads who accessed their data (``read_own_access_log``), and the
  platform back-end reads it for a customer who asked it to
  (``read_access_log``): the PIPL right of access to processing records.
  Each entry names the accessor by role and a stable pseudonymous label (an
  HMAC of the principal id, never a staff name or label), the time, the fields,
  the purpose and the order, and carries its inclusion proof against the latest
  checkpoint. Reading an access log is itself an audited event.

The proof lets a customer check that the entry's leaf is in the tree the log
signed, so the operator cannot later remove it without breaking consistency
with that checkpoint. The leaf's bytes are not served, because they name staff
principal ids and client addresses. An auditor holding the export can open any
leaf.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from veil.audit import (
    AuditTag,
    InclusionProof,
    LoggedEvent,
    StoredCheckpoint,
    append_events,
    inclusion_proofs,
    latest_checkpoint,
    leaf_hash,
    log_consistency_proof,
    log_inclusion_proof,
    subject_events,
)
from veil.crypto import PSEUDONYM_KEY_CONTEXT, Pseudonymizer, PseudonymKey
from veil.errors import InvalidInput, NotFound
from veil.ids import IdKind, is_id
from veil.store import PSEUDONYM_KEYS, SUBJECTS
from veil.vault._model import Caller, RequestMeta
from veil.vault._vault import Vault
from veil.vault._views import iso_ms

__all__ = [
    "MAX_ACCESS_LOG_ENTRIES",
    "access_log",
    "audit_checkpoint",
    "audit_consistency_proof",
    "audit_inclusion_proof",
]

MAX_ACCESS_LOG_ENTRIES = 200
_NO_META = RequestMeta()
# Sizes and indexes a proof request may name: far beyond any real log, small
# enough that no arithmetic on them overflows a database integer.
_MAX_SIZE = 1 << 48


def audit_checkpoint(
    vault: Vault, caller: Caller, *, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Return the latest signed checkpoint (admins and auditors).

    Raises:
        AccessDenied: The caller may not read the log's proofs.
        NotFound: No checkpoint has been signed yet.
    """
    vault._require_vault_action(caller, "read_audit_proofs", vault._now_ms(), meta)
    with vault._transaction() as connection:
        stored = latest_checkpoint(connection)
    if stored is None:
        raise NotFound("no checkpoint has been signed yet; is the integrator running?")
    return _checkpoint_json(stored)


def audit_inclusion_proof(
    vault: Vault, caller: Caller, *, index: int, size: int, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Return the inclusion proof of leaf `index` in the tree of `size` leaves.

    Raises:
        AccessDenied: The caller may not read the log's proofs.
        InvalidInput: Unless ``0 <= index < size <=`` the integrated tree size.
    """
    vault._require_vault_action(caller, "read_audit_proofs", vault._now_ms(), meta)
    _check_size(index, size)
    with vault._transaction() as connection:
        proof = log_inclusion_proof(connection, index=index, size=size)
    return {
        "index": proof.index,
        "size": proof.size,
        "leaf_hash": _b64(proof.leaf_hash),
        "proof": [_b64(node) for node in proof.path],
    }


def audit_consistency_proof(
    vault: Vault, caller: Caller, *, old_size: int, new_size: int, meta: RequestMeta = _NO_META
) -> dict[str, Any]:
    """Return the consistency proof between the trees of `old_size` and `new_size` leaves.

    Raises:
        AccessDenied: The caller may not read the log's proofs.
        InvalidInput: Unless ``0 <= old_size <= new_size <=`` the integrated tree size.
    """
    vault._require_vault_action(caller, "read_audit_proofs", vault._now_ms(), meta)
    _check_size(old_size, new_size)
    with vault._transaction() as connection:
        proof = log_consistency_proof(connection, old_size=old_size, new_size=new_size)
    return {"from": old_size, "to": new_size, "proof": [_b64(node) for node in proof]}


def access_log(
    vault: Vault,
    caller: Caller,
    *,
    subject_id: str | None = None,
    limit: int = 50,
    before: int | None = None,
    meta: RequestMeta = _NO_META,
) -> dict[str, Any]:
    """Return who accessed a subject's data, newest first, each entry with its proof.

    A customer reads their own log (`subject_id` is None); the platform back-end
    names the subject it asks for.

    Raises:
        AccessDenied: The caller's role may not read this access log.
        NotFound: The subject does not exist.
        InvalidInput: `limit` or `before` is out of range.
    """
    now_ms = vault._now_ms()
    if subject_id is None:
        vault._require_vault_action(caller, "read_own_access_log", now_ms, meta)
        subject_id = caller.subject_id
    else:
        vault._require_vault_action(caller, "read_access_log", now_ms, meta)
    if not 1 <= limit <= MAX_ACCESS_LOG_ENTRIES:
        raise InvalidInput(f"limit must be 1 to {MAX_ACCESS_LOG_ENTRIES}")
    if before is not None and not 0 < before < _MAX_SIZE:
        raise InvalidInput("before must be a cursor from a previous page")
    if subject_id is None or not is_id(subject_id, IdKind.SUBJECT):
        raise NotFound("no such subject")
    with vault._transaction() as connection:
        if connection.scalar(select(SUBJECTS.c.id).where(SUBJECTS.c.id == subject_id)) is None:
            raise NotFound("no such subject")
        events = subject_events(connection, subject_id, limit=limit + 1, before_seq=before)
        more = len(events) > limit
        events = events[:limit]
        stored = latest_checkpoint(connection)
        size = stored.checkpoint.size if stored is not None else 0
        covered = [e.leaf_index for e in events if e.leaf_index is not None and e.leaf_index < size]
        proofs = inclusion_proofs(connection, covered, size=size) if covered else {}
        labels = _labels(vault, connection, now_ms)
        append_events(
            connection,
            [
                vault._record(
                    AuditTag.ACCESS_LOG_READ,
                    caller,
                    now_ms,
                    meta,
                    subject_id=subject_id,
                    detail=f"{len(events)} entries",
                )
            ],
        )
    return {
        "subject_id": subject_id,
        "checkpoint": _checkpoint_json(stored) if stored is not None else None,
        "entries": [_entry(event, labels, proofs) for event in events],
        "next_before": int(events[-1].row["seq"]) if more else None,
        "verify": (
            "each included entry's leaf_hash and proof lead to the checkpoint's root_hash"
            " (RFC 9162 inclusion proof); the checkpoint note is signed with the log's"
            " Ed25519 key"
        ),
    }


def _entry(
    event: LoggedEvent, labels: PseudonymKey, proofs: dict[int, InclusionProof]
) -> dict[str, Any]:
    row = event.row
    principal_id = row["principal_id"]
    entry: dict[str, Any] = {
        "at": iso_ms(int(row["at_ms"])),
        "event": row["tag"],
        "decision": row["decision"],
        "by": {
            "role": row["role"],
            "label": labels.pseudonym("principal", principal_id) if principal_id else None,
        },
        "fields": (row["fields"] or "").split(),
        "purpose": row["purpose"],
        "order_id": row["order_id"],
    }
    if row["decision"] != "allow":
        entry["reason"] = row["reason"]
    entry["log"] = _log_status(event, proofs)
    return entry


def _log_status(event: LoggedEvent, proofs: dict[int, InclusionProof]) -> dict[str, Any]:
    index = event.leaf_index
    if index is None:
        return {"status": "pending", "index": None, "detail": "not integrated into the tree yet"}
    proof = proofs.get(index)
    if proof is None:
        return {
            "status": "pending",
            "index": index,
            "detail": "integrated after the latest checkpoint; the next one covers it",
        }
    if leaf_hash(event.canonical) != proof.leaf_hash:
        # The row no longer reads as the event the log integrated: say so
        # rather than serve a proof for bytes that are not these.
        return {"status": "altered", "index": index, "detail": "the row differs from its leaf"}
    return {
        "status": "included",
        "index": index,
        "tree_size": proof.size,
        "leaf_hash": _b64(proof.leaf_hash),
        "proof": [_b64(node) for node in proof.path],
    }


def _labels(vault: Vault, connection: Connection, now_ms: int) -> PseudonymKey:
    """Return the access-log label key, derived from the pseudonym root (created on first use)."""
    provider = vault.keyring.provider
    query = select(PSEUDONYM_KEYS.c.kek_version, PSEUDONYM_KEYS.c.wrapped).where(
        PSEUDONYM_KEYS.c.version == 1
    )
    row = connection.execute(query).first()
    if row is None:
        version = provider.current_version()
        wrapped = provider.wrap(version, Pseudonymizer.new_root(), PSEUDONYM_KEY_CONTEXT)
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        # Two first readers may race: the loser's insert does nothing and it
        # reads the winner's secret.
        connection.execute(
            dialect.insert(PSEUDONYM_KEYS)
            .values(version=1, kek_version=version, wrapped=wrapped, created_ms=now_ms)
            .on_conflict_do_nothing()
        )
        row = connection.execute(query).one()
    root = provider.unwrap(row.kek_version, row.wrapped, PSEUDONYM_KEY_CONTEXT)
    return Pseudonymizer(root).for_purpose("access-log")


def _checkpoint_json(stored: StoredCheckpoint) -> dict[str, Any]:
    checkpoint = stored.checkpoint
    return {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root_hash": _b64(checkpoint.root_hash),
        "timestamp_ms": checkpoint.timestamp_ms,
        "note": stored.note,
    }


def _check_size(*values: int) -> None:
    if any(not 0 <= value < _MAX_SIZE for value in values):
        raise InvalidInput("tree sizes and indexes are integers from 0")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
