"""The audit export file (``veil-audit-export/1``): what `veil audit verify` reads.

JSON Lines, UTF-8, one object per line, each line ending in a newline::

    {"format":"veil-audit-export/1","origin":"veil.example/audit"}      header (first line)
    {"i":0,"e":"<base64 event bytes>","h":"<base64 leaf hash>"}         one line per event
    {"checkpoint":"<signed checkpoint note>"}                           a signed tree head
    {"end":{"events":N,"checkpoints":M}}                                trailer (last line)

* ``i`` is the event's index in the log; events appear in index order.
  ``e`` is the event's canonical bytes (versioned by the event serialization,
  opaque here); its leaf hash is SHA-256(0x00 ‖ e).
* ``h`` is the leaf hash the log integrated at index ``i``, read from the node
  store (for an event not integrated yet: the hash of ``e``). The verifier does
  not trust it: the tree is recomputed from ``e``. It only lets the verifier
  name the event that changed when the events table was edited behind the
  tree's back.
* A checkpoint line of size s goes right after the event line that completes s
  events (a size-0 checkpoint right after the header), so verification runs in
  constant memory. A checkpoint may come earlier (the verifier holds it until the
  tree reaches its size) but never later. The last checkpoint should cover every
  event: events after it are reported as not covered.
* The trailer counts the event and checkpoint lines, so a file cut short or
  edited in transit is told apart from a log that was truncated before export.

Event lines must be spelled exactly as `ExportWriter` writes them (no spaces,
keys in this order, standard padded base64); any other spelling is reported as
malformed. One parse path leaves no ambiguity, and it is fast.
"""

from __future__ import annotations

import binascii
import json
from types import TracebackType
from typing import BinaryIO

from veil.audit._merkle import HASH_SIZE
from veil.audit._merkle import leaf_hash as hash_leaf

__all__ = ["EXPORT_FORMAT", "ExportWriter"]

EXPORT_FORMAT = "veil-audit-export/1"


class ExportWriter:
    """Writes an export to an open binary file, streaming: nothing is held in memory.

    The writer records what the log holds, as it is; it does not judge it (a
    gap or a changed event is for the verifier to find). Use it as a context
    manager, or call `close` to write the trailer.
    """

    def __init__(self, handle: BinaryIO, *, origin: str) -> None:
        self._handle = handle
        self._events = 0
        self._checkpoints = 0
        self._closed = False
        header = {"format": EXPORT_FORMAT, "origin": origin}
        handle.write(_dumps(header))

    def __enter__(self) -> ExportWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A failed export must not look complete, so the trailer is only
        # written when the block finished without an exception.
        if exc_type is None:
            self.close()

    def write_event(self, index: int, event: bytes, *, leaf_hash: bytes | None) -> None:
        """Write one event line.

        Args:
            index: The event's index in the log.
            event: Its canonical bytes.
            leaf_hash: The leaf hash stored for `index` in the log's node store,
                or None if the event is not integrated yet.
        """
        if leaf_hash is None:
            leaf_hash = hash_leaf(event)
        if index < 0 or len(leaf_hash) != HASH_SIZE:
            raise ValueError("an event needs a non-negative index and a 32-byte leaf hash")
        self._handle.write(
            b'{"i":%d,"e":"%s","h":"%s"}\n'
            % (
                index,
                binascii.b2a_base64(event, newline=False),
                binascii.b2a_base64(leaf_hash, newline=False),
            )
        )
        self._events += 1

    def write_checkpoint(self, note: str) -> None:
        """Write one signed checkpoint note, as the integrator signed it."""
        self._handle.write(_dumps({"checkpoint": note}))
        self._checkpoints += 1

    def close(self) -> None:
        """Write the trailer; the file is complete afterwards."""
        if not self._closed:
            self._closed = True
            trailer = {"end": {"events": self._events, "checkpoints": self._checkpoints}}
            self._handle.write(_dumps(trailer))
            self._handle.flush()


def _dumps(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8") + b"\n"
