"""Check-digit vectors: GB 11643 (ISO 7064 MOD 11-2) resident IDs and Luhn, beside stdnum."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.redact import id_check_char, is_valid_resident_id, luhn_ok

stdnum_ric = pytest.importorskip("stdnum.cn.ric")
stdnum_luhn = pytest.importorskip("stdnum.luhn")

TODAY = dt.date(2026, 1, 1)

# Worked by hand: sum of digit * weight (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2),
# remainder mod 11, then "10X98765432"[remainder].
HAND_VECTORS = [
    # 1*7+1*9+0*10+1*5+0*8+5*4+1*2+9*1+4*6+9*3+1*7+2*9+3*10+1*5+0*8+0*4+2*2 = 167
    # 167 % 11 = 2 -> X
    ("11010519491231002", 167, "X"),
    # 4*7+4*9+0*10+3*5+0*8+5*4+1*2+9*1+9*6+0*3+0*7+3*9+0*10+7*5+1*8+2*4+3*2 = 248
    # 248 % 11 = 6 -> 6
    ("44030519900307123", 248, "6"),
    # 3*7+2*9+0*10+1*5+0*8+2*4+1*2+9*1+8*6+5*3+0*7+1*9+0*10+1*5+0*8+0*4+1*2 = 142
    # 142 % 11 = 10 -> 2
    ("32010219850101001", 142, "2"),
    # A leap day: 2000-02-29. Sum 186; 186 % 11 = 10 -> 2
    ("51010720000229123", 186, "2"),
    # 238 % 11 = 7 -> 5
    ("11010119900307851", 238, "5"),
]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@pytest.mark.parametrize(("first17", "weighted_sum", "check"), HAND_VECTORS)
def test_id_check_character_matches_the_hand_computation(
    first17: str, weighted_sum: int, check: str
) -> None:
    assert sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) == weighted_sum
    assert id_check_char(first17) == check
    # stdnum's calc_check_digit takes the full number and ignores its last character.
    assert stdnum_ric.calc_check_digit(first17 + "0") == check
    assert is_valid_resident_id(first17 + check, today=TODAY)


@given(st.from_regex(r"[1-8][0-9]{16}", fullmatch=True))
def test_id_check_character_agrees_with_stdnum(first17: str) -> None:
    assert id_check_char(first17) == stdnum_ric.calc_check_digit(first17 + "0")


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("110105194912310021", False),  # wrong check character
        ("110105194913310026", False),  # month 13
        ("110105203001010013", False),  # born after "today"
        ("010105194912310021", False),  # region group 0 is never issued
        ("110105491231002", True),  # 15-digit legacy: 1949-12-31
        ("110105491331002", False),  # legacy with month 13
        ("1101051949123100", False),  # 16 digits
    ],
)
def test_resident_id_validity(number: str, valid: bool) -> None:
    assert is_valid_resident_id(number, today=TODAY) is valid


def test_id_check_char_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="17 digits"):
        id_check_char("1234")


@pytest.mark.parametrize(
    ("body", "check"),
    [
        # 6222021234567890 12 -> doubling from the right; stdnum agrees below.
        ("622202123456789012", "8"),
        ("453201511283036", "6"),
        ("622848000000000000", "0"),
        ("7992739871", "3"),  # the textbook example
    ],
)
def test_luhn_vectors(body: str, check: str) -> None:
    assert stdnum_luhn.calc_check_digit(body) == check
    assert luhn_ok(body + check)
    assert not luhn_ok(body + str((int(check) + 1) % 10))


@given(st.from_regex(r"[0-9]{12,18}", fullmatch=True))
def test_luhn_agrees_with_stdnum(number: str) -> None:
    assert luhn_ok(number) == stdnum_luhn.is_valid(number)
