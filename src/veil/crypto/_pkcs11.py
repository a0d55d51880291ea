"""KEKs inside a PKCS#11 token (an HSM, or SoftHSM2 in development and tests).

KEK version N is an AES-256 secret key object on the token labelled
``{prefix}-{N}``: a token object, sensitive, never extractable, usable only to
encrypt and decrypt. Veil never sees its value: data keys go into the token and
come back wrapped. Wrapped format, version 1 (the same layout as `aesgcm_wrap`)::

    0x01 | IV (12 random bytes) | AES-256-GCM ciphertext + 16-byte tag

The associated data is the format byte plus the caller's context, so a wrapped
key moved to another subject does not unwrap. The token does the AES-GCM itself
(CKM_AES_GCM, which SoftHSM2 2.6 and HSMs support with associated data), so no
KEK bytes ever reach this process; the IV comes from the OS CSPRNG, as in
`aesgcm_wrap`, because tokens differ in whether they generate GCM IVs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    MultipleTokensReturned,
    NoSuchToken,
    PinExpired,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    PKCS11Error,
    UserAlreadyLoggedIn,
    UserPinNotInitialized,
)
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin, Object

from veil.errors import ConfigurationError, DecryptionFailed

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as pkcs11_library

__all__ = ["Pkcs11KeyProvider"]

_WRAP_FORMAT = 0x01
_IV_BYTES = 12
_TAG_BYTES = 16
_KEK_BITS = 256

# python-pkcs11 calls C_Initialize with no arguments, which tells the module
# that the application never calls it from two threads at once. One lock for
# the whole process keeps that promise across every session and token, and
# also guards the session registry below.
_PKCS11_LOCK = threading.Lock()


@dataclass
class _SharedSession:
    """One logged-in session per (module, token) in this process.

    PKCS#11 login state belongs to the application, not to a session: a second
    C_Login fails with "already logged in", and closing any logged-in session
    logs every session out. So providers on the same token share one session
    and the last one to close it logs out.
    """

    session: pkcs11.Session
    pin_digest: bytes
    users: int


_SESSIONS: dict[tuple[str, str], _SharedSession] = {}


class _Kek(Protocol):
    """What Veil needs of a KEK object: python-pkcs11 mixes these in per key."""

    def encrypt(
        self, data: bytes, buffer_size: int = ..., **kwargs: Any
    ) -> bytes | Iterator[bytes]: ...

    def decrypt(
        self, data: bytes, buffer_size: int = ..., **kwargs: Any
    ) -> bytes | Iterator[bytes]: ...

    def destroy(self) -> None: ...


def _as_kek(obj: Object) -> _Kek | None:
    # A key object that cannot both encrypt and decrypt is not one of ours,
    # whatever its label says.
    if isinstance(obj, EncryptMixin) and isinstance(obj, DecryptMixin):
        return obj
    return None


class Pkcs11KeyProvider:
    """A `KeyProvider` whose KEKs live in a PKCS#11 token and never leave it.

    Every PKCS#11 call runs under one process-wide lock, because python-pkcs11
    sessions are not thread-safe. Call `close` (or use the provider as a
    context manager) to release the session.

    Args:
        module_path: Path of the PKCS#11 module (``.so``), e.g. SoftHSM2's.
        token_label: Label of the token holding the KEKs.
        pin: The token's user PIN.
        key_label_prefix: KEK version N is the secret key labelled ``{prefix}-{N}``.

    Raises:
        ConfigurationError: The module cannot be loaded, the token is not there,
            or the PIN is wrong.
    """

    def __init__(
        self,
        module_path: str,
        token_label: str,
        pin: str,
        key_label_prefix: str = "veil-kek",
    ) -> None:
        if not pin:
            raise ConfigurationError(
                f"no PIN for PKCS#11 token {token_label!r}; set VEIL_PKCS11_PIN"
            )
        self._token_label = token_label
        self._prefix = key_label_prefix
        self._label_pattern = re.compile(rf"{re.escape(key_label_prefix)}-([1-9][0-9]*)")
        self._keys: dict[int, _Kek] = {}
        self._current: int | None = None
        self._registry_key = (os.path.realpath(module_path), token_label)
        with _PKCS11_LOCK:
            self._shared: _SharedSession | None = _attach(
                self._registry_key, module_path, token_label, pin
            )

    @property
    def name(self) -> str:
        """Return ``pkcs11``."""
        return "pkcs11"

    @property
    def token_label(self) -> str:
        """Return the label of the token holding the KEKs."""
        return self._token_label

    @property
    def key_label_prefix(self) -> str:
        """Return the prefix of the KEK labels (version N is ``{prefix}-{N}``)."""
        return self._prefix

    def versions(self) -> Sequence[int]:
        """Return the KEK versions on the token, ascending (empty before `veil init`)."""
        with _PKCS11_LOCK, self._token_errors("list the KEKs"):
            return self._scan()

    def current_version(self) -> int:
        """Return the highest KEK version on the token.

        A version added by another process (``veil keys rotate``) is picked up at
        the next call: after the first full scan this probes for the next label
        only, which costs one exact-label search.

        Raises:
            ConfigurationError: The token holds no KEK yet.
        """
        with _PKCS11_LOCK, self._token_errors("list the KEKs"):
            if self._current is None:
                self._scan()
            if self._current is None:
                raise ConfigurationError(
                    f"PKCS#11 token {self._token_label!r} holds no KEK labelled"
                    f" {self._prefix}-<n> yet; run `veil init`"
                )
            while self._find(self._current + 1) is not None:
                self._current += 1
            return self._current

    def add_version(self) -> int:
        """Generate the next KEK version inside the token and return its number."""
        with _PKCS11_LOCK, self._token_errors("generate a KEK"):
            versions = self._scan()
            return self._generate(versions[-1] + 1 if versions else 1)

    def ensure_initial_version(self) -> int:
        """Create KEK version 1 if the token holds none; return the current version."""
        with _PKCS11_LOCK, self._token_errors("generate a KEK"):
            versions = self._scan()
            return versions[-1] if versions else self._generate(1)

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        """Encrypt `key` inside the token under KEK `version`, bound to `context`.

        Raises:
            DecryptionFailed: The token holds no KEK `version` (as with the other providers).
            ConfigurationError: The token refused the operation.
        """
        iv = secrets.token_bytes(_IV_BYTES)
        header = bytes([_WRAP_FORMAT])
        with _PKCS11_LOCK, self._token_errors("wrap a data key"):
            kek = self._key(version)
            if kek is None:
                raise DecryptionFailed(f"KEK version {version} is not on the token")
            sealed = kek.encrypt(
                key, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, header + context)
            )
        if not isinstance(sealed, bytes):
            raise ConfigurationError("the PKCS#11 module returned a stream for one block")
        return header + iv + sealed

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Reverse `wrap`; every failure, whatever the token said, is `DecryptionFailed`."""
        if len(wrapped) < 1 + _IV_BYTES + _TAG_BYTES or wrapped[0] != _WRAP_FORMAT:
            raise DecryptionFailed("wrapped key is malformed")
        iv = wrapped[1 : 1 + _IV_BYTES]
        with _PKCS11_LOCK:
            if self._shared is None:
                raise DecryptionFailed("the PKCS#11 key provider is closed")
            try:
                kek = self._key(version)
                if kek is None:
                    raise DecryptionFailed(f"KEK version {version} is not on the token")
                plain = kek.decrypt(
                    wrapped[1 + _IV_BYTES :],
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(iv, wrapped[:1] + context),
                )
            except PKCS11Error:
                # SoftHSM2 reports a bad GCM tag as CKR_GENERAL_ERROR, other
                # tokens as CKR_ENCRYPTED_DATA_INVALID; the caller needs neither.
                raise DecryptionFailed("wrapped key does not open under this KEK") from None
        if not isinstance(plain, bytes):
            raise DecryptionFailed("the PKCS#11 module returned a stream for one block")
        return plain

    def close(self) -> None:
        """Release this provider's share of the token session (idempotent)."""
        with _PKCS11_LOCK:
            if self._shared is None:
                return
            shared, self._shared = self._shared, None
            self._keys.clear()
            self._current = None
            _detach(self._registry_key, shared)

    def __enter__(self) -> Pkcs11KeyProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pkcs11KeyProvider(token={self._token_label!r}, prefix={self._prefix!r})"

    # The helpers below run with _PKCS11_LOCK held.

    @contextmanager
    def _token_errors(self, action: str) -> Iterator[None]:
        # A token that fails mid-operation (removed, session dropped, out of
        # memory) is an operational problem, not a bad ciphertext: say which
        # token and what Veil was doing, never any key material.
        try:
            yield
        except PKCS11Error as exc:
            raise ConfigurationError(
                f"PKCS#11 token {self._token_label!r} failed to {action} ({type(exc).__name__})"
            ) from exc

    def _session(self) -> pkcs11.Session:
        if self._shared is None:
            raise ConfigurationError("the PKCS#11 key provider is closed")
        return self._shared.session

    def _label(self, version: int) -> str:
        return f"{self._prefix}-{version}"

    def _scan(self) -> list[int]:
        found: dict[int, _Kek] = {}
        for obj in self._session().get_objects(
            {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
        ):
            match = self._label_pattern.fullmatch(str(obj[Attribute.LABEL]))
            kek = _as_kek(obj)
            if match is not None and kek is not None:
                found[int(match.group(1))] = kek
        self._keys = found
        self._current = max(found) if found else None
        return sorted(found)

    def _find(self, version: int) -> _Kek | None:
        matches = list(
            self._session().get_objects(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.KEY_TYPE: KeyType.AES,
                    Attribute.LABEL: self._label(version),
                }
            )
        )
        kek = _as_kek(matches[0]) if len(matches) == 1 else None
        if kek is not None:
            self._keys[version] = kek
        return kek

    def _key(self, version: int) -> _Kek | None:
        # A version missing from the cache may have been added by another
        # process since the last scan, so look for it on the token once.
        cached = self._keys.get(version)
        return cached if cached is not None else self._find(version)

    def _generate(self, version: int) -> int:
        label = self._label(version)
        generated = self._session().generate_key(
            KeyType.AES,
            _KEK_BITS,
            label=label,
            store=True,
            # Encrypt and decrypt only: the KEK cannot sign, derive, or wrap
            # other token keys out of the token.
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template={
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
            },
        )
        # Two processes rotating at once would both create the same label, and
        # a duplicated label makes that version ambiguous. Back out and let the
        # operator retry rather than keep two keys under one name.
        if len(list(self._session().get_objects({Attribute.LABEL: label}))) != 1:
            generated.destroy()
            raise ConfigurationError(
                f"another process created KEK {label} at the same time; run the command again"
            )
        kek = _as_kek(generated)
        if kek is None:
            raise ConfigurationError(f"the token made KEK {label} without encrypt/decrypt")
        self._keys[version] = kek
        self._current = max(version, self._current or 0)
        return version


