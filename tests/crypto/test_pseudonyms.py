"""Keyed pseudonyms: stable per analyst, different across analysts, unlinkable without the root."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto import Pseudonymizer
from veil.ids import IdKind, new_id

ROOT = bytes(range(32))


@given(st.text(min_size=1, max_size=40))
def test_a_pseudonym_is_stable_for_one_analyst(value: str) -> None:
    first = Pseudonymizer(ROOT).for_principal("prn_analyst_a")
    again = Pseudonymizer(ROOT).for_principal("prn_analyst_a")
    assert first.pseudonym("subject", value) == again.pseudonym("subject", value)
    assert first.pseudonym("subject", value).startswith("psn_")
    assert len(first.pseudonym("subject", value)) == 4 + 26


def test_analysts_get_unrelated_pseudonyms() -> None:
    subjects = [new_id(IdKind.SUBJECT) for _ in range(200)]
    a = Pseudonymizer(ROOT).for_principal(new_id(IdKind.PRINCIPAL))
    b = Pseudonymizer(ROOT).for_principal(new_id(IdKind.PRINCIPAL))
    seen_by_a = {a.pseudonym("subject", s) for s in subjects}
    seen_by_b = {b.pseudonym("subject", s) for s in subjects}
    assert len(seen_by_a) == len(seen_by_b) == 200
    assert not seen_by_a & seen_by_b


def test_kinds_and_roots_separate_pseudonyms() -> None:
    key = Pseudonymizer(ROOT).for_principal("prn_x")
    other_root = Pseudonymizer(bytes(32)).for_principal("prn_x")
    assert key.pseudonym("subject", "sub_1") != key.pseudonym("order", "sub_1")
    assert key.pseudonym("subject", "sub_1") != other_root.pseudonym("subject", "sub_1")


def test_a_root_secret_is_32_bytes() -> None:
    assert len(Pseudonymizer.new_root()) == 32
    with pytest.raises(ValueError, match="32 bytes"):
        Pseudonymizer(b"short")
