"""Privacy numbers: virtual numbers per delivery (AXB), a pool per city, call routing, providers.

A rider (or merchant) never sees the customer's number: they see a virtual
number X that connects them to the customer only while the delivery runs, and
only from their own registered phone. Anyone else who calls X, or the holder
after the binding ended, is rejected and leaves a leak signal naming whom X
was issued to.

`NumberDesk` works inside the vault's transactions; `NumberProvider` is the
plug-in point (`SimulatedTelco`, the default, and `AliyunPnsProvider`).
"""

from veil.numbers._actor import Actor
from veil.numbers._aliyun import (
    AliyunPnsProvider,
    canonical_query,
    parse_secret_reports,
    string_to_sign,
)
from veil.numbers._calls import call_record, report_call
from veil.numbers._config import NumbersConfig
from veil.numbers._desk import FALLBACK_CONTACT, NumberDesk, OrderRef, SweepReport
from veil.numbers._format import display_number, parse_x_number
from veil.numbers._leaks import EXHAUSTED_ALERT, LEAK_ALERT, PRESSURE_ALERT
from veil.numbers._phones import PARTY_PHONE_KEY_CONTEXT, PartyPhones
from veil.numbers._pool import CityUsage, ImportReport, PoolEntry, import_pool, parse_pool_csv
from veil.numbers._providers import (
    BindRequest,
    CallReport,
    NumberProvider,
    ProviderBinding,
    ProviderUnavailable,
)
from veil.numbers._routing import CALL_KINDS, RouteAnswer, RouteRequest, route_call
from veil.numbers._simulator import RouteEvent, SimulatedTelco
from veil.numbers._status import NumbersStatus

__all__ = [
    "CALL_KINDS",
    "EXHAUSTED_ALERT",
    "FALLBACK_CONTACT",
    "LEAK_ALERT",
    "PARTY_PHONE_KEY_CONTEXT",
    "PRESSURE_ALERT",
    "Actor",
    "AliyunPnsProvider",
    "BindRequest",
    "CallReport",
    "CityUsage",
    "ImportReport",
    "NumberDesk",
    "NumberProvider",
    "NumbersConfig",
    "NumbersStatus",
    "OrderRef",
    "PartyPhones",
    "PoolEntry",
    "ProviderBinding",
    "ProviderUnavailable",
    "RouteAnswer",
    "RouteEvent",
    "RouteRequest",
    "SimulatedTelco",
    "SweepReport",
    "call_record",
    "canonical_query",
    "display_number",
    "import_pool",
    "parse_pool_csv",
    "parse_secret_reports",
    "parse_x_number",
    "report_call",
    "route_call",
    "string_to_sign",
]
