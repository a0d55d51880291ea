"""A seeded, offline corpus of labelled order notes, and span-level scoring against it.

`generate_corpus` writes informal delivery notes ("到了打我电话138 1234 5678，
3号楼2单元1203", "放门口就行，别敲门，有娃在睡觉") with every form of personal
data the recognizers claim to handle, next to hard negatives that must survive
(prices, times, quantities, discounts, dates, Veil's own ``ord_`` ids), with the
character offsets of each gold span. It needs ``faker`` and ``python-stdnum``
(the ``bench`` extra), imported only when a corpus is generated.

`score` measures a redactor on such a corpus:

* recall per category: a gold span counts as recalled when redactions cover
  every one of its characters;
* precision per predicted type: a predicted span counts as correct when it
  overlaps some gold span;
* survival: the share of characters outside every gold span that no
  redaction covers.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.redact._corpus_forms import FORMS, Form, Fragment, fullwidth
from veil.redact._corpus_places import PLACE_FORMS

__all__ = [
    "CATEGORIES",
    "GoldSpan",
    "LabelledNote",
    "Score",
    "generate_corpus",
    "score",
]

CATEGORIES: tuple[str, ...] = (
    "phone",
    "id_card",
    "bank_card",
    "plate",
    "email",
    "wechat_qq",
    "address_detail",
    "address",
    "name",
)
"""Gold categories, in report order (the issue's goals are set per category)."""


@dataclass(frozen=True, slots=True)
class GoldSpan:
    """One labelled piece of personal data.

    Attributes:
        start: Offset of its first character in the note.
        end: Offset one past its last character.
        category: One of `CATEGORIES`.
        form: How it was typed (``mobile_344``, ``id18_fw``…), for diagnostics.
    """

    start: int
    end: int
    category: str
    form: str


@dataclass(frozen=True, slots=True)
class LabelledNote:
    """A note and its gold spans."""

    text: str
    spans: tuple[GoldSpan, ...]


# Slot name -> generator. Phones are drawn by form, weighted by how often each
# kind of number appears in notes.
_PHONE_FORM_NAMES = ("mobile", "landline", "service", "cn_numeral_mobile")
_PHONE_FORM_WEIGHTS = (14, 3, 1, 1)
_SLOTS: dict[str, Form] = {**FORMS, **PLACE_FORMS}

_PII_TEMPLATES: tuple[tuple[str, int], ...] = (
    ("到了打我电话{phone}", 6),
    ("电话{phone}", 4),
    ("手机：{phone}", 2),
    ("有事打{phone}", 2),
    ("{phone}", 3),
    ("打这个号{phone}别打下单那个", 1),
    ("联系方式 {phone}", 1),
    ("{detail}", 5),
    ("送到{detail}", 3),
    ("放{detail}", 2),
    ("到了放{detail}就行", 1),
    ("{place_detail}", 3),
    ("送到{place_detail}", 2),
    ("地址：{full_address}", 2),
    ("{full_address}", 3),
    ("地址改成{full_address}", 1),
    ("身份证号{resident_id}", 1),
    ("身份证：{resident_id}", 1),
    ("登记用的身份证 {resident_id}", 1),
    ("{resident_id}", 1),
    ("卡号{bank_card}", 1),
    ("退款打到这张卡{bank_card}", 1),
    ("{bank_card}", 1),
    ("车牌{plate}", 2),
    ("车停路边，车牌号：{plate}", 1),
    ("{plate}", 1),
    ("邮箱{email}", 1),
    ("发票发到{email}", 1),
    ("{email}", 1),
    ("加{wechat}", 2),
    ("{wechat}", 1),
    ("有问题{wechat}", 1),
    ("{qq}", 1),
    ("加我{qq}", 1),
    ("{name}", 5),
    ("麻烦放前台，{name}", 1),
    ("麻烦找前台{name}", 1),
)

_NEGATIVES: tuple[str, ...] = (
    "放门口就行",
    "别敲门，有娃在睡觉",
    "宝宝在睡觉别按门铃",
    "少放辣，多加香菜",
    "不要葱姜蒜",
    "多给{n}双筷子",
    "满{a}减{b}",
    "满{a}减{b}的券用了",
    "¥{price}",
    "{price}元",
    "一共{a}块钱",
    "下午{h}点前送到",
    "{h}:{mm}之前送到",
    "尽量{h}点半前到",
    "{n}份",
    "要{n}杯冰美式",
    "{n}杯去冰少糖",
    "第二份半价",
    "{n}月{d}号的订单",
    "{y}-0{n}-1{n}",
    "订单号 {ord}",
    "{ord}",
    "取餐码{code}",
    "谢谢师傅",
    "辛苦了师傅🙏",
    "外卖放前台",
    "放外卖柜",
    "放小区门口",
    "到了打电话",
    "到楼下给我打电话",
    "汤别洒了",
    "加一层保鲜膜",
    "不要餐具",
    "好评返现{n}元",
    "打{n}折",
    "{n}分糖",
    "东门进来左转",
    "电梯坏了麻烦走楼梯",
    "快递放驿站就行",
    "重量{n}.5kg",
    "{n}~{a}分钟到",
    "凉了也没关系",
    "送上楼谢谢",
    "隔壁小区别送错",
    "家里有狗别怕",
    "今天加班晚点到家",
    "发票抬头：个人",
    "第{n}杯半价",
    "桌号{n}",
    "微信支付的",
    "QQ音乐会员送的券",
    "打包好一点",
    "手机尾号{code}",
    "{n}号窗口取餐",
    "{n}人份",
    "1.5L的可乐",
    "快递单号SF{long}",
    "运单号 YT{long}",
    "共{n}件",
    "电话打不通就放门口",
    "微信付过了",
    "收件人不在家",
    "地址没错",
    "房间里有人",
    "五点前送到",
    "十点半之前",
    "今天是{n}号吧",
    "第{n}单了",
    "打电话别发短信",
    "到了在群里说一声",
    "不要香菜！！",
    "米饭多一点，辣椒少一点",
    "给个好评谢谢",
    "找零就不用了",
    "联系不上就放门卫",
    "老板多给点酱",
    "快点饿死了😭",
    "下单备注：少冰",
    "金额{price}元已付",
    "{y}年{n}月{d}日",
    "No.{code}",
    "#{n}{n}号",
)
_SEPARATORS = ("，", "，", "，", ",", "。", " ", "！", "~", "；", "、", "\n", "")
_EMOJI = ("😊", "🙏", "👍", "❤️", "😄", "🥺", "🔥", "✨", "[微笑]", "~~", "哈哈")
_SLOT = re.compile(r"\{(\w+)\}")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def _negative(rng: random.Random) -> str:
    template = rng.choice(_NEGATIVES)
    values = {
        "n": str(rng.randint(1, 9)),
        "a": str(rng.choice((20, 30, 50, 100))),
        "b": str(rng.choice((3, 5, 10, 20))),
        "price": rng.choice(("25.5", "18", "36.8", "9.9", "128")),
        "h": str(rng.randint(1, 12)),
        "mm": rng.choice(("00", "15", "30", "45")),
        "d": str(rng.randint(1, 28)),
        "y": str(rng.randint(2023, 2026)),
        "ord": "ord_" + "".join(rng.choice(_BASE32) for _ in range(26)),
        "code": str(rng.randint(1000, 9999)),
        "long": str(rng.randint(10**11, 10**13)),
    }
    return _SLOT.sub(lambda match: values[match.group(1)], template)


def _glues(left: str, right: str) -> bool:
    ends = unicodedata.normalize("NFKC", left[-1:] + right[:1])
    return len(ends) == 2 and all(char.isascii() and char.isalnum() for char in ends)


def _fill(rng: random.Random, fake: Any, template: str) -> list[Fragment]:
    fragments: list[Fragment] = []
    cursor = 0
    for match in _SLOT.finditer(template):
        fragments.append((template[cursor : match.start()], None, ""))
        slot = match.group(1)
        if slot == "phone":
            slot = rng.choices(_PHONE_FORM_NAMES, _PHONE_FORM_WEIGHTS)[0]
        fragments.extend(_SLOTS[slot](rng, fake))
        cursor = match.end()
    fragments.append((template[cursor:], None, ""))
    return fragments


def _note(rng: random.Random, fake: Any) -> LabelledNote:
    segments: list[list[Fragment]] = []
    if rng.random() < 0.65:
        templates, weights = zip(*_PII_TEMPLATES, strict=True)
        for template in rng.choices(templates, weights, k=rng.choice((1, 1, 2))):
            segments.append(_fill(rng, fake, template))
    for _ in range(rng.choice((1, 1, 2, 3)) if segments else rng.choice((1, 2, 3, 4))):
        segments.append([(_negative(rng), None, "")])
    rng.shuffle(segments)
    widen = rng.random() < 0.08
    text_parts: list[str] = []
    spans: list[GoldSpan] = []
    offset = 0
    for index, segment in enumerate(segments):
        if index:
            joiner = rng.choice(_SEPARATORS)
            first = next((text for text, _, _ in segment if text), "")
            if not joiner and _glues(text_parts[-1], first):
                # Nobody types two numbers or ids back to back without a break.
                joiner = rng.choice(_SEPARATORS[:-1])
            if rng.random() < 0.1:
                joiner += rng.choice(_EMOJI)
            text_parts.append(joiner)
            offset += len(joiner)
        for fragment, category, form in segment:
            if not fragment:
                continue
            typed = fullwidth(fragment) if widen else fragment
            if category is not None:
                spans.append(GoldSpan(offset, offset + len(typed), category, form))
            text_parts.append(typed)
            offset += len(typed)
    if rng.random() < 0.15:
        text_parts.append(rng.choice(_EMOJI))
    return LabelledNote("".join(text_parts), tuple(spans))


def generate_corpus(count: int, *, seed: int = 0) -> list[LabelledNote]:
    """Generate `count` labelled notes; the same seed gives the same corpus.

    Raises:
        ModuleNotFoundError: ``faker`` or ``python-stdnum`` is not installed.
    """
    from faker import Faker  # noqa: PLC0415 -- optional: veil.redact itself never needs it

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 -- a reproducible corpus, not a secret
    return [_note(rng, fake) for _ in range(count)]


@dataclass
class Score:
    """Span-level results of one system on one corpus.

    Attributes:
        gold: Gold spans per category.
        recalled: Gold spans per category fully covered by redactions.
        predicted: Predicted spans per predicted type.
        correct: Predicted spans per type that overlap a gold span.
        non_pii_chars: Characters outside every gold span.
        kept_chars: Of those, the characters no redaction covers.
        misses: ``(note index, gold span)`` of every gold span not recalled.
        by_form: ``form -> [recalled, total]``, for diagnostics.
    """

    gold: dict[str, int] = field(default_factory=dict)
    recalled: dict[str, int] = field(default_factory=dict)
    predicted: dict[str, int] = field(default_factory=dict)
    correct: dict[str, int] = field(default_factory=dict)
    non_pii_chars: int = 0
    kept_chars: int = 0
    misses: list[tuple[int, GoldSpan]] = field(default_factory=list)
    by_form: dict[str, list[int]] = field(default_factory=dict)

    def recall(self, category: str) -> float | None:
        """Share of gold spans of `category` recalled; None if there were none."""
        total = self.gold.get(category, 0)
        return self.recalled.get(category, 0) / total if total else None

    def precision(self, predicted_type: str) -> float | None:
        """Share of predicted spans of `predicted_type` that hit PII; None if none predicted."""
        total = self.predicted.get(predicted_type, 0)
        return self.correct.get(predicted_type, 0) / total if total else None

    @property
    def survival(self) -> float:
        """Share of non-PII characters left untouched."""
        return self.kept_chars / self.non_pii_chars if self.non_pii_chars else 1.0


def score(
    notes: Sequence[LabelledNote],
    predictions: Iterable[Iterable[tuple[int, int, str]]],
) -> Score:
    """Score predicted ``(start, end, type)`` spans, one iterable per note, against the gold."""
    result = Score()
    for index, (note, predicted) in enumerate(zip(notes, predictions, strict=True)):
        covered = bytearray(len(note.text))
        gold_mask = bytearray(len(note.text))
        spans = list(predicted)
        for start, end, kind in spans:
            covered[start:end] = b"\x01" * (end - start)
            result.predicted[kind] = result.predicted.get(kind, 0) + 1
            if any(g.start < end and start < g.end for g in note.spans):
                result.correct[kind] = result.correct.get(kind, 0) + 1
        for gold in note.spans:
            gold_mask[gold.start : gold.end] = b"\x01" * (gold.end - gold.start)
            hit = all(covered[gold.start : gold.end])
            result.gold[gold.category] = result.gold.get(gold.category, 0) + 1
            tally = result.by_form.setdefault(gold.form, [0, 0])
            tally[1] += 1
            if hit:
                result.recalled[gold.category] = result.recalled.get(gold.category, 0) + 1
                tally[0] += 1
            else:
                result.misses.append((index, gold))
        for position, is_gold in enumerate(gold_mask):
            if not is_gold:
                result.non_pii_chars += 1
                result.kept_chars += not covered[position]
    return result
