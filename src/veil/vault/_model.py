"""The vault's value types: callers, request metadata, addresses, order specs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from veil.policy import PrincipalFacts

__all__ = ["ROLES", "Address", "Caller", "OrderSpec", "RequestMeta"]

ROLES = (
    "service",
    "rider",
    "merchant",
    "agent",
    "analyst",
    "admin",
    "safety",
    "customer",
    "auditor",
    "security",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal, as the vault sees it."""

    principal_id: str
    role: str
    subject_id: str | None = None

    def facts(self) -> PrincipalFacts:
        """Return the facts policies read about this caller."""
        return PrincipalFacts(self.principal_id, self.role, self.subject_id)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a request came from; recorded with every audit event."""

    request_id: str | None = None
    client_ip: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """A structured mainland address, from province down to the room."""

    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    building: str = ""
    unit: str = ""
    floor: str = ""
    room: str = ""
    landmark: str = ""

    def as_dict(self) -> dict[str, str]:
        """Return the components as a plain dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What the platform sends to create an order.

    The delivery address is either given in full or picked from the subject's
    stored addresses by index; the contact phone defaults to the subject's first.
    """

    subject_id: str
    merchant_id: str
    address: Address | None = None
    address_index: int = 0
    contact_phone: str | None = None
    contact_name: str | None = None
    note: str | None = None
