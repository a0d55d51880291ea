"""The test city with a staff floor: two agents, two admins, two safety officers, an analyst."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests._city import City, build_city
from veil.vault import (
    Caller,
    Vault,
    approve_break_glass,
    open_ticket,
    request_break_glass,
)

JUSTIFICATION = "rider reported an assault at the door; police case JZ-A at Chaoyang station"


@dataclass
class StaffCity:
    """A `City` plus staff, and helpers that open tickets and grants the way the API does."""

    city: City
    agents: list[Caller] = field(default_factory=list)
    admins: list[Caller] = field(default_factory=list)
    safety: list[Caller] = field(default_factory=list)
    analyst: Caller | None = None

    @property
    def vault(self) -> Vault:
        return self.city.vault

    def ticket(self, order_id: str, agent: int = 0, *, by_agent: bool = False) -> str:
        """Open a ticket on `order_id` for `agents[agent]` (by the platform unless `by_agent`)."""
        caller = self.agents[agent] if by_agent else self.city.service
        agent_id = None if by_agent else self.agents[agent].principal_id
        return str(open_ticket(self.vault, caller, order_id, agent_id=agent_id)["ticket_id"])

    def grant(self, order_id: str, requester: Caller | None = None, *, approve: bool = True) -> str:
        """Ask for break-glass on `order_id` (admins[0] by default); another admin approves."""
        requester = requester or self.admins[0]
        grant = request_break_glass(self.vault, requester, order_id, justification=JUSTIFICATION)
        if approve:
            approver = next(a for a in self.admins if a.principal_id != requester.principal_id)
            approve_break_glass(self.vault, approver, grant["break_glass_id"])
        return str(grant["break_glass_id"])


def build_staff_city(vault: Vault) -> StaffCity:
    city = build_city(vault)
    staff = StaffCity(city)
    staff.agents = [city.staff["agent"], city.principal("agent", "agent-2")]
    staff.admins = [city.staff["admin"], city.principal("admin", "admin-2")]
    staff.safety = [city.principal("safety", "safety-1"), city.principal("safety", "safety-2")]
    staff.analyst = city.staff["analyst"]
    return staff
