"""Witness copies of checkpoints: an append-only file per log, outside the database.

A database administrator can rewrite the audit tables, recompute the tree and,
holding the signing key, sign fresh checkpoints. They cannot unsay a checkpoint
that already left their reach: every checkpoint is also appended here, and
`veil audit verify --witness DIR` checks the log against each one.

Layout: ``<witness dir>/<origin, percent-encoded>.checkpoints.jsonl``, one
line per checkpoint::

    {"format":"veil-witness/1","checkpoint":"<signed checkpoint note>"}

JSON escapes the note's newlines, so one line is one whole note and a torn
write is a visibly broken last line. Each append is one ``write`` on an
``O_APPEND`` descriptor followed by ``fsync``.

Pointing it elsewhere: the directory can be a mount that the database's
operators cannot rewrite — an object store bucket with object lock (WORM) in
compliance mode mounted via s3fs/gcsfuse, or an NFS export owned by a second
organisation that grants append only. A second organisation can also keep its
own copy by polling ``GET /v1/audit/checkpoint`` and appending each note in this
format with `append_witness_checkpoint`; the verifier reads either.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from veil.audit._checkpoint import Checkpoint, CheckpointInvalid, parse_and_verify_checkpoint
from veil.audit._merkle import ProofError, verify_consistency
from veil.crypto import NoteVerifier
from veil.errors import Conflict

__all__ = [
    "WITNESS_FORMAT",
    "WitnessConflict",
    "append_witness_checkpoint",
    "latest_witness_checkpoint",
    "read_witness_checkpoints",
    "witness_file",
]

WITNESS_FORMAT = "veil-witness/1"
_TAIL_CHUNK = 4096


class WitnessConflict(Conflict):
    """A checkpoint does not extend the witness's latest one: the log was rolled back or forked.

    The integrator must stop and alert; appending would bury the evidence.
    """

    code = "witness_conflict"


def witness_file(witness_dir: Path, origin: str) -> Path:
    """Return the path of the witness file that holds `origin`'s checkpoints."""
    return witness_dir / f"{quote(origin, safe='')}.checkpoints.jsonl"


def read_witness_checkpoints(witness_dir: Path, origin: str) -> list[str]:
    """Return the checkpoint notes witnessed for `origin`, oldest first, unverified.

    Returns an empty list when no file exists for `origin`.

    Raises:
        CheckpointInvalid: A line is not a witness record (with its line number).
    """
    path = witness_file(witness_dir, origin)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        return [_parse_record(line, path, number) for number, line in enumerate(handle, 1)]


def latest_witness_checkpoint(
    witness_dir: Path, origin: str, verifier: NoteVerifier
) -> Checkpoint | None:
    """Return the newest witnessed checkpoint of `origin`, verified, or None if there is none.

    Reads only the end of the file, however long it has grown.

    Raises:
        CheckpointInvalid: The last record is torn, malformed or does not verify.
    """
    path = witness_file(witness_dir, origin)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _latest(fd, path, origin, verifier)
    finally:
        os.close(fd)


def append_witness_checkpoint(
    witness_dir: Path,
    note: str,
    verifier: NoteVerifier,
    *,
    consistency_proof: Sequence[bytes] = (),
) -> Checkpoint:
    """Append a signed checkpoint to its log's witness file, durably.

    The new checkpoint must extend the latest witnessed one: same size and root
    (then nothing is written), or larger with `consistency_proof` from the
    latest witnessed size to the new one (see `latest_witness_checkpoint`; the
    proof comes from `veil.audit.consistency_proof`).

    Raises:
        CheckpointInvalid: `note` does not verify under `verifier`.
        WitnessConflict: The checkpoint is smaller than the latest witnessed one
            (rollback), or not consistent with it (fork).
    """
    checkpoint = parse_and_verify_checkpoint(note, verifier)
    witness_dir.mkdir(parents=True, exist_ok=True)
    path = witness_file(witness_dir, checkpoint.origin)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # One integrator runs per log, but an exclusive lock costs nothing and
        # makes the check-then-append atomic even if a second one is started.
        fcntl.flock(fd, fcntl.LOCK_EX)
        latest = _latest(fd, path, checkpoint.origin, verifier)
        if latest is not None and _already_witnessed(latest, checkpoint, consistency_proof):
            return checkpoint
        record = json.dumps({"format": WITNESS_FORMAT, "checkpoint": note}, separators=(",", ":"))
        os.write(fd, record.encode("utf-8") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        # The new file's directory entry must survive a crash too.
        dir_fd = os.open(witness_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return checkpoint


def _already_witnessed(
    latest: Checkpoint, checkpoint: Checkpoint, consistency_proof: Sequence[bytes]
) -> bool:
    """Return True if `checkpoint` repeats `latest`; raise unless it extends it."""
    if checkpoint.size < latest.size:
        raise WitnessConflict(
            f"checkpoint of size {checkpoint.size} is older than the witnessed size"
            f" {latest.size}: the log was rolled back"
        )
    try:
        verify_consistency(
            old_size=latest.size,
            new_size=checkpoint.size,
            old_root=latest.root_hash,
            new_root=checkpoint.root_hash,
            proof=consistency_proof,
        )
    except ProofError as exc:
        raise WitnessConflict(
            f"checkpoint of size {checkpoint.size} does not extend the witnessed checkpoint"
            f" of size {latest.size} ({exc.message}): the log forked"
        ) from None
    return checkpoint.size == latest.size


def _latest(fd: int, path: Path, origin: str, verifier: NoteVerifier) -> Checkpoint | None:
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return None
    # Read backwards in chunks until the chunk holds the newline that ends the
    # second-to-last record (or the start of the file).
    tail, offset = b"", end
    while offset > 0 and tail.count(b"\n") < 2:
        step = min(_TAIL_CHUNK, offset)
        offset -= step
        tail = os.pread(fd, step, offset) + tail
    if not tail.endswith(b"\n"):
        raise CheckpointInvalid(
            f"witness file {path} ends in an incomplete record (an interrupted write);"
            " inspect it and remove the partial last line"
        )
    last = tail[:-1].rsplit(b"\n", 1)[-1]
    note = _parse_record(last, path, None)
    return parse_and_verify_checkpoint(note, verifier, origin=origin)


def _parse_record(line: bytes, path: Path, number: int | None) -> str:
    where = f"{path} line {number}" if number is not None else f"the last line of {path}"
    if not line.endswith(b"\n") and number is not None:
        raise CheckpointInvalid(f"{where} is incomplete (an interrupted write)")
    try:
        record = json.loads(line)
        if set(record) != {"format", "checkpoint"} or record["format"] != WITNESS_FORMAT:
            raise ValueError("not a veil-witness/1 record")
        note = record["checkpoint"]
        if not isinstance(note, str):
            raise ValueError("checkpoint is not a string")
    except (ValueError, TypeError) as exc:
        raise CheckpointInvalid(f"{where} is not a witness record ({exc})") from None
    return note
