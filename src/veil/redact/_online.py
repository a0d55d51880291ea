"""Online contacts: e-mail addresses, and WeChat / QQ ids introduced by a context word.

A WeChat id (6 to 20 letters, digits, ``_`` or ``-``, starting with a letter)
or a QQ number (5 to 12 digits) is indistinguishable from other words and
numbers on its own, so those recognizers need the word that introduces it:
微信, vx, wx, 威信, 绿泡泡, QQ, 扣扣, 企鹅… The span is the id only; the context
word stays, so a note reads "加微信[微信]".
"""

from __future__ import annotations

import re

from veil.redact._model import EntityType
from veil.redact._patterns import AnchoredRecognizer, PatternRecognizer, compile_ascii

__all__ = ["email_recognizer", "qq_recognizer", "wechat_recognizer", "wxid_recognizer"]

# Free mail domains people type without the ".com" ("123456@qq").
_BARE_MAIL_HOSTS = "qq|163|126|sina|gmail|foxmail|outlook|hotmail|yahoo|139|sohu|aliyun|yeah|icloud"
_LOCAL_PART = r"[A-Za-z0-9._%+\-]"
_EMAIL = compile_ascii(
    rf"[A-Za-z0-9](?<!{_LOCAL_PART}[A-Za-z0-9]){_LOCAL_PART}{{0,63}}@"
    r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9])"
    rf"|(?i:{_BARE_MAIL_HOSTS})(?![A-Za-z0-9.@]))"
)


def email_recognizer() -> PatternRecognizer:
    """E-mail addresses, including ``123456@qq`` without its top-level domain."""
    return AnchoredRecognizer(
        name="email",
        entity_type=EntityType.EMAIL,
        pattern=_EMAIL,
        needs=frozenset("@"),
        anchor=compile_ascii("@"),
        before=_LOCAL_PART,
        lookback=64,
    )


def _cases(word: str) -> list[str]:
    """The ways people capitalise an ASCII word: vx, VX, Vx, vX; wechat, WeChat, WECHAT."""
    variants = {word, word.upper(), word.capitalize()}
    if len(word) == 2:
        variants.add(word[0] + word[1].upper())
    if word == "wechat":
        variants.add("WeChat")
    return sorted(variants)


def _literal_first(words: list[str]) -> str:
    """An alternation whose every branch opens with a literal (fast to scan for).

    An ASCII word must not be the tail of a longer word ("dvx"), so its
    lookbehind comes after its first character.
    """
    branches = []
    for word in words:
        head, tail = re.escape(word[0]), word[1:]
        guard = f"(?<![A-Za-z0-9_]{head})" if word[0].isascii() and word[0].isalpha() else ""
        branches.append(head + guard + tail)
    return "(?:" + "|".join(branches) + ")"


# "加vx: abc" is 加 + vx; "+vXahun0d" is +v + an id that starts with X. Only an
# x that is followed by something other than a letter is read as part of vx.
_NOT_VX = "(?!信|[xX](?![A-Za-z]))"
# Words that introduce an id, then the filler people put between word and id.
_WECHAT_WORDS = _literal_first(
    ["微信号", "微信", "威信", "薇信", "维信", "卫星号", "v信", "V信", "绿泡泡"]
    + [variant for word in ("vx", "wx", "weixin", "wechat", "wchat") for variant in _cases(word)]
)[:-1] + (
    # Regex branches, each opening with a literal.
    rf"|加\s?[vV]{_NOT_VX}|\+\s?[vV]{_NOT_VX}|➕\s?[vV]{_NOT_VX}|v(?=\s?:)|V(?=\s?:))"
)
_FILLER = r"(?:号码?|id|ID)?\s?(?:[:=]|是|为)?\s?(?:搜索?|加)?\s?"
# Official ids have 6 to 20 characters, but older and custom ones are shorter,
# so after a context word three will do, save a few words people write there.
_WECHAT = compile_ascii(
    rf"{_WECHAT_WORDS}{_FILLER}"
    r"(?P<id>(?!id_)(?!(?i:app|pay|web|ios|apk|api)(?![A-Za-z0-9_\-]))"
    r"[A-Za-z][A-Za-z0-9_\-]{2,19}|\d{5,11})(?![A-Za-z0-9_\-])"
)


def wechat_recognizer() -> PatternRecognizer:
    """WeChat ids introduced by a context word: 微信, vx, wx, 威信, 加v and the like."""
    return PatternRecognizer(
        name="wechat_id",
        entity_type=EntityType.WECHAT,
        pattern=_WECHAT,
        group="id",
        needs=frozenset("微威薇维卫绿vVwW"),
    )


_WXID = compile_ascii(r"w(?<![A-Za-z0-9_]w)xid_[A-Za-z0-9_\-]{4,30}")


def wxid_recognizer() -> PatternRecognizer:
    """Raw WeChat ``wxid_…`` ids, which need no context word."""
    return PatternRecognizer(
        name="wechat_wxid",
        entity_type=EntityType.WECHAT,
        pattern=_WXID,
        needs=frozenset("w"),
    )


_QQ = compile_ascii(
    _literal_first(
        [
            "扣扣",
            "企鹅号",
            "企鹅",
            "Q号",
            "q号",
            *(f"{word}(?![A-Za-z])" for word in ("QQ", "Qq", "qQ", "qq")),
        ]
    )
    + rf"{_FILLER}(?P<id>[1-9]\d{{4,11}})(?!\d)"
)


def qq_recognizer() -> PatternRecognizer:
    """QQ numbers introduced by QQ / 扣扣 / 企鹅 / Q号."""
    return PatternRecognizer(
        name="qq_number",
        entity_type=EntityType.QQ,
        pattern=_QQ,
        group="id",
        min_digits=5,
        needs=frozenset("qQ扣企"),
    )
