"""What a form's text may hold: no control or format character in a one-line field — C0 (tabs and line breaks
included), DEL, C1, bidi overrides and marks, zero-width characters, the line and paragraph separators — each
refused naming the field and the rule (``bundle.text``) and the code point; a ``multiline`` field may hold tabs and
line breaks. A field with a pattern is a code: full-width digits are read as the ASCII digits they are (as
identifiers are normalised), other scripts' digits are not digits of the pattern."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from bundles_testlib import SPEC, application
from gateway_testlib import REPO

from gateway.contract.errors import RecordRejected
from gateway.process.bundle_spec import BundleCatalogue


def _issues(app: dict[str, Any], spec: Any = SPEC) -> list[tuple[str, str, str]]:
    try:
        spec.check(app)
    except RecordRejected as exc:
        return [(i.field, i.rule, i.message) for i in exc.issues]
    return []


@pytest.mark.parametrize(("field", "value", "code_point"), [
    ("company_name", "济南\t科技有限公司", "U+0009"), ("company_name", "济南\n科技有限公司", "U+000A"),
    ("company_name", "济南\r科技有限公司", "U+000D"), ("company_name", "济南\x85科技有限公司", "U+0085"),
    ("company_name", "济南\u202e司公限有\u202c科技有限公司", "U+202E"), ("legal_rep_name", "王\u200f秀英", "U+200F"),
    ("address", "济南\u2028泉城路1号", "U+2028"), ("address", "泉城路\u20291号", "U+2029"),
    ("name_reservation_no", "\u200b", "U+200B"), ("finance_officer", "李\u200d娜", "U+200D"),
    ("business_scope", "\ufeff软件开发", "U+FEFF"), ("company_name", "济南\x7f科技", "U+007F")])
def test_control_and_format_characters_are_refused_by_field_and_rule(field: str, value: str,
                                                                      code_point: str) -> None:
    (issue,) = [i for i in _issues(application(**{field: value})) if i[0] == f"form.{field}"]
    assert issue[1] == "bundle.text" and code_point in issue[2]


def test_a_multiline_field_may_hold_line_breaks_and_nothing_else_of_them() -> None:
    data = yaml.safe_load((REPO / "config" / "bundles.yaml").read_text(encoding="utf-8"))
    data["bundles"]["KBQY"]["form"]["business_scope"]["multiline"] = True
    spec = BundleCatalogue.from_text(yaml.safe_dump(data, allow_unicode=True)).get("KBQY")
    form, _ = spec.check(application(business_scope="软件开发；\r\n信息技术咨询服务\t（除依法须经批准的项目外）"))
    assert form["business_scope"].splitlines()[1].startswith("信息技术咨询服务\t")
    assert [(f, r) for f, r, _ in _issues(application(business_scope="软件\u202e开发"), spec)] == \
        [("form.business_scope", "bundle.text")]
    assert [(f, r) for f, r, _ in _issues(application(company_name="济南\n科技"), spec)] == \
        [("form.company_name", "bundle.text")]


@pytest.mark.parametrize("name", ["𠀀𠮷科技有限公司", "济南\ue000科技有限公司", "\u00a0济南科技有限公司\u00a0", "济南 科技有限公司"])
def test_what_a_name_may_hold_is_kept(name: str) -> None:
    form, _ = SPEC.check(application(company_name=name))
    assert form["company_name"] == name.strip()


def test_full_width_digits_are_ascii_and_other_scripts_digits_are_refused() -> None:
    form, _ = SPEC.check(application(phone="１３８０５３１０００１", division="３７０１０２"))
    assert form["phone"] == "13805310001" and form["division"] == "370102"
    form, _ = SPEC.check(application(phone="138 0531 0001"))
    assert form["phone"] == "13805310001"
    for phone in ("1٣٨٠٥٣١٠٠٠١", "1३८०५३१०००१", "1໓໘໐໕໓໑໐໐໐໑"):  # Arabic-Indic, Devanagari, Lao
        assert [(f, r) for f, r, _ in _issues(application(phone=phone))] == [("form.phone", "bundle.pattern")]


@pytest.mark.parametrize("reference", ["HALL-2026-000001\u200b", "HALL-\u202e1000", "HALL\n1"])
def test_a_reference_with_a_hidden_character_is_refused(reference: str) -> None:
    """The reference is how a retried submission finds its bundle again: one that looks the same but holds a
    zero-width or bidi character would open a second company."""
    app = application()
    app["reference"] = reference
    assert [i[:2] for i in _issues(app) if i[0] == "reference"] == [("reference", "bundle.text")]
