"""Signed checkpoints: the log's tree head in the C2SP tlog-checkpoint note format.

A checkpoint body is four lines; the note carries the log's Ed25519 signature::

    veil.example/audit
    1048576
    u/DxhUsYkv2NOVhJW0MNFmiAlOLbA+uGYBWEDFudmpw=
    veil-checkpoint/1 timestamp_ms=1718000000123

    — veil.example/audit AbCdEf…

Lines 1–3 are the C2SP origin, tree size and base64 root hash
(https://c2sp.org/tlog-checkpoint). The fourth, an extension line, carries the
time the integrator signed it, in milliseconds since the Unix epoch like every
Veil timestamp. The issue requires a timestamp and the C2SP body has no field
for one; an extension line keeps the note verifiable by any C2SP tool (they
treat extension lines as opaque) while the signature covers it. Its leading
``veil-checkpoint/1`` is the format's version marker. Veil requires the line:
a checkpoint without a time cannot bound how stale a log's view is.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from veil.audit._merkle import HASH_SIZE
from veil.crypto import NoteSigner, NoteVerifier, SignatureInvalid
from veil.errors import VeilError

__all__ = ["Checkpoint", "CheckpointInvalid", "parse_and_verify_checkpoint", "sign_checkpoint"]

_EXTENSION = "veil-checkpoint/1 timestamp_ms="
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_BASE64_HASH = re.compile(r"[A-Za-z0-9+/]{43}=")


class CheckpointInvalid(VeilError):
    """A checkpoint note does not verify under the log's key or its body is malformed."""

    code = "checkpoint_invalid"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The signed head of the log at one size.

    Attributes:
        origin: The log's identity, e.g. ``veil.example/audit``.
        size: The number of leaves the root covers.
        root_hash: The RFC 6962 root of the first `size` leaves.
        timestamp_ms: When the integrator signed it, ms since the Unix epoch.
    """

    origin: str
    size: int
    root_hash: bytes
    timestamp_ms: int

    def __post_init__(self) -> None:
        if not self.origin or any(ord(ch) < 0x20 for ch in self.origin):
            raise ValueError("a checkpoint origin is one non-empty line")
        if self.size < 0 or self.timestamp_ms < 0:
            raise ValueError("checkpoint size and timestamp cannot be negative")
        if len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"a root hash has {HASH_SIZE} bytes")

    def body(self) -> str:
        """Return the note text this checkpoint is signed as."""
        root = binascii.b2a_base64(self.root_hash, newline=False).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\n{_EXTENSION}{self.timestamp_ms}\n"


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """Return `checkpoint` as a signed note."""
    return signer.sign(checkpoint.body())


def parse_and_verify_checkpoint(
    note: str | bytes, verifier: NoteVerifier, *, origin: str | None = None
) -> Checkpoint:
    """Verify a checkpoint note's signature, then parse its body.

    Args:
        note: The whole signed note.
        verifier: The log's public key.
        origin: When given, the origin the checkpoint must name.

    Raises:
        CheckpointInvalid: The signature does not verify, the body is malformed,
            or it names another origin.
    """
    try:
        text = verifier.verify(note)
    except SignatureInvalid as exc:
        raise CheckpointInvalid(f"checkpoint signature: {exc.message}") from None
    lines = text.split("\n")
    # A body ends in a newline, so the split leaves one empty string at the end.
    if len(lines) != 5 or lines[4]:
        raise CheckpointInvalid("checkpoint body must have exactly four lines")
    name, size_line, root_line, extension = lines[:4]
    if not _DECIMAL.fullmatch(size_line) or not _BASE64_HASH.fullmatch(root_line):
        raise CheckpointInvalid("checkpoint size or root hash is malformed")
    stamp = extension.removeprefix(_EXTENSION)
    if stamp == extension or not _DECIMAL.fullmatch(stamp):
        raise CheckpointInvalid("checkpoint lacks the veil-checkpoint/1 timestamp line")
    if origin is not None and name != origin:
        raise CheckpointInvalid(f"checkpoint is for origin {name!r}, not {origin!r}")
    try:
        root = binascii.a2b_base64(root_line.encode("ascii"), strict_mode=True)
        return Checkpoint(name, int(size_line), root, int(stamp))
    except ValueError as exc:
        raise CheckpointInvalid(f"checkpoint body is malformed ({exc})") from None
