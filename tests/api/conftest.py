"""Fixtures for HTTP tests: the small city behind a `TestClient`, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._city import City, build_city
from tests.api._http import MAX_BODY, TestClient
from veil.api import create_app
from veil.vault import Vault


@pytest.fixture
def city(vault: Vault) -> City:
    return build_city(vault)


@pytest.fixture
def client(vault: Vault) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a bug must show up as the 500 a caller would get.
    app = create_app(vault, max_body_bytes=MAX_BODY)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
