"""Authorization by Cedar policies, masking profiles, and the facts decisions read."""

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
from veil.policy._masking import (
    ADDRESS_LEVELS,
    COMPOUND_SURNAMES,
    MaskingProfile,
    disclosure_levels,
    mask_name,
    mask_phone,
)

__all__ = [
    "ADDRESS_LEVELS",
    "COMPOUND_SURNAMES",
    "DEFAULT_POLICY_DIR",
    "Allow",
    "Decision",
    "Deny",
    "MaskingProfile",
    "OrderFacts",
    "PolicyEngine",
    "PolicySource",
    "PrincipalFacts",
    "disclosure_levels",
    "mask_name",
    "mask_phone",
]
