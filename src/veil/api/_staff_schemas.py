"""Request bodies of the staff routes: strict, size-bounded, unknown fields refused."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from veil.api._schemas import _Strict
from veil.policy import PURPOSES, REVEALABLE_FIELDS

__all__ = ["BreakGlassIn", "RevealIn", "TicketAssignIn", "TicketIn"]

Id = Annotated[str, Field(max_length=40)]


class TicketIn(_Strict):
    """A ticket to open on one order; `agent_id` names the agent (an agent may omit it)."""

    order_id: Id
    agent_id: Id | None = None


class TicketAssignIn(_Strict):
    """The agent a ticket is handed to."""

    agent_id: Id


class RevealIn(_Strict):
    """What to reveal, why, and on which ticket (break-glass grants are found by themselves)."""

    fields: Annotated[
        list[
            Annotated[str, Field(max_length=16, json_schema_extra={"enum": [*REVEALABLE_FIELDS]})]
        ],
        Field(min_length=1, max_length=len(REVEALABLE_FIELDS)),
    ]
    purpose: Annotated[str, Field(max_length=64, json_schema_extra={"enum": [*PURPOSES]})]
    ticket_id: Id | None = None


class BreakGlassIn(_Strict):
    """An emergency request: the order, why (no phone or ID numbers), for how long."""

    order_id: Id
    justification: Annotated[str, Field(min_length=1, max_length=1000)]
    minutes: Annotated[int | None, Field(ge=1, le=1440)] = None
