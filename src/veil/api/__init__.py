"""HTTP API (FastAPI): transport, authentication and serialization only."""

from veil.api._app import create_app
from veil.api._errors import STATUS_BY_ERROR

__all__ = ["STATUS_BY_ERROR", "create_app"]
