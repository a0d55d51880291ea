"""Veil's use-cases: ingest, views, lifecycle, erase; one transaction each, always audited."""

from veil.vault._keys import KeyStatus, key_status, rewrap_all
from veil.vault._model import ROLES, Address, Caller, OrderSpec, RequestMeta
from veil.vault._open import InitReport, init_vault, key_provider_from_settings, open_vault
from veil.vault._vault import MAX_BATCH, ORDER_EVENTS, Vault

__all__ = [
    "MAX_BATCH",
    "ORDER_EVENTS",
    "ROLES",
    "Address",
    "Caller",
    "InitReport",
    "KeyStatus",
    "OrderSpec",
    "RequestMeta",
    "Vault",
    "init_vault",
    "key_provider_from_settings",
    "key_status",
    "open_vault",
    "rewrap_all",
]
