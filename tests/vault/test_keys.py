"""KEK rotation, online rewrap, key status, and refusing the wrong key file at start-up."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests._city import ALICE, BOB, City, build_city
from veil.clock import to_epoch_ms
from veil.config import Settings
from veil.crypto import InsecureKeyStorageWarning, LocalKeyFile
from veil.errors import ConfigurationError
from veil.store import INDEX_KEYS, SUBJECTS
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import init_vault, key_status, open_vault, rewrap_all
from veil.vault._keys import register_kek_versions


@pytest.fixture
def city(vault: Any) -> City:
    return build_city(vault)


def _kek_versions(city: City) -> list[int | None]:
    with city.vault.engine.connect() as connection:
        return list(connection.scalars(select(SUBJECTS.c.kek_version).order_by(SUBJECTS.c.id)))


def _rotate(city: City, provider: InMemoryKeyProvider, clock: FixedClock) -> int:
    version = provider.add_version()
    register_kek_versions(city.vault.engine, provider, now_ms=to_epoch_ms(clock.now()))
    return version


def test_rotate_then_rewrap_moves_every_subject_to_the_new_kek(
    city: City, provider: InMemoryKeyProvider, clock: FixedClock
) -> None:
    order_id = city.order_in("picked_up", subject=1)
    assert set(_kek_versions(city)) == {1}
    version = _rotate(city, provider, clock)
    assert version == 2
    # New subjects use the new KEK at once; old ones wait for the rewrap.
    city.vault.create_subject(city.service, name="令狐冲", phones=["13900139001"], addresses=[])
    assert sorted(v for v in _kek_versions(city) if v is not None) == [1, 1, 2]

    assert rewrap_all(city.vault.engine, city.vault.keyring) == 2
    assert set(_kek_versions(city)) == {2}
    with city.vault.engine.connect() as connection:
        assert set(connection.scalars(select(INDEX_KEYS.c.kek_version))) == {2}
    # A second run has nothing to do.
    assert rewrap_all(city.vault.engine, city.vault.keyring) == 0
    # Data still opens from a cold cache, and lookups still find customers.
    city.vault.keyring.cache.clear()
    assert city.vault.view_order(city.customers[1], order_id)["customer"]["name"] == BOB[0]
    assert city.vault.lookup_subjects_by_phone(city.service, ALICE[1]) == [city.subjects[0]]


def test_reads_keep_working_in_the_middle_of_a_rewrap(
    city: City, provider: InMemoryKeyProvider, clock: FixedClock
) -> None:
    orders = [city.order_in("picked_up", subject=n) for n in (0, 1)]
    for n in range(3):
        city.vault.create_subject(
            city.service, name=f"路人{n}", phones=[f"1390013910{n}"], addresses=[]
        )
    _rotate(city, provider, clock)
    seen: list[tuple[int, int, list[int]]] = []

    def progress(done: int, total: int) -> None:
        # Each call comes between two committed batches: some subjects are on
        # KEK 1, some on KEK 2. Views must work for both, from a cold cache.
        city.vault.keyring.cache.clear()
        names = [
            city.vault.view_order(city.customers[n], orders[n])["customer"]["name"] for n in (0, 1)
        ]
        assert names == [ALICE[0], BOB[0]]
        assert city.vault.lookup_subjects_by_phone(city.service, ALICE[1]) == [city.subjects[0]]
        seen.append((done, total, sorted(v for v in _kek_versions(city) if v is not None)))

    count = rewrap_all(city.vault.engine, city.vault.keyring, batch_size=1, progress=progress)
    assert count == 5
    assert [(done, total) for done, total, _ in seen] == [(n, 5) for n in range(6)]
    # In the middle the database really was half-way: versions were mixed.
    assert seen[2][2] == [1, 1, 1, 2, 2]
    assert seen[-1][2] == [2] * 5


def test_key_status_counts_data_keys_per_kek_and_erasures(
    city: City, provider: InMemoryKeyProvider, clock: FixedClock
) -> None:
    status = key_status(city.vault.engine, provider)
    assert status.provider == "in-memory"
    assert status.kek_versions == [1]
    assert status.current_version == 1
    assert status.subjects_by_kek_version == {1: 2}
    assert status.erased_subjects == 0
    assert status.index_key_versions == [1]

    _rotate(city, provider, clock)
    city.vault.create_subject(city.service, name="令狐冲", phones=["13900139001"], addresses=[])
    city.vault.erase_subject(city.service, city.subjects[0])
    status = key_status(city.vault.engine, provider)
    assert status.kek_versions == [1, 2]
    assert status.current_version == 2
    assert status.subjects_by_kek_version == {1: 1, 2: 1}
    assert status.erased_subjects == 1

    rewrap_all(city.vault.engine, city.vault.keyring)
    assert key_status(city.vault.engine, provider).subjects_by_kek_version == {2: 2}


def test_an_erasure_during_a_rewrap_stays_erased(
    city: City, provider: InMemoryKeyProvider, clock: FixedClock
) -> None:
    _rotate(city, provider, clock)
    erased = sorted(city.subjects)[1]  # rewrapped second, after the first progress call

    def progress(done: int, total: int) -> None:
        if done == 1:
            city.vault.erase_subject(city.service, erased)

    rewrap_all(city.vault.engine, city.vault.keyring, batch_size=1, progress=progress)
    with city.vault.engine.connect() as connection:
        row = connection.execute(select(SUBJECTS).where(SUBJECTS.c.id == erased)).one()
    assert row.dek_wrapped is None
    assert row.kek_version is None


# ---------------------------------------------------------------- start-up with the wrong keys


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture
def initialised(tmp_path: Path) -> Settings:
    """A SQLite vault initialised on disk with a local key file, then closed."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'veil.db'}", key_file=tmp_path / "veil.key"
    )
    init_vault(settings)
    return settings


