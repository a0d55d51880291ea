"""The offline verifier against every tampering the issue names, and then some.

Each test tampers with the log the way an insider would (the rows, the tree,
the checkpoints, the whole database), exports it as `veil audit export` does,
and checks that verification fails naming what failed and the first bad index.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from tests.audit._log import (
    ORIGIN,
    Log,
    Row,
    build_log,
    event_bytes,
    event_line_numbers,
    export,
    read_lines,
)
from veil.audit._checkpoint import Checkpoint, sign_checkpoint
from veil.audit._export import ExportWriter
from veil.audit._merkle import leaf_hash, root_hash
from veil.audit._verify import (
    AuditVerificationFailed,
    Failure,
    FailureKind,
    VerificationReport,
    verify_export,
)
from veil.crypto import NoteSigner

SIGNER = NoteSigner.generate(ORIGIN)
EVENTS = 300
EVERY = 50  # a checkpoint after each 50 events: sizes 50, 100, …, 300


@pytest.fixture
def witness_dir(tmp_path: Path) -> Path:
    return tmp_path / "witness"


@pytest.fixture
def log(witness_dir: Path) -> Log:
    return build_log(
        SIGNER,
        [event_bytes(i) for i in range(EVENTS)],
        checkpoint_every=EVERY,
        witness_dir=witness_dir,
    )


def _failed(path: Path, witness_dir: Path | None = None) -> VerificationReport:
    with pytest.raises(AuditVerificationFailed) as caught:
        verify_export(path, SIGNER.verifier, witness_dir)
    report = caught.value.report
    assert report.failures
    assert str(report.first_failure) in str(caught.value)
    return report


def _failure(path: Path, witness_dir: Path | None = None) -> Failure:
    first = _failed(path, witness_dir).first_failure
    assert first is not None
    return first


def _edit(event: bytes) -> bytes:
    return event.replace(b'"decision":"allow"', b'"decision":"deny"')


def test_an_untouched_log_verifies(tmp_path: Path, log: Log, witness_dir: Path) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    report = verify_export(path, SIGNER.verifier, witness_dir)
    assert isinstance(report, VerificationReport)
    assert (report.origin, report.events, report.verified_size) == (ORIGIN, EVENTS, EVENTS)
    assert (report.checkpoints, report.witness_checkpoints) == (6, 6)
    assert report.failures == ()
    assert "covered up to size 300" in report.summary()


def test_the_recomputed_root_is_the_logs_root(tmp_path: Path, log: Log) -> None:
    report = verify_export(
        export(tmp_path / "e.jsonl", log.rows(), log.checkpoints), SIGNER.verifier
    )
    assert report.root_hash == root_hash(log.store, EVENTS)


def test_edited_event(tmp_path: Path, log: Log, witness_dir: Path) -> None:
    rows = log.rows()
    rows[123].event = _edit(rows[123].event)  # UPDATE audit_events SET … WHERE idx = 123
    path = export(tmp_path / "export.jsonl", rows, log.checkpoints)
    for witness in (None, witness_dir):
        failure = _failure(path, witness)
        assert (failure.kind, failure.index) == (FailureKind.EVENT_EDITED, 123)
        assert "edited" in failure.detail


def test_edited_event_and_its_leaf_hash(tmp_path: Path, log: Log) -> None:
    # The DBA also rewrote the leaf in the node store, but not the signed roots:
    # only the checkpoint interval can be named.
    rows = log.rows()
    rows[123].event = _edit(rows[123].event)
    rows[123].leaf = leaf_hash(rows[123].event)
    failure = _failure(export(tmp_path / "export.jsonl", rows, log.checkpoints))
    assert (failure.kind, failure.index) == (FailureKind.CHECKPOINT_MISMATCH, 100)
    assert "[100, 150)" in failure.detail


def test_deleted_event(tmp_path: Path, log: Log, witness_dir: Path) -> None:
    rows = log.rows()
    del rows[77]  # DELETE FROM audit_events WHERE idx = 77
    failure = _failure(export(tmp_path / "export.jsonl", rows, log.checkpoints), witness_dir)
    assert (failure.kind, failure.index) == (FailureKind.EVENT_DELETED, 77)
    assert "[77, 78) are missing" in failure.detail


def test_deleted_event_with_later_events_renumbered(tmp_path: Path, log: Log) -> None:
    rows = log.rows()
    leaves = [row.leaf for row in rows]
    del rows[77]
    renumbered = [Row(i, row.event, leaves[i]) for i, row in enumerate(rows)]
    failure = _failure(export(tmp_path / "export.jsonl", renumbered, log.checkpoints))
    assert (failure.kind, failure.index) == (FailureKind.EVENT_DELETED, 77)
    assert "renumbered" in failure.detail


def test_inserted_event(tmp_path: Path, log: Log) -> None:
    rows = log.rows()
    leaves = [row.leaf for row in rows]
    forged = event_bytes(10_000)
    events = [row.event for row in rows]
    events.insert(140, forged)
    # The forged row takes index 140; later rows move up; the node store keeps
    # its leaves (the last event has none and is exported with its own hash).
    shifted = [
        Row(i, e, leaves[i] if i < len(leaves) else leaf_hash(e)) for i, e in enumerate(events)
    ]
    failure = _failure(export(tmp_path / "export.jsonl", shifted, log.checkpoints))
    assert (failure.kind, failure.index) == (FailureKind.EVENT_INSERTED, 140)


def test_two_events_swapped_in_the_table(tmp_path: Path, log: Log, witness_dir: Path) -> None:
    rows = log.rows()
    rows[60].event, rows[210].event = rows[210].event, rows[60].event
    failure = _failure(export(tmp_path / "export.jsonl", rows, log.checkpoints), witness_dir)
    assert (failure.kind, failure.index) == (FailureKind.EVENTS_REORDERED, 60)
    assert "60 and 210 were swapped" in failure.detail


def test_two_event_lines_swapped_in_the_file(tmp_path: Path, log: Log) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    lines, at = read_lines(path), event_line_numbers(path)
    lines[at[31]], lines[at[32]] = lines[at[32]], lines[at[31]]
    path.write_bytes(b"".join(lines))
    failure = _failure(path)
    assert (failure.kind, failure.index) == (FailureKind.EVENTS_REORDERED, 31)


def test_truncated_tail(tmp_path: Path, log: Log, witness_dir: Path) -> None:
    # DELETE FROM audit_events WHERE idx >= 260; the checkpoints table is untouched.
    rows = log.rows()[:260]
    path = export(tmp_path / "export.jsonl", rows, log.checkpoints)
    for witness in (None, witness_dir):
        failure = _failure(path, witness)
        assert (failure.kind, failure.index) == (FailureKind.TAIL_TRUNCATED, 260)
        assert "covers 300 events, but the export holds 260" in failure.detail


def test_truncated_tail_and_its_checkpoints_is_caught_by_the_witness(
    tmp_path: Path, log: Log, witness_dir: Path
) -> None:
    rows = log.rows()[:260]
    kept = [(size, note) for size, note in log.checkpoints if size <= 260]
    path = export(tmp_path / "export.jsonl", rows, kept)
    verify_export(path, SIGNER.verifier)  # consistent on its own…
    failure = _failure(path, witness_dir)  # …but the witness saw size 300
    assert (failure.kind, failure.index) == (FailureKind.ROLLED_BACK, 260)


def test_rolled_back_database(tmp_path: Path, log: Log, witness_dir: Path) -> None:
    # The database is restored from a snapshot taken at 180 events (and the
    # checkpoints it had then). Alone it verifies; the witness remembers more.
    rows = log.rows()[:180]
    path = export(tmp_path / "export.jsonl", rows, log.checkpoints[:3])
    assert verify_export(path, SIGNER.verifier).events == 180
    failure = _failure(path, witness_dir)
    assert (failure.kind, failure.index) == (FailureKind.ROLLED_BACK, 180)
    assert "rolled back" in failure.detail


def test_rolled_back_and_written_anew(tmp_path: Path, log: Log, witness_dir: Path) -> None:
    # After the restore at 180, new events were appended and signed: the sizes
    # grow past the witness again, but the history forked.
    events = [row.event for row in log.rows()[:180]] + [event_bytes(5000 + i) for i in range(150)]
    rewritten = build_log(SIGNER, events, checkpoint_every=EVERY)
    path = export(tmp_path / "export.jsonl", rewritten.rows(), rewritten.checkpoints)
    verify_export(path, SIGNER.verifier)
    failure = _failure(path, witness_dir)
    assert failure.kind == FailureKind.LOG_REWRITTEN
    assert failure.index == 150
    assert "[150, 200)" in failure.detail


def test_whole_table_replaced_with_a_recomputed_tree(
    tmp_path: Path, log: Log, witness_dir: Path
) -> None:
    # The insider edits event 123, recomputes every leaf and node and re-signs
    # every checkpoint with the log's own key. The export is self-consistent;
    # only the witness copies, out of their reach, disagree.
    events = [row.event for row in log.rows()]
    events[123] = _edit(events[123])
    replaced = build_log(SIGNER, events, checkpoint_every=EVERY)
    path = export(tmp_path / "export.jsonl", replaced.rows(), replaced.checkpoints)
    assert verify_export(path, SIGNER.verifier).verified_size == EVENTS
    failure = _failure(path, witness_dir)
    assert failure.kind == FailureKind.LOG_REWRITTEN
    assert failure.index == 100  # the last witnessed root that still matches
    assert "[100, 150)" in failure.detail
    report = _failed(path, witness_dir)
    assert report.witness_checkpoints == 2  # sizes 50 and 100 still match
    assert report.checkpoints == 6


def test_forged_checkpoint(tmp_path: Path, log: Log) -> None:
    other = NoteSigner.generate(ORIGIN)
    forged = sign_checkpoint(Checkpoint(ORIGIN, 300, bytes(32), 1), other)
    path = export(tmp_path / "export.jsonl", log.rows(), [*log.checkpoints[:-1], (300, forged)])
    failure = _failure(path)
    assert (failure.kind, failure.index) == (FailureKind.CHECKPOINT_INVALID, None)
    assert "not signed by" in failure.detail


def test_checkpoint_for_another_log(tmp_path: Path, log: Log) -> None:
    foreign = sign_checkpoint(Checkpoint("other.test/log", 300, bytes(32), 1), SIGNER)
    path = export(tmp_path / "export.jsonl", log.rows(), [*log.checkpoints, (300, foreign)])
    assert _failure(path).kind == FailureKind.CHECKPOINT_INVALID


def test_cut_short_in_transit(tmp_path: Path, log: Log) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    lines = read_lines(path)
    path.write_bytes(b"".join(lines[:200]))
    failures = _failed(path).failures
    assert any(
        f.kind == FailureKind.MALFORMED_EXPORT and "without its trailer" in f.detail
        for f in failures
    )


def test_lines_removed_after_export(tmp_path: Path, log: Log) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    lines, at = read_lines(path), event_line_numbers(path)
    del lines[at[299]]
    path.write_bytes(b"".join(lines))
    failures = _failed(path).failures
    assert any("lines were added or removed" in f.detail for f in failures)


def test_lines_appended_after_the_trailer(tmp_path: Path, log: Log) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    with path.open("ab") as handle:
        handle.write(b'{"checkpoint":' + json.dumps(log.checkpoints[0][1]).encode() + b"}\n")
    assert any("follow the trailer" in f.detail for f in _failed(path).failures)


@pytest.mark.parametrize(
    "header",
    [b"not json\n", b'{"format":"veil-audit-export/2","origin":"x"}\n', b'{"format":"x"}\n', b""],
)
def test_not_an_export(tmp_path: Path, header: bytes) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(header)
    failure = _failure(path)
    assert (failure.kind, failure.index) == (FailureKind.MALFORMED_EXPORT, None)


def test_event_line_in_another_spelling(tmp_path: Path, log: Log) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    lines, at = read_lines(path), event_line_numbers(path)
    lines[at[5]] = lines[at[5]].replace(b'"i":5,', b'"i": 5,')
    path.write_bytes(b"".join(lines))
    failure = _failure(path)
    assert (failure.kind, failure.index) == (FailureKind.MALFORMED_EXPORT, 5)


def test_an_export_without_checkpoints_proves_nothing(tmp_path: Path, log: Log) -> None:
    failure = _failure(export(tmp_path / "export.jsonl", log.rows(), []))
    assert "no checkpoint" in failure.detail


def test_a_witness_without_this_log_is_a_failure(tmp_path: Path, log: Log) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    empty = tmp_path / "empty-witness"
    empty.mkdir()
    assert _failure(path, empty).kind == FailureKind.MALFORMED_WITNESS


def test_events_after_the_last_checkpoint_are_reported_as_uncovered(
    tmp_path: Path, log: Log
) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints[:4])
    report = verify_export(path, SIGNER.verifier)
    assert (report.events, report.verified_size) == (300, 200)
    assert "events [200, 300) are not covered" in report.summary()


def test_checkpoints_may_come_early_but_not_late(tmp_path: Path, log: Log) -> None:
    early = tmp_path / "early.jsonl"
    with early.open("wb") as handle, ExportWriter(handle, origin=ORIGIN) as writer:
        for _, note in log.checkpoints:
            writer.write_checkpoint(note)
        for row in log.rows():
            writer.write_event(row.index, row.event, leaf_hash=row.leaf)
    assert verify_export(early, SIGNER.verifier).checkpoints == 6

    late = tmp_path / "late.jsonl"
    with late.open("wb") as handle, ExportWriter(handle, origin=ORIGIN) as writer:
        for row in log.rows():
            writer.write_event(row.index, row.event, leaf_hash=None)
        writer.write_checkpoint(log.checkpoints[0][1])
    failure = _failure(late)
    assert (failure.kind, failure.index) == (FailureKind.CHECKPOINT_MISMATCH, 50)
    assert "comes after 300 events" in failure.detail


def test_a_failed_export_gets_no_trailer(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    with (
        pytest.raises(RuntimeError),
        path.open("wb") as handle,
        ExportWriter(handle, origin=ORIGIN) as writer,
    ):
        writer.write_event(0, b"x", leaf_hash=None)
        raise RuntimeError("database went away")
    assert b'"end"' not in path.read_bytes()


def test_verification_streams(tmp_path: Path) -> None:
    # 20,000 events of 1 KB (a 27 MB file) verify in well under 1 MB of Python
    # allocations: nothing per event is kept.
    signer = NoteSigner.generate(ORIGIN)
    padding = b"x" * 1000
    events = [event_bytes(i) + padding for i in range(20_000)]
    log = build_log(signer, events, checkpoint_every=5_000)
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        report = verify_export(path, signer.verifier)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.events == 20_000
    assert peak < 1_000_000


@pytest.mark.parametrize(
    "junk", [b'["checkpoint"]\n', b'"x"\n', b"{}\n", b'{"checkpoint":7}\n', b"\n", b"\xff\n"]
)
def test_unknown_lines_are_malformed_not_fatal(tmp_path: Path, log: Log, junk: bytes) -> None:
    path = export(tmp_path / "export.jsonl", log.rows(), log.checkpoints)
    lines = read_lines(path)
    path.write_bytes(b"".join([*lines[:10], junk, *lines[10:]]))
    failure = _failure(path)
    assert failure.kind == FailureKind.MALFORMED_EXPORT
    assert "line 11" in failure.detail
