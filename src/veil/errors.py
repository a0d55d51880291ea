"""Veil's one error tree.

Every error Veil raises on purpose derives from `VeilError`; the API maps each
class to one HTTP status in `veil.api` (`STATUS_BY_ERROR`), and anything else is
an opaque 500 that is logged, never explained to the caller::

    VeilError
    ├── ConfigurationError          bad settings, missing or wrong key file (CLI exits non-zero)
    ├── InvalidInput                the request is well-formed JSON but makes no sense (422)
    ├── AuthenticationFailed        missing, unknown, revoked or suspended API key (401)
    ├── NotFound                    absent, or not yours: one answer for both (404)
    ├── AccessDenied                yours once, but not now: e.g. delivery window closed (403)
    ├── Conflict                    illegal state transition, duplicate (409)
    ├── QuotaExceeded               a daily reveal quota is used up (429)
    ├── RateLimited                 too many requests in a window (429)
    ├── DecryptionFailed            bad tag, wrong key, truncated blob, erased subject: one error
    ├── StorageUnavailable          the database refused the work; nothing was returned (503)
    │
    │   declared next to the code that raises them (all subclasses of VeilError):
    ├── veil.crypto.SignatureInvalid          a signed note does not verify
    ├── veil.numbers.ProviderUnavailable      a telephony provider refused or did not answer
    ├── veil.audit.ProofError                 an inclusion / consistency proof does not verify
    ├── veil.audit.CheckpointInvalid          a checkpoint note is malformed or mis-signed
    ├── veil.audit.AuditVerificationFailed    an audit export failed offline verification
    ├── veil.audit.WitnessConflict (Conflict) a witness refuses a rollback or a fork
    └── veil.audit.IntegratorLockLost (Conflict) another integrator took the log's lock

Messages never carry plaintext PII: they name ids, states and fields, not values.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AuthenticationFailed",
    "ConfigurationError",
    "Conflict",
    "DecryptionFailed",
    "InvalidInput",
    "NotFound",
    "QuotaExceeded",
    "RateLimited",
    "StorageUnavailable",
    "VeilError",
]


class VeilError(Exception):
    """Base of every error Veil raises on purpose.

    Attributes:
        code: A stable, machine-readable error code for the API's error model.
        message: A human-readable sentence; never contains plaintext PII.
    """

    code = "veil_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigurationError(VeilError):
    """Settings or key material are missing or do not match the database."""

    code = "configuration_error"


class InvalidInput(VeilError):
    """The request parsed, but a value is not acceptable (bad phone, bad id list...)."""

    code = "invalid_input"


class AuthenticationFailed(VeilError):
    """The API key is missing, unknown, revoked, or its principal is disabled."""

    code = "unauthenticated"


class NotFound(VeilError):
    """The object does not exist, or the caller may not know it exists."""

    code = "not_found"


class AccessDenied(VeilError):
    """The caller had a relation to the object, but policy denies it now."""

    code = "forbidden"


class Conflict(VeilError):
    """The request conflicts with the object's state (e.g. an illegal transition)."""

    code = "conflict"


class QuotaExceeded(VeilError):
    """A daily quota is used up."""

    code = "quota_exceeded"


class RateLimited(VeilError):
    """Too many requests in the current window.

    Attributes:
        retry_after: Seconds after which the caller may try again.
    """

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DecryptionFailed(VeilError):
    """A ciphertext could not be opened; the reason is deliberately not given."""

    code = "decryption_failed"


class StorageUnavailable(VeilError):
    """The database refused the work; nothing was returned and nothing was half-written."""

    code = "storage_unavailable"
