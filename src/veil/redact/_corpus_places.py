"""Generators of addresses and names for the evaluation corpus (an address grammar of its own).

The gazetteer here is deliberately separate from the recognizers' one: real
cities with real districts, so full addresses read like the ones customers
paste from a map app, plus road and compound names built from the stock of
words such names are made of.
"""

from __future__ import annotations

import random
from typing import Any

from veil.redact._corpus_forms import Form, Fragment
from veil.redact._patterns import words

__all__ = ["PLACE_FORMS"]

# city -> (province as written, districts); municipalities have no province.
_CITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "北京": ("", ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "昌平区", "通州区", "大兴区")),
    "上海": (
        "",
        ("浦东新区", "徐汇区", "静安区", "黄浦区", "长宁区", "闵行区", "宝山区", "杨浦区"),
    ),
    "天津": ("", ("和平区", "南开区", "河西区", "河东区", "滨海新区")),
    "重庆": ("", ("渝中区", "江北区", "南岸区", "渝北区", "沙坪坝区", "九龙坡区")),
    "广州": ("广东", ("天河区", "越秀区", "海珠区", "白云区", "番禺区", "黄埔区")),
    "深圳": ("广东", ("南山区", "福田区", "罗湖区", "宝安区", "龙岗区", "龙华区")),
    "杭州": ("浙江", ("西湖区", "上城区", "拱墅区", "滨江区", "余杭区", "萧山区")),
    "湖州": ("浙江", ("吴兴区", "安吉县", "德清县")),
    "南京": ("江苏", ("鼓楼区", "玄武区", "秦淮区", "建邺区", "江宁区", "栖霞区")),
    "苏州": ("江苏", ("姑苏区", "吴中区", "相城区", "吴江区", "工业园区")),
    "成都": ("四川", ("武侯区", "锦江区", "青羊区", "金牛区", "成华区", "双流区")),
    "武汉": ("湖北", ("江汉区", "武昌区", "洪山区", "江岸区", "汉阳区")),
    "西安": ("陕西", ("雁塔区", "碑林区", "未央区", "莲湖区", "长安区")),
    "长沙": ("湖南", ("岳麓区", "芙蓉区", "天心区", "开福区", "雨花区")),
    "郑州": ("河南", ("金水区", "二七区", "中原区", "惠济区")),
    "济南": ("山东", ("历下区", "市中区", "槐荫区", "天桥区")),
    "青岛": ("山东", ("市南区", "市北区", "崂山区", "黄岛区", "李沧区")),
    "厦门": ("福建", ("思明区", "湖里区", "集美区", "海沧区")),
    "昆明": ("云南", ("五华区", "盘龙区", "官渡区", "西山区")),
    "合肥": ("安徽", ("蜀山区", "包河区", "庐阳区", "瑶海区")),
    "沈阳": ("辽宁", ("和平区", "沈河区", "皇姑区", "铁西区", "浑南区")),
    "哈尔滨": ("黑龙江", ("南岗区", "道里区", "香坊区")),
    "南宁": ("广西壮族自治区", ("青秀区", "兴宁区", "西乡塘区")),
    "乌鲁木齐": ("新疆维吾尔自治区", ("天山区", "沙依巴克区", "新市区")),
}
_TOWNS = ("良渚街道", "周庄镇", "递铺镇", "五常街道", "张江镇", "望京街道", "松山湖镇", "龙华街道")
_ROADS = words(
    """
    人民路 中山路 解放路 建设路 和平路 胜利路 新华路 文化路 长江路 黄河路 学府路 科技路 创业路
    建国路 文三路 天府大道 世纪大道 滨江大道 南京东路 淮海中路 中山北路 科技南路 深南大道 北京路
    延安路 东风路 青年路 光明路 工业大道 迎宾大道 幸福街 民主街 西大街 东大街 太平巷 石榴巷
    学院路 花园路 五四路 环城东路 二环路 知春路 望京街 金融街 丰收路 振兴路 莲花路 朝阳路
    """
)
_PLACE_HEADS = words(
    """
    阳光 幸福 金色 万科 保利 恒大 碧桂 绿地 中海 华润 龙湖 融创 世纪 锦绣 和谐 春天 东方 书香
    翠湖 滨江 紫荆 丽景 金桥 明珠 御景 星河 天悦 富力 远洋 招商 华发 新城 泰禾 金域 蓝湾
    """
)
_PLACE_TAILS_STRONG = words(
    """
    花园 小区 家园 公寓 新村 苑 名邸 华庭 嘉园 大厦 山庄
    """
)
_PLACE_TAILS_WEAK = ("中心", "广场", "国际", "城", "府", "湾", "郡", "天地")
_HOTELS = ("如家酒店", "汉庭酒店", "全季酒店", "亚朵酒店", "锦江之星", "维也纳酒店", "七天酒店")
_CN = "零一二三四五六七八九"
_COMPOUND = words(
    """
    欧阳 司马 诸葛 上官 东方 皇甫 慕容 司徒 夏侯 令狐 尉迟 公孙
    """
)


