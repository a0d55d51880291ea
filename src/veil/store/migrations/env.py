"""Alembic environment: migrations run on the engine Veil hands over, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from veil.store._models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
