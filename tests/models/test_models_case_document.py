"""The ledger's one-pass case JSON and hash (gateway.models.hashing.case_document)."""

from __future__ import annotations

import json

from gateway.models import Case, case_document, validate_cases
from models_sample_data import make_cases


def test_it_equals_pydantic_json_and_the_hash_ignores_only_the_change_time() -> None:
    records = make_cases(20)
    cases = [c for _, c in validate_cases(records, [str(i) for i in range(20)]).valid]
    assert len(cases) == 20
    for case in cases:
        data, digest = case_document(case)
        assert json.loads(data) == json.loads(case.model_dump_json())
        touched = case.model_copy(update={"updated_at": case.updated_at.replace(year=2030)})
        assert case_document(touched)[1] == digest
        changed = case.model_copy(update={"summary": (case.summary or "") + "。"})
        assert case_document(changed)[1] != digest


def test_updated_at_stays_the_last_field_of_case() -> None:
    """case_document cuts the change time off the end of the bytes: it must remain the model's last field."""
    assert list(Case.model_fields)[-1] == "updated_at"
