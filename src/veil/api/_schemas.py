"""Request bodies: strict, size-bounded, unknown fields refused."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AddressIn",
    "BatchOrdersIn",
    "OrderEventIn",
    "OrderIn",
    "OrderViewsIn",
    "PhoneLookupIn",
    "RedactIn",
    "SubjectIn",
]

Short = Annotated[str, Field(max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(_Strict):
    """A structured address; only city and street are required for delivery."""

    province: Short = ""
    city: Short = ""
    district: Short = ""
    street: Short = ""
    building: Short = ""
    unit: Short = ""
    floor: Short = ""
    room: Short = ""
    landmark: Short = ""


class SubjectIn(_Strict):
    """A customer's contact data, to be stored encrypted."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    phones: Annotated[list[Annotated[str, Field(max_length=32)]], Field(min_length=1, max_length=5)]
    addresses: Annotated[list[AddressIn], Field(max_length=20)] = []


class PhoneLookupIn(_Strict):
    """A phone number to look up (sent in the body, so it never lands in URL logs)."""

    phone: Annotated[str, Field(min_length=3, max_length=32)]


class OrderIn(_Strict):
    """An order to create; the address is inline or an index into the subject's addresses."""

    subject_id: Annotated[str, Field(max_length=40)]
    merchant_id: Annotated[str, Field(max_length=40)]
    address: AddressIn | None = None
    address_index: Annotated[int, Field(ge=0, le=19)] = 0
    contact_phone: Annotated[str | None, Field(max_length=32)] = None
    contact_name: Annotated[str | None, Field(max_length=100)] = None
    note: Annotated[str | None, Field(max_length=500)] = None


class BatchOrdersIn(_Strict):
    """Up to 1,000 orders created all-or-nothing."""

    orders: Annotated[list[OrderIn], Field(min_length=1, max_length=1000)]


class OrderEventIn(_Strict):
    """A lifecycle event: accept, assign (with rider_id), pickup, deliver or cancel."""

    event: Annotated[str, Field(max_length=16)]
    rider_id: Annotated[str | None, Field(max_length=40)] = None


class RedactIn(_Strict):
    """Free text to redact (chat messages, notes): at most 5,000 characters."""

    text: Annotated[str, Field(max_length=5000)]
    language: Annotated[str, Field(pattern="^(zh|en)$")] = "zh"


class OrderViewsIn(_Strict):
    """Up to 100 order ids to view in one call."""

    order_ids: Annotated[
        list[Annotated[str, Field(max_length=40)]], Field(min_length=1, max_length=100)
    ]
