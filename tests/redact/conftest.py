"""Shared helpers for the redaction tests: what the default redactor finds, as readable pairs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from veil.redact import Redactor, default_redactor

Found = list[tuple[str, str]]


def found_in(redactor: Redactor, text: str) -> Found:
    """Return ``(original substring, entity type)`` for every finding, in order."""
    return [(text[f.start : f.end], str(f.entity_type)) for f in redactor.find(text)]


@pytest.fixture(scope="session")
def found() -> Callable[[str], Found]:
    redactor = default_redactor()
    return lambda text: found_in(redactor, text)
