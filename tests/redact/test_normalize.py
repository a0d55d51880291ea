"""NFKC normalisation with a map back to the original offsets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from veil.redact import normalize


def test_ascii_and_plain_cjk_need_no_map() -> None:
    folded = normalize("电话13812345678")
    assert folded.text == "电话13812345678"
    assert folded.origin is None


def test_full_width_folds_one_to_one() -> None:
    folded = normalize("１３８　１２３４，ＡＢ＠")
    assert folded.text == "138 1234,AB@"
    assert folded.origin is None
    assert folded.to_original(0, 3) == (0, 3)


def test_expanding_characters_map_back_to_the_whole_character() -> None:
    folded = normalize("房⑫号㈠")
    assert folded.text == "房12号(一)"
    assert folded.origin == (0, 1, 1, 2, 3, 3, 3)
    assert folded.to_original(1, 2) == (1, 2)  # half of ⑫ is all of ⑫
    assert folded.to_original(1, 4) == (1, 3)
    assert folded.to_original(4, 7) == (3, 4)


@given(st.text(max_size=30))
def test_every_normalised_span_maps_inside_the_original(text: str) -> None:
    folded = normalize(text)
    for start in range(len(folded.text)):
        for end in range(start + 1, len(folded.text) + 1):
            original_start, original_end = folded.to_original(start, end)
            assert 0 <= original_start < original_end <= len(text)
