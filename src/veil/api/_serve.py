"""The ASGI factory `veil serve` hands to uvicorn (one vault per worker process)."""

from __future__ import annotations

from fastapi import FastAPI

from veil.api._app import create_app
from veil.config import Settings
from veil.vault import PolicyWatcher, open_vault

__all__ = ["app_from_settings"]


def app_from_settings() -> FastAPI:
    """Open the configured vault and build its app."""
    settings = Settings()
    vault = open_vault(settings)
    if settings.policy_watch_seconds > 0:
        # Each worker watches for itself, so a policy change reaches every one.
        PolicyWatcher(vault, interval=settings.policy_watch_seconds).start()
    return create_app(vault, max_body_bytes=settings.max_body_bytes)
