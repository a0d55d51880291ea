"""The closed list of reveal purposes, and the fields a reveal may name.

A reveal states one purpose from this list; the Cedar policies in
``staff.cedar`` decide, per purpose, which role may use it, on which order
states, with which ticket or grant, for which fields. Adding a purpose means
adding it here (so the API accepts and documents it) and writing the policy
that allows it (until then every reveal with it is denied).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["PURPOSES", "REVEALABLE_FIELDS"]

PURPOSES: Mapping[str, str] = MappingProxyType(
    {
        "delivery_failed_contact_customer": (
            "The rider cannot reach the customer or find the door; the support agent on the"
            " ticket calls the customer. Phone only, while the order is out for delivery"
            " (rider_assigned or picked_up), on an open ticket assigned to the agent."
        ),
        "refund_verification": (
            "A customer asked for a refund or complained about a delivery; the agent checks"
            " the name and delivery address on the order. Only after delivery or"
            " cancellation, and only on a ticket the platform opened for a customer contact."
        ),
        "safety_incident": (
            "Someone's safety is at risk (customer, rider, merchant). Break-glass only: an"
            " admin or safety officer whose request a second admin approved; any field, any"
            " state, until the grant expires."
        ),
        "law_enforcement_request": (
            "A written request from a public-security or judicial organ, referenced in the"
            " break-glass justification. Break-glass only, like safety_incident."
        ),
    }
)

# What a reveal can disclose, always at full level: the name, the phone, the
# address down to the room, the customer's original note.
REVEALABLE_FIELDS = ("name", "phone", "address", "note")
