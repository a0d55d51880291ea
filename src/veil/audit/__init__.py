"""The audit log: every view, denial and admin action, appended in the same transaction.

Events become leaves of an RFC 6962 Merkle tree; signed checkpoints (C2SP
tlog-checkpoint notes) are also written to a witness directory outside the
database; `verify_export` checks an export offline with only the public key.
"""

from veil.audit._checkpoint import (
    Checkpoint,
    CheckpointInvalid,
    parse_and_verify_checkpoint,
    sign_checkpoint,
)
from veil.audit._events import AuditRecord, AuditTag, append_events
from veil.audit._export import EXPORT_FORMAT, ExportWriter
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
    "EXPORT_FORMAT",
    "HASH_SIZE",
    "WITNESS_FORMAT",
    "AuditRecord",
    "AuditTag",
    "AuditVerificationFailed",
    "Checkpoint",
    "CheckpointInvalid",
    "ExportWriter",
    "Failure",
    "FailureKind",
    "MemoryNodeStore",
    "NodeId",
    "NodeRun",
    "NodeStore",
    "ProofError",
    "RunningRoot",
    "VerificationReport",
    "WitnessConflict",
    "append_events",
    "append_leaves",
    "append_witness_checkpoint",
    "consistency_proof",
    "inclusion_proof",
    "latest_witness_checkpoint",
    "leaf_hash",
    "node_hash",
    "parse_and_verify_checkpoint",
    "read_witness_checkpoints",
    "root_hash",
    "sign_checkpoint",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "witness_file",
]
