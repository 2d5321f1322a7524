"""An optional number above its bound is left out and flagged (``range.implausible``), not a dead letter of the case.

The bounds of 183d81d (days ≤ 3,650, counts ≤ 1,000,000) rejected whole cases that were stored before: 9999 is a
common "no limit" filler for 承诺时限, and such a case used to be kept (flagged ``case.instant_promise``). A value
beyond 64 bits still never reaches the ledger — it is left out like any other implausible one — and a negative
number still rejects (``range.ge``), as it always did. The flag names the field and the value given: nothing is
dropped silently. The repair runs only after pydantic rejected the record, so sound records pay nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from models_sample_data import valid_case

from gateway.kernel.config import load_systems
from gateway.mapping.mapper import Mapper
from gateway.models import RULES, Case, case_document, validate_case, validate_cases
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]


def _set(record: dict, path: str, value: object) -> dict:
    target = record
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return record


def _get(case: Case, path: str) -> object:
    value: object = case
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part)  # type: ignore[index]
    return value


@pytest.mark.parametrize(("path", "value", "kept"), [
    ("promised_days", 9999, None),
    ("promised_days", 3651, None),
    ("promised_days", 10**20, None),
    ("promised_days", 18446744073709551616, None),
    ("promised_days", "100000000000000000000", None),
    ("promised_days", 1.8446744073709552e+19, None),
    ("materials.0.count", 2_000_000, 1),
    ("materials.0.count", 2**70, 1),
    ("stages.0.limit_days", 9999, None),
    ("stages.0.limit_days", 10**20, None),
])
def test_an_optional_number_above_its_bound_is_left_out_and_flagged_naming_field_and_value(path, value, kept) -> None:
    record = _set(valid_case(stages=[{"name": "审核", "limit_days": 3}]), path, value)
    case, flags = validate_case(record, "t:1")
    assert _get(case, path) == kept
    assert [(f.field, f.rule) for f in flags] == [(path, "range.implausible")]
    assert [(f.field, f.rule) for f in case.quality] == [(path, "range.implausible")]
    assert path in flags[0].message and str(value)[:20] in flags[0].message
    case_document(case)  # writable: the value that would break the ledger never reaches it


def test_the_mapping_may_make_the_rule_reject() -> None:
    record = valid_case(promised_days=9999)
    result = validate_cases([record], ["t:1"], rules={"range.implausible": "reject"})
    assert result.valid == []
    [(_, rejection)] = result.rejected
    assert [(i.field, i.rule) for i in rejection.issues] == [("promised_days", "range.implausible")]


def test_the_rule_is_a_documented_quality_rule() -> None:
    rule = RULES["range.implausible"]
    assert rule.kind == "quality"
    assert "promised_days" in RULES["range.implausible"].fields and "promised_days" not in RULES["range.le"].fields


def test_a_no_limit_filler_from_a_real_mapping_keeps_the_case() -> None:
    """The reviewer's reproduction: sd_civil with promised_days 9999 and a count of two million."""
    mapper = Mapper.from_file(load_systems(REPO / "config" / "systems.yaml").get("sd_civil").mapping_path, model=Case)
    base = mapper.map(civil.generate(7, 3))[0]
    materials = [{**base["materials"][0], "count": 2_000_000}, *base["materials"][1:]]
    result = mapper.validate([{**base, "promised_days": 9999}, {**base, "materials": materials}], ["s:1", "s:2"])
    assert result.rejected == []
    (_, first), (_, second) = result.valid
    assert first.promised_days is None and second.materials[0].count == 1
    assert [(i, f.field, f.rule) for i, f in result.flags] == [
        (0, "promised_days", "range.implausible"), (1, "materials.0.count", "range.implausible")]
