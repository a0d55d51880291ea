"""A seeded synthetic city: customers, merchants, riders, agents, analysts, admins.

Everything is invented from the seed: names from common surnames and given
names, phones in the 170 range (virtual operators), addresses from a short
list of districts and streets. Riders get shifts (a tenth work nights) and a
client address (a fifth share carrier-grade NAT addresses, as real mobile
riders do); agents work office or night shifts behind office addresses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from veil.sim._gateway import Gateway
from veil.vault import Address, Caller, Vault

__all__ = ["Actor", "SimCity", "build_sim_city"]

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红玉兰文斌宇浩凯"
_DISTRICTS = [
    ("北京市", "北京市", "朝阳区"),
    ("北京市", "北京市", "海淀区"),
    ("北京市", "北京市", "东城区"),
    ("广东省", "广州市", "天河区"),
    ("广东省", "广州市", "越秀区"),
    ("上海市", "上海市", "浦东新区"),
]
_STREETS = ["建国路", "望京街", "中关村大街", "体育西路", "北京路", "世纪大道", "长安街", "天河路"]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


@dataclass
class Actor:
    """A principal of the simulated city: who it is, its key, where it calls from, when it works.

    `shift` is (start, end) in local minutes after midnight; an end past 1440
    runs into the next day. `behaviour` is ``honest`` for the city's own
    people; attack scenarios set their own.
    """

    principal_id: str
    role: str
    label: str
    key: str
    ip: str
    shift: tuple[int, int] = (0, 1440)
    behaviour: str = "honest"
    # For harvesting riders: the share of orders they still deliver, and how
    # many a colluding rider abandons per day at most.
    deliver_share: float = 1.0
    harvest_per_day: int = 0
    active: int = 0
    harvested: dict[int, int] = field(default_factory=dict)

    @property
    def caller(self) -> Caller:
        """Return the actor as the vault sees it."""
        return Caller(self.principal_id, self.role)

    def on_shift(self, local_minute: int) -> bool:
        """Tell whether the actor works at `local_minute` (minutes after local midnight)."""
        start, end = self.shift
        return start <= local_minute < end or start <= local_minute + 1440 < end


@dataclass
class SimCity:
    """The city: its actors by role, its customers, and the gateway they call through."""

    vault: Vault
    gateway: Gateway
    service: Actor
    riders: list[Actor] = field(default_factory=list)
    merchants: list[Actor] = field(default_factory=list)
    agents: list[Actor] = field(default_factory=list)
    analysts: list[Actor] = field(default_factory=list)
    admins: list[Actor] = field(default_factory=list)
    security: list[Actor] = field(default_factory=list)
    customers: dict[str, Actor] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)

    def everyone(self) -> list[Actor]:
        """Return every actor, the service first."""
        return [
            self.service,
            *self.riders,
            *self.merchants,
            *self.agents,
            *self.analysts,
            *self.admins,
            *self.security,
            *self.customers.values(),
        ]

    def add(self, role: str, label: str, ip: str, *, subject_id: str | None = None) -> Actor:
        """Create a principal in the vault and return it as an actor."""
        principal_id, key = self.vault.create_principal(role, label, subject_id=subject_id)
        return Actor(principal_id, role, label, key, ip)


def _split(principals: int) -> dict[str, int]:
    small = max(2, round(principals * 0.01))
    counts = {
        "merchant": max(2, round(principals * 0.14)),
        "agent": max(8, round(principals * 0.08)),
        "customer": max(2, round(principals * 0.05)),
        "analyst": small,
        "admin": max(2, round(principals * 0.005)),
        "security": max(1, round(principals * 0.005)),
    }
    counts["rider"] = max(10, principals - 1 - sum(counts.values()))
    return counts


def build_sim_city(vault: Vault, rng: random.Random, principals: int) -> SimCity:
    """Create the city's principals and customers in `vault`; return it."""
    gateway = Gateway(vault)
    service_id, service_key = vault.create_principal("service", "platform-backend")
    city = SimCity(
        vault, gateway, Actor(service_id, "service", "platform-backend", service_key, "10.0.0.1")
    )
    counts = _split(principals)
    cgnat = [f"100.64.{n}.1" for n in range(max(1, counts["rider"] // 125))]
    for n in range(counts["rider"]):
        ip = rng.choice(cgnat) if rng.random() < 0.2 else f"10.{n // 250 + 1}.{n % 250}.{7}"
        rider = city.add("rider", f"rider-{n}", ip)
        if rng.random() < 0.1:
            start = rng.randint(19 * 60, 22 * 60)
            rider.shift = (start, start + rng.randint(6 * 60, 8 * 60))
        else:
            start = rng.randint(8 * 60, 12 * 60)
            rider.shift = (start, start + rng.randint(6 * 60, 10 * 60))
        city.riders.append(rider)
    for n in range(counts["merchant"]):
        merchant = city.add("merchant", f"merchant-{n}", f"172.16.{n // 250}.{n % 250}")
        merchant.shift = (10 * 60, 22 * 60)
        city.merchants.append(merchant)
    for n in range(counts["agent"]):
        agent = city.add("agent", f"agent-{n}", f"192.168.10.{n % 5}")
        night = rng.random() < 0.15
        agent.shift = (18 * 60, 26 * 60) if night else (9 * 60, 18 * 60)
        city.agents.append(agent)
    for role, bucket in (("analyst", city.analysts), ("admin", city.admins)):
        for n in range(counts[role]):
            actor = city.add(role, f"{role}-{n}", f"192.168.20.{n % 250}")
            actor.shift = (9 * 60, 18 * 60)
            bucket.append(actor)
    for n in range(counts["security"]):
        city.security.append(city.add("security", f"security-{n}", f"192.168.30.{n % 250}"))
    subjects = max(200, int(principals * 1.5))
    for n in range(subjects):
        province, town, district = rng.choice(_DISTRICTS)
        address = Address(
            province,
            town,
            district,
            f"{rng.choice(_STREETS)}{rng.randint(1, 300)}号",
            f"{rng.randint(1, 30)}号楼",
            f"{rng.randint(1, 6)}单元",
            f"{rng.randint(1, 30)}层",
            f"{rng.randint(1, 30)}{rng.randint(1, 8):02d}",
            "",
        )
        name = rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randint(1, 2)))
        city.subjects.append(
            vault.create_subject(
                city.service.caller, name=name, phones=[f"+86170{n:08d}"], addresses=[address]
            )
        )
    for n, subject_id in enumerate(rng.sample(city.subjects, counts["customer"])):
        customer = city.add(
            "customer", f"customer-{n}", f"10.200.{n // 250}.{n % 250}", subject_id=subject_id
        )
        city.customers[subject_id] = customer
    return city
