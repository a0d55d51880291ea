"""Building a view: decrypt only what the decision granted, then mask it."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from sqlalchemy import Row

from veil.crypto import DataKey, FieldRef, open_field
from veil.policy import MaskingProfile, disclosure_levels

__all__ = ["ORDER_FIELDS", "build_view", "iso_ms", "order_field_ref"]

# The ciphertext columns of an order, and the field names their AAD binds.
ORDER_FIELDS = ("name", "phone", "addr_area", "addr_street", "addr_detail", "note")

_TIERS_BY_LEVEL = {
    "district": ("addr_area",),
    "building": ("addr_area", "addr_street"),
    "full": ("addr_area", "addr_street", "addr_detail"),
}


@functools.lru_cache(maxsize=65_536)
def iso_ms(epoch_ms: int) -> str:
    """Render epoch milliseconds as an ISO 8601 UTC timestamp."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_field_ref(subject_id: str, order_id: str, field: str) -> FieldRef:
    """Return where an order's ciphertext lives, for its AAD."""
    return FieldRef(subject_id, order_id, f"order.{field}")


def build_view(
    row: Row[Any],
    grants: frozenset[str],
    key: DataKey | None,
    masking: MaskingProfile,
    contact: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Return the view of an order and the list of fields (with levels) it discloses.

    `key` is None when the subject was erased: the view then carries no
    contact data, whatever the policy granted, and says so. With the
    ``phone.virtual`` grant the view carries `contact` (the caller's virtual
    number, from `veil.numbers`) and nothing of the real phone.
    """
    levels = disclosure_levels(grants)
    view: dict[str, Any] = {"order_id": row.id}
    disclosed: list[str] = []
    if "order.state" in grants or "order.tokens" in grants:
        view["state"] = row.state
        view["timeline"] = {
            name: iso_ms(getattr(row, f"{name}_ms"))
            for name in ("created", "accepted", "assigned", "picked_up", "delivered", "cancelled")
            if getattr(row, f"{name}_ms") is not None
        }
        disclosed.append("order.state")
    if "order.tokens" in grants:
        view["subject_id"] = row.subject_id
        view["merchant_id"] = row.merchant_id
        view["rider_id"] = row.rider_id
        disclosed.append("order.tokens")
    pii_levels = {k: v for k, v in levels.items() if k in {"name", "phone", "address", "note"}}
    if pii_levels and key is None:
        view["erased"] = True
        return view, tuple(disclosed)

    def opened(field: str) -> str:
        assert key is not None  # noqa: S101 - guarded above; narrows the type for mypy
        blob = getattr(row, f"{field}_ct")
        return open_field(key, blob, order_field_ref(row.subject_id, row.id, field)).decode()

    customer: dict[str, str] = {}
    if "name" in pii_levels:
        customer["name"] = masking.name_at(opened("name"), pii_levels["name"])
        disclosed.append(f"name.{pii_levels['name']}")
    if pii_levels.get("phone") == "virtual":
        view["contact"] = contact
        disclosed.append("phone.virtual")
    elif "phone" in pii_levels:
        customer["phone"] = masking.phone_at(opened("phone"), pii_levels["phone"])
        disclosed.append(f"phone.{pii_levels['phone']}")
    if customer:
        view["customer"] = customer
    if "address" in pii_levels:
        level = pii_levels["address"]
        address: dict[str, Any] = {}
        for tier in _TIERS_BY_LEVEL[level]:
            address.update(json.loads(opened(tier)))
        view["address"] = masking.address_at(address, level)
        disclosed.append(f"address.{level}")
    if "note" in pii_levels:
        if pii_levels["note"] == "original":
            view["note"] = opened("note") if row.note_ct is not None else None
        else:
            view["note"] = row.note_redacted
        disclosed.append(f"note.{pii_levels['note']}")
    return view, tuple(disclosed)
