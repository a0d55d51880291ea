"""Purpose keys (access-log labels): one key per purpose, apart from every principal's key."""

from __future__ import annotations

from veil.crypto import Pseudonymizer
from veil.ids import IdKind, new_id

ROOT = bytes(range(32))


def test_a_purpose_key_is_stable_and_its_own() -> None:
    principal = new_id(IdKind.PRINCIPAL)
    labels = Pseudonymizer(ROOT).for_purpose("access-log")
    assert labels.pseudonym("principal", principal) == (
        Pseudonymizer(ROOT).for_purpose("access-log").pseudonym("principal", principal)
    )
    others = [
        Pseudonymizer(ROOT).for_purpose("something-else"),
        Pseudonymizer(ROOT).for_principal("access-log"),
        Pseudonymizer(ROOT).for_principal("purpose/access-log"),
        Pseudonymizer(bytes(32)).for_purpose("access-log"),
    ]
    mine = labels.pseudonym("principal", principal)
    assert all(other.pseudonym("principal", principal) != mine for other in others)
    assert principal not in mine