def _with_key_file(settings: Settings, key_file: Path) -> Settings:
    return settings.model_copy(update={"key_file": key_file})


def _database(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def test_the_right_key_file_opens_with_a_warning(initialised: Settings) -> None:
    with pytest.warns(InsecureKeyStorageWarning, match="local file"):
        vault = open_vault(initialised)
    assert key_status(vault.engine, vault.keyring.provider).kek_versions == [1]
    vault.engine.dispose()
    assert os.stat(initialised.key_file).st_mode & 0o777 == 0o600


def test_a_missing_key_file_is_refused_and_writes_nothing(
    initialised: Settings, tmp_path: Path
) -> None:
    database = _database(initialised)
    before = _fingerprint(database)
    with pytest.raises(ConfigurationError, match=r"does not exist.*veil init"):
        open_vault(_with_key_file(initialised, tmp_path / "absent.key"))
    assert _fingerprint(database) == before
    assert not (tmp_path / "absent.key").exists()


def test_a_wrong_key_file_is_refused_and_writes_nothing(
    initialised: Settings, tmp_path: Path
) -> None:
    database = _database(initialised)
    before = _fingerprint(database)
    other = tmp_path / "other" / "veil.key"
    LocalKeyFile.create(other)
    with pytest.raises(ConfigurationError, match="does not hold KEK version 1") as error:
        open_vault(_with_key_file(initialised, other))
    assert "wrong key file" in error.value.message
    assert _fingerprint(database) == before
    # `veil init` with the wrong key refuses too, rather than mixing two key sets.
    with pytest.raises(ConfigurationError, match="does not hold KEK version 1"):
        init_vault(_with_key_file(initialised, other))
    assert _fingerprint(database) == before


@pytest.mark.parametrize(
    ("content", "mode", "fragment"),
    [
        ("not json", 0o600, "not a Veil key file"),
        ('{"format": "veil-keyfile/9", "keks": {}}', 0o600, "not a Veil key file"),
        ('{"format": "veil-keyfile/1", "keks": {"1": "c2hvcnQ="}}', 0o600, "not a Veil key file"),
        (None, 0o644, "chmod 600"),
    ],
)
def test_a_damaged_or_exposed_key_file_is_refused(
    initialised: Settings, tmp_path: Path, content: str | None, mode: int, fragment: str
) -> None:
    database = _database(initialised)
    before = _fingerprint(database)
    broken = tmp_path / "broken.key"
    if content is None:
        shutil.copy(initialised.key_file, broken)
    else:
        broken.write_text(content, encoding="utf-8")
    broken.chmod(mode)
    with pytest.raises(ConfigurationError, match=fragment):
        open_vault(_with_key_file(initialised, broken))
    assert _fingerprint(database) == before


def test_an_uninitialised_database_is_refused_and_not_created(tmp_path: Path) -> None:
    key_file = tmp_path / "veil.key"
    LocalKeyFile.create(key_file)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nothing.db'}", key_file=key_file)
    with pytest.raises(ConfigurationError, match="veil init"):
        open_vault(settings)
    assert not (tmp_path / "nothing.db").exists()
