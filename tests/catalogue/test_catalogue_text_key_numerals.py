"""The same article number in Chinese numerals and in digits is the same text; an invisible mark is no text at
all (review defect 11: 八统一 reported 第十二条 vs 第12条 and ``申请书\\ufe0f`` vs ``申请书`` as differences)."""

from __future__ import annotations

import pytest

from gateway.catalogue import text_key


@pytest.mark.parametrize(("a", "b"), [
    ("《条例》第十二条", "《条例》第12条"),
    ("依据《条例》第二十三条第一款第三项", "依据《条例》第23条第1款第3项"),
    ("一百零五", "105"),
    ("身份证复印件一份", "身份证复印件1份"),
    ("不超过三个工作日", "不超过3个工作日"),
    ("十至二十日", "10-20日"),
    ("申请书\ufe0f", "申请书"),
    ("营业执照\u200d副本\ufe00", "营业执照副本"),
    ("申请\U000e0100书", "申请书"),
])
def test_same_text_same_key(a: str, b: str) -> None:
    assert text_key(a) == text_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("第十二条", "第十三条"),
    ("第十、二条", "第十二条"),
    ("第十2条", "第102条"),  # a numeral next to digits keeps its boundary
    ("十.五", "10.5"),
    ("限额一千元", "限额一万元"),
])
def test_different_text_different_key(a: str, b: str) -> None:
    assert text_key(a) != text_key(b)
