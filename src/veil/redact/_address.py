"""Places, roads and full addresses: province / city / district / town / road / place.

The grammar is suffix-driven, the way Chinese addresses are written, largest
unit first::

    [province][city][district][town][road + number][place][building][unit][floor][room]
     广东省    深圳市  南山区    粤海街道 科技南路18号  阳光花园  3栋     2单元   12楼   1203

Each recognizer finds one stretch of that chain (the building-to-room end is
in `_address_detail`); the redactor joins address findings that touch or are
separated only by spaces, so a full address comes out as one ``[地址]``.

Names of roads and places are open-ended (any characters before 路 or 小区), so
they are bounded by `_NAME_CHAR`: ideographs that are not function words or
verbs (的, 在, 送, 到…). That is what keeps "送到阳光花园" from swallowing "送到".
Bare city names are not redacted: a city alone identifies nobody.
"""

from __future__ import annotations

import re

from veil.redact._address_detail import AFTER_PLACE, CHAIN_START, JOIN
from veil.redact._gazetteer import CITIES, PROVINCE_SUFFIXES, PROVINCES
from veil.redact._model import EntityType
from veil.redact._patterns import (
    CN_DIGITS,
    AnchoredRecognizer,
    PatternRecognizer,
    cjk_except,
    compile_ascii,
    trie_pattern,
)

__all__ = [
    "admin_address_recognizer",
    "place_recognizer",
    "postcode_recognizer",
    "road_recognizer",
]

# Characters that do not occur inside road or place names but do occur right
# before them ("送到", "放在", "我家是", "地址"), plus the address markers
# themselves so a name cannot run into the next component. Verbs that do occur
# in names (放 in 解放路, 收 in 丰收路, 和 in 和平路) are not here: a stray
# "放" before a place name costs one character of survival, a missing 解 costs
# the address.
_STOP = (
    "的了在是我你他她它们请到送给把就还要去往从至住位打电话麻烦帮快点这个没吗呢吧啊哦嗯您拿取签"
    "寄叫找说看等让被着过得隔壁附近旁哪该此每址条栋单元室层号座幢"
)
_NAME_CHAR = cjk_except(_STOP)

_N = rf"(?:\d{{1,4}}|[{CN_DIGITS}]{{1,3}})"

# Places people live or stay in. Strong suffixes name a residence on their own;
# weak ones (广场, 酒店, 大学…) only count when a building or room follows, or
# right after a road number.
_STRONG_PLACE = (
    "小区|花园|家园|公寓|新村|大厦|公馆|华庭|庄园|山庄|宿舍|写字楼|名邸|嘉园|雅居|别墅|花苑|雅苑|苑"
)
_WEAK_PLACE = (
    "广场|中心|大楼|新城|城|湾|郡|府|园|院|酒店|宾馆|饭店|大学|学院|医院|学校|中学|小学|公司|国际|天地"
    "|时代|商场|商厦|馆|里|村|社区|之星|客栈|旅馆|民宿"
)
_PLACE_SUFFIX = f"(?:{_STRONG_PLACE}|{_WEAK_PLACE})"
_PHASE = rf"(?:[A-Za-z\d{CN_DIGITS}]期|[东西南北]区)?"
_PLACE_NAME = rf"(?:{_NAME_CHAR}{{2,8}}?{_PLACE_SUFFIX}{_PHASE})"

_ROAD_SUFFIX = "大道|大街|胡同|街道|路|街|巷|弄|道|镇|乡|村"
_ROAD_NAME = rf"(?:{_NAME_CHAR}{{1,8}}?(?:大道|大街|路|街|巷|胡同|弄)|{_NAME_CHAR}{{2,8}}?道)"
_ROAD_SECTION = rf"(?:[东西南北中]段|[{CN_DIGITS}\d]段)?"
_ROAD_NUMBER = rf"(?:{_N}\s?(?:弄|巷|支弄)\s?)?{_N}\s?(?:号院|号(?!楼)|弄|巷)"
_DISTRICT = rf"(?:{_NAME_CHAR}{{1,4}}?(?:新区|区|县|旗)(?![区县]))"
_TOWN = rf"(?:{_NAME_CHAR}{{1,5}}?(?:镇|乡|街道|村)(?:{_N}\s?组)?)"
_ROAD = compile_ascii(
    rf"(?:{_DISTRICT}{JOIN})?(?:{_TOWN}{JOIN})?{_ROAD_NAME}{_ROAD_SECTION}{JOIN}"
    rf"(?:{_ROAD_NUMBER}(?:{JOIN}{_PLACE_NAME})?|(?={JOIN}{CHAIN_START}))"
    rf"|{_TOWN}{JOIN}{_ROAD_NUMBER}"
)


def road_recognizer() -> AnchoredRecognizer:
    """A road and its number (``建国路88号``, ``中山北路1200弄5号``), maybe after a district."""
    return AnchoredRecognizer(
        name="cn_road",
        entity_type=EntityType.ADDRESS,
        pattern=_ROAD,
        needs=frozenset("路街道巷弄胡镇乡村"),
        # A road counts only with a number or a building after it: "人民路8号",
        # not "一路顺风" or "知道".
        anchor=compile_ascii(
            rf"(?:{_ROAD_SUFFIX})(?={_ROAD_SECTION}{JOIN}(?:[\d{CN_DIGITS}]|{CHAIN_START}))"
        ),
        before=rf"(?:{_NAME_CHAR}|[ \-/、·])",
        lookback=24,
        tries=25,
    )


