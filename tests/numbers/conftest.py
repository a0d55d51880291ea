"""Fixtures for the privacy-number tests (both backends)."""

from __future__ import annotations

import pytest

from tests._city import City
from tests.numbers._numbers_city import build_numbers_city
from veil.vault import Vault


@pytest.fixture
def city(vault: Vault) -> City:
    return build_numbers_city(vault)
