"""Fail in CI, skip on a laptop: how tests treat a missing real component."""

from __future__ import annotations

import os

import pytest

__all__ = ["in_ci", "require"]


def in_ci() -> bool:
    """Tell whether we run in CI (``CI=true``), where every component must be present."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, what: str) -> None:
    """Fail (in CI) or skip (elsewhere) the current test when `condition` is false.

    Args:
        condition: Whether the component is available.
        what: What is missing and how to get it, e.g. "PostgreSQL at 127.0.0.1:5432".
    """
    if condition:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available on this machine")
