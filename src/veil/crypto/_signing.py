"""Ed25519 signed notes (C2SP signed-note): how audit checkpoints are signed.

A note is UTF-8 text ending in a newline, a blank line, then signature lines::

    <text>

    — <key name> base64(key ID ‖ Ed25519 signature over <text>)

The key ID is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)
(https://c2sp.org/signed-note). Keys travel in the formats of Go's
``golang.org/x/mod/sumdb/note``, so Go witnesses and monitors read them as is:

* verifier key (public, shareable): ``<name>+<hex key ID>+<base64(0x01 ‖ public key)>``
* signer key (private, a 0600 file):
  ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>``

The leading 0x01 (the Ed25519 signature type) doubles as the format's version
marker. Anyone holding the signer key can sign a rewritten log, which is why
checkpoints are also copied to a witness outside the operator's reach.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import stat
import unicodedata
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from veil.errors import ConfigurationError, InvalidInput, VeilError

__all__ = ["NoteSigner", "NoteVerifier", "SignatureInvalid"]

_ED25519 = 0x01
_KEY_BYTES = 32
_SIGNATURE_BYTES = 64
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_SIGNATURE_DASH = "— "
# The spec obliges verifiers to accept at least 16 signatures; a cap stops a
# note padded with thousands of bogus signature lines from costing real work.
_MAX_SIGNATURES = 100


class SignatureInvalid(VeilError):
    """A signed note is malformed, lacks a signature by the trusted key, or it does not verify.

    One error for all three on purpose: a caller must treat them alike.
    """

    code = "signature_invalid"


def _key_id(name: str, public_key: bytes) -> bytes:
    material = name.encode("utf-8") + b"\n" + bytes([_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:4]


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(_is_space_or_control(ch) for ch in name):
        raise InvalidInput(
            f"key name {name!r} must be non-empty, without spaces, control characters or '+'"
        )


def _is_space_or_control(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Zs", "Cc")


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode standard, padded base64, refusing anything a strict encoder would not emit."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not canonical base64") from None


class NoteVerifier:
    """An Ed25519 public key under a name: checks signed notes.

    Attributes:
        name: The key name that appears on signature lines.
        key_id: The 4-byte key ID derived from the name and the key.
        public_key: The raw 32-byte Ed25519 public key.
    """

    __slots__ = ("_key", "key_id", "name", "public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_key_name(name)
        if len(public_key) != _KEY_BYTES:
            raise InvalidInput(f"an Ed25519 public key has {_KEY_BYTES} bytes")
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = _key_id(name, self.public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    def __repr__(self) -> str:
        return f"NoteVerifier({self.vkey!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoteVerifier):
            return NotImplemented
        return (self.name, self.public_key) == (other.name, other.public_key)

    def __hash__(self) -> int:
        return hash((self.name, self.public_key))

    @property
    def vkey(self) -> str:
        """Return the verifier key string ``<name>+<hex key ID>+<base64(0x01 ‖ key)>``."""
        material = _b64encode(bytes([_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key string, checking its type byte, length and key ID.

        Raises:
            ConfigurationError: The string is not an Ed25519 verifier key.
        """
        # The base64 part may itself contain '+', so split from the left only.
        parts = vkey.strip().split("+", 2)
        try:
            name, key_id_hex, material = parts
            raw = _b64decode(material)
            if len(raw) != 1 + _KEY_BYTES or raw[0] != _ED25519:
                raise ValueError("not an Ed25519 key")
            verifier = cls(name, raw[1:])
            if key_id_hex != verifier.key_id.hex():
                raise ValueError("key ID does not match the name and key")
        except (ValueError, InvalidInput) as exc:
            raise ConfigurationError(f"not an Ed25519 verifier key ({exc})") from None
        return verifier

    @classmethod
    def load(cls, path: Path) -> NoteVerifier:
        """Read a verifier key file (one vkey line).

        Raises:
            ConfigurationError: The file is missing or does not hold a verifier key.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read public key file {path} ({exc})") from None
        return cls.from_vkey(text)

    def save(self, path: Path) -> None:
        """Write the verifier key to `path` (world-readable: it is public)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.vkey + "\n", encoding="utf-8")

    def verify(self, note: str | bytes) -> str:
        """Check that `note` carries a valid signature by this key and return its text.

        Signatures by other keys are ignored, as the spec requires; a signature
        that claims to be by this key but fails makes the whole note invalid.

        Raises:
            SignatureInvalid: The note is malformed, unsigned by this key, or forged.
        """
        if isinstance(note, bytes):
            try:
                note = note.decode("utf-8")
            except UnicodeDecodeError:
                raise SignatureInvalid("signed note is not UTF-8") from None
        if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
            raise SignatureInvalid("signed note contains control characters")
        split = note.rfind("\n\n")
        if split < 0 or not note.endswith("\n"):
            raise SignatureInvalid("signed note has no signature block")
        text, block = note[: split + 1], note[split + 2 : -1]
        lines = block.split("\n")
        if len(lines) > _MAX_SIGNATURES:
            raise SignatureInvalid("signed note has too many signatures")
        verified = False
        for line in lines:
            name, signature = self._parse_signature_line(line)
            if name != self.name or signature[:4] != self.key_id:
                continue
            try:
                self._key.verify(signature[4:], text.encode("utf-8"))
            except InvalidSignature:
                raise SignatureInvalid(f"signature by {self.name} does not verify") from None
            verified = True
        if not verified:
            raise SignatureInvalid(f"note is not signed by {self.name} ({self.key_id.hex()})")
        return text

    @staticmethod
    def _parse_signature_line(line: str) -> tuple[str, bytes]:
        if not line.startswith(_SIGNATURE_DASH):
            raise SignatureInvalid("malformed signature line in note")
        name, _, encoded = line[len(_SIGNATURE_DASH) :].partition(" ")
        try:
            signature = _b64decode(encoded)
        except ValueError:
            raise SignatureInvalid("malformed signature line in note") from None
        if not name or len(signature) < 5:
            raise SignatureInvalid("malformed signature line in note")
        return name, signature


