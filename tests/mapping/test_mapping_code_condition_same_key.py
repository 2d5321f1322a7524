"""Code tables and conditions read a value as the same code (one function, ``_cond_key``): 5, 5.0, "5" and
" 5 " are the code "5", true is "1" to a condition and to a flag table ("0"/"1") — the documented "compared as code tables read codes". A code table read
5.0 as "5.0" (not in the table) while the status condition on the same field read it as "5"."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping.mapper import Mapper
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]

M = Mapper.from_text("""
system: t
version: "1"
code_tables:
  result: {"1": not_permitted, "5": returned}
fields:
  result: {path: r, code: result, normalize: []}
  returned: {any: [{path: r, in: [5]}]}
  refused: {any: [{path: r, in: ["1"]}]}
""", where="t.yaml")


@pytest.mark.parametrize("value", [5, 5.0, "5", " 5 ", Decimal(5), Decimal("5.0")])
def test_a_five_is_the_code_five_to_both(value: Any) -> None:
    assert M.map({"r": value}) == ({"result": "returned", "returned": True, "refused": False}, [])


@pytest.mark.parametrize("value", [1, 1.0, "1"])
def test_a_one_is_the_code_one_to_both(value: Any) -> None:
    assert M.map({"r": value}) == ({"result": "not_permitted", "returned": False, "refused": True}, [])


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_a_code_only_in_a_table_of_the_two_codes_0_and_1(value: bool) -> None:
    """A ``result: false`` (a system's "no result yet") was the code "0" — 已办结, a certificate issued — and
    nothing said so: in a table of other codes a boolean is no code (a condition still reads true as "1"). In a flag
    table ("0"/"1") it is the flag."""
    out, issues = M.map({"r": value})
    assert "result" not in out and [(f, r) for f, r, _ in issues] == [("result", "mapping.code_table")]
    assert out["refused"] is value
    flags = Mapper.from_text('system: t\nversion: "1"\ncode_tables:\n  urgent: {"0": normal, "1": urgent}\n'
                             "fields:\n  urgent: {path: u, code: urgent}\n", where="t.yaml")
    assert flags.map({"u": value}) == ({"urgent": "urgent" if value else "normal"}, [])


@pytest.mark.parametrize("value", [5.5, "5.0", "05", [5], {"v": 5}])
def test_what_is_no_code_to_one_is_no_code_to_the_other(value: Any) -> None:
    out, issues = M.map({"r": value})
    assert out["returned"] is False and out["refused"] is False
    assert [(f, r) for f, r, _ in issues] == [("result", "mapping.code_table")]


def test_the_shipped_civil_mapping_reads_a_float_result() -> None:
    sd_civil = Mapper.from_file(REPO / "mappings" / "sd_civil.yaml")
    record = copy.deepcopy(civil.generate(7, 1))
    record["result"] = "5"
    expected = sd_civil.map(copy.deepcopy(record))
    record["result"] = 5.0
    assert sd_civil.map(record) == expected and expected[1] == []
