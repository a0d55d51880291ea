"""The audit log: every view, denial and admin action, appended in the same transaction.

Events become leaves of an RFC 6962 Merkle tree (their ``veil-audit-event/1``
canonical bytes); the `Integrator` appends them in batches and signs
checkpoints (C2SP tlog-checkpoint notes), which are also written to a witness
directory outside the database; `export_log` writes the log to a file and
`verify_export` checks it offline with only the public key.
"""

from veil.audit._canonical import (
    EVENT_FIELDS,
    EVENT_FORMAT,
    canonical_event,
    canonical_event_values,
    parse_event,
)
from veil.audit._checkpoint import (
    Checkpoint,
    CheckpointInvalid,
    parse_and_verify_checkpoint,
    sign_checkpoint,
)
from veil.audit._events import (
    AuditRecord,
    AuditTag,
    append_events,
    collect_appended,
    stop_collecting,
)
from veil.audit._export import EXPORT_FORMAT, ExportWriter
from veil.audit._exporter import ExportSummary, export_log
from veil.audit._integrator import BackgroundIntegrator, IntegrationRound, Integrator
from veil.audit._lock import IntegratorLockLost
from veil.audit._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryNodeStore,
    NodeId,
    NodeRun,
    NodeStore,
    ProofError,
    RunningRoot,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from veil.audit._reads import (
    InclusionProof,
    LoggedEvent,
    StoredCheckpoint,
    inclusion_proofs,
    latest_checkpoint,
    log_consistency_proof,
    log_inclusion_proof,
    subject_events,
)
from veil.audit._signing_key import ensure_signing_key, load_signing_key, public_key_path
from veil.audit._store import DatabaseNodeStore
from veil.audit._verify import (
    AuditVerificationFailed,
    Failure,
    FailureKind,
    VerificationReport,
    verify_export,
)
from veil.audit._witness import (
    WITNESS_FORMAT,
    WitnessConflict,
    append_witness_checkpoint,
    latest_witness_checkpoint,
    read_witness_checkpoints,
    witness_file,
)

__all__ = [
    "EMPTY_ROOT",
    "EVENT_FIELDS",
    "EVENT_FORMAT",
    "EXPORT_FORMAT",
    "HASH_SIZE",
    "WITNESS_FORMAT",
    "AuditRecord",
    "AuditTag",
    "AuditVerificationFailed",
    "BackgroundIntegrator",
    "Checkpoint",
    "CheckpointInvalid",
    "DatabaseNodeStore",
    "ExportSummary",
    "ExportWriter",
    "Failure",
    "FailureKind",
    "InclusionProof",
    "IntegrationRound",
    "Integrator",
    "IntegratorLockLost",
    "LoggedEvent",
    "MemoryNodeStore",
    "NodeId",
    "NodeRun",
    "NodeStore",
    "ProofError",
    "RunningRoot",
    "StoredCheckpoint",
    "VerificationReport",
    "WitnessConflict",
    "append_events",
    "append_leaves",
    "append_witness_checkpoint",
    "canonical_event",
    "canonical_event_values",
    "collect_appended",
    "consistency_proof",
    "ensure_signing_key",
    "export_log",
    "inclusion_proof",
    "inclusion_proofs",
    "latest_checkpoint",
    "latest_witness_checkpoint",
    "leaf_hash",
    "load_signing_key",
    "log_consistency_proof",
    "log_inclusion_proof",
    "node_hash",
    "parse_and_verify_checkpoint",
    "parse_event",
    "public_key_path",
    "read_witness_checkpoints",
    "root_hash",
    "sign_checkpoint",
    "stop_collecting",
    "subject_events",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "witness_file",
]
