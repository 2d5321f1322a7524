"""Source paths read the keys real systems send: a flat key holding a dot (``"sqr.xm"``, sent beside nested
objects by systems that flatten a form) is written ``sqr\\.xm``; a key in digits (a year, ``"007"``) of an
object is read as written — before, ``byYear.2024`` looked up the integer 2024 in the object and read nothing,
and no path could name a dotted key at all."""

from __future__ import annotations

import pickle

from gateway.mapping.compiler import Position, dig, path_keys
from gateway.mapping.mapper import Mapper
from gateway.mapping.usage import source_paths, unmapped_fields

M = Mapper.from_text(r"""
system: t
version: "1"
fields:
  case_no: 'sbbh\.id'
  applicant.name: 'sqr\.xm'
  applicant.phone: {path: 'sqr.lxfs'}
  dept_name: {path: byYear.2024.dept}
  item_name: {first: ['sx\.mc', items.007.mc]}
  remark: {when: {path: 'flag\.yj', in: ["1"]}, then: {const: 加急}, else: {path: items.0.mc}}
""", where="t.yaml")


def test_a_flat_key_with_a_dot_is_read_by_its_escaped_path_and_a_nested_one_by_its_plain_path() -> None:
    record = {"sbbh.id": "370102202400001", "sqr.xm": "张伟", "sqr": {"lxfs": "13800000000"},
              "byYear": {"2024": {"dept": "民政局"}}, "sx.mc": "婚姻登记", "flag.yj": "1"}
    canonical, issues = M.map(record)
    assert issues == []
    assert canonical["case_no"] == "370102202400001"
    assert canonical["applicant"] == {"name": "张伟", "phone": "13800000000"}
    assert canonical["dept_name"] == "民政局"
    assert canonical["item_name"] == "婚姻登记"
    assert canonical["remark"] == "加急"


def test_digits_are_a_list_position_in_a_list_and_the_key_as_written_in_an_object() -> None:
    as_object = {"items": {"007": {"mc": "出生登记"}, "7": {"mc": "不是这个"}}}
    assert M.map(as_object)[0]["item_name"] == "出生登记"
    as_list = {"items": [{"mc": f"第{n}项"} for n in range(8)]}
    canonical = M.map(as_list)[0]
    assert canonical["item_name"] == "第7项" and canonical["remark"] == "第0项"
    assert dig({"a": {"-1": "key"}}, path_keys("a.-1")) == "key"
    assert dig({"a": ["x", "last"]}, path_keys("a.-1")) == "last"
    assert dig({"a": {"2024": "y"}}, path_keys("a.2024.b")) is None  # through a value that is no object


def test_path_keys_split_only_at_unescaped_dots_and_positions_survive_pickling() -> None:
    assert path_keys(r"a\.b.c") == ("a.b", "c")
    assert path_keys("a.b.c") == ("a", "b", "c")
    keys = path_keys("items.007")
    assert keys == ("items", 7) and isinstance(keys[1], Position) and keys[1].text == "007"
    again = pickle.loads(pickle.dumps(keys))
    assert again[1].text == "007" and again == keys


def test_the_unmapped_fields_report_names_a_flat_dotted_key_as_a_mapping_would_and_counts_it_mapped() -> None:
    used = source_paths(M.spec["fields"])
    record = {"sqr.xm": "张伟", "sqr": {"lxfs": "1", "dz": "济南"}, "other.key": "x"}
    assert unmapped_fields([record], used) == [r"other\.key", "sqr.dz"]


def test_a_digit_key_the_mapping_reads_is_no_schema_drift() -> None:
    """Digits in a path read a list's position or an object's key: the drift report counted only the first
    reading, so every sync logged ``byYear.2024`` — which the mapping reads — as a field it does not read."""
    used = source_paths(M.spec["fields"])
    record = {"byYear": {"2024": {"dept": "民政局"}}, "items": {"007": {"mc": "出生登记"}}}
    assert unmapped_fields([record], used) == []
    as_list = {"items": [{"mc": "第0项"}], "other": [{"x": 1}]}
    assert unmapped_fields([as_list], used) == ["other[].x"]
