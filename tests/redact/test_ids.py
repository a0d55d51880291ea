"""Known answers for resident ID numbers and bank cards inside notes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.redact.conftest import Found

ID, CARD = "id_card", "bank_card"

POSITIVES = [
    ("身份证号：11010519491231002X", [("11010519491231002X", ID)]),
    ("身份证11010519491231002x", [("11010519491231002x", ID)]),
    ("110105 19491231 002X", [("110105 19491231 002X", ID)]),
    ("1101 0519 4912 3100 2X", [("1101 0519 4912 3100 2X", ID)]),
    ("440305199003071236 入住登记", [("440305199003071236", ID)]),
    ("１１０１０５１９４９１２３１００２Ｘ", [("１１０１０５１９４９１２３１００２Ｘ", ID)]),
    ("老身份证110105491231002", [("110105491231002", ID)]),
    # A mistyped check digit still leaks the rest; the context word vouches for it.
    ("身份证：110105194912310021", [("110105194912310021", ID)]),
    ("卡号6222021234567890128", [("6222021234567890128", CARD)]),
    ("退款到 6222 0212 3456 7890 128", [("6222 0212 3456 7890 128", CARD)]),
    ("4532-0151-1283-0366", [("4532-0151-1283-0366", CARD)]),
    ("银行卡：6228480000000000000", [("6228480000000000000", CARD)]),
    # A Luhn typo after 卡号 is still a card number.
    ("卡号6222021234567890129", [("6222021234567890129", CARD)]),
    # A valid card followed by a room number: the room does not hide the card.
    (
        "6222021234567890128 1203",
        [("6222021234567890128", CARD)],
    ),
    (
        "13812345678 11010519491231002X",
        [("13812345678", "phone"), ("11010519491231002X", ID)],
    ),
]

NEGATIVES = [
    "110105194912310021",  # bad check digit and no context
    "流水号 2024050112345679",  # fails Luhn
    "SF1234567890123",  # tracking number
    "订单号 ord_abcdefghijklmnopqrstuvwxyz",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_ids_and_cards_are_found(found: Callable[[str], Found], text: str, expected: Found) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_long_numbers_without_a_check_survive(found: Callable[[str], Found], text: str) -> None:
    assert found(text) == []
