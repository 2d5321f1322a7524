"""The merged form's values as a hall (or an attacker) may send them: what JSON allows is not what a form field
means. A number is a finite number in range; text is a string; a material's media type is a media type. Every
other value is refused by field and rule, never coerced (``float("NaN")``, ``True`` as 1, a dict's repr as a
company name) and never left to fail later in the database or the JSON encoder."""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson
import pytest
from bundles_testlib import SPEC, application
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.contract.errors import RecordRejected


def _issues(app: dict[str, Any]) -> set[tuple[str, str]]:
    try:
        SPEC.check(app)
    except RecordRejected as exc:
        return {(i.field, i.rule) for i in exc.issues}
    return set()


@pytest.mark.parametrize("capital", [-1e308, -1e19, -1, 1e19, 1e400, "NaN", "nan", "Infinity", "-Infinity", "1e400",
                                     True, False, "12abc", "", "0x10", {"v": 1}, [1]])
def test_a_number_field_refuses_what_is_not_a_finite_number_in_range(capital: Any) -> None:
    found = _issues(application(registered_capital=capital))
    if capital == "":
        assert ("form.registered_capital", "bundle.required") in found
    else:
        assert {r for f, r in found if f == "form.registered_capital"} & {"bundle.type", "bundle.range"}, found


@pytest.mark.parametrize(("capital", "stored"), [(100, 100), (12.5, 12.5), ("  12  ", 12), ("0.5", 0.5), (0, 0)])
def test_a_number_field_keeps_numbers_and_decimal_text(capital: Any, stored: Any) -> None:
    form, _ = SPEC.check(application(registered_capital=capital))
    assert form["registered_capital"] == stored and type(form["registered_capital"]) is type(stored)


@pytest.mark.parametrize("name", [{"a": 1}, ["济南"], 12.5, True, "济南\x00公司", "济南\x1b[31m公司", "公" * 501,
                                  "公" * 201])  # the applicant's name: what the cases hold, never cut silently
def test_a_text_field_takes_only_text_without_control_characters(name: Any) -> None:
    assert {r for f, r in _issues(application(company_name=name)) if f == "form.company_name"} & \
        {"bundle.type", "bundle.length", "bundle.text"}


@pytest.mark.parametrize("media_type", ["x" * 101, "application/pdf\r\nX-Injected: 1", "pdf", 12, "/", "a/b/c"])
def test_a_material_media_type_must_be_a_media_type(media_type: Any) -> None:
    app = application()
    app["materials"][0]["media_type"] = media_type
    assert (f"materials.{app['materials'][0]['code']}", "bundle.media_type") in _issues(app)


def test_a_material_that_is_not_an_object_is_named_not_a_crash() -> None:
    app = application()
    app["materials"][1] = "id_proof.pdf"
    assert ("materials.1", "bundle.material_content") in _issues(app)
    app = application()
    app["materials"] = {"id_proof": "not an object"}
    assert ("materials.0", "bundle.material_content") in _issues(app)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(capital=json_values, name=json_values, kinds=json_values, media_type=json_values)
def test_whatever_json_arrives_the_check_accepts_clean_values_or_names_the_rule(capital: Any, name: Any, kinds: Any,
                                                                              media_type: Any) -> None:
    app = application(registered_capital=capital, company_name=name, seal_kinds=kinds)
    app["materials"][0]["media_type"] = media_type
    try:
        form, materials = SPEC.check(app)
    except RecordRejected as exc:
        assert exc.issues and all(i.field and i.rule and i.record for i in exc.issues)
        return
    number = form["registered_capital"]
    assert isinstance(number, int | float) and not isinstance(number, bool) and math.isfinite(number)
    assert 0 <= number <= 1e15
    assert isinstance(form["company_name"], str) and "\x00" not in form["company_name"]
    assert all(isinstance(k, str) for k in form["seal_kinds"])
    assert all(len(m.media_type) <= 100 and "\n" not in m.media_type for m in materials)
    orjson.dumps(form)  # what the ledger stores: always encodable


def test_the_default_media_type_and_parameters() -> None:
    app = application()
    app["materials"][0].pop("media_type")
    app["materials"][1]["media_type"] = "Application/PDF; charset=binary"
    _, materials = SPEC.check(app)
    assert [m.media_type for m in materials[:2]] == ["application/octet-stream", "application/pdf"]
    assert materials[0].content == base64.b64decode(app["materials"][0]["content_base64"])
