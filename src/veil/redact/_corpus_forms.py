"""Generators of personal data in the forms people type, for the evaluation corpus.

Each generator takes the corpus' seeded `random.Random` (and faker, where it
helps) and returns a list of fragments ``(text, category, form)``; a fragment
whose category is None is context ("房间号 ") and is not gold. Check digits are
computed with python-stdnum, independently of Veil's own checksum code.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from veil.redact._patterns import words

__all__ = ["FORMS", "Fragment", "fullwidth"]

Fragment = tuple[str, str | None, str]
"""``(text, category or None, form)``."""

Form = Callable[[random.Random, Any], list[Fragment]]

_MOBILE_PREFIXES = words(
    """
    130 131 132 133 134 135 136 137 138 139 145 147 150 151 152 153 155 156 157 158 159 166 170
    171 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 195 198 199
    """
)
_AREAS_3 = ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029")
_AREAS_4 = ("0571", "0755", "0512", "0731", "0871", "0532", "0591", "0451", "0351", "0898")
_REGIONS = words(
    """
    110101 110105 110108 120101 310101 310104 310115 320102 320505 330106 330108 340104 350203
    370102 410105 420106 430104 440106 440305 440306 450103 500103 510107 510124 530102 610113
    620102 650102 210102 230103
    """
)
_CARD_BINS = ("622202", "622848", "621700", "622588", "621483", "622609", "623058", "621226")
_PLATE_REGIONS = "京津沪渝冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋蒙陕吉闽贵粤川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_CN_NUM = "零一二三四五六七八九"


def fullwidth(text: str) -> str:
    """Turn ASCII digits, letters and punctuation into their full-width forms (offsets kept)."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text
    )


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _group(number: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(number[at : at + size])
        at += size
    if at < len(number):
        parts.append(number[at:])
    return sep.join(part for part in parts if part)


def _mobile(rng: random.Random, _fake: Any) -> list[Fragment]:
    number = rng.choice(_MOBILE_PREFIXES) + _digits(rng, 8)
    style = rng.choice(
        ["plain"] * 4
        + ["344", "344", "dash", "dot", "cnpunct", "443", "prefix", "prefix", "spaced", "fw", "mix"]
    )
    if style == "344":
        text = _group(number, (3, 4, 4), rng.choice([" ", " ", "  "]))
    elif style == "dash":
        text = _group(number, (3, 4, 4), rng.choice(["-", " - ", "—", "－"]))
    elif style == "dot":
        text = _group(number, (3, 4, 4), ".")
    elif style == "cnpunct":
        text = _group(number, (3, 4, 4), rng.choice(["，", "、", "。", "_", "/"]))
    elif style == "443":
        text = _group(number, (4, 4, 3), rng.choice([" ", "-"]))
    elif style == "prefix":
        prefix = rng.choice(
            ["+86 ", "+86-", "+86", "0086 ", "0086-", "(+86) ", "(+86)", "（+86）", "86-"]
        )
        body = number if rng.random() < 0.5 else _group(number, (3, 4, 4), rng.choice([" ", "-"]))
        text = prefix + body
    elif style == "spaced":
        text = " ".join(number)
    elif style == "fw":
        text = fullwidth(rng.choice([number, _group(number, (3, 4, 4), " ")]))
    elif style == "mix":
        text = "".join(fullwidth(c) if rng.random() < 0.5 else c for c in number)
    else:
        text = number
    return [(text, "phone", f"mobile_{style}")]


def _landline(rng: random.Random, _fake: Any) -> list[Fragment]:
    if rng.random() < 0.5:
        area, local = rng.choice(_AREAS_3), rng.choice("2345678") + _digits(rng, 7)
    else:
        area, local = rng.choice(_AREAS_4), rng.choice("2345678") + _digits(rng, rng.choice((6, 7)))
    style = rng.choice(["dash", "paren", "fwparen", "space", "plain", "ext"])
    if style == "dash":
        text = f"{area}-{local}"
    elif style == "paren":
        text = f"({area}){local}"
    elif style == "fwparen":
        text = f"（{area}）{_group(local, (4,), ' ')}"
    elif style == "space":
        text = f"{area} {_group(local, (len(local) - 4,), ' ')}"
    elif style == "ext":
        text = f"{area}-{local}{rng.choice(['转', '-', '转分机'])}{_digits(rng, 3)}"
    else:
        text = area + local
    return [(text, "phone", f"landline_{style}")]


def _service(rng: random.Random, _fake: Any) -> list[Fragment]:
    number = rng.choice(("400", "400", "800")) + rng.choice("123456789") + _digits(rng, 6)
    text = rng.choice([number, _group(number, (3, 3, 4), "-"), _group(number, (3, 3, 4), " ")])
    return [(text, "phone", "service")]


def _cn_numeral_mobile(rng: random.Random, _fake: Any) -> list[Fragment]:
    number = rng.choice(_MOBILE_PREFIXES) + _digits(rng, 8)
    text = "".join(_CN_NUM[int(d)] for d in number)
    if rng.random() < 0.5:
        text = text.replace("一", "幺")
    return [(text, "phone", "mobile_chinese_numerals")]


def _resident_id(rng: random.Random, fake: Any) -> list[Fragment]:
    from stdnum.cn import ric  # noqa: PLC0415 -- optional, needed only to build a corpus

    if rng.random() < 0.1:
        born = f"{rng.randint(40, 84):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        number = rng.choice(_REGIONS) + born + _digits(rng, 3)
        return [(number, "id_card", "id15")]
    if rng.random() < 0.5:
        number = fake.ssn()
    else:
        born = f"{rng.randint(1950, 2006)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        first17 = rng.choice(_REGIONS) + born + _digits(rng, 3)
        number = first17 + ric.calc_check_digit(first17 + "0")  # stdnum drops the last digit
    style = rng.choice(["plain"] * 4 + ["684", "6444", "fw", "lower_x"])
    if style == "684":
        text = _group(number, (6, 8, 4), " ")
    elif style == "6444":
        text = _group(number, (6, 4, 4, 4), rng.choice([" ", "-"]))
    elif style == "fw":
        text = fullwidth(number)
    elif style == "lower_x":
        text = number.lower()
    else:
        text = number
    return [(text, "id_card", f"id18_{style}")]


def _bank_card(rng: random.Random, _fake: Any) -> list[Fragment]:
    from stdnum import luhn  # noqa: PLC0415 -- optional, needed only to build a corpus

    kind = rng.random()
    if kind < 0.7:
        body = rng.choice(_CARD_BINS) + _digits(rng, rng.choice((9, 12)))
    elif kind < 0.85:
        body = "4" + _digits(rng, 14)
    else:
        body = "5" + rng.choice("12345") + _digits(rng, 13)
    number = body + luhn.calc_check_digit(body)
    style = rng.choice(["plain", "plain", "groups", "groups", "dash", "fw"])
    if style == "groups":
        text = _group(number, (4, 4, 4, 4), " ")
    elif style == "dash":
        text = _group(number, (4, 4, 4, 4), "-")
    elif style == "fw":
        text = fullwidth(_group(number, (4, 4, 4, 4), " "))
    else:
        text = number
    return [(text, "bank_card", f"card_{style}")]


def _plate(rng: random.Random, _fake: Any) -> list[Fragment]:
    region, letter = rng.choice(_PLATE_REGIONS), rng.choice(_PLATE_LETTERS)
    kind = rng.random()
    if kind < 0.6:
        chars = [rng.choice("0123456789") for _ in range(5)]
        for _ in range(rng.choice((0, 0, 1, 2))):
            chars[rng.randrange(5)] = rng.choice(_PLATE_LETTERS)
        if sum(c.isdigit() for c in chars) < 3:
            chars[-1] = "8"
        body, form = "".join(chars), "plate"
    elif kind < 0.85:
        body, form = (
            rng.choice("DF") + rng.choice(_PLATE_LETTERS + "0123456789") + _digits(rng, 4),
            "plate_ev_small",
        )
    else:
        body, form = _digits(rng, 5) + rng.choice("DF"), "plate_ev_large"
    sep = rng.choice(["", "", "·", " ", "-", "•"])
    text = f"{region}{letter}{sep}{body}"
    if rng.random() < 0.1:
        text = text.lower()
    return [(text, "plate", form)]


def _email(rng: random.Random, fake: Any) -> list[Fragment]:
    if rng.random() < 0.4:
        text = f"{rng.randint(10000, 3999999999)}@{rng.choice(['qq.com', 'qq.com', 'foxmail.com'])}"
    else:
        domain = rng.choice(
            [
                "163.com",
                "126.com",
                "gmail.com",
                "outlook.com",
                "sina.com",
                "hotmail.com",
                "company.com.cn",
                "yeah.net",
            ]
        )
        joiner = rng.choice(["", ".", "_"])
        number = rng.choice(["", str(rng.randint(1, 99))])
        text = f"{fake.user_name()}{joiner}{number}@{domain}"
    style = rng.choice(["plain"] * 6 + ["fw_at", "upper"])
    if style == "fw_at":
        text = text.replace("@", "＠")
    elif style == "upper":
        text = text.upper()
    return [(text, "email", f"email_{style}")]


def _wechat(rng: random.Random, fake: Any) -> list[Fragment]:
    word = rng.choice(
        [
            "微信",
            "微信",
            "微信号",
            "vx",
            "VX",
            "Vx",
            "wx",
            "WX",
            "V信",
            "v信",
            "威信",
            "薇信",
            "加v",
            "+v",
            "wechat",
            "绿泡泡",
        ]
    )
    filler = rng.choice(["", "", ":", "：", " ", "：", "号：", "是", " : ", "号是"])
    if word.endswith("号") and filler.startswith("号"):
        filler = filler[1:]
    kind = rng.random()
    if kind < 0.55:
        head = rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        tail_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-"
        wid = (
            head
            + fake.user_name()[:8]
            + "".join(rng.choice(tail_chars) for _ in range(rng.randint(0, 6)))
        )
        wid = (wid + "x" * 6)[: max(6, min(len(wid), 20))]
    elif kind < 0.85:
        wid = rng.choice(_MOBILE_PREFIXES) + _digits(rng, 8)
    elif kind < 0.95:
        wid = str(rng.randint(10000, 3999999999))
    else:
        wid = "wxid_" + "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(14)
        )
    return [(word + filler, None, ""), (wid, "wechat_qq", "wechat")]


def _qq(rng: random.Random, _fake: Any) -> list[Fragment]:
    word = rng.choice(["QQ", "qq", "QQ号", "扣扣", "企鹅号", "Q号", "qq号码"])
    filler = rng.choice(["", ":", "：", " ", "是"])
    return [(word + filler, None, ""), (str(rng.randint(10000, 3999999999)), "wechat_qq", "qq")]


FORMS: dict[str, Form] = {
    "mobile": _mobile,
    "landline": _landline,
    "service": _service,
    "cn_numeral_mobile": _cn_numeral_mobile,
    "resident_id": _resident_id,
    "bank_card": _bank_card,
    "plate": _plate,
    "email": _email,
    "wechat": _wechat,
    "qq": _qq,
}
"""Every non-address, non-name generator, by name (addresses and names: `_corpus_places`)."""