def _attach(
    registry_key: tuple[str, str], module_path: str, token_label: str, pin: str
) -> _SharedSession:
    """Join (or open) the shared logged-in session on `token_label`; needs the lock."""
    pin_digest = hashlib.sha256(pin.encode("utf-8")).digest()
    shared = _SESSIONS.get(registry_key)
    if shared is not None:
        # The token will not check a PIN twice in one process, so compare it
        # with the one that logged in: a wrong PIN must not ride along.
        if not hmac.compare_digest(shared.pin_digest, pin_digest):
            raise ConfigurationError(f"the PIN for PKCS#11 token {token_label!r} is incorrect")
        shared.users += 1
        return shared
    token = _open_token(module_path, token_label)
    # On a failed login python-pkcs11 leaves its not-logged-in session open;
    # the handle cannot be reached to close it, and it holds no rights.
    try:
        session = token.open(rw=True, user_pin=pin)
    except (PinIncorrect, PinInvalid, PinLenRange) as exc:
        raise ConfigurationError(
            f"the PIN for PKCS#11 token {token_label!r} is incorrect; check VEIL_PKCS11_PIN"
        ) from exc
    except (PinLocked, PinExpired, UserPinNotInitialized) as exc:
        raise ConfigurationError(
            f"the user PIN of PKCS#11 token {token_label!r} is locked, expired or not set"
            f" ({type(exc).__name__}); ask the token's security officer to reset it"
        ) from exc
    except UserAlreadyLoggedIn as exc:
        raise ConfigurationError(
            f"PKCS#11 token {token_label!r} is already logged in by other code in this process"
        ) from exc
    except PKCS11Error as exc:
        raise ConfigurationError(
            f"cannot open a session on PKCS#11 token {token_label!r} ({type(exc).__name__})"
        ) from exc
    shared = _SharedSession(session=session, pin_digest=pin_digest, users=1)
    _SESSIONS[registry_key] = shared
    return shared


