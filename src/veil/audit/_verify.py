"""The offline verifier: an export file and a public key, no database, no running Veil.

`verify_export` streams the export once. It recomputes every leaf hash from the
event bytes and the tree from the leaves (O(log n) memory), checks each
checkpoint's signature, and compares each signed root with the recomputed root
at the checkpoint's size, for the export's own checkpoints and for every
witness copy. Consistency between consecutive checkpoints follows: two roots of
prefixes of one recomputed leaf sequence are consistent by construction, so
no consistency proof is needed, and a checkpoint that does not match is
reported.

The first bad index is the first event the evidence cannot vouch for. When the
evidence pins one event (its bytes no longer hash to the leaf the log
integrated, an index is missing, repeated or out of place) it is that event.
When only a signed root disagrees (the whole tree was recomputed and re-signed,
and only a witness remembers the old root) it is the start of the interval
between the last matching checkpoint and the first mismatching one; the
failure's detail names that interval.
"""

from __future__ import annotations

import binascii
import enum
import hashlib
import heapq
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from veil.audit._canonical import canonical_event, parse_event
from veil.audit._checkpoint import Checkpoint, CheckpointInvalid, parse_and_verify_checkpoint
from veil.audit._export import EXPORT_FORMAT
from veil.audit._merkle import EMPTY_ROOT, node_hash
from veil.audit._witness import read_witness_checkpoints
from veil.crypto import NoteVerifier
from veil.errors import InvalidInput, VeilError

__all__ = [
    "AuditVerificationFailed",
    "Failure",
    "FailureKind",
    "VerificationReport",
    "verify_export",
]

# Failures past this many are counted, not listed: once the recomputed tree has
# diverged, every later checkpoint disagrees too, and the first few say it all.
_MAX_FAILURES = 100
# Per-event anomalies kept for classification (e.g. a deletion that renumbered
# every later event leaves millions of mismatches; the first ones explain them).
_MAX_ANOMALIES = 10_000
_EVENT_SKELETON = (b"{", b"i", b"e", b":", b",", b"h", b":", b"}\n")
_INDEX_TOKEN = re.compile(rb":(0|[1-9][0-9]*),")
_NO_CHECK = 1 << 64
# Mismatched events whose bytes are kept to look for rows that traded places
# (a quadratic search, so it stays small).
_MAX_TRADED = 64
# A header is a few dozen bytes; reading it must not swallow a file without newlines.
_MAX_HEADER = 64 * 1024


class FailureKind(enum.StrEnum):
    """What failed; the values are stable strings for the CLI and for scripts."""

    MALFORMED_EXPORT = "malformed_export"
    MALFORMED_WITNESS = "malformed_witness"
    CHECKPOINT_INVALID = "checkpoint_invalid"
    EVENT_EDITED = "event_edited"
    EVENT_DELETED = "event_deleted"
    EVENT_INSERTED = "event_inserted"
    EVENTS_REORDERED = "events_reordered"
    TAIL_TRUNCATED = "tail_truncated"
    ROLLED_BACK = "rolled_back"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    LOG_REWRITTEN = "log_rewritten"


# A signed root that disagrees is a symptom; an event-level finding at the same
# index is its cause and is listed first.
_SYMPTOMS = frozenset({FailureKind.CHECKPOINT_MISMATCH, FailureKind.LOG_REWRITTEN})


