"""The plug-in point for telephony providers, and the values that cross it.

A provider is told about bindings (bind, unbind). Veil stays the authority on
who may call whom: the routing webhook decides every call it is asked about,
and a provider that routes on its own (Alibaba PNS) is unbound as soon as a
binding ends. A provider sees the numbers it must connect and an opaque
reference (the binding id), never an order id, a name or an address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from veil.errors import VeilError

__all__ = ["BindRequest", "CallReport", "NumberProvider", "ProviderBinding", "ProviderUnavailable"]


class ProviderUnavailable(VeilError):
    """The telephony provider refused or did not answer; the message names no number."""

    code = "provider_unavailable"


@dataclass(frozen=True, slots=True)
class BindRequest:
    """Bind A ↔ X ↔ B until `expires_ms`; `reference` is opaque (the binding id)."""

    a_number: str = field(repr=False)
    b_number: str = field(repr=False)
    x_number: str
    expires_ms: int
    reference: str


@dataclass(frozen=True, slots=True)
class ProviderBinding:
    """What the provider answered to a bind: its own id for the binding."""

    provider_ref: str
    x_number: str


@dataclass(frozen=True, slots=True)
class CallReport:
    """A provider's record of one call: when it was answered and when it ended (no content)."""

    provider_event_id: str
    call_id: str
    started_ms: int | None
    ended_ms: int | None


@runtime_checkable
class NumberProvider(Protocol):
    """A telephony provider that holds AXB bindings."""

    @property
    def name(self) -> str:
        """Return a short name for logs and ``veil numbers status``."""
        ...

    def bind(self, request: BindRequest) -> ProviderBinding:
        """Create the binding at the provider, or raise `ProviderUnavailable`."""
        ...

    def unbind(self, provider_ref: str, x_number: str) -> None:
        """Remove a binding; unknown or already removed bindings are not an error.

        Raises:
            ProviderUnavailable: the provider could not be reached (Veil retries).
        """
        ...
