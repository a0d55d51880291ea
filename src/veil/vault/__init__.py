"""Veil's use-cases: ingest, views, lifecycle, erase, staff access; one audited transaction each."""

from veil.vault._analytics import MAX_ANALYTICS_ROWS, export_orders
from veil.vault._breakglass import (
    approve_break_glass,
    list_break_glass,
    request_break_glass,
    revoke_break_glass,
)
from veil.vault._keys import KeyStatus, key_status, rewrap_all
from veil.vault._model import ROLES, Address, Caller, OrderSpec, RequestMeta
from veil.vault._open import InitReport, init_vault, key_provider_from_settings, open_vault
from veil.vault._policies import (
    PolicyWatcher,
    explain_request,
    policy_status,
    reload_policies,
)
from veil.vault._quotas import QuotaState, quota_of
from veil.vault._reveal import reveal_order
from veil.vault._tickets import assign_ticket, close_ticket, my_tickets, open_ticket, ticket_of
from veil.vault._vault import MAX_BATCH, ORDER_EVENTS, Vault

__all__ = [
    "MAX_ANALYTICS_ROWS",
    "MAX_BATCH",
    "ORDER_EVENTS",
    "ROLES",
    "Address",
    "Caller",
    "InitReport",
    "KeyStatus",
    "OrderSpec",
    "PolicyWatcher",
    "QuotaState",
    "RequestMeta",
    "Vault",
    "approve_break_glass",
    "assign_ticket",
    "close_ticket",
    "explain_request",
    "export_orders",
    "init_vault",
    "key_provider_from_settings",
    "key_status",
    "list_break_glass",
    "my_tickets",
    "open_ticket",
    "open_vault",
    "policy_status",
    "quota_of",
    "reload_policies",
    "request_break_glass",
    "reveal_order",
    "revoke_break_glass",
    "rewrap_all",
    "ticket_of",
]
