"""Registered phones of riders and merchants: the B party of a binding, never stored in clear.

A phone is sealed under one party-phone key (a random key wrapped by a KEK,
rewrapped with the data keys on rotation) and blind-indexed, so that the
router can tell a call from a rider's phone without decrypting anything, and
decrypts the phone only to connect a call to it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from veil.crypto import BlindIndex, DataKey, FieldRef, KeyProvider, open_field, seal_field
from veil.errors import Conflict, DecryptionFailed
from veil.store import PARTY_PHONE_KEYS, PARTY_PHONES, Prepared

__all__ = ["PARTY_PHONE_KEY_CONTEXT", "PartyPhones", "RegisteredPhone"]

# The wrap context of the key, so a wrapped data key cannot be passed off as it.
PARTY_PHONE_KEY_CONTEXT = b"veil-party-phone-key"
_KEY_VERSION = 1
_KEY_BYTES = 16 + 32

_PARTY = select(PARTY_PHONES.c.principal_id, PARTY_PHONES.c.digest, PARTY_PHONES.c.phone_ct).where(
    PARTY_PHONES.c.principal_id == bindparam("p")
)
_PARTY_ROW = Prepared(_PARTY)
_PARTY_LOCKED = Prepared(_PARTY.with_for_update())
_KEY_ROW = select(PARTY_PHONE_KEYS.c.kek_version, PARTY_PHONE_KEYS.c.wrapped).where(
    PARTY_PHONE_KEYS.c.version == _KEY_VERSION
)


@dataclass(frozen=True, slots=True)
class RegisteredPhone:
    """A principal's registered phone as stored: its blind digest and the sealed number."""

    principal_id: str
    digest: bytes
    sealed: bytes = field(repr=False)


def _where(principal_id: str) -> FieldRef:
    return FieldRef(principal_id, principal_id, "party.phone")


class PartyPhones:
    """Seal, index and open riders' and merchants' registered phones."""

    def __init__(self, provider: KeyProvider, blind_index: BlindIndex) -> None:
        self._provider = provider
        self._index = blind_index
        self._key: DataKey | None = None
        self._lock = threading.Lock()

    def register(self, connection: Connection, principal_id: str, e164: str, now_ms: int) -> None:
        """Set (or replace) a principal's phone.

        Raises:
            Conflict: another principal has registered this phone already.
        """
        version, digest = self._index.digest(e164)
        taken = connection.scalar(
            select(PARTY_PHONES.c.principal_id).where(
                PARTY_PHONES.c.digest.in_([d for _, d in self._index.lookup_digests(e164)]),
                PARTY_PHONES.c.principal_id != principal_id,
            )
        )
        if taken is not None:
            raise Conflict("this phone is registered to another rider or merchant")
        key = self._data_key(connection, now_ms)
        connection.execute(delete(PARTY_PHONES).where(PARTY_PHONES.c.principal_id == principal_id))
        connection.execute(
            insert(PARTY_PHONES).values(
                principal_id=principal_id,
                key_version=_KEY_VERSION,
                phone_ct=seal_field(key, e164.encode("ascii"), _where(principal_id)),
                digest_version=version,
                digest=digest,
                registered_ms=now_ms,
            )
        )

    def party(
        self, connection: Connection, principal_id: str, *, lock: bool = False
    ) -> RegisteredPhone | None:
        """Return a principal's registered phone, still sealed, or None if none is registered.

        With `lock`, the row stays locked (PostgreSQL ``FOR UPDATE``) until the
        transaction ends: two bindings for one rider are then made one after
        the other, never side by side.
        """
        row = (_PARTY_LOCKED if lock else _PARTY_ROW).first(connection, {"p": principal_id})
        if row is None:
            return None
        return RegisteredPhone(row.principal_id, bytes(row.digest), bytes(row.phone_ct))

    def open(self, connection: Connection, principal_id: str) -> str | None:
        """Decrypt a principal's phone (only the router and the binding code call this)."""
        party = self.party(connection, principal_id)
        return None if party is None else self.open_party(connection, party)

    def open_party(self, connection: Connection, party: RegisteredPhone) -> str:
        """Decrypt a registered phone already read with `party`."""
        key = self._data_key(connection, None)
        return open_field(key, party.sealed, _where(party.principal_id)).decode("ascii")

    def _data_key(self, connection: Connection, now_ms: int | None) -> DataKey:
        if self._key is not None:
            return self._key
        row = connection.execute(_KEY_ROW).first()
        if row is None:
            if now_ms is None:
                raise DecryptionFailed("no party phone key exists yet")
            version = self._provider.current_version()
            fresh = DataKey.generate()
            wrapped = self._provider.wrap(
                version, fresh.key_id + fresh.secret, PARTY_PHONE_KEY_CONTEXT
            )
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            # Two first registrations may race: the loser's insert does nothing
            # and it reads the winner's key.
            connection.execute(
                dialect.insert(PARTY_PHONE_KEYS)
                .values(
                    version=_KEY_VERSION, kek_version=version, wrapped=wrapped, created_ms=now_ms
                )
                .on_conflict_do_nothing()
            )
            row = connection.execute(_KEY_ROW).one()
        raw = self._provider.unwrap(row.kek_version, bytes(row.wrapped), PARTY_PHONE_KEY_CONTEXT)
        if len(raw) != _KEY_BYTES:
            raise DecryptionFailed("the party phone key has the wrong length")
        with self._lock:
            self._key = DataKey(raw[:16], raw[16:])
        return self._key
