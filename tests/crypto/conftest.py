"""Fixtures for crypto tests: a throwaway SoftHSM2 token and PKCS#11 key providers.

The token lives under the session's temporary directory, with its own
``softhsm2.conf`` (SOFTHSM2_CONF points at it), so tests never touch the
machine's real tokens. SoftHSM2 reads that variable once, when python-pkcs11
first initialises the module, so there is one token per test session; each
test gets its own KEK label prefix on it instead of its own token. (A test
elsewhere that loads SoftHSM2 under another SOFTHSM2_CONF before this fixture
runs would hide this token: the provider then reports that no ``veil-test``
token exists.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._require import require
from tests.crypto._softhsm import SoftHsmToken
from veil.crypto import Pkcs11KeyProvider

SOFTHSM_MODULE = os.environ.get("VEIL_TEST_SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the token ``softhsm``, so ``-m "not softhsm"`` works."""
    for item in items:
        if "softhsm" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.softhsm)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmToken]:
    """Initialise a SoftHSM2 token ``veil-test`` (PIN 1234) in a private directory."""
    util = shutil.which("softhsm2-util")
    require(
        util is not None and Path(SOFTHSM_MODULE).is_file(),
        f"SoftHSM2 (softhsm2-util and {SOFTHSM_MODULE}; apt-get install softhsm2)",
    )
    assert util is not None
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    config = root / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {root / 'tokens'}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    token = SoftHsmToken(SOFTHSM_MODULE, "veil-test", "1234", "5678", config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(config))
        result = subprocess.run(  # noqa: S603 (a fixed argument list, no shell)
            [
                util,
                "--init-token",
                "--free",
                "--label",
                token.label,
                "--pin",
                token.pin,
                "--so-pin",
                token.so_pin,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"softhsm2-util --init-token failed: {result.stderr.strip()}")
        yield token


@pytest.fixture
def pkcs11_provider(softhsm: SoftHsmToken) -> Iterator[Pkcs11KeyProvider]:
    """A provider with KEK version 1 under a label prefix of its own; closed afterwards."""
    provider = softhsm.provider()
    provider.ensure_initial_version()
    yield provider
    provider.close()