@dataclass(frozen=True, slots=True)
class Failure:
    """One thing that failed.

    Attributes:
        kind: What failed.
        index: The first event index it makes unverifiable; None when it concerns
            no event (a malformed file, a forged checkpoint).
        detail: One sentence for a human auditor.
    """

    kind: FailureKind
    index: int | None
    detail: str

    def __str__(self) -> str:
        where = f" at index {self.index}" if self.index is not None else ""
        return f"{self.kind.value}{where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What `verify_export` checked and found.

    Attributes:
        origin: The log the export is from.
        events: How many event lines went into the recomputed tree.
        root_hash: The recomputed root over all of them.
        verified_size: The largest size at which a signed checkpoint matched the
            recomputed tree; events from here on are not covered by a signature.
        checkpoints: Export checkpoints whose signature and root verified.
        witness_checkpoints: Witness checkpoints whose signature and root verified.
        failures: What failed, earliest index first.
        omitted_failures: Failures beyond the listed ones.
    """

    origin: str
    events: int
    root_hash: bytes
    verified_size: int
    checkpoints: int
    witness_checkpoints: int
    failures: tuple[Failure, ...] = ()
    omitted_failures: int = 0

    @property
    def first_failure(self) -> Failure | None:
        """Return the failure at the earliest index, or None if nothing failed."""
        return self.failures[0] if self.failures else None

    def summary(self) -> str:
        """Return a few lines for a human: what verified, and what failed first."""
        lines = [
            f"origin {self.origin}: {self.events} events, root"
            f" {binascii.b2a_base64(self.root_hash, newline=False).decode()}",
            f"signed checkpoints verified: {self.checkpoints} in the export,"
            f" {self.witness_checkpoints} from the witness; covered up to size"
            f" {self.verified_size}",
        ]
        if self.verified_size < self.events:
            lines.append(
                f"events [{self.verified_size}, {self.events}) are not covered by a checkpoint"
            )
        lines.extend(f"FAILED {failure}" for failure in self.failures)
        if self.omitted_failures:
            lines.append(f"… and {self.omitted_failures} more failures")
        return "\n".join(lines)


class AuditVerificationFailed(VeilError):
    """The export does not verify; `report` says what failed, earliest index first.

    Attributes:
        report: The full verification report.
    """

    code = "audit_verification_failed"

    def __init__(self, report: VerificationReport) -> None:
        first = report.first_failure
        count = len(report.failures) + report.omitted_failures
        super().__init__(f"audit export does not verify ({count} failures); first: {first}")
        self.report = report


def verify_export(
    path: Path, public_key: NoteVerifier, witness_dir: Path | None = None
) -> VerificationReport:
    """Verify an audit export against the log's public key and, optionally, a witness.

    Args:
        path: The export file (format ``veil-audit-export/1``).
        public_key: The log's checkpoint-signing public key.
        witness_dir: A witness directory; every checkpoint it holds for the
            export's origin must match the recomputed tree.

    Returns:
        The report, when everything verified.

    Raises:
        AuditVerificationFailed: Anything failed; its `report` lists what.
    """
    with path.open("rb") as handle:
        report = _ExportVerification(public_key).run(handle, witness_dir)
    if report.failures:
        raise AuditVerificationFailed(report)
    return report


@dataclass(order=True)
class _Pending:
    """A verified checkpoint waiting for the recomputed tree to reach its size."""

    size: int
    seq: int
    witness: bool = field(compare=False)
    checkpoint: Checkpoint = field(compare=False)
    where: str = field(compare=False)


class _ExportVerification:
    """The state of one pass over one export."""

    def __init__(self, verifier: NoteVerifier) -> None:
        self._verifier = verifier
        self._origin = ""
        self._edge: list[bytes] = []
        self._pending: list[_Pending] = []
        self._seq = 0
        self._failures: list[tuple[int, int, int, Failure]] = []
        self._omitted = 0
        self._good_size = 0
        self._good_witness_size = 0
        self._checkpoints_ok = 0
        self._witness_ok = 0
        self._size = 0
        self._checkpoint_lines = 0
        self._event_lines = 0
        self._trailer_line = 0
        self._last_line = 1
        # Raw per-event evidence, classified once the whole file has been read.
        self._leaf_mismatches: dict[int, tuple[bytes, bytes]] = {}
        # The event bytes of the first few mismatches, to tell rows that traded
        # places (each keeping its own seq) from edits.
        self._mismatched_events: dict[int, bytes] = {}
        self._gaps: list[tuple[int, int]] = []
        self._late: dict[int, int] = {}
        self._anomalies: list[int] = []
        # After the first signed root that disagrees, the recomputed tree has
        # diverged and every later one disagrees too: those are only counted,
        # per source (export, witness), as (first index, count, largest size).
        self._diverged: dict[bool, tuple[int, int, int]] = {}

    def run(self, handle: BinaryIO, witness_dir: Path | None) -> VerificationReport:
        if self._read_header(handle.readline(_MAX_HEADER)):
            if witness_dir is not None:
                self._load_witness(witness_dir)
            size = self._stream(handle)
            self._finish(size)
        failures = [failure for *_, failure in sorted(self._failures)]
        return VerificationReport(
            origin=self._origin,
            events=self._size,
            root_hash=self._root(),
            verified_size=self._good_size,
            checkpoints=self._checkpoints_ok,
            witness_checkpoints=self._witness_ok,
            failures=tuple(failures),
            omitted_failures=self._omitted,
        )

    def _root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        result = self._edge[-1]
        for left in reversed(self._edge[:-1]):
            result = node_hash(left, result)
        return result

    def _fail(self, kind: FailureKind, index: int | None, detail: str) -> None:
        if len(self._failures) >= _MAX_FAILURES:
            self._omitted += 1
            return
        order = (-1 if index is None else index, kind in _SYMPTOMS, len(self._failures))
        self._failures.append((*order, Failure(kind, index, detail)))

    def _read_header(self, line: bytes) -> bool:
        try:
            header = json.loads(line)
            if set(header) != {"format", "origin"} or header["format"] != EXPORT_FORMAT:
                raise ValueError(f"not a {EXPORT_FORMAT} header")
            if not isinstance(header["origin"], str) or not header["origin"]:
                raise ValueError("origin is not a string")
        except (ValueError, TypeError) as exc:
            self._fail(FailureKind.MALFORMED_EXPORT, None, f"line 1: {exc}")
            return False
        self._origin = header["origin"]
        return True

    def _load_witness(self, witness_dir: Path) -> None:
        try:
            notes = read_witness_checkpoints(witness_dir, self._origin)
        except CheckpointInvalid as exc:
            self._fail(FailureKind.MALFORMED_WITNESS, None, exc.message)
            return
        if not notes:
            self._fail(
                FailureKind.MALFORMED_WITNESS,
                None,
                f"the witness directory {witness_dir} holds no checkpoint for {self._origin}",
            )
        for number, note in enumerate(notes, 1):
            self._add_checkpoint(note, witness=True, where=f"witness record {number}", size=0)

    def _add_checkpoint(self, note: str, *, witness: bool, where: str, size: int) -> int:
        """Verify a checkpoint's signature; queue it until the tree reaches its size.

        Returns the size at which the next queued checkpoint is due.
        """
        try:
            checkpoint = parse_and_verify_checkpoint(note, self._verifier, origin=self._origin)
        except CheckpointInvalid as exc:
            self._fail(FailureKind.CHECKPOINT_INVALID, None, f"{where}: {exc.message}")
        else:
            if checkpoint.size < size:
                # More events precede it than it covers: an event was inserted
                # before it, or the writer misplaced it. Either way its root
                # cannot be compared any more.
                cause = min((a for a in self._anomalies if a < checkpoint.size), default=None)
                self._fail(
                    FailureKind.CHECKPOINT_MISMATCH,
                    checkpoint.size if cause is None else cause,
                    f"{where}: checkpoint of size {checkpoint.size} comes after {size} events",
                )
            else:
                self._seq += 1
                entry = _Pending(checkpoint.size, self._seq, witness, checkpoint, where)
                heapq.heappush(self._pending, entry)
        return self._check_due(size)

    def _check_due(self, size: int) -> int:
        """Compare every queued checkpoint of `size` with the recomputed root."""
        pending = self._pending
        root = None
        while pending and pending[0].size == size:
            entry = heapq.heappop(pending)
            root = root or self._root()
            self._compare(entry, root)
        return pending[0].size if pending else _NO_CHECK

    def _compare(self, entry: _Pending, root: bytes) -> None:
        size, checkpoint = entry.size, entry.checkpoint
        if checkpoint.root_hash == root:
            self._good_size = max(self._good_size, size)
            if entry.witness:
                self._witness_ok += 1
                self._good_witness_size = max(self._good_witness_size, size)
            else:
                self._checkpoints_ok += 1
            return
        # A root that disagrees covers every event since the last one that
        # agreed; an event-level anomaly inside that interval is its cause. A
        # witness mismatch only trusts earlier witness roots: the export's own
        # checkpoints may have been re-signed over a rewritten log.
        start = self._good_witness_size if entry.witness else self._good_size
        cause = min((a for a in self._anomalies if start <= a < size), default=None)
        index = start if cause is None else cause
        if entry.witness in self._diverged:
            first, count, _ = self._diverged[entry.witness]
            self._diverged[entry.witness] = (first, count + 1, size)
            return
        self._diverged[entry.witness] = (index, 0, size)
        if entry.witness:
            self._fail(
                FailureKind.LOG_REWRITTEN,
                index,
                f"{entry.where} (size {size}, signed at {checkpoint.timestamp_ms} ms) does not"
                f" match the export's events: events in [{start}, {size}) differ from what the"
                " witness saw, so the log was rewritten (recomputed tree) or forked",
            )
        else:
            self._fail(
                FailureKind.CHECKPOINT_MISMATCH,
                index,
                f"{entry.where} (size {size}) is signed, but the events do not hash to its root:"
                f" events in [{start}, {size}) were changed",
            )

    def _stream(self, handle: BinaryIO) -> int:
        """Read every line after the header; return the number of leaves."""
        edge = self._edge
        sha256 = hashlib.sha256
        a2b, b2a = binascii.a2b_base64, binascii.b2a_base64
        skeleton = _EVENT_SKELETON
        size = expected = event_lines = 0
        due = self._check_due(0)
        number = 1
        for number, line in enumerate(handle, 2):
            parts = line.split(b'"')
            if (
                len(parts) != 11
                or (
                    parts[0],
                    parts[1],
                    parts[3],
                    parts[4],
                    parts[6],
                    parts[7],
                    parts[8],
                    parts[10],
                )
                != skeleton
            ):
                self._event_lines = event_lines
                due = self._other_line(line, number, size, expected)
                event_lines = self._event_lines
                continue
            # The hot path: one event line, kept free of calls that are not C.
            event_lines += 1
            token = parts[2]
            if token == b":%d," % expected:
                index = expected
            else:
                match = _INDEX_TOKEN.fullmatch(token)
                if match is None:
                    self._malformed_event(number, expected, "index is not a number")
                    continue
                index = int(match[1])
            try:
                event = a2b(parts[5], strict_mode=True)
            except binascii.Error:
                self._malformed_event(number, index, "event is not base64")
                continue
            leaf = sha256(b"\x00" + event).digest()
            if b2a(leaf, newline=False) != parts[9]:
                self._leaf_mismatch(number, index, parts[9], leaf, event)
            if index != expected:
                expected = self._index_anomaly(number, index, expected)
            else:
                expected += 1
            edge.append(leaf)
            size += 1
            # Trailing zero bits of the size are complete subtrees to merge.
            bits = size
            while not bits & 1:
                right = edge.pop()
                edge[-1] = sha256(b"\x01" + edge[-1] + right).digest()
                bits >>= 1
            if size == due:
                due = self._check_due(size)
        self._size, self._event_lines, self._last_line = size, event_lines, number
        return size

    def _other_line(self, line: bytes, number: int, size: int, expected: int) -> int:
        if line.startswith(b'{"i":'):
            self._event_lines += 1
            self._malformed_event(number, expected, "event line is not in canonical form")
            return self._pending[0].size if self._pending else _NO_CHECK
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        key = next(iter(record)) if isinstance(record, dict) and len(record) == 1 else None
        if key == "checkpoint" and isinstance(record["checkpoint"], str):
            self._checkpoint_lines += 1
            where = f"export line {number}"
            return self._add_checkpoint(record["checkpoint"], witness=False, where=where, size=size)
        if key == "end":
            self._trailer_line = number
            expected_end = {"events": self._event_lines, "checkpoints": self._checkpoint_lines}
            if record["end"] != expected_end:
                self._fail(
                    FailureKind.MALFORMED_EXPORT,
                    None,
                    f"line {number}: the trailer counts {record['end']}, the file holds"
                    f" {expected_end}: lines were added or removed after export",
                )
        else:
            self._fail(FailureKind.MALFORMED_EXPORT, None, f"line {number}: unknown line")
        return self._pending[0].size if self._pending else _NO_CHECK

    def _malformed_event(self, number: int, index: int, why: str) -> None:
        self._note_anomaly(index)
        self._fail(FailureKind.MALFORMED_EXPORT, index, f"line {number}: {why}")

    def _note_anomaly(self, index: int) -> None:
        if len(self._anomalies) < _MAX_ANOMALIES:
            self._anomalies.append(index)

    def _leaf_mismatch(
        self, number: int, index: int, recorded: bytes, leaf: bytes, event: bytes
    ) -> None:
        try:
            recorded_hash = binascii.a2b_base64(recorded, strict_mode=True)
        except binascii.Error:
            recorded_hash = b""
        if len(recorded_hash) != len(leaf):
            self._fail(FailureKind.MALFORMED_EXPORT, index, f"line {number}: bad leaf hash")
        self._note_anomaly(index)
        if len(self._leaf_mismatches) < _MAX_ANOMALIES:
            self._leaf_mismatches.setdefault(index, (recorded_hash, leaf))
        if len(self._mismatched_events) < _MAX_TRADED:
            self._mismatched_events.setdefault(index, event)

    def _index_anomaly(self, number: int, index: int, expected: int) -> int:
        """Record an event index out of sequence; return the next expected index."""
        if index > expected:
            self._note_anomaly(expected)
            if len(self._gaps) < _MAX_ANOMALIES:
                self._gaps.append((expected, index))
            return index + 1
        self._note_anomaly(index)
        if len(self._late) < _MAX_ANOMALIES:
            self._late.setdefault(index, number)
        return expected

    def _finish(self, size: int) -> None:
        self._classify_index_anomalies()
        self._classify_leaf_mismatches()
        for witness, (first, count, largest) in self._diverged.items():
            if count:
                kind = FailureKind.LOG_REWRITTEN if witness else FailureKind.CHECKPOINT_MISMATCH
                source = "witness" if witness else "export"
                self._fail(
                    kind,
                    first,
                    f"{count} later {source} checkpoints, up to size {largest}, do not match"
                    " either",
                )
        # Whatever is still queued claims more events than the export holds. The
        # export's own checkpoints go first: they name the more specific failure.
        for entry in sorted(self._pending, key=lambda e: (e.witness, e.size, e.seq)):
            if entry.witness:
                self._fail(
                    FailureKind.ROLLED_BACK,
                    size,
                    f"{entry.where} was signed at size {entry.size}"
                    f" ({entry.checkpoint.timestamp_ms} ms), but the export holds {size} events:"
                    " the log was rolled back, or its tail deleted together with its checkpoints",
                )
            else:
                self._fail(
                    FailureKind.TAIL_TRUNCATED,
                    size,
                    f"{entry.where} covers {entry.size} events, but the export holds {size}:"
                    f" events from {size} on were deleted",
                )
        if not self._trailer_line:
            self._fail(
                FailureKind.MALFORMED_EXPORT,
                None,
                "the file ends without its trailer: the export is incomplete",
            )
        elif self._trailer_line != self._last_line:
            self._fail(
                FailureKind.MALFORMED_EXPORT,
                None,
                f"lines follow the trailer (line {self._trailer_line}): they were appended later",
            )
        if self._checkpoint_lines == 0:
            self._fail(FailureKind.MALFORMED_EXPORT, None, "the export holds no checkpoint")

    def _classify_index_anomalies(self) -> None:
        late = self._late
        for start, end in self._gaps:
            missing = range(start, end)
            if len(missing) <= _MAX_ANOMALIES and all(i in late for i in missing):
                for i in missing:
                    del late[i]
                self._fail(
                    FailureKind.EVENTS_REORDERED,
                    start,
                    f"events [{start}, {end}) appear later in the file, out of order",
                )
            else:
                self._fail(FailureKind.EVENT_DELETED, start, f"events [{start}, {end}) are missing")
        for index, number in sorted(late.items()):
            self._fail(
                FailureKind.EVENT_INSERTED,
                index,
                f"line {number} repeats index {index}: an event was inserted or duplicated",
            )

    def _classify_leaf_mismatches(self) -> None:
        """Name what happened at each event whose bytes differ from the integrated leaf.

        `recorded` is the leaf the log integrated at that index, `leaf` the hash
        of the event found there now. A swap shows up as two events carrying
        each other's leaves; a deletion that renumbered later events as a run
        where each event carries the next index's leaf; an insertion as the
        reverse; anything else is an edit.
        """
        mismatches = self._leaf_mismatches
        index_of_recorded = {recorded: i for i, (recorded, _) in mismatches.items()}
        traded = self._traded_places()
        done: set[int] = set()
        for i in sorted(mismatches):
            if i in done:
                continue
            recorded, leaf = mismatches[i]
            j = index_of_recorded.get(leaf)
            following = mismatches.get(i + 1)
            if j is not None and j != i and mismatches[j][1] == recorded:
                done.add(j)
                self._fail(
                    FailureKind.EVENTS_REORDERED,
                    min(i, j),
                    f"events {i} and {j} were swapped: each holds the other's integrated leaf",
                )
            elif j == i + 1 or (following is not None and following[1] == recorded):
                shifted = self._consume_run(i, done)
                deleted = j == i + 1
                self._fail(
                    FailureKind.EVENT_DELETED if deleted else FailureKind.EVENT_INSERTED,
                    i,
                    f"event {i} was {'deleted' if deleted else 'inserted'} and the"
                    f" {shifted} events after it renumbered",
                )
            elif j is not None:
                self._fail(
                    FailureKind.EVENTS_REORDERED,
                    i,
                    f"event {i} holds the event the log integrated at index {j}",
                )
            elif i in traded:
                done.add(traded[i])
                self._fail(
                    FailureKind.EVENTS_REORDERED,
                    i,
                    f"events {i} and {traded[i]} traded places: each row now holds the other's"
                    " event under its own sequence number",
                )
            else:
                self._fail(
                    FailureKind.EVENT_EDITED,
                    i,
                    f"event {i} was edited: its bytes no longer hash to the leaf the log"
                    " integrated",
                )

    def _traded_places(self) -> dict[int, int]:
        """Pair up events whose rows swapped contents but each kept its own ``seq``.

        Veil's event bytes (``veil-audit-event/1``) carry the row's ``seq``, so
        two rows that traded places hash to neither leaf. Giving each the
        other's ``seq`` back must reproduce both integrated leaves exactly.
        """
        rows = {}
        for index, data in self._mismatched_events.items():
            try:
                rows[index] = parse_event(data)
            except InvalidInput:
                continue
        recorded = {index: self._leaf_mismatches[index][0] for index in rows}

        def moved(index: int, seq: object) -> bytes:
            return hashlib.sha256(b"\x00" + canonical_event({**rows[index], "seq": seq})).digest()

        pairs: dict[int, int] = {}
        for i in sorted(rows):
            for j in sorted(rows):
                if i == j or i in pairs or j in pairs:
                    continue
                if (
                    moved(i, rows[j]["seq"]) == recorded[j]
                    and moved(j, rows[i]["seq"]) == recorded[i]
                ):
                    pairs[i], pairs[j] = j, i
        return pairs

    def _consume_run(self, start: int, done: set[int]) -> int:
        """Mark the contiguous mismatches after `start` as one renumbering; return how many."""
        index = start + 1
        while index in self._leaf_mismatches:
            done.add(index)
            index += 1
        return index - start - 1
