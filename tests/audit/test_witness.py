"""The witness file: append-only, durable, and it refuses rollbacks and forks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit._log import ORIGIN, build_log, event_bytes
from veil.audit._checkpoint import Checkpoint, CheckpointInvalid, sign_checkpoint
from veil.audit._merkle import consistency_proof, root_hash
from veil.audit._witness import (
    WitnessConflict,
    append_witness_checkpoint,
    latest_witness_checkpoint,
    read_witness_checkpoints,
    witness_file,
)
from veil.crypto import NoteSigner

SIGNER = NoteSigner.generate(ORIGIN)


def test_checkpoints_are_appended_and_read_back(tmp_path: Path) -> None:
    log = build_log(
        SIGNER, [event_bytes(i) for i in range(40)], checkpoint_every=10, witness_dir=tmp_path
    )
    notes = [note for _, note in log.checkpoints]
    assert read_witness_checkpoints(tmp_path, ORIGIN) == notes
    path = witness_file(tmp_path, ORIGIN)
    assert path.name == "veil.test%2Faudit.checkpoints.jsonl"
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"format": "veil-witness/1", "checkpoint": note} for note in notes
    ]
    latest = latest_witness_checkpoint(tmp_path, ORIGIN, SIGNER.verifier)
    assert latest is not None
    assert (latest.size, latest.root_hash) == (40, root_hash(log.store, 40))


def test_nothing_witnessed_yet(tmp_path: Path) -> None:
    assert read_witness_checkpoints(tmp_path, ORIGIN) == []
    assert latest_witness_checkpoint(tmp_path, ORIGIN, SIGNER.verifier) is None


def test_the_same_checkpoint_twice_is_written_once(tmp_path: Path) -> None:
    log = build_log(SIGNER, [event_bytes(i) for i in range(5)], checkpoint_every=5)
    note = log.checkpoints[-1][1]
    append_witness_checkpoint(tmp_path, note, SIGNER.verifier)
    append_witness_checkpoint(tmp_path, note, SIGNER.verifier)
    assert read_witness_checkpoints(tmp_path, ORIGIN) == [note]


def test_a_smaller_checkpoint_is_a_rollback(tmp_path: Path) -> None:
    log = build_log(SIGNER, [event_bytes(i) for i in range(20)], checkpoint_every=10)
    append_witness_checkpoint(tmp_path, log.checkpoints[1][1], SIGNER.verifier)
    with pytest.raises(WitnessConflict, match="rolled back"):
        append_witness_checkpoint(tmp_path, log.checkpoints[0][1], SIGNER.verifier)
    assert len(read_witness_checkpoints(tmp_path, ORIGIN)) == 1


def test_a_checkpoint_that_does_not_extend_the_last_is_a_fork(tmp_path: Path) -> None:
    events = [event_bytes(i) for i in range(20)]
    honest = build_log(SIGNER, events, checkpoint_every=10)
    forked = build_log(SIGNER, [*events[:5], b"forged", *events[6:]], checkpoint_every=10)
    append_witness_checkpoint(tmp_path, honest.checkpoints[0][1], SIGNER.verifier)
    proof = consistency_proof(forked.store, old_size=10, new_size=20)
    with pytest.raises(WitnessConflict, match="forked"):
        append_witness_checkpoint(
            tmp_path, forked.checkpoints[1][1], SIGNER.verifier, consistency_proof=proof
        )
    # Same size, other root: also a fork.
    with pytest.raises(WitnessConflict, match="forked"):
        append_witness_checkpoint(tmp_path, forked.checkpoints[0][1], SIGNER.verifier)
    # Growing without a proof cannot be checked, so it is refused.
    with pytest.raises(WitnessConflict):
        append_witness_checkpoint(tmp_path, honest.checkpoints[1][1], SIGNER.verifier)
    assert len(read_witness_checkpoints(tmp_path, ORIGIN)) == 1


def test_only_verified_checkpoints_are_witnessed(tmp_path: Path) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32), 1), NoteSigner.generate(ORIGIN))
    with pytest.raises(CheckpointInvalid):
        append_witness_checkpoint(tmp_path, note, SIGNER.verifier)
    assert not witness_file(tmp_path, ORIGIN).exists()


def test_a_torn_last_record_stops_the_writer(tmp_path: Path) -> None:
    log = build_log(
        SIGNER, [event_bytes(i) for i in range(20)], checkpoint_every=10, witness_dir=tmp_path
    )
    path = witness_file(tmp_path, ORIGIN)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(CheckpointInvalid, match="incomplete"):
        latest_witness_checkpoint(tmp_path, ORIGIN, SIGNER.verifier)
    with pytest.raises(CheckpointInvalid, match="incomplete"):
        append_witness_checkpoint(tmp_path, log.checkpoints[-1][1], SIGNER.verifier)
    with pytest.raises(CheckpointInvalid, match="line 2"):
        read_witness_checkpoints(tmp_path, ORIGIN)


def test_the_latest_is_read_from_the_tail_of_a_long_file(tmp_path: Path) -> None:
    # Each record is a few hundred bytes; 60 of them span several tail chunks.
    log = build_log(
        SIGNER, [event_bytes(i) for i in range(120)], checkpoint_every=2, witness_dir=tmp_path
    )
    assert witness_file(tmp_path, ORIGIN).stat().st_size > 3 * 4096
    latest = latest_witness_checkpoint(tmp_path, ORIGIN, SIGNER.verifier)
    assert latest is not None
    assert latest.size == 120
    assert latest.root_hash == root_hash(log.store, 120)
