"""The redactor: placeholders, merging, languages, offsets through NFKC, threads, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

from veil.errors import Conflict, InvalidInput
from veil.redact import (
    PLACEHOLDERS,
    EntityType,
    Finding,
    PatternRecognizer,
    Recognizer,
    RecognizerRegistry,
    Redactor,
    Span,
    builtin_recognizers,
    default_redactor,
)


def test_the_issue_example() -> None:
    redaction = default_redactor().redact("到了打我电话138 1234 5678，3号楼2单元1203")
    assert redaction.text == "到了打我电话[电话]，[地址]"
    assert [(f.start, f.end, f.entity_type) for f in redaction.findings] == [
        (6, 19, EntityType.PHONE),
        (20, 30, EntityType.ADDRESS),
    ]


def test_notes_without_personal_data_come_back_unchanged() -> None:
    note = "放门口就行，别敲门，有娃在睡觉😊 满30减5，¥25.5，下午3点前送到"
    redaction = default_redactor().redact(note)
    assert redaction.text == note
    assert redaction.findings == ()


def test_every_type_has_a_placeholder_in_both_languages() -> None:
    for language in ("zh", "en"):
        assert set(PLACEHOLDERS[language]) == set(EntityType)


@pytest.mark.parametrize(
    ("note", "zh", "en"),
    [
        ("电话13812345678", "电话[电话]", "电话[PHONE]"),
        ("身份证11010519491231002X", "身份证[身份证]", "身份证[ID]"),
        ("卡号6222021234567890128", "卡号[银行卡]", "卡号[BANK_CARD]"),
        ("车牌粤B12345", "车牌[车牌]", "车牌[PLATE]"),
        ("邮箱a.b@163.com", "邮箱[邮箱]", "邮箱[EMAIL]"),
        ("微信abc_123", "微信[微信]", "微信[WECHAT]"),
        ("QQ 123456", "QQ [QQ]", "QQ [QQ]"),
        ("3号楼1203", "[地址]", "[ADDRESS]"),
        ("收件人张伟", "收件人[姓名]", "收件人[NAME]"),
    ],
)
def test_typed_placeholders(note: str, zh: str, en: str) -> None:
    redactor = default_redactor()
    assert redactor.redact(note).text == zh
    assert redactor.redact(note, language="en").text == en


def test_overlapping_findings_merge_into_the_longest_type() -> None:
    # The WeChat id equals the phone number: one range, typed as the phone.
    redaction = default_redactor().redact("微信13812345678")
    assert redaction.text == "微信[电话]"
    assert [f.recognizer for f in redaction.findings] == ["cn_mobile"]


def test_address_pieces_separated_by_spaces_become_one_address() -> None:
    assert default_redactor().redact("阳光花园 3栋 1203 放门口").text == "[地址] 放门口"


def test_address_pieces_separated_by_a_comma_stay_apart() -> None:
    assert default_redactor().redact("3号楼，1203室").text == "[地址]，[地址]"


def test_full_width_offsets_point_into_the_original() -> None:
    note = "电话：１３８　１２３４　５６７８，谢谢"
    (finding,) = default_redactor().find(note)
    assert note[finding.start : finding.end] == "１３８　１２３４　５６７８"
    assert default_redactor().redact(note).text == "电话：[电话]，谢谢"


def test_characters_that_expand_under_nfkc_are_redacted_whole() -> None:
    # NFKC turns ⑫ into "12", so the room is "1203" in normalised text; the
    # finding widens to the whole ⑫ in the original.
    note = "房间号⑫03，谢谢"
    (finding,) = default_redactor().find(note)
    assert note[finding.start : finding.end] == "⑫03"
    assert default_redactor().redact(note).text == "房间号[地址]，谢谢"


def test_unknown_language_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        default_redactor().redact("电话13812345678", language="fr")  # type: ignore[arg-type]


def test_text_must_be_a_string() -> None:
    with pytest.raises(InvalidInput):
        default_redactor().redact(b"13812345678")  # type: ignore[arg-type]


def test_empty_text() -> None:
    assert default_redactor().redact("").text == ""


def test_default_redactor_is_built_once_and_shared_between_threads() -> None:
    notes = [f"电话1381234{i:04d}，{i % 30 + 1}号楼{i % 6 + 1}单元1203" for i in range(200)]
    expected = [default_redactor().redact(note).text for note in notes]
    seen: list[Redactor] = []
    results: dict[int, list[str]] = {}

    def work(worker: int) -> None:
        redactor = default_redactor()
        seen.append(redactor)
        results[worker] = [redactor.redact(note).text for note in notes]

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(redactor is seen[0] for redactor in seen)
    assert all(texts == expected for texts in results.values())


class _Secret:
    """A plug-in recognizer written against the protocol only."""

    name = "secret_word"
    entity_type = EntityType.NAME

    def find(self, text: str) -> Iterable[Span]:
        start = text.find("SECRET")
        return [] if start < 0 else [(start, start + 6)]


def test_a_plug_in_recognizer_runs_beside_the_builtins() -> None:
    redactor = Redactor([*builtin_recognizers(), _Secret()])
    redaction = redactor.redact("the SECRET is 13812345678")
    assert redaction.text == "the [姓名] is [电话]"
    assert redaction.findings[0] == Finding(4, 10, EntityType.NAME, "secret_word")


def test_a_redactor_runs_only_the_recognizers_it_is_given() -> None:
    redactor = Redactor([_Secret()])
    assert redactor.redact("SECRET 13812345678").text == "[姓名] 13812345678"


def test_a_redactor_rejects_duplicate_names() -> None:
    with pytest.raises(Conflict):
        Redactor([_Secret(), _Secret()])


def test_a_redactor_takes_a_snapshot_of_its_registry() -> None:
    registry = RecognizerRegistry([_Secret()])
    redactor = Redactor(registry)
    registry.unregister("secret_word")
    assert redactor.redact("SECRET").text == "[姓名]"


def test_out_of_range_spans_from_a_plug_in_are_clipped() -> None:
    class Sloppy:
        name = "sloppy"
        entity_type = EntityType.PHONE

        def find(self, text: str) -> Iterable[Span]:
            return [(-3, 2), (len(text) - 1, len(text) + 5), (4, 4)]

    assert Redactor([Sloppy()]).redact("abcdefg").text == "[电话]cdef[电话]"


@pytest.mark.parametrize("recognizer", builtin_recognizers(), ids=lambda r: r.name)
def test_every_builtin_conforms_to_the_protocol(recognizer: Recognizer) -> None:
    assert isinstance(recognizer, Recognizer)
    assert isinstance(recognizer.entity_type, EntityType)
    assert recognizer.name.isidentifier()
    # Pure and repeatable: the same note gives the same spans, in bounds and non-empty.
    note = "北京市朝阳区建国路88号3号楼1203，收件人张伟13812345678，微信abc_123"
    first = list(recognizer.find(note))
    assert first == list(recognizer.find(note))
    assert all(0 <= start < end <= len(note) for start, end in first)
    if isinstance(recognizer, PatternRecognizer):
        # The cheap pre-checks never hide a match: scanning anyway finds nothing more.
        assert first == recognizer.scan(note)


def test_builtin_names_are_unique() -> None:
    names = [recognizer.name for recognizer in builtin_recognizers()]
    assert len(names) == len(set(names))
