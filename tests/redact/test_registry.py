"""The recognizer registry: registration order, duplicate names refused, removal."""

from __future__ import annotations

import pytest

from veil.errors import Conflict, NotFound
from veil.redact import RecognizerRegistry, builtin_recognizers


def test_registration_keeps_order_and_names() -> None:
    recognizers = builtin_recognizers()
    registry = RecognizerRegistry(recognizers)
    assert registry.names() == tuple(r.name for r in recognizers)
    assert list(registry) == recognizers
    assert len(registry) == len(recognizers)
    assert "cn_mobile" in registry


def test_a_duplicate_name_is_refused_and_leaves_the_registry_unchanged() -> None:
    registry = RecognizerRegistry(builtin_recognizers())
    before = registry.names()
    with pytest.raises(Conflict, match="cn_mobile"):
        registry.register(builtin_recognizers()[0])
    assert registry.names() == before


def test_unregister() -> None:
    registry = RecognizerRegistry(builtin_recognizers())
    registry.unregister("cn_mobile")
    assert "cn_mobile" not in registry
    with pytest.raises(NotFound):
        registry.unregister("cn_mobile")
