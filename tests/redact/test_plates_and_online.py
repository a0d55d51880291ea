"""Known answers for licence plates, e-mail, WeChat and QQ ids."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.redact.conftest import Found

PLATE, EMAIL, WECHAT, QQ = "plate", "email", "wechat", "qq"

POSITIVES = [
    ("车牌京A12345", [("京A12345", PLATE)]),
    ("粤B·12345停路边", [("粤B·12345", PLATE)]),
    ("沪C 8H2M9", [("沪C 8H2M9", PLATE)]),
    ("苏E-12345", [("苏E-12345", PLATE)]),
    ("车是浙a12345", [("浙a12345", PLATE)]),
    ("新能源沪AD12345", [("沪AD12345", PLATE)]),
    ("京A12345D", [("京A12345D", PLATE)]),
    ("粤BF1234X".replace("X", "5"), [("粤BF12345", PLATE)]),
    ("粤B1234学", [("粤B1234学", PLATE)]),
    ("邮箱abc.def@163.com", [("abc.def@163.com", EMAIL)]),
    ("发票发到 123456789@qq.com 谢谢", [("123456789@qq.com", EMAIL)]),
    ("ＡＢＣ＠ＱＱ．ＣＯＭ", [("ＡＢＣ＠ＱＱ．ＣＯＭ", EMAIL)]),
    ("name+tag@gmail.com", [("name+tag@gmail.com", EMAIL)]),
    ("li.na@company.com.cn", [("li.na@company.com.cn", EMAIL)]),
    ("邮箱123456@qq", [("123456@qq", EMAIL)]),
    ("加我微信 zhangwei_1990", [("zhangwei_1990", WECHAT)]),
    ("微信号：wx_abc123", [("wx_abc123", WECHAT)]),
    ("vx：zw19900101", [("zw19900101", WECHAT)]),
    ("VX:abc-123456", [("abc-123456", WECHAT)]),
    ("加vx abc123", [("abc123", WECHAT)]),
    ("加vxabc123", [("xabc123", WECHAT)]),  # ambiguous: 加v + id, which covers the id
    ("有问题+vXahun0d", [("Xahun0d", WECHAT)]),
    ("有事加v Jvqiao", [("Jvqiao", WECHAT)]),
    ("威信 abcdef1", [("abcdef1", WECHAT)]),
    ("绿泡泡：hello_2024", [("hello_2024", WECHAT)]),
    ("WeChat: tom_lee88", [("tom_lee88", WECHAT)]),
    ("wxid_abcdefgh123", [("wxid_abcdefgh123", WECHAT)]),
    ("微信123456789", [("123456789", WECHAT)]),
    # The WeChat id is the phone number: one finding, typed as the phone.
    ("微信：13812345678", [("13812345678", "phone")]),
    ("QQ：123456789", [("123456789", QQ)]),
    ("qq12345678", [("12345678", QQ)]),
    ("扣扣 2345678", [("2345678", QQ)]),
    ("我的QQ号是 3456789012", [("3456789012", QQ)]),
    ("企鹅号:88886666", [("88886666", QQ)]),
]

NEGATIVES = [
    "微信支付的",
    "威信同号",
    "微信同手机号",
    "QQ音乐会员送的券",
    "vx同号",
    "京东买的",
    "沪上阿姨奶茶",
    "新A区",
    "@骑手 快点",
    "满20减3",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_plates_and_online_ids_are_found(
    found: Callable[[str], Found], text: str, expected: Found
) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_context_words_alone_are_not_ids(found: Callable[[str], Found], text: str) -> None:
    assert found(text) == []