def _detach(registry_key: tuple[str, str], shared: _SharedSession) -> None:
    """Leave the shared session; the last provider out logs out; needs the lock."""
    shared.users -= 1
    if shared.users > 0:
        return
    del _SESSIONS[registry_key]
    # The token may already be gone (removed, or its module finalized); there
    # is nothing left to release then.
    with suppress(PKCS11Error):
        shared.session.close()


def _open_token(module_path: str, token_label: str) -> pkcs11.Token:
    """Load the module and find the token, turning each failure into advice."""
    if not os.path.isfile(module_path):
        raise ConfigurationError(
            f"PKCS#11 module {module_path} does not exist; install it (e.g. the softhsm2"
            " package) or point VEIL_PKCS11_MODULE at your HSM's library"
        )
    try:
        library = pkcs11.lib(module_path)
    except PKCS11Error as exc:
        raise ConfigurationError(
            f"{module_path} could not be loaded as a PKCS#11 module ({exc})"
        ) from exc
    try:
        return library.get_token(token_label=token_label)
    except NoSuchToken:
        available = sorted(_token_labels(library))
        raise ConfigurationError(
            f"no PKCS#11 token labelled {token_label!r} in {module_path}"
            f" (tokens present: {', '.join(map(repr, available)) or 'none'});"
            " create one (softhsm2-util --init-token --free --label ...) or set"
            " VEIL_PKCS11_TOKEN_LABEL"
        ) from None
    except MultipleTokensReturned:
        raise ConfigurationError(
            f"more than one PKCS#11 token is labelled {token_label!r}; relabel one of them"
        ) from None
    except PKCS11Error as exc:
        raise ConfigurationError(
            f"cannot list the tokens of PKCS#11 module {module_path} ({type(exc).__name__})"
        ) from exc


def _token_labels(library: pkcs11_library) -> list[str]:
    try:
        return [token.label for token in library.get_tokens()]
    except PKCS11Error:
        return []
