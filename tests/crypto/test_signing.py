"""Ed25519 signed notes: the Go reference vector, round trips, forgeries, key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from veil.crypto import NoteSigner, NoteVerifier, SignatureInvalid
from veil.errors import ConfigurationError, InvalidInput

# The reference key pair and note of golang.org/x/mod/sumdb/note (note_test.go,
# BSD-3-Clause), which every C2SP signed-note implementation reproduces.
# Ed25519 is deterministic, so signing TEXT must give NOTE byte for byte.
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
NOTE = (
    TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_reproduces_the_go_reference_note() -> None:
    signer = NoteSigner.from_skey(SKEY)
    assert signer.key_id.hex() == "c74f20a3"
    assert signer.verifier.vkey == VKEY
    assert signer.sign(TEXT) == NOTE
    assert NoteVerifier.from_vkey(VKEY).verify(NOTE) == TEXT
    assert NoteVerifier.from_vkey(VKEY).verify(NOTE.encode()) == TEXT


def test_round_trip_with_a_fresh_key() -> None:
    signer = NoteSigner.generate("veil.test/audit")
    note = signer.sign("hello\n\nwith an empty line inside\n")
    assert signer.verifier.verify(note) == "hello\n\nwith an empty line inside\n"
    assert NoteVerifier.from_vkey(signer.verifier.vkey) == signer.verifier


def test_a_different_key_under_the_same_name_fails() -> None:
    with pytest.raises(SignatureInvalid, match="not signed by"):
        NoteSigner.generate("PeterNeumann").verifier.verify(NOTE)


def test_a_modified_body_fails() -> None:
    verifier = NoteVerifier.from_vkey(VKEY)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verifier.verify(NOTE.replace("cryptography", "cryptographY"))


def test_a_modified_signature_fails() -> None:
    verifier = NoteVerifier.from_vkey(VKEY)
    tampered = NOTE.replace("x08go/ZJ", "x08go/ZK")
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verifier.verify(tampered)


def test_signatures_by_unknown_keys_are_ignored() -> None:
    other = NoteSigner.generate("witness.example")
    cosigned = NOTE + other.sign(TEXT).split("\n\n")[-1]
    assert NoteVerifier.from_vkey(VKEY).verify(cosigned) == TEXT
    assert other.verifier.verify(cosigned) == TEXT


def test_a_bad_signature_by_the_known_key_rejects_the_whole_note() -> None:
    good = NoteSigner.from_skey(SKEY)
    forged_line = NoteSigner.from_skey(SKEY).sign("other text\n").split("\n\n")[-1]
    with pytest.raises(SignatureInvalid):
        good.verifier.verify(NOTE + forged_line)


@pytest.mark.parametrize(
    "note",
    [
        TEXT,  # no signature block
        TEXT + "\n",  # blank line but no signatures
        NOTE.rstrip("\n"),  # no final newline
        NOTE.replace("— ", "-- "),  # not an em dash
        NOTE.replace("x08go", "x08g!"),  # not base64
        NOTE.replace("\n\n", "\n\x07\n"),  # a control character
        NOTE + "".join(NOTE.split("\n\n")[-1] for _ in range(100)),  # too many signatures
        b"\xff" + NOTE.encode(),  # not UTF-8
    ],
)
def test_malformed_notes_are_refused(note: str | bytes) -> None:
    with pytest.raises(SignatureInvalid):
        NoteVerifier.from_vkey(VKEY).verify(note)


def test_mangled_verifier_keys_are_refused() -> None:
    for i in range(len(VKEY)):
        mangled = VKEY[:i] + chr(ord(VKEY[i]) + 1) + VKEY[i + 1 :]
        with pytest.raises(ConfigurationError):
            NoteVerifier.from_vkey(mangled)
    for cut in (VKEY[:-4], VKEY.split("+", 1)[1], "PeterNeumann+c74f20a3"):
        with pytest.raises(ConfigurationError):
            NoteVerifier.from_vkey(cut)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\there", "nbsp\u00a0x"])
def test_key_names_follow_the_spec(name: str) -> None:
    with pytest.raises(InvalidInput):
        NoteSigner.generate(name)


def test_text_must_end_in_a_newline() -> None:
    with pytest.raises(InvalidInput):
        NoteSigner.generate("a").sign("no newline")


def test_key_files_round_trip_with_private_modes(tmp_path: Path) -> None:
    key_path, pub_path = tmp_path / "keys" / "audit.key", tmp_path / "keys" / "audit.pub"
    signer = NoteSigner.create(key_path, "veil.test/audit")
    signer.verifier.save(pub_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_text().startswith("PRIVATE+KEY+veil.test/audit+")
    loaded = NoteSigner.load(key_path)
    assert loaded.verifier == signer.verifier
    assert NoteVerifier.load(pub_path).verify(loaded.sign("x\n")) == "x\n"
    assert "PRIVATE" not in pub_path.read_text()


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    NoteSigner.create(path, "a")
    before = path.read_bytes()
    with pytest.raises(ConfigurationError, match="already exists"):
        NoteSigner.create(path, "a")
    assert path.read_bytes() == before


def test_a_signing_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    NoteSigner.create(path, "a")
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        NoteSigner.load(path)


def test_broken_key_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        NoteSigner.load(tmp_path / "missing.key")
    with pytest.raises(ConfigurationError):
        NoteVerifier.load(tmp_path / "missing.pub")
    path = tmp_path / "bad.key"
    path.write_text(VKEY)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="PRIVATE"):
        NoteSigner.load(path)
    with pytest.raises(ConfigurationError):
        NoteSigner.from_skey(SKEY.replace("c74f20a3", "c74f20a4"))
