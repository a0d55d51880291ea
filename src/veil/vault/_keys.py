"""Key bootstrap, verification, rotation and online rewrap."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from veil.crypto import (
    PSEUDONYM_KEY_CONTEXT,
    BlindIndex,
    KeyProvider,
    Keyring,
    WrappedKey,
)
from veil.errors import ConfigurationError, DecryptionFailed
from veil.numbers import PARTY_PHONE_KEY_CONTEXT
from veil.store import INDEX_KEYS, KEK_VERSIONS, PARTY_PHONE_KEYS, PSEUDONYM_KEYS, SUBJECTS

__all__ = [
    "KeyStatus",
    "key_status",
    "load_blind_index",
    "register_kek_versions",
    "rewrap_all",
    "verify_keks",
]

_KEKS = KEK_VERSIONS
_INDEX = INDEX_KEYS
_SUBJECTS = SUBJECTS
_CHECK_CONTEXT = b"veil-kek-check"
_INDEX_CONTEXT = b"veil-index-key"


@dataclass(frozen=True)
class KeyStatus:
    """What `veil keys status` shows."""

    provider: str
    kek_versions: list[int]
    current_version: int
    subjects_by_kek_version: dict[int, int]
    erased_subjects: int
    index_key_versions: list[int]


def register_kek_versions(engine: Engine, provider: KeyProvider, *, now_ms: int) -> list[int]:
    """Record every provider KEK version the database does not know yet, with a check value.

    The check value is a random secret wrapped under the KEK; unwrapping it at
    start-up proves the configured provider holds the keys this database needs.
    """
    added: list[int] = []
    with engine.begin() as connection:
        known = set(connection.scalars(select(_KEKS.c.version)))
        for version in provider.versions():
            if version in known:
                continue
            check = provider.wrap(version, secrets.token_bytes(32), _CHECK_CONTEXT)
            connection.execute(
                insert(_KEKS).values(
                    version=version, provider=provider.name, check_ct=check, created_ms=now_ms
                )
            )
            added.append(version)
        if connection.scalar(select(func.count()).select_from(_INDEX)) == 0:
            version = provider.current_version()
            wrapped = provider.wrap(version, secrets.token_bytes(32), _INDEX_CONTEXT)
            connection.execute(
                insert(_INDEX).values(
                    version=1, kek_version=version, wrapped=wrapped, created_ms=now_ms
                )
            )
    return added


def verify_keks(engine: Engine, provider: KeyProvider) -> None:
    """Check that `provider` opens every KEK version this database uses.

    Raises:
        ConfigurationError: the database is not initialised, or the keys do not match it.
    """
    with engine.connect() as connection:
        rows = connection.execute(select(_KEKS.c.version, _KEKS.c.check_ct)).all()
    if not rows:
        raise ConfigurationError("the database has no keys registered; run `veil init` first")
    for version, check in rows:
        try:
            provider.unwrap(version, check, _CHECK_CONTEXT)
        except DecryptionFailed:
            raise ConfigurationError(
                f"the configured {provider.name} key provider does not hold KEK version {version}"
                " of this database (wrong key file or token?)"
            ) from None


def load_blind_index(engine: Engine, provider: KeyProvider) -> BlindIndex:
    """Unwrap every blind-index key version into a `BlindIndex`."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(_INDEX.c.version, _INDEX.c.kek_version, _INDEX.c.wrapped)
        ).all()
    if not rows:
        raise ConfigurationError("the database has no blind-index key; run `veil init` first")
    return BlindIndex(
        {version: provider.unwrap(kek, wrapped, _INDEX_CONTEXT) for version, kek, wrapped in rows}
    )


def rewrap_all(
    engine: Engine,
    keyring: Keyring,
    *,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rewrap every data key (and index key) not under the current KEK; return how many.

    Each batch commits on its own, and each row is updated only if it still has
    the version it was read with, so reads (and erasures) go on during a rewrap:
    every row is at all times wrapped under a KEK version the provider holds.
    Field data is never decrypted.
    """
    current = keyring.provider.current_version()
    with engine.connect() as connection:
        total = (
            connection.scalar(
                select(func.count()).where(
                    _SUBJECTS.c.kek_version != current, _SUBJECTS.c.dek_wrapped.is_not(None)
                )
            )
            or 0
        )
    done = 0
    if progress:
        progress(done, total)
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                select(_SUBJECTS.c.id, _SUBJECTS.c.kek_version, _SUBJECTS.c.dek_wrapped)
                .where(_SUBJECTS.c.kek_version != current, _SUBJECTS.c.dek_wrapped.is_not(None))
                .order_by(_SUBJECTS.c.id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            for subject_id, version, wrapped in rows:
                fresh = keyring.rewrap(subject_id, WrappedKey(version, wrapped))
                connection.execute(
                    update(_SUBJECTS)
                    .where(_SUBJECTS.c.id == subject_id, _SUBJECTS.c.kek_version == version)
                    .values(kek_version=fresh.kek_version, dek_wrapped=fresh.wrapped)
                )
        done += len(rows)
        if progress:
            progress(min(done, total), total)
    # Blind-index keys, the analysts' pseudonym root and the party-phone key are
    # wrapped like data keys.
    for table, context in (
        (_INDEX, _INDEX_CONTEXT),
        (PSEUDONYM_KEYS, PSEUDONYM_KEY_CONTEXT),
        (PARTY_PHONE_KEYS, PARTY_PHONE_KEY_CONTEXT),
    ):
        with engine.begin() as connection:
            for version, kek, wrapped in connection.execute(
                select(table.c.version, table.c.kek_version, table.c.wrapped).where(
                    table.c.kek_version != current
                )
            ).all():
                secret = keyring.provider.unwrap(kek, wrapped, context)
                connection.execute(
                    update(table)
                    .where(table.c.version == version)
                    .values(
                        kek_version=current,
                        wrapped=keyring.provider.wrap(current, secret, context),
                    )
                )
    return done


def key_status(engine: Engine, provider: KeyProvider) -> KeyStatus:
    """Summarise KEK versions and how many data keys each wraps."""
    with engine.connect() as connection:
        counts: dict[Any, Any] = {
            version: count
            for version, count in connection.execute(
                select(_SUBJECTS.c.kek_version, func.count())
                .where(_SUBJECTS.c.dek_wrapped.is_not(None))
                .group_by(_SUBJECTS.c.kek_version)
            )
        }
        erased = (
            connection.scalar(select(func.count()).where(_SUBJECTS.c.dek_wrapped.is_(None))) or 0
        )
        index_versions = sorted(connection.scalars(select(_INDEX.c.version)))
    return KeyStatus(
        provider=provider.name,
        kek_versions=list(provider.versions()),
        current_version=provider.current_version(),
        subjects_by_kek_version={int(k): int(v) for k, v in counts.items() if k is not None},
        erased_subjects=int(erased),
        index_key_versions=index_versions,
    )