def _cn_number(value: int) -> str:
    if value < 10:
        return _CN[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else _CN[tens]) + "十" + ("" if ones == 0 else _CN[ones])


def _room(rng: random.Random) -> str:
    return f"{rng.randint(1, 33)}{rng.randint(1, 12):02d}"


# Detail forms: (form, context before, gold, context after), as format strings
# over the values drawn in `_detail_text`.
_DETAIL_FORMS: tuple[tuple[str, str, str, str], ...] = (
    ("bld_unit_room", "", "{b}号楼{gap}{u}单元{gap}{room}", ""),
    ("dong_room", "", "{b}栋{gap}{room}", ""),
    ("dong_unit_room", "", "{b}{dong}{u}单元{room}{shi}", ""),
    ("zuo", "", "{letter}座{gap}{zuo_tail}", ""),
    ("bld_floor", "", "{b}号楼{f}{ceng}", ""),
    ("floor", "", "{f}{ceng}", ""),
    ("dashed", "", "{b}-{u}-{room}", ""),
    ("dashed2", "", "{b}-{room}{shi_hao}", ""),
    ("room_context", "{room_word}{room_sep}", "{room}", ""),
    ("room_marked", "", "{room}{room_mark}", ""),
    ("room_door", "", "{room}", "{door}"),
    ("cn_numerals", "", "{cn_b}号楼{cn_u}单元{room}", ""),
    ("yard", "", "{b}号院{yard}号楼{room}", ""),
    ("room_en", "{room_en}", "{room}", ""),
    ("full_detail", "", "{b}栋{u}单元{f}楼{room}", ""),
    ("hao_unit", "", "{b}号{u}单元{room}", ""),
    ("zone", "", "{letter}区{b}栋{room}", ""),
    ("cn_floor", "", "{cn_f}楼", ""),
    ("zhuang", "", "{b}幢{room}室", ""),
)
# The forms that read naturally at the end of a full address.
_TRAILING_DETAILS = tuple(
    index
    for index, (_, before, _, after) in enumerate(_DETAIL_FORMS)
    if not before and not after and index not in (5, 16, 17)
)


def _detail_text(rng: random.Random, kinds: tuple[int, ...] | None = None) -> list[Fragment]:
    """One building / unit / floor / room detail, as fragments (context is not gold)."""
    b, u, f, room = rng.randint(1, 30), rng.randint(1, 6), rng.randint(1, 33), _room(rng)
    values = {
        "b": b,
        "u": u,
        "f": f,
        "room": room,
        "letter": rng.choice("ABCDEF"),
        "gap": rng.choice(["", "", "", " "]),
        "dong": rng.choice("栋幢"),
        "shi": rng.choice(["室", ""]),
        "zuo_tail": rng.choice([room, room + "室", f"{f}楼", f"{f}层"]),
        "ceng": rng.choice("层楼"),
        "shi_hao": rng.choice("室号"),
        "room_word": rng.choice(["房间号", "房间号", "房号", "房间"]),
        "room_sep": rng.choice(["", " ", "：", ":", "是"]),
        "room_mark": rng.choice(["房", "房间", "室", "号房"]),
        "door": rng.choice(["门口", "门前", "门外"]),
        "cn_b": _cn_number(b),
        "cn_u": _cn_number(u),
        "cn_f": _cn_number(f),
        "yard": rng.randint(1, 12),
        "room_en": rng.choice(["Room ", "room ", "RM"]),
    }
    form, before, gold, after = _DETAIL_FORMS[
        rng.choice(kinds) if kinds else rng.randrange(len(_DETAIL_FORMS))
    ]
    fragments: list[Fragment] = [
        (before.format(**values), None, ""),
        (gold.format(**values), "address_detail", form),
        (after.format(**values), None, ""),
    ]
    return [fragment for fragment in fragments if fragment[0]]


