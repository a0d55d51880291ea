"""Masking known answers (cn-common) and disclosure levels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.policy import (
    ADDRESS_LEVELS,
    COMPOUND_SURNAMES,
    MaskingProfile,
    disclosure_levels,
    mask_name,
    mask_phone,
)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("李四光", "李**"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马*"),
        ("诸葛亮", "诸葛*"),
        ("上官婉儿", "上官**"),
        ("欧阳", "欧阳*"),  # a compound surname alone still hides that something follows
        ("李", "李*"),
        ("  张三  ", "张*"),
        ("John Smith", "J***"),
        ("", ""),
    ],
)
def test_mask_name_known_answers(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+8613812345678", "138****5678"),
        ("+8613800138001", "138****8001"),
        ("+8619912345678", "199****5678"),
        ("+861012345678", "101***5678"),  # a 10-digit national number keeps 3 + 4
        ("+86123", "***"),
    ],
)
def test_mask_phone_known_answers(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@given(
    given_name=st.text(cjk, min_size=1, max_size=3),
    surname=st.sampled_from(["王", "李", "欧阳", "司马"]),
)
def test_masked_names_keep_the_surname_and_hide_every_given_character(
    surname: str, given_name: str
) -> None:
    name = surname + given_name
    masked = mask_name(name)
    kept = surname if surname in COMPOUND_SURNAMES or len(surname) == 1 else surname[:1]
    assert masked.startswith(kept)
    assert set(masked[len(kept) :]) == {"*"}
    assert len(masked) == max(len(name), len(kept) + 1)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_masked_mobiles_show_only_the_first_three_and_last_four(national: str) -> None:
    masked = mask_phone("+86" + national)
    assert masked == national[:3] + "****" + national[-4:]
    assert len(masked) == len(national)


def test_masking_profile_levels() -> None:
    profile = MaskingProfile()
    assert profile.name == "cn-common"
    assert profile.name_at("欧阳娜娜", "full") == "欧阳娜娜"
    assert profile.name_at("欧阳娜娜", "masked") == "欧阳**"
    assert profile.phone_at("+8613812345678", "full") == "+8613812345678"
    assert profile.phone_at("+8613812345678", "masked") == "138****5678"
    address = {
        "province": "广东省",
        "city": "广州市",
        "district": "天河区",
        "street": "体育西路191号",
        "building": "3号楼",
        "unit": "2单元",
        "floor": "6层",
        "room": "602",
        "landmark": "",
    }
    assert profile.address_at(address, "district") == {
        "province": "广东省",
        "city": "广州市",
        "district": "天河区",
    }
    building = profile.address_at(address, "building")
    assert building["building"] == "3号楼"
    assert not {"unit", "floor", "room", "landmark"} & set(building)  # empty parts dropped
    assert profile.address_at(address, "full")["room"] == "602"
    for level, parts in ADDRESS_LEVELS.items():
        assert set(profile.address_at(address, level)) <= set(parts)


@pytest.mark.parametrize(
    ("grants", "levels"),
    [
        (set(), {}),
        ({"phone.masked"}, {"phone": "masked"}),
        ({"phone.masked", "phone.full"}, {"phone": "full"}),
        ({"address.full", "address.district", "address.building"}, {"address": "full"}),
        ({"address.district", "address.building"}, {"address": "building"}),
        ({"note.redacted", "note.original"}, {"note": "original"}),
        ({"order.state", "order.tokens"}, {"order": "tokens"}),
        ({"phone.everything", "ssn.full", "name", "name."}, {}),
        (
            {"name.masked", "address.district", "note.redacted"},
            {
                "name": "masked",
                "address": "district",
                "note": "redacted",
            },
        ),
    ],
)
def test_disclosure_levels_take_the_strongest_known_grant(
    grants: set[str], levels: dict[str, str]
) -> None:
    assert disclosure_levels(frozenset(grants)) == levels
