"""Known answers for person names: context words, titles, compound surnames, and look-alikes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.redact.conftest import Found

N = "name"

POSITIVES = [
    ("收件人：张伟", "张伟"),
    ("收件人:张三", "张三"),
    ("收货人 李秀英", "李秀英"),
    ("联系人：欧阳娜娜", "欧阳娜娜"),
    ("收件人是盘艳", "盘艳"),  # a rare surname: the strong context is enough
    ("姓名：王建国", "王建国"),
    ("收件人: Li Na", "Li Na"),
    ("麻烦找张伟拿一下", "张伟"),
    ("找前台王女士", "王"),
    ("麻烦找前台王女士", "王"),
    ("交给李四就行", "李四"),
    ("我叫刘洋", "刘洋"),
    ("我是陈静，到了打电话", "陈静"),
    ("我老公张伟会来拿", "张伟"),
    ("张伟先生", "张伟"),
    ("陈小姐", "陈"),
    ("王先生您好", "王"),
    ("欧阳女士", "欧阳"),
    ("司马先生", "司马"),
    ("诸葛老师", "诸葛"),
    ("上官经理", "上官"),
    ("李总", "李"),
    ("谢师傅", "谢"),
    ("谢谢王师傅", "王"),
    ("我姓王", "王"),
    ("张伟收", "张伟"),
    ("张伟 13812345678", "张伟"),
    ("张伟，+86 138 1234 5678", "张伟"),
    ("13812345678 王小明", "王小明"),
    ("Mr. Wang", "Wang"),
    ("Ms Li Na", "Li Na"),
]

NEGATIVES = [
    "谢谢师傅",
    "辛苦了师傅",
    "感谢师傅",
    "外卖小哥辛苦了",
    "这位先生",
    "各位老师",
    "美女老板",
    "保安师傅",
    "门卫师傅",
    "司机师傅",
    "找不到地方",
    "找零钱",
    "找个地方放",
    "找前台",
    "我是业主",
    "我是新来的",
    "我是江苏人",
    "联系方式",
    "联系不上就放门口",
    "交给物业",
    "交给保安",
    "姓名写错了",
    "收货地址改一下",
    "请查收",
    "总共30元",
    "王者荣耀",
    "马上到",
    "高层别送错",
    "到了张伟 13812345678",  # "了张伟" may be a longer word: a name must stand alone
]


@pytest.mark.parametrize(("text", "name"), POSITIVES)
def test_names_in_context_are_found(found: Callable[[str], Found], text: str, name: str) -> None:
    assert [pair for pair in found(text) if pair[1] == N] == [(name, N)]


@pytest.mark.parametrize("text", NEGATIVES)
def test_name_look_alikes_survive(found: Callable[[str], Found], text: str) -> None:
    assert [pair for pair in found(text) if pair[1] == N] == []