class NoteSigner:
    """An Ed25519 private key under a name: signs notes.

    Attributes:
        name: The key name written on signature lines.
        key_id: The 4-byte key ID derived from the name and the public key.
        verifier: The matching `NoteVerifier`, to publish.
    """

    __slots__ = ("_key", "_seed", "key_id", "name", "verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != _KEY_BYTES:
            raise InvalidInput(f"an Ed25519 private key has {_KEY_BYTES} bytes")
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(self._seed)
        self.verifier = NoteVerifier(name, self._key.public_key().public_bytes_raw())
        self.name = name
        self.key_id = self.verifier.key_id

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()!r})"

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """Return a new signer with a fresh random key."""
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, seed)

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Parse a signer key string (``PRIVATE+KEY+<name>+<hex id>+<base64>``).

        Raises:
            ConfigurationError: The string is not an Ed25519 signer key.
        """
        try:
            if not skey.startswith(_PRIVATE_PREFIX):
                raise ValueError("missing PRIVATE+KEY+ prefix")
            name, key_id_hex, material = skey[len(_PRIVATE_PREFIX) :].strip().split("+", 2)
            raw = _b64decode(material)
            if len(raw) != 1 + _KEY_BYTES or raw[0] != _ED25519:
                raise ValueError("not an Ed25519 key")
            signer = cls(name, raw[1:])
            if key_id_hex != signer.key_id.hex():
                raise ValueError("key ID does not match the name and key")
        except (ValueError, InvalidInput) as exc:
            raise ConfigurationError(f"not an Ed25519 signer key ({exc})") from None
        return signer

    @classmethod
    def create(cls, path: Path, name: str) -> NoteSigner:
        """Generate a key and write it to a new file with mode 0600; never overwrite one.

        Raises:
            ConfigurationError: The file already exists.
        """
        signer = cls.generate(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigurationError(
                f"signing key file {path} already exists; refusing to overwrite it"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(signer._skey() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return signer

    @classmethod
    def load(cls, path: Path) -> NoteSigner:
        """Read a signer key file, refusing one that others may read.

        Raises:
            ConfigurationError: The file is missing, too open, or not a signer key.
        """
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read signing key file {path} ({exc})") from None
        if mode & 0o077:
            raise ConfigurationError(
                f"signing key file {path} has mode {mode:o}; it must be readable by its owner"
                f" only (chmod 600 {path})"
            )
        return cls.from_skey(text)

    def sign(self, text: str) -> str:
        """Return `text` as a signed note carrying this key's signature.

        Raises:
            InvalidInput: `text` does not end in a newline or holds control characters.
        """
        if not text.endswith("\n") or any(ord(ch) < 0x20 and ch != "\n" for ch in text):
            raise InvalidInput("note text must end in a newline and hold no control characters")
        signature = self._key.sign(text.encode("utf-8"))
        return f"{text}\n{_SIGNATURE_DASH}{self.name} {_b64encode(self.key_id + signature)}\n"

    def _skey(self) -> str:
        material = _b64encode(bytes([_ED25519]) + self._seed)
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{material}"
