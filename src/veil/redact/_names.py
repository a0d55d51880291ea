"""Person names, found by the words around them: 收件人, 联系人, 找…, …先生/女士.

A Chinese name is a surname (one character, or two for 复姓 such as 欧阳) and
a given name of one or two characters. Without context any two characters
could be a name, so this recognizer only looks:

* after an introducing word: 收件人/收货人/联系人/姓名 (strong), 找/我叫/我是/交给/
  联系 (weaker, so the surname must be on the list);
* before a title: 先生, 女士, 小姐, 老师, 师傅, 经理, 总… (the name may be the
  surname alone: "王女士");
* in "我姓王".

The given name is bounded by `_GIVEN_CHAR`, ideographs that are not function
words, verbs or titles, so "找张伟拿钥匙" yields "张伟", not "张伟拿".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from veil.redact._gazetteer import PROVINCES
from veil.redact._model import EntityType, Span
from veil.redact._patterns import (
    CJK,
    AnchoredRecognizer,
    PatternRecognizer,
    cjk_except,
    compile_ascii,
    digit_count,
    trie_pattern,
    words,
)

__all__ = [
    "COMPOUND_SURNAMES",
    "SINGLE_SURNAMES",
    "english_title_name_recognizer",
    "name_beside_phone_recognizer",
    "name_recognizer",
    "titled_name_recognizer",
]

COMPOUND_SURNAMES: tuple[str, ...] = tuple(
    words(
        """
        欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 独孤
        南宫 西门 百里 呼延 钟离 宗政 濮阳 澹台 公冶 太叔 申屠 闻人 赫连 万俟 司空 第五 淳于
        单于 拓跋 左丘 东郭 呼延 羊舌 微生 梁丘 公羊 仲孙 叔孙 乐正 壤驷 谷梁
        """
    )
)

# Common single-character surnames. Left out on purpose: characters that are
# far more often a word right before a title or after 找/我是 (安 in 保安师傅,
# 卫 in 门卫师傅, 哈 in 哈师傅, 门, 位, 业, 好, 前, 下, 上, 大, 小, 老).
SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦"
    "俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房"
    "滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席米柏宗瞿桂全佟应臧闵"
    "苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝封谈匡鞠惠荆乐冀郁胥南班储"
    "原栗燕楚鄢劳谌奚皮粟冼蔺满闻厉伊仝郜阚权强帅屠豆朴盖练廉禹井祖漆巴丰支卿狄平计索宣晋相初"
    "云容敬扈晁芮都普阙浦戈伏鹿薄邸雍辜羊乌母裘亓修邰赫杭况宿鲜印逯隆茹诸战慕危玉银亢嵇湛宾戎"
    "勾茅利於呼居揭干但尉冶斯束檀衣信展阴昝智幸奉植衡富尧闭由萧赖洪官"
)

# Characters that end a given name: function words, verbs, numerals and the
# first characters of titles, which follow a name but never belong to it.
_NOT_GIVEN = (
    "的了在是我你他她它们请放到送给把和跟就都也还要去来往从至住位打电话麻烦谢帮快点这那个有没"
    "不别再先后候吗呢吧啊哦嗯您拿取收签寄叫找说看等让被对着过得门口楼下上单元室层号座栋女士姐"
    "师傅总经理哥阿姨叔同学医板外卖餐饭家里前台两多少几今昨天早晚午候"
    "电联系人姓名称呼手机微信放置处址码会能可用做好"
)
_GIVEN_CHAR = cjk_except(_NOT_GIVEN)
_SURNAME = f"(?:{trie_pattern(COMPOUND_SURNAMES)}|[{SINGLE_SURNAMES}])"

# Phrases that end in a surname character right before a title ("谢谢师傅",
# "感谢师傅", "已付老板"): the character is part of a word, not a surname.
_NOT_BEFORE_SURNAME = r"(?:(?![谢付])|(?<![谢感多答酬致])(?!付)|(?<![已支预应实先交])(?!谢))"

_STRONG_CONTEXT = words(
    """
        收件人 收货人 联系人 寄件人 取件人 订餐人 签收人 收件 收货 姓名 名字 称呼
        """
)
_WEAK_CONTEXT = words(
    """
    找一下 找 我叫 名叫 我是 本人是 交给 转交给 转交 联系 打给 告诉 老公 老婆 爱人 媳妇 我妈
    我爸 同事 朋友 室友 男朋友 女朋友 给 送给 转给 带给
    """
)
_CONTEXT_WORDS = sorted([*_STRONG_CONTEXT, *_WEAK_CONTEXT, "姓"], key=len, reverse=True)
_STRONG = frozenset(_STRONG_CONTEXT)
_CONTEXT_FILLER = r"\s?[:=]{0,2}\s?(?:是|为|叫)?\s?[:=]?\s?"

# The pattern opens with the context words as literals (fast to scan for);
# which words allow which name shapes is decided in `_ContextNameRecognizer`.
_CONTEXT_NAME = compile_ascii(
    rf"(?P<context>{'|'.join(word if word != '姓' else '姓(?!名)' for word in _CONTEXT_WORDS)})"
    rf"{_CONTEXT_FILLER}(?:(?P<known>{_SURNAME}{_GIVEN_CHAR}{{1,2}})"
    rf"|(?P<free>{_GIVEN_CHAR}{{2,3}})(?![{CJK}])"
    rf"|(?P<latin>[A-Z][a-z]+(?: [A-Z][a-z]+)?)(?![A-Za-z])"
    rf"|(?P<bare>{_SURNAME}))"
)
_SURNAME_AT = compile_ascii(_SURNAME)

# Two-character words that look like a surname plus a given name.
_NOT_NAMES = frozenset(
    words(
        """
        钱包 高层 高楼 马上 周末 周边 白天 黄色 江湖 金额 方便 方向 方式 方法 常规 平时 安全
        明白 严重 司机 文件 信息 管理 和平 时间 自己 保安 物业 门卫 家人 老公 老婆 朋友 同事
        室友 孩子 宝宝 快递 骑手 商家 客服 本人 邻居 房东 单位 公司 学校 程序 游戏 毛巾 包装
        包子 包裹 蒋介石 地址 电话 号码 信息 方式 写错 没有 不在 上班 下班 开会 在家 出门 外地
        本地 江湖
        """
    )
    + PROVINCES
)


class _ContextNameRecognizer(PatternRecognizer):
    """Names after a context word; how sure the word is decides which names count.

    After 收件人 / 联系人 (strong) any two or three name characters are a name,
    surname or not; after 找 / 我是 (weak) the name must open with a listed
    surname; after 姓 only the surname itself is reported.
    """

    def _accepted(self, matches: Iterable[re.Match[str]]) -> list[Span]:
        spans: list[Span] = []
        for match in matches:
            context = match.group("context")
            if context == "姓":
                start = max(match.start(group) for group in ("known", "free", "bare"))
                surname = _SURNAME_AT.match(match.string, start) if start >= 0 else None
                if surname is not None:
                    spans.append(surname.span())
                continue
            group = "known" if match.group("known") else None
            if context in _STRONG and group is None:
                group = "free" if match.group("free") else "latin" if match.group("latin") else None
            if group is not None and match.group(group) not in _NOT_NAMES:
                spans.append(match.span(group))
        return spans


def name_recognizer() -> PatternRecognizer:
    """Chinese person names introduced by a context word: 收件人 / 联系人 / 找 / 我叫 / 姓."""
    return _ContextNameRecognizer(
        name="cn_person_name",
        entity_type=EntityType.NAME,
        pattern=_CONTEXT_NAME,
        needs=frozenset(word[0] for word in _CONTEXT_WORDS),
    )


_TITLES = (
    "先生|女士|小姐|老师|师傅|阿姨|叔叔|大爷|大妈|经理|总(?![共是之算部台机站监])|"
    "医生|同学|老板|律师"
    "|警官|主任|姐姐|哥哥|姐(?!妹)|哥(?!们)|工(?![作资人地厂具程])|教授|博士|护士|太太|夫人"
)
# "张伟收" (to be received by 张伟) closes many a pasted address; it needs the
# full name, since "请查收" is not 查 receiving anything.
_RECEIVES = rf"收(?![{CJK}])"
_TITLED_NAME = compile_ascii(
    rf"{_NOT_BEFORE_SURNAME}(?:{_SURNAME}{_GIVEN_CHAR}{{0,2}}?(?={_TITLES})"
    rf"|{_SURNAME}{_GIVEN_CHAR}{{1,2}}?(?={_RECEIVES}))"
)


def titled_name_recognizer() -> AnchoredRecognizer:
    """A surname, perhaps with a given name, right before a title: 王女士, 张伟先生, 欧阳总."""
    return AnchoredRecognizer(
        name="cn_person_name_titled",
        entity_type=EntityType.NAME,
        pattern=_TITLED_NAME,
        validate=lambda match: match.group() not in _NOT_NAMES,
        needs=frozenset("收" + "".join(title[0] for title in _TITLES.split("|"))),
        anchor=compile_ascii(f"{_TITLES}|{_RECEIVES}"),
        before=f"[{CJK}]",
        lookback=4,
    )


# A pasted shipping label puts the name right next to the phone number:
# "张伟 13812345678", "13812345678，张伟". The number is the context, so it is
# found first (it is rare) and only the few characters around it are examined.
# The name must stand alone (not the tail of a longer run of ideographs) and be
# a full name.
_MOBILE_HERE = compile_ascii(r"1(?<!\d1)[3-9](?:[\s\-]?\d){9}(?!\d)")
_NAME_BEFORE = compile_ascii(
    rf"(?<![{CJK}])(?P<name>{_SURNAME}{_GIVEN_CHAR}{{1,2}})[\s,:;/|]{{0,2}}"
    r"(?:(?:\+|00)?86[\s\-]?|\(\+?86\)\s?)?$"
)
_NAME_AFTER = compile_ascii(rf"[\s,:;/|]{{1,2}}(?P<name>{_SURNAME}{_GIVEN_CHAR}{{1,2}})(?![{CJK}])")
_SIDE = 11


@dataclass(frozen=True)
class _NameBesidePhoneRecognizer:
    name: str = "cn_person_name_beside_phone"
    entity_type: EntityType = EntityType.NAME
    min_digits: int = 11
    needs: frozenset[str] = frozenset("1")  # the mobile number it stands beside

    def find(self, text: str) -> list[Span]:
        """Return the names standing right before or after a mobile number."""
        return self.scan(text) if digit_count(text) >= self.min_digits else []

    def scan(self, text: str) -> list[Span]:
        """Like `find`, without the digit-count pre-check (see `Prechecked`)."""
        spans: list[Span] = []
        for phone in _MOBILE_HERE.finditer(text):
            start, end = phone.span()
            before = _NAME_BEFORE.search(text, max(0, start - _SIDE), start)
            if before is not None and before.group("name") not in _NOT_NAMES:
                spans.append(before.span("name"))
            after = _NAME_AFTER.match(text, end)
            if after is not None and after.group("name") not in _NOT_NAMES:
                spans.append(after.span("name"))
        return spans


def name_beside_phone_recognizer() -> _NameBesidePhoneRecognizer:
    """A full name standing right before or after a mobile number: ``张伟 13812345678``."""
    return _NameBesidePhoneRecognizer()


_EN_TITLES = ["Mr", "Mrs", "Ms", "Miss", "Dr", "Mx"]
_EN_LABELS = [
    variant
    for word in ("recipient", "contact", "name", "attn")
    for variant in (word, word.capitalize(), word.upper())
]
_ENGLISH_NAME = r"[A-Z][a-z]+(?:\s[A-Z][a-z]+)?(?![A-Za-z])"
_ENGLISH_TITLED = compile_ascii(
    "(?:"
    + "|".join(f"{word[0]}(?<![A-Za-z0-9_]{word[0]}){word[1:]}\\.?\\s" for word in _EN_TITLES)
    + "|"
    + "|".join(f"{word[0]}(?<![A-Za-z0-9_]{word[0]}){word[1:]}\\s?:\\s?" for word in _EN_LABELS)
    + rf")(?P<name>{_ENGLISH_NAME})"
)


def english_title_name_recognizer() -> PatternRecognizer:
    """Names after an English title or field label: ``Mr. Wang``, ``Recipient: Li Na``."""
    return PatternRecognizer(
        name="en_person_name",
        entity_type=EntityType.NAME,
        pattern=_ENGLISH_TITLED,
        group="name",
        needs=frozenset("MDrRcCnNaA"),
    )
