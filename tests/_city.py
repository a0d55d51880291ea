"""A tiny city for tests: one service, two merchants, three riders, staff, two customers."""

from __future__ import annotations

from dataclasses import dataclass, field

from veil.vault import Address, Caller, OrderSpec, Vault

HOTEL = Address("北京市", "北京市", "朝阳区", "建国路88号", "华贸酒店", "", "12层", "1203", "前台")
FLAT = Address("广东省", "广州市", "天河区", "体育西路191号", "3号楼", "2单元", "6层", "602", "")

ALICE = ("许昕", "+86 138 0013 8001", HOTEL)
BOB = ("欧阳娜娜", "13800138002", FLAT)


@dataclass
class City:
    vault: Vault
    service: Caller
    merchants: list[Caller] = field(default_factory=list)
    riders: list[Caller] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)
    staff: dict[str, Caller] = field(default_factory=dict)
    customers: list[Caller] = field(default_factory=list)

    def principal(self, role: str, label: str, subject_id: str | None = None) -> Caller:
        principal_id, api_key = self.vault.create_principal(role, label, subject_id=subject_id)
        self.keys[label] = api_key
        return Caller(principal_id, role, subject_id)

    def order(self, subject: int = 0, merchant: int = 0, note: str | None = "到了打电话") -> str:
        [order_id] = self.vault.create_orders(
            self.service,
            [
                OrderSpec(
                    subject_id=self.subjects[subject],
                    merchant_id=self.merchants[merchant].principal_id,
                    note=note,
                )
            ],
        )
        return order_id

    def move(self, order_id: str, *events: str, rider: int | None = None) -> None:
        for event in events:
            rider_id = (
                self.riders[rider].principal_id if event == "assign" and rider is not None else None
            )
            self.vault.post_order_event(self.service, order_id, event, rider_id=rider_id)

    def order_in(self, state: str, *, rider: int = 0, subject: int = 0, merchant: int = 0) -> str:
        """Create an order and walk it to `state` (with `rider` assigned where relevant)."""
        order_id = self.order(subject, merchant)
        path = {
            "created": [],
            "accepted": ["accept"],
            "rider_assigned": ["accept", "assign"],
            "picked_up": ["accept", "assign", "pickup"],
            "delivered": ["accept", "assign", "pickup", "deliver"],
            "cancelled": ["accept", "assign", "cancel"],
        }[state]
        self.move(order_id, *path, rider=rider)
        return order_id


def build_city(vault: Vault) -> City:
    service_id, service_key = vault.create_principal("service", "backend")
    city = City(vault, Caller(service_id, "service"))
    city.keys["backend"] = service_key
    city.merchants = [city.principal("merchant", f"merchant-{n}") for n in (1, 2)]
    city.riders = [city.principal("rider", f"rider-{n}") for n in (1, 2, 3)]
    for role in ("agent", "analyst", "admin"):
        city.staff[role] = city.principal(role, f"{role}-1")
    for name, phone, address in (ALICE, BOB):
        city.subjects.append(
            vault.create_subject(city.service, name=name, phones=[phone], addresses=[address])
        )
    city.customers = [
        city.principal("customer", f"customer-{n}", subject_id)
        for n, subject_id in enumerate(city.subjects)
    ]
    return city
