"""A record is any mapping and a list any sequence but text: the connector contract types a payload as
``Mapping[str, Any]``, and SOAP and XML clients give OrderedDicts (zeep's ``serialize_object``, xmltodict) and
tuples. The exact ``dict`` / ``list`` test stays first (the hot path); the abstract types are the fallback."""

from __future__ import annotations

import copy
from collections import OrderedDict
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from gateway.mapping.mapper import Mapper
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]

M = Mapper.from_text("""
system: t
version: "1"
fields:
  case_no: {path: id, required: true}
  applicant.name: a.name
  first_holder: q.0.xm
  events: {list: {from: steps, fields: {name: n, seq: {position: true}}}}
""", where="t.yaml")
PLAIN = {"id": "X1", "a": {"name": "张伟"}, "q": [{"xm": "李娜"}], "steps": [{"n": "受理"}, {"n": "办结"}]}
EXPECTED = {"case_no": "X1", "applicant": {"name": "张伟"}, "first_holder": "李娜",
            "events": [{"name": "受理", "seq": 1}, {"name": "办结", "seq": 2}]}


def odict(value: Any) -> Any:
    if isinstance(value, dict):
        return OrderedDict((k, odict(v)) for k, v in value.items())
    if isinstance(value, list):
        return [odict(v) for v in value]
    return value


def proxy(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: proxy(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(proxy(v) for v in value)
    return value


@pytest.mark.parametrize("shape", [odict, proxy], ids=["OrderedDict", "MappingProxyType-and-tuples"])
def test_any_mapping_is_a_record_and_any_sequence_a_list(shape: Any) -> None:
    assert M.map(shape(PLAIN)) == (EXPECTED, [])


def test_a_dict_record_with_a_tuple_of_steps_or_mapping_items() -> None:
    assert M.map({**PLAIN, "steps": tuple(PLAIN["steps"])}) == (EXPECTED, [])
    assert M.map({**PLAIN, "steps": [OrderedDict(s) for s in PLAIN["steps"]]}) == (EXPECTED, [])
    assert M.map({**PLAIN, "a": MappingProxyType({"name": "张伟"}), "q": ({"xm": "李娜"},)}) == (EXPECTED, [])


def test_what_is_no_object_is_still_refused() -> None:
    assert M.map(["id", "X1"])[1] == [("$", "mapping.shape", "expected an object, got ['id', 'X1']")]
    _, issues = M.map({**PLAIN, "steps": ["受理"]})
    assert [(f, r) for f, r, _ in issues] == [("events.0", "mapping.shape")]
    assert M.map({**PLAIN, "steps": "受理"})[1][0][:2] == ("events.0", "mapping.shape")  # text is no list


def test_the_shipped_mapping_reads_an_ordered_dict_as_the_dict() -> None:
    sd_civil = Mapper.from_file(REPO / "mappings" / "sd_civil.yaml")
    record = civil.generate(7, 1)
    plain = sd_civil.map(copy.deepcopy(record))
    assert plain[1] == []
    assert sd_civil.map(odict(record)) == plain
    assert sd_civil.map({**record, "steps": tuple(record["steps"])}) == plain
