"""A small demo city: a few customers, merchants, riders, staff, and orders in every state.

Every name, phone and address here is invented. The phones use the 138-0013
block, which looks real to a phone parser but is the classic placeholder;
riders' and merchants' own phones the 139-0013 block, and the virtual-number
pools the 170 range that virtual operators use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from veil.clock import Clock
from veil.numbers import PoolEntry
from veil.sim._scraper import catch_a_scraper
from veil.vault import Address, Caller, OrderSpec, Vault, import_numbers, register_party_phone

__all__ = ["DemoCity", "seed_demo"]

_CUSTOMERS = [
    (
        "许昕",
        ["+86 138 0013 8001"],
        Address(
            "北京市",
            "北京市",
            "朝阳区",
            "建国路88号",
            "华贸酒店",
            "",
            "12层",
            "1203",
            "华贸酒店前台",
        ),
    ),
    (
        "张婷",
        ["138-0013-8002"],
        Address("北京市", "北京市", "朝阳区", "望京街9号", "3号楼", "2单元", "6层", "602", ""),
    ),
    (
        "欧阳娜娜",
        ["13800138003"],
        Address(
            "广东省", "广州市", "天河区", "体育西路191号", "中石化大厦B座", "", "25层", "2507", ""
        ),
    ),
    (
        "王建国",
        ["+8613800138004"],
        Address("北京市", "北京市", "海淀区", "中关村大街27号", "7号楼", "1单元", "3层", "301", ""),
    ),
    (
        "李雪",
        ["0086 138 0013 8005"],
        Address("广东省", "广州市", "越秀区", "北京路步行街12号", "A栋", "3单元", "9层", "905", ""),
    ),
]


_DEMO_POOL = [
    PoolEntry(f"+861700000{n:04d}", city)
    for city, numbers in (("北京市", range(101, 111)), ("广州市", range(201, 211)))
    for n in numbers
]


@dataclass
class DemoCity:
    """What the demo seeded: principals with their one-time API keys, and orders by state."""

    keys: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)
    # Riders' and merchants' own (registered) phones, by label.
    phones: dict[str, str] = field(default_factory=dict)
    # The simulated scraper the watch caught: its label and requests before suspension.
    scraper: dict[str, object] = field(default_factory=dict)

    def key(self, label: str) -> str:
        """Return the API key of the principal labelled `label`."""
        return self.keys[label][2]


class _Shifted:
    """A clock running `offset` behind another, to seed orders that happened earlier."""

    def __init__(self, base: Clock, offset: dt.timedelta) -> None:
        self._base = base
        self._offset = offset

    def now(self) -> dt.datetime:
        return self._base.now() - self._offset


def seed_demo(vault: Vault) -> DemoCity:
    """Seed the demo city into `vault` and return its keys and order ids."""
    city = DemoCity()

    def principal(role: str, label: str, subject_id: str | None = None) -> Caller:
        principal_id, api_key = vault.create_principal(role, label, subject_id=subject_id)
        city.keys[label] = (principal_id, role, api_key)
        return Caller(principal_id, role, subject_id)

    service = principal("service", "platform-backend")
    merchants = [principal("merchant", name) for name in ("merchant-jiaozi", "merchant-milktea")]
    riders = [principal("rider", f"rider-{n}") for n in (1, 2, 3)]
    # Virtual numbers: a small pool per city, and every rider's and merchant's own phone.
    import_numbers(vault, _DEMO_POOL)
    for n, party in enumerate([*riders, *merchants], start=1):
        label = next(k for k, v in city.keys.items() if v[0] == party.principal_id)
        city.phones[label] = f"+86139001390{n:02d}"
        register_party_phone(vault, party.principal_id, city.phones[label])
    principal("agent", "agent-1")
    principal("analyst", "analyst-1")
    principal("admin", "admin-1")
    # A second admin approves break-glass; a safety officer asks for it (README).
    principal("admin", "admin-2")
    principal("safety", "safety-1")
    for name, phones, address in _CUSTOMERS:
        city.subjects.append(
            vault.create_subject(service, name=name, phones=phones, addresses=[address])
        )
    principal("customer", "customer-xu", city.subjects[0])

    notes = ["到了打我电话，放前台就行", "不要辣", None, "3号楼2单元，门口有狗别怕", None]

    def order(index: int, merchant: int) -> str:
        [order_id] = vault.create_orders(
            service,
            [
                OrderSpec(
                    subject_id=city.subjects[index % len(city.subjects)],
                    merchant_id=merchants[merchant].principal_id,
                    note=notes[index % len(notes)],
                )
            ],
        )
        return order_id

    def move(order_id: str, *events: str, rider: Caller | None = None) -> None:
        for event in events:
            rider_id = rider.principal_id if event == "assign" and rider else None
            vault.post_order_event(service, order_id, event, rider_id=rider_id)

    real_clock = vault.clock
    try:
        # An order delivered an hour ago: its rider's window has closed.
        vault.clock = _Shifted(real_clock, dt.timedelta(hours=1))
        city.orders["delivered_window_closed"] = order(3, 0)
        move(
            city.orders["delivered_window_closed"],
            "accept",
            "assign",
            "pickup",
            "deliver",
            rider=riders[1],
        )
    finally:
        vault.clock = real_clock

    city.orders["created"] = order(1, 0)
    city.orders["accepted"] = order(2, 1)
    move(city.orders["accepted"], "accept")
    city.orders["rider_assigned"] = order(4, 1)
    move(city.orders["rider_assigned"], "accept", "assign", rider=riders[0])
    city.orders["picked_up"] = order(0, 0)
    move(city.orders["picked_up"], "accept", "assign", "pickup", rider=riders[0])
    city.orders["delivered"] = order(1, 1)
    move(city.orders["delivered"], "accept", "assign", "pickup", "deliver", rider=riders[2])
    city.orders["cancelled"] = order(2, 0)
    move(city.orders["cancelled"], "accept", "cancel")
    # Reassigned before pickup: rider-2 lost it to rider-3.
    city.orders["reassigned"] = order(3, 1)
    move(city.orders["reassigned"], "accept", "assign", rider=riders[1])
    move(city.orders["reassigned"], "assign", rider=riders[2])
    _add_scraper(vault, city)
    return city


def _add_scraper(vault: Vault, city: DemoCity) -> None:
    # A scraper holding a rider key walks random order ids until the watch stops
    # it: `veil alerts list` shows the alert, `veil principals list` the suspension.
    caught = catch_a_scraper(vault)
    if caught is not None:
        city.keys[caught.label] = (caught.principal_id, "rider", caught.api_key)
        city.scraper = {"label": caught.label, "requests": caught.requests}
