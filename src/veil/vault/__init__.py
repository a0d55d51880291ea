"""Veil's use-cases: ingest, views, lifecycle, erase, staff access; one audited transaction each."""

from veil.vault._analytics import MAX_ANALYTICS_ROWS, export_orders
from veil.vault._audit_log import (
    MAX_ACCESS_LOG_ENTRIES,
    access_log,
    audit_checkpoint,
    audit_consistency_proof,
    audit_inclusion_proof,
)
from veil.vault._breakglass import (
    approve_break_glass,
    list_break_glass,
    request_break_glass,
    revoke_break_glass,
)
from veil.vault._integration import integrator_from_settings
from veil.vault._keys import KeyStatus, key_status, rewrap_all
from veil.vault._model import ROLES, Address, Caller, OrderSpec, RequestMeta
from veil.vault._numbers import (
    BindingSweeper,
    import_numbers,
    numbers_status,
    order_bindings,
    register_party_phone,
    report_telephony,
    request_contact,
    route_telephony,
    sweep_numbers,
)
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
from veil.vault._watch import (
    MAX_ALERTS_LISTED,
    OPERATOR,
    acknowledge,
    admit,
    alert_of,
    alerts_for,
    approve_step_up,
    close,
    principal_controls,
    reinstate_principal,
)

__all__ = [
    "MAX_ACCESS_LOG_ENTRIES",
    "MAX_ALERTS_LISTED",
    "MAX_ANALYTICS_ROWS",
    "MAX_BATCH",
    "OPERATOR",
    "ORDER_EVENTS",
    "ROLES",
    "Address",
    "BindingSweeper",
    "Caller",
    "InitReport",
    "KeyStatus",
    "OrderSpec",
    "PolicyWatcher",
    "QuotaState",
    "RequestMeta",
    "Vault",
    "access_log",
    "acknowledge",
    "admit",
    "alert_of",
    "alerts_for",
    "approve_break_glass",
    "approve_step_up",
    "assign_ticket",
    "audit_checkpoint",
    "audit_consistency_proof",
    "audit_inclusion_proof",
    "close",
    "close_ticket",
    "explain_request",
    "export_orders",
    "import_numbers",
    "init_vault",
    "integrator_from_settings",
    "key_provider_from_settings",
    "key_status",
    "list_break_glass",
    "my_tickets",
    "numbers_status",
    "open_ticket",
    "open_vault",
    "order_bindings",
    "policy_status",
    "principal_controls",
    "quota_of",
    "register_party_phone",
    "reinstate_principal",
    "reload_policies",
    "report_telephony",
    "request_break_glass",
    "request_contact",
    "reveal_order",
    "revoke_break_glass",
    "rewrap_all",
    "route_telephony",
    "sweep_numbers",
    "ticket_of",
]
