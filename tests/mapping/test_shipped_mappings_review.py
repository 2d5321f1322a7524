"""The shipped mappings against the review's findings: names keep the spaces that are part of them, a voided
or deleted civil case survives being written out and read back, and no canonical result is pushed without its
code — a result a system has no code for is refused by name, never dropped."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.mapping.mapper import Mapper
from gateway.models import Case, CaseResult, CaseStatus
from gateway.models.hashing import case_document
from sandbox import civil

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
CASE_MAPPINGS = sorted(p.stem for p in MAPPINGS.glob("*.yaml"))


@cache
def _shipped(name: str) -> Mapper:
    return Mapper.from_file(MAPPINGS / f"{name}.yaml", model=Case)


def _name_source(mapper: Mapper, target: str = "applicant.name") -> str:
    spec = mapper.spec["fields"][target]
    return spec if isinstance(spec, str) else spec["path"]


def _put_path(path: str, value: str) -> dict[str, Any]:
    keys = path.split(".")
    if len(keys) == 3 and keys[1].isdigit():  # qlr.0.xm
        return {keys[0]: [{} for _ in range(int(keys[1]))] + [{keys[2]: value}]}
    record: dict[str, Any] = {}
    node = record
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return record


latin_words = st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.,()", min_size=1,
                               max_size=8), min_size=2, max_size=4)
han_words = st.lists(st.text(alphabet="张三李四王五阿卜杜热合曼·（）有限公司", min_size=1, max_size=4), min_size=2,
                     max_size=4)
gaps = st.text(alphabet=" \u3000\t", min_size=1, max_size=3)


@pytest.mark.parametrize("name", CASE_MAPPINGS)
@settings(max_examples=25, deadline=None)
@given(latin=latin_words, han=han_words, gap=gaps)
def test_names_keep_the_spaces_that_part_words_and_lose_the_padding_between_han(name: str, latin: list[str],
                                                                               han: list[str], gap: str) -> None:
    mapper = _shipped(name)
    source = _name_source(mapper)
    out, _ = mapper.map(_put_path(source, f"{gap}{gap.join(latin)}{gap}"))
    assert out["applicant"]["name"] == " ".join(latin)  # was JOHNSMITH: every space gone
    out, _ = mapper.map(_put_path(source, gap.join(han)))
    assert out["applicant"]["name"] == "".join(han)


def test_certificate_holder_names_keep_their_spaces() -> None:
    mapper = Mapper.from_file(MAPPINGS / "certificates" / "sd_licences.yaml")
    out, _ = mapper.map({"czzt": [{"mc": " IBM (China)  Co., Ltd. "}, {"mc": "阿卜杜　热合曼"}]})
    assert [h["name"] for h in out["holders"]] == ["IBM (China) Co., Ltd.", "阿卜杜热合曼"]


def _civil_case(mapper: Mapper, raw: dict[str, Any]) -> Case:
    mapped, issues = mapper.map(raw)
    assert issues == []
    result = mapper.validate([mapped], ["sd_civil:1"])
    assert not result.rejected, result.rejected
    return result.valid[0][1]


def _find(pred) -> dict[str, Any]:
    for i in range(5000):
        raw = civil.generate(7, i)
        if pred(raw):
            return raw
    raise AssertionError("no such sandbox record")


@pytest.mark.parametrize(("label", "pred"), [
    ("voided", lambda r: r.get("result") == "2" and r.get("isDeleted") == 0),
    ("deleted by result", lambda r: r.get("result") == "3" and r.get("isDeleted") == 0),
    ("soft-deleted", lambda r: r.get("isDeleted") == 1),
    ("issued", lambda r: r.get("result") == "0" and r.get("isDeleted") == 0),
])
def test_a_civil_tombstone_written_out_and_read_back_is_the_same_case(label: str, pred) -> None:
    mapper = Mapper.from_file(MAPPINGS / "sd_civil.yaml", model=Case)
    raw = _find(pred)
    case = _civil_case(mapper, raw)
    document, digest = case_document(case)
    out = mapper.outbound(json.loads(document), version=2)
    back = dict(raw, **{k: v for k, v in out.items() if k in raw and not isinstance(v, dict)})
    again = _civil_case(mapper, back)
    assert (again.status, again.result, again.deleted) == (case.status, case.result, case.deleted)
    assert case_document(again)[1] == digest  # a voided case came back deleted, with a new hash


RESULT_FIELD = {"sd_civil": "result", "sd_market": "BJJG", "jn_estate": "bjjg"}
NO_CODE_NEEDED = {("jn_estate", "voided"), ("jn_estate", "deleted")}
"""The registry has no result code for a void or a deletion: those pushes are deletes (operation D)."""


@pytest.mark.parametrize("system", sorted(RESULT_FIELD))
@pytest.mark.parametrize("result", [r.value for r in CaseResult])
def test_every_canonical_result_is_pushed_with_a_code_or_refused_by_name(system: str, result: str) -> None:
    mapper = Mapper.from_file(MAPPINGS / f"{system}.yaml", model=Case)
    field = RESULT_FIELD[system]
    try:
        out = mapper.outbound({"result": result, "status": "finished"}, version=1, operation="U")
    except ValueError as exc:  # the push job dead-letters it with this text
        assert f"{field}: value {result!r} is not in code table" in str(exc) and "[mapping.code_table]" in str(exc)
        return
    code = out[field]
    if (system, result) in NO_CODE_NEEDED:
        assert code is None
        return
    assert code is not None  # sd_market finished, jn_estate not_permitted were dropped without a word
    assert mapper.code_tables_by_field["result"]
    table = mapper.spec["code_tables"]["result"]
    assert code in table  # a code the system itself uses (and reads back)


def test_the_results_the_review_found_unwritable_are_written_or_refused() -> None:
    civil_mapper = Mapper.from_file(MAPPINGS / "sd_civil.yaml")
    market = Mapper.from_file(MAPPINGS / "sd_market.yaml")
    estate = Mapper.from_file(MAPPINGS / "jn_estate.yaml")
    assert civil_mapper.outbound({"result": "correction_timeout"})["result"] == "5"  # 退件: was refused
    assert market.outbound({"result": "correction_timeout"})["BJJG"] == "5"  # was None
    with pytest.raises(ValueError, match="BJJG: value 'finished' is not in code table"):
        market.outbound({"result": "finished"})  # was None: a finished case pushed as undecided
    with pytest.raises(ValueError, match="bjjg: value 'not_permitted' is not in code table"):
        estate.outbound({"result": "not_permitted"})  # was None


def test_the_cross_province_window_gets_a_code_for_every_result_and_status() -> None:
    mapper = _shipped("hb_xhall")
    for result in CaseResult:
        for status in CaseStatus:
            out = mapper.outbound({"result": result.value, "status": status.value}, version=1)
            assert out["bjjg"] is not None and out["slzt"] is not None, (result, status)
