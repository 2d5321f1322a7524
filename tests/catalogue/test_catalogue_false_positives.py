"""八统一 comparisons that must not report a difference: an instant limit in two wordings, a stray space."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.catalogue.entry import CatalogueEntry
from gateway.catalogue.findings import find


def entry(level: str, division: str, code: str, **fields: Any) -> CatalogueEntry:
    base = {"catalog_code": "000130001000", "item_code": code, "level": level, "division": division,
            "name": "户口迁移", "item_type": "20", "departments": [{"name": "公安局", "code": "11370100004300853E"}]}
    return CatalogueEntry.model_validate({**base, **fields})


@pytest.mark.parametrize("county", ["0日", "0个自然日", "0个工作日", "当场", "即办件"])
def test_every_zero_day_limit_is_one_value(county: str) -> None:
    """Review r9a: 即办 (0 working days) and 0日 (0 calendar days) were reported as a 法定时限 conflict."""
    found = find([entry("1", "100000", "N1", legal_limit="即办"), entry("4", "370102", "C1", legal_limit=county)])
    assert [f for f in found if f.element == "legal_limit"] == []


def test_a_nonzero_limit_in_another_unit_still_differs() -> None:
    found = find([entry("1", "100000", "N1", legal_limit="0日"), entry("4", "370102", "C1", legal_limit="1日")])
    assert [f.kind for f in found if f.element == "legal_limit"] == ["time_limit_conflict"]


@pytest.mark.parametrize("county", ["农民专业 合作社", "农民专业　合作社", "农民 专业 合作社", " 农民专业合作社 "])
def test_whitespace_alone_never_makes_a_service_object_finding(county: str) -> None:
    """Review r9b: a stray space split a one-item 服务对象 list in two, and the audit reported it."""
    found = find([entry("1", "100000", "N1", service_objects="农民专业合作社"),
                  entry("4", "370102", "C1", service_objects=county)])
    assert [f for f in found if f.element == "service_object"] == []


def test_other_service_objects_still_differ() -> None:
    found = find([entry("1", "100000", "N1", service_objects="农民专业合作社"),
                  entry("4", "370102", "C1", service_objects="农民专业合作社 个体工商户")])
    assert [f.kind for f in found if f.element == "service_object"] == ["element_differs"]
    found = find([entry("1", "100000", "N1", service_objects="自然人、法人"),
                  entry("4", "370102", "C1", service_objects="法人 自然人")])  # order and separators: the same
    assert [f for f in found if f.element == "service_object"] == []


def _materials(*names: str) -> list[dict[str, Any]]:
    return [{"name": n} for n in names]


@pytest.mark.parametrize("county", [
    ("1、申请书", "2、居民身份证", "3、近期免冠照片"),
    ("（一）申请书", "（二）居民身份证", "（三）2寸照片"),
    ("①申请书", "②居民身份证", "③2寸照片"),
    ("1.申请书", "2. 居民身份证", "3．近期免冠照片"),
    ("1)申请书", "2）居民身份证", "一、近期免冠照片"),
])
def test_a_numbered_list_of_materials_is_the_same_list_unnumbered(county: tuple[str, ...]) -> None:
    """One level numbers its 申请材料 (1、申请书) and the other does not: every material differed, a false finding
    on every such item. The list number is no part of a material's name."""
    photo = "2寸照片" if "2寸照片" in county[2] else "近期免冠照片"
    found = find([entry("1", "100000", "N1", materials=_materials("申请书", "居民身份证", photo)),
                  entry("4", "370102", "C1", materials=_materials(*county))])
    assert [f for f in found if f.element == "materials"] == []


def test_a_number_that_is_part_of_a_materials_name_still_counts() -> None:
    for ours, theirs in (("1.5寸照片", "5寸照片"), ("1:500地形图", "500地形图"), ("2寸照片", "寸照片"),
                         ("一、二类医疗器械经营备案凭证", "二类医疗器械经营备案凭证"),  # class I and II, not II
                         ("二、三级医院出具的诊断证明", "三级医院出具的诊断证明"), ("1、2寸照片", "2寸照片")):
        found = find([entry("1", "100000", "N1", materials=_materials("申请书", ours)),
                      entry("4", "370102", "C1", materials=_materials("申请书", theirs))])
        assert [f.kind for f in found if f.element == "materials"] == ["element_differs"], (ours, theirs)