_PLACE = compile_ascii(
    rf"{_NAME_CHAR}{{2,8}}?(?:(?:{_STRONG_PLACE}){_PHASE}(?:{JOIN}{AFTER_PLACE})?"
    rf"|(?:{_WEAK_PLACE}){_PHASE}{JOIN}{AFTER_PLACE})"
)
# Words that end like a place but name none ("这个小区", "隔壁小区" are caught by
# _STOP; these are whole words).
_NOT_PLACES = frozenset({"公园", "幼儿园", "花园里", "校园", "乐园", "动物园", "电影院", "剧院"})
# A verb or particle right before the suffix means the "name" is a phrase:
# "放小区门口", "第二份半价放小区".
_PHRASE_BEFORE_SUFFIX = compile_ascii(f"[放和也都来不别再先后有对边那整谢收份]{_PLACE_SUFFIX}")


def _names_a_place(match: re.Match[str]) -> bool:
    text = match.group(0)
    return text not in _NOT_PLACES and _PHRASE_BEFORE_SUFFIX.search(text) is None


# A weak suffix (城, 里, 中心…: 家里, 城里, 市中心) is a place only with a detail
# after it, so only a strong suffix or a following number keeps an anchor.
_AFTER_SUFFIX = "|".join(f"(?<={word})" for word in _STRONG_PLACE.split("|")) + (
    rf"|(?={JOIN}[0-9A-Za-z{CN_DIGITS}东西南北])"
)


def place_recognizer() -> AnchoredRecognizer:
    """Residential compounds and buildings: ``阳光花园``, ``华贸中心3座``, ``如家酒店1203``."""
    suffixes = f"{_STRONG_PLACE}|{_WEAK_PLACE}".split("|")
    return AnchoredRecognizer(
        name="cn_place",
        entity_type=EntityType.ADDRESS,
        pattern=_PLACE,
        validate=_names_a_place,
        needs=frozenset(word[0] for word in suffixes),
        anchor=compile_ascii(f"{trie_pattern(suffixes)}(?:{_AFTER_SUFFIX})"),
        before=_NAME_CHAR,
        lookback=8,
        # From the earliest start the lazy name reaches every suffix a later
        # start could; a second try covers a first match the check rejected.
        tries=2,
    )


# One trie for provinces and cities: the pattern must open with literals to be
# cheap to scan for, so which kind of name matched is decided afterwards.
_HEAD = trie_pattern({*PROVINCES, *CITIES})
# A city name right before 区 or 县 is a district's name (北京市朝阳区, not 朝阳市).
_CITY = trie_pattern(CITIES) + "(?:市|地区|盟|州)?(?![区县])"
_ADMIN = compile_ascii(
    rf"(?P<head>{_HEAD})(?P<suffix>{'|'.join(sorted(PROVINCE_SUFFIXES, key=len, reverse=True))}"
    r"|地区|盟|州)?"
    rf"(?:{JOIN}(?P<city>{_CITY}|{_NAME_CHAR}{{1,4}}?(?:市|州|盟|地区)))?"
    rf"(?:{JOIN}(?P<district>{_NAME_CHAR}{{1,4}}?(?:新区|区|县|旗|市)(?![区县市])))?"
    rf"(?:{JOIN}(?P<town>{_NAME_CHAR}{{1,5}}?(?:镇|乡|街道)))?"
    rf"(?:{JOIN}(?P<road>{_ROAD_NAME}{_ROAD_SECTION}(?:{JOIN}{_ROAD_NUMBER}"
    rf"(?:{JOIN}{_PLACE_NAME})?)?))?"
)
_ADMIN_PARTS = ("head", "city", "district", "town", "road")


def _two_components(match: re.Match[str]) -> bool:
    # "杭州" or "北京市" alone names a city, which identifies nobody; a city
    # with a district, or a province with a city, starts an address.
    return sum(match.group(part) is not None for part in _ADMIN_PARTS) >= 2


def admin_address_recognizer() -> PatternRecognizer:
    """Province / city / district / town / road, anchored on a known province or city."""
    return PatternRecognizer(
        name="cn_admin_address",
        entity_type=EntityType.ADDRESS,
        pattern=_ADMIN,
        validate=_two_components,
        # Two components means at least one suffix: rarer than a city's first character.
        needs=frozenset("省市区县旗州盟镇乡街路道巷弄胡"),
    )


# Six digits after an address marker ("…B座 674391") or after 邮编.
_POSTCODE = compile_ascii(r"[号座栋室楼院弄幢户层编]\s?:?\s?(?P<code>\d{6})(?!\d)")


def postcode_recognizer() -> PatternRecognizer:
    """Six-digit postcodes written after an address or after 邮编."""
    return PatternRecognizer(
        name="cn_postcode",
        entity_type=EntityType.ADDRESS,
        pattern=_POSTCODE,
        group="code",
        min_digits=6,
        needs=frozenset("号座栋室楼院弄幢户层编"),
    )
