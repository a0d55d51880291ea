"""numbers.cedar: who is issued a virtual number for an order, and when."""

from __future__ import annotations

import pytest

from veil.policy import DEFAULT_POLICY_DIR, OrderFacts, PolicyEngine, PolicySource, PrincipalFacts

ENGINE = PolicyEngine(PolicySource.load(DEFAULT_POLICY_DIR), rider_grace_ms=900_000)
NOW = 1_800_000_000_000


def _order(state: str, rider: str | None = "prn-rider") -> OrderFacts:
    return OrderFacts(
        id="ord-1",
        state=state,
        subject_id="sub-1",
        merchant_id="prn-merchant",
        rider_id=rider,
        past_rider_ids=(),
        created_ms=NOW - 60_000,
    )


@pytest.mark.parametrize(
    ("principal", "state", "allowed"),
    [
        (PrincipalFacts("prn-rider", "rider"), "rider_assigned", True),
        (PrincipalFacts("prn-rider", "rider"), "picked_up", True),
        (PrincipalFacts("prn-rider", "rider"), "delivered", False),
        (PrincipalFacts("prn-rider", "rider"), "cancelled", False),
        (PrincipalFacts("prn-other", "rider"), "picked_up", False),
        (PrincipalFacts("prn-merchant", "merchant"), "created", True),
        (PrincipalFacts("prn-merchant", "merchant"), "accepted", True),
        (PrincipalFacts("prn-merchant", "merchant"), "rider_assigned", True),
        (PrincipalFacts("prn-merchant", "merchant"), "picked_up", False),
        (PrincipalFacts("prn-other-merchant", "merchant"), "accepted", False),
        (PrincipalFacts("prn-service", "service"), "accepted", False),
        (PrincipalFacts("prn-agent", "agent"), "picked_up", False),
    ],
)
def test_bind_number(principal: PrincipalFacts, state: str, allowed: bool) -> None:
    decision = ENGINE.decide_order(principal, "bind_number", _order(state), now_ms=NOW)
    assert decision.allowed is allowed
