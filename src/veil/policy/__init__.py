"""Authorization by Cedar policies; masking profiles, purposes, quotas; the facts decided on."""

from veil.policy._cases import (
    CASES_FILE,
    CaseResult,
    PolicyCase,
    decide_case,
    load_cases,
    run_cases,
)
from veil.policy._engine import (
    DEFAULT_POLICY_DIR,
    Allow,
    Decision,
    Deny,
    OrderFacts,
    PolicyEngine,
    PolicySource,
    PrincipalFacts,
)
from veil.policy._explain import Explanation, PolicyNote, explain
from veil.policy._masking import (
    ADDRESS_LEVELS,
    COMPOUND_SURNAMES,
    MaskingProfile,
    disclosure_levels,
    mask_name,
    mask_phone,
)
from veil.policy._purposes import PURPOSES, REVEALABLE_FIELDS
from veil.policy._quotas import INSIDER_CEILING, BreakGlassLimits, QuotaTable, RoleQuota
from veil.policy._staff import (
    ORDER_ACTIONS,
    BreakGlassFacts,
    TicketFacts,
    decide_break_glass,
    decide_staff_order,
    decide_ticket,
    decide_vault_action,
)

__all__ = [
    "ADDRESS_LEVELS",
    "CASES_FILE",
    "COMPOUND_SURNAMES",
    "DEFAULT_POLICY_DIR",
    "INSIDER_CEILING",
    "ORDER_ACTIONS",
    "PURPOSES",
    "REVEALABLE_FIELDS",
    "Allow",
    "BreakGlassFacts",
    "BreakGlassLimits",
    "CaseResult",
    "Decision",
    "Deny",
    "Explanation",
    "MaskingProfile",
    "OrderFacts",
    "PolicyCase",
    "PolicyEngine",
    "PolicyNote",
    "PolicySource",
    "PrincipalFacts",
    "QuotaTable",
    "RoleQuota",
    "TicketFacts",
    "decide_break_glass",
    "decide_case",
    "decide_staff_order",
    "decide_ticket",
    "decide_vault_action",
    "disclosure_levels",
    "explain",
    "load_cases",
    "mask_name",
    "mask_phone",
    "run_cases",
]
