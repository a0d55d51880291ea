"""Envelope encryption, key providers, blind index: the only package that imports `cryptography`.

Recipes, no knobs: `seal_field` / `open_field` for field data under a subject's
`DataKey`; a `Keyring` that wraps data keys with a `KeyProvider`'s KEK; a
`BlindIndex` to look customers up by phone. Every failure to open anything is
one `veil.errors.DecryptionFailed`. `NoteSigner` / `NoteVerifier` sign and check
Ed25519 C2SP signed notes (the audit log's checkpoints). `Pseudonymizer` derives
analysts' per-principal keyed pseudonyms. `rpc_signature_v1` signs a telephony
provider's RPC requests (Alibaba Cloud, HMAC-SHA1). `sign_webhook` / `verify_webhook`
sign the watch's alert webhooks (HMAC-SHA256); `keyed_reference` names a value
without storing it.
"""

from veil.crypto._blind import BlindIndex, normalize_phone
from veil.crypto._cache import DataKeyCache
from veil.crypto._envelope import DataKey, FieldRef, blob_key_id, open_field, seal_field
from veil.crypto._keyring import Keyring, WrappedKey
from veil.crypto._keys import (
    InsecureKeyStorageWarning,
    KeyProvider,
    LocalKeyFile,
    aesgcm_unwrap,
    aesgcm_wrap,
)
from veil.crypto._pkcs11 import Pkcs11KeyProvider
from veil.crypto._pseudonyms import PSEUDONYM_KEY_CONTEXT, Pseudonymizer, PseudonymKey
from veil.crypto._rpc import rpc_signature_v1, verify_rpc_signature_v1
from veil.crypto._signing import NoteSigner, NoteVerifier, SignatureInvalid
from veil.crypto._tokens import api_key_digest, new_api_key
from veil.crypto._webhooks import (
    WEBHOOK_SIGNATURE_HEADER,
    keyed_reference,
    sign_webhook,
    verify_webhook,
)

__all__ = [
    "PSEUDONYM_KEY_CONTEXT",
    "WEBHOOK_SIGNATURE_HEADER",
    "BlindIndex",
    "DataKey",
    "DataKeyCache",
    "FieldRef",
    "InsecureKeyStorageWarning",
    "KeyProvider",
    "Keyring",
    "LocalKeyFile",
    "NoteSigner",
    "NoteVerifier",
    "Pkcs11KeyProvider",
    "PseudonymKey",
    "Pseudonymizer",
    "SignatureInvalid",
    "WrappedKey",
    "aesgcm_unwrap",
    "aesgcm_wrap",
    "api_key_digest",
    "blob_key_id",
    "keyed_reference",
    "new_api_key",
    "normalize_phone",
    "open_field",
    "rpc_signature_v1",
    "seal_field",
    "sign_webhook",
    "verify_rpc_signature_v1",
    "verify_webhook",
]
