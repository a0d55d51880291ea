"""The ASGI factory `veil serve` hands to uvicorn (one vault per worker process)."""

from __future__ import annotations

from fastapi import FastAPI

from veil.api._app import create_app
from veil.config import Settings
from veil.vault import open_vault

__all__ = ["app_from_settings"]


def app_from_settings() -> FastAPI:
    """Open the configured vault and build its app."""
    settings = Settings()
    return create_app(open_vault(settings), max_body_bytes=settings.max_body_bytes)
