"""Checkpoints: the C2SP body, signing, and everything that must not verify."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.audit._checkpoint import (
    Checkpoint,
    CheckpointInvalid,
    parse_and_verify_checkpoint,
    sign_checkpoint,
)
from veil.crypto import NoteSigner

ORIGIN = "veil.test/audit"
ROOT = bytes(range(32))
SIGNER = NoteSigner.generate(ORIGIN)


def test_body_is_origin_size_root_and_the_timestamp_line() -> None:
    checkpoint = Checkpoint(ORIGIN, 1048576, ROOT, 1_718_000_000_123)
    assert checkpoint.body() == (
        f"{ORIGIN}\n1048576\n{base64.b64encode(ROOT).decode()}\n"
        "veil-checkpoint/1 timestamp_ms=1718000000123\n"
    )


def test_note_is_the_body_plus_one_signature_line() -> None:
    checkpoint = Checkpoint(ORIGIN, 7, ROOT, 5)
    note = sign_checkpoint(checkpoint, SIGNER)
    body, signatures = note.split("\n\n")
    assert body + "\n" == checkpoint.body()
    assert signatures.startswith(f"— {ORIGIN} ")
    assert base64.b64decode(signatures.split(" ")[-1])[:4] == SIGNER.key_id


@given(
    size=st.integers(0, 2**63),
    root=st.binary(min_size=32, max_size=32),
    stamp=st.integers(0, 2**50),
)
def test_round_trip(size: int, root: bytes, stamp: int) -> None:
    checkpoint = Checkpoint(ORIGIN, size, root, stamp)
    note = sign_checkpoint(checkpoint, SIGNER)
    assert parse_and_verify_checkpoint(note, SIGNER.verifier, origin=ORIGIN) == checkpoint


def test_a_wrong_key_fails() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT, 5), SIGNER)
    with pytest.raises(CheckpointInvalid, match="signature"):
        parse_and_verify_checkpoint(note, NoteSigner.generate(ORIGIN).verifier)


@pytest.mark.parametrize(("old", "new"), [("\n7\n", "\n8\n"), ("=1\n", "=2\n")])
def test_a_modified_body_fails(old: str, new: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT, 1), SIGNER)
    with pytest.raises(CheckpointInvalid, match="signature"):
        parse_and_verify_checkpoint(note.replace(old, new, 1), SIGNER.verifier)


def test_another_origin_fails() -> None:
    note = sign_checkpoint(Checkpoint("other.test/log", 7, ROOT, 1), SIGNER)
    with pytest.raises(CheckpointInvalid, match="origin"):
        parse_and_verify_checkpoint(note, SIGNER.verifier, origin=ORIGIN)


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\n",  # no timestamp line
        f"{ORIGIN}\n07\n{base64.b64encode(ROOT).decode()}\nveil-checkpoint/1 timestamp_ms=1\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\nveil-checkpoint/1 timestamp_ms=1\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\nveil-checkpoint/2 timestamp_ms=1\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\nveil-checkpoint/1 timestamp_ms=-1\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\nveil-checkpoint/1 timestamp_ms=1\nx\n",
    ],
)
def test_signed_but_malformed_bodies_fail(body: str) -> None:
    with pytest.raises(CheckpointInvalid, match="checkpoint"):
        parse_and_verify_checkpoint(SIGNER.sign(body), SIGNER.verifier)


def test_invalid_checkpoints_cannot_be_built() -> None:
    for args in [("", 1, ROOT, 1), (ORIGIN, -1, ROOT, 1), (ORIGIN, 1, ROOT[:5], 1)]:
        with pytest.raises(ValueError):
            Checkpoint(*args)
