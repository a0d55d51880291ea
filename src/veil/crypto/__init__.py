"""Envelope encryption, key providers, blind index: the only package that imports `cryptography`.

Recipes, no knobs: `seal_field` / `open_field` for field data under a subject's
`DataKey`; a `Keyring` that wraps data keys with a `KeyProvider`'s KEK; a
`BlindIndex` to look customers up by phone. Every failure to open anything is
one `veil.errors.DecryptionFailed`. `NoteSigner` / `NoteVerifier` sign and check
Ed25519 C2SP signed notes (the audit log's checkpoints). `Pseudonymizer` derives
analysts' per-principal keyed pseudonyms.
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
from veil.crypto._signing import NoteSigner, NoteVerifier, SignatureInvalid
from veil.crypto._tokens import api_key_digest, new_api_key

__all__ = [
    "PSEUDONYM_KEY_CONTEXT",
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
    "new_api_key",
    "normalize_phone",
    "open_field",
    "seal_field",
]