def _detail(rng: random.Random, _fake: Any) -> list[Fragment]:
    return _detail_text(rng)


def _place_name(rng: random.Random, *, strong: bool) -> str:
    tails = _PLACE_TAILS_STRONG if strong else _PLACE_TAILS_STRONG + _PLACE_TAILS_WEAK
    name = rng.choice(_PLACE_HEADS) + rng.choice(tails)
    if rng.random() < 0.15:
        name += rng.choice(["一期", "二期", "东区", "北区"])
    return name


def _road_with_number(rng: random.Random) -> str:
    road = rng.choice(_ROADS)
    if rng.random() < 0.1:
        return f"{road}{rng.randint(100, 1500)}弄{rng.randint(1, 60)}号"
    return f"{road}{rng.randint(1, 999)}号{rng.choice(['', '', '', '院'])}"


def _full_address(rng: random.Random, _fake: Any) -> list[Fragment]:
    """A full address with a random subset of components, largest first."""
    city = rng.choice(list(_CITIES))
    province, districts = _CITIES[city]
    sep = rng.choice(["", "", "", " "])
    parts: list[str] = []
    start = rng.randrange(4)  # 0 province, 1 city, 2 district, 3 road
    if start == 0:
        if province:
            parts.append(province + ("" if "自治区" in province else rng.choice(["省", "省", ""])))
            parts.append(city + rng.choice(["市", "市", ""]))
        else:
            parts.append(city + "市")
    if start == 1:
        parts.append(city + rng.choice(["市", "市", ""]))
    if start <= 2:
        parts.append(rng.choice(districts))
        if rng.random() < 0.15:
            parts.append(rng.choice(_TOWNS))
    parts.append(_road_with_number(rng))
    form = ("province", "city", "district", "road")[start]
    ending = rng.random()
    if ending < 0.4:
        parts.append(_place_name(rng, strong=False))
    if ending < 0.7:
        parts.append(_detail_text(rng, _TRAILING_DETAILS)[0][0])
    text = sep.join(parts)
    return [(text, "address", f"address_from_{form}")]


def _place_with_detail(rng: random.Random, _fake: Any) -> list[Fragment]:
    if rng.random() < 0.3:
        name = rng.choice(_HOTELS)
        room = _room(rng)
        return [
            (
                name + rng.choice(["", " "]) + room + rng.choice(["", "房", "房间"]),
                "address",
                "hotel_room",
            )
        ]
    name = _place_name(rng, strong=rng.random() < 0.5)
    text = name + rng.choice(["", "", " "]) + _detail_text(rng, _TRAILING_DETAILS)[0][0]
    return [(text, "address", "place_detail")]


def _compound_name(rng: random.Random, fake: Any) -> str:
    return rng.choice(_COMPOUND) + str(fake.first_name())


def _name(rng: random.Random, fake: Any) -> list[Fragment]:
    full = _compound_name(rng, fake) if rng.random() < 0.12 else fake.name()
    surname = full[:2] if full[:2] in _COMPOUND else full[0]
    kind = rng.randrange(6)
    if kind == 0:
        word = rng.choice(["收件人", "收货人", "联系人", "姓名", "收件人是", "收货人"])
        filler = rng.choice(["", "：", ":", " ", "： "])
        return [(word + filler, None, ""), (full, "name", "strong_context")]
    if kind == 1:
        word = rng.choice(["找", "麻烦找", "交给", "我叫", "我是", "联系", "请找"])
        return [(word, None, ""), (full, "name", "weak_context")]
    if kind in (2, 3):
        title = rng.choice(["先生", "女士", "女士", "小姐", "老师", "师傅", "经理", "总", "阿姨"])
        return [(surname, "name", "surname_title"), (title, None, "")]
    if kind == 4:
        return [(full, "name", "full_title"), (rng.choice(["先生", "女士", "小姐"]), None, "")]
    return [("我姓", None, ""), (surname, "name", "surname_only")]


PLACE_FORMS: dict[str, Form] = {
    "detail": _detail,
    "full_address": _full_address,
    "place_detail": _place_with_detail,
    "name": _name,
}
"""Address and name generators, by name."""
