"""Public ids: their shape, and that every character is uniformly random."""

from __future__ import annotations

from collections import Counter

from veil.ids import IdKind, is_id, new_id


def test_an_id_has_its_kind_prefix_and_26_base32_characters() -> None:
    for kind in IdKind:
        value = new_id(kind)
        assert is_id(value, kind)
        assert not is_id(value, IdKind.ORDER if kind is not IdKind.ORDER else IdKind.SUBJECT)


def test_ids_do_not_repeat() -> None:
    assert len({new_id(IdKind.BINDING) for _ in range(100_000)}) == 100_000


def test_every_position_uses_all_32_symbols_evenly() -> None:
    # 20,000 ids: each symbol is expected 625 times per position; a position
    # that used 8 symbols (the last one of a padded base32 encoding) or skewed
    # them (a byte mapped unevenly) lands far outside this band.
    bodies = [new_id(IdKind.ORDER)[4:] for _ in range(20_000)]
    for position in range(26):
        counts = Counter(body[position] for body in bodies)
        assert len(counts) == 32, position
        assert min(counts.values()) > 450 and max(counts.values()) < 800, position
