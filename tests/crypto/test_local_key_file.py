"""The local key file: created private, never overwritten, checked on every open."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from veil.crypto import InsecureKeyStorageWarning, LocalKeyFile
from veil.errors import ConfigurationError

CONTEXT = b"veil-dek\x00sub_local"
DEK = bytes(range(48))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open(path: Path) -> LocalKeyFile:
    with pytest.warns(InsecureKeyStorageWarning, match="use PKCS#11"):
        return LocalKeyFile.open(path)


def test_create_makes_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "veil.key"

    provider = LocalKeyFile.create(path)

    assert _mode(path) == 0o600
    assert provider.path == path
    assert list(provider.versions()) == [1]


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "veil.key"
    LocalKeyFile.create(path)
    before = path.read_bytes()

    with pytest.raises(ConfigurationError, match="refusing to overwrite"):
        LocalKeyFile.create(path)
    assert path.read_bytes() == before


def test_open_reads_the_keys_create_wrote_and_warns(tmp_path: Path) -> None:
    path = tmp_path / "veil.key"
    created = LocalKeyFile.create(path)
    wrapped = created.wrap(1, DEK, CONTEXT)

    opened = _open(path)

    assert opened.unwrap(1, wrapped, CONTEXT) == DEK


def test_add_version_persists_and_keeps_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "veil.key"
    provider = LocalKeyFile.create(path)
    wrapped = provider.wrap(1, DEK, CONTEXT)

    assert provider.add_version() == 2

    assert _mode(path) == 0o600
    assert not path.with_suffix(".tmp").exists()
    reopened = _open(path)
    assert list(reopened.versions()) == [1, 2]
    assert reopened.unwrap(1, wrapped, CONTEXT) == DEK


def test_missing_file_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist; run `veil init`"):
        LocalKeyFile.open(tmp_path / "absent.key")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_by_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "veil.key"
    LocalKeyFile.create(path)
    path.chmod(mode)

    with pytest.raises(ConfigurationError, match=f"mode {mode:o}") as caught:
        LocalKeyFile.open(path)
    assert f"chmod 600 {path}" in caught.value.message


def _keyfile(keks: object, file_format: object = "veil-keyfile/1") -> str:
    return json.dumps({"format": file_format, "keks": keks})


GOOD_KEY = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("", id="empty"),
        pytest.param("not json at all", id="not-json"),
        pytest.param("[1, 2, 3]", id="json-list"),
        pytest.param(json.dumps({"keks": {"1": GOOD_KEY}}), id="no-format"),
        pytest.param(_keyfile({"1": GOOD_KEY}, "veil-keyfile/9"), id="unknown-format"),
        pytest.param(_keyfile({}), id="no-keys"),
        pytest.param(_keyfile({"1": "***"}), id="bad-base64"),
        pytest.param(_keyfile({"1": base64.b64encode(bytes(16)).decode()}), id="short-key"),
        pytest.param(_keyfile({"one": GOOD_KEY}), id="bad-version"),
        pytest.param(_keyfile([GOOD_KEY]), id="keys-not-a-map"),
    ],
)
def test_garbage_content_is_not_a_key_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "veil.key"
    path.write_text(content, encoding="utf-8")
    path.chmod(0o600)

    with pytest.raises(ConfigurationError, match="is not a Veil key file") as caught:
        LocalKeyFile.open(path)
    # The message names the file, never the key material.
    assert str(path) in caught.value.message
    assert GOOD_KEY not in caught.value.message


def test_a_well_formed_file_written_by_hand_opens(tmp_path: Path) -> None:
    path = tmp_path / "veil.key"
    path.write_text(_keyfile({"1": GOOD_KEY, "3": GOOD_KEY}), encoding="utf-8")
    path.chmod(0o600)

    assert list(_open(path).versions()) == [1, 3]
