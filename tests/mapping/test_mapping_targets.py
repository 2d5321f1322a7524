"""A mapping's targets and constants checked against the canonical model when it loads (gateway/mapping/targets.py):
the outside review's ``{转报: forwardd}`` and ``finshed_at`` are refused at load, naming the file, line, field, bad
value and what is allowed, instead of dead-lettering the first real record."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.catalogue.entry import CatalogueEntry
from gateway.contract.errors import ConfigError
from gateway.kernel.config import load_systems
from gateway.mapping.mapper import Mapper
from gateway.models import Case
from gateway.models.certificate import Certificate

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
system: jn_zjj
version: "2"
code_tables:
  case_type: {即办件: instant, 承诺件: promised}
  result: {准予许可: issued, 不予许可: not_permitted, 撤回申请: withdrawn}
fields:
  case_no: {path: bjbh, required: true}
  case_type: {path: bllx, code: case_type}
  applicant.type: {path: sqrlx, code: {自然人: "1", 企业法人: "2"}}
  finished_at: {path: bjsj, date: yyyyMMddHHmmss}
  result: {path: bjjg, code: result}
  status:
    cases:
      - {when: {path: bjsj, present: true}, value: finished}
      - {value: submitted}
"""


def load(text: str) -> Mapper:
    return Mapper.from_text(text, where="mappings/jn_zjj.yaml", model=Case)


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text)
    return str(caught.value)


def test_the_good_mapping_loads() -> None:
    assert load(GOOD).map({"bjbh": "B1", "bjjg": "准予许可"})[0]["result"] == "issued"


def test_a_code_table_value_outside_the_code_list_names_file_line_field_value_and_choices() -> None:
    message = refused(GOOD.replace("撤回申请: withdrawn}", "撤回申请: withdrawn, 转报: forwardd}"))
    assert message.startswith("mappings/jn_zjj.yaml: line 5: fields: result: code table 'result' maps '转报' to "
                              "'forwardd', which is not a value of CaseResult (did you mean 'forwarded'?); allowed: "
                              "issued, not_permitted, ")
    assert "withdrawn" in message


def test_every_bad_value_is_listed_at_once() -> None:
    message = refused(GOOD.replace("即办件: instant", "即办件: instnt").replace("value: submitted", "value: submited"))
    assert "line 4: fields: case_type: code table 'case_type' maps '即办件' to 'instnt'" in message
    assert "(did you mean 'instant'?)" in message
    assert "line 15: fields: status: cases value 'submited', which is not a value of CaseStatus" in message


def test_an_inline_table_a_const_and_a_default_are_checked_too() -> None:
    message = refused(GOOD.replace('企业法人: "2"', '企业法人: "9"') + "  channel: {const: onlin}\n"
                      "  applicant.id_type: {path: zjlx, default: '11'}\n")
    assert "line 9: fields: applicant.type: the inline code table maps '企业法人' to '9', which is not a value of " \
           "ApplicantType" in message
    assert "fields: channel: const 'onlin'" in message
    assert "fields: applicant.id_type: default '11', which is not a value of IdType" in message


def test_a_label_written_for_its_value_is_named() -> None:
    message = refused(GOOD.replace("准予许可: issued", "准予许可: 出证办结"))
    assert "maps '准予许可' to '出证办结', which is not a value of CaseResult ('出证办结' is the label of 'issued')" in message


def test_a_value_yaml_read_as_a_boolean_or_a_number_is_refused_with_the_quoting_hint() -> None:
    # `yes` is the boolean true to YAML; where the field holds a code the user meant the word (or a code)
    message = refused(GOOD.replace("承诺件: promised", "承诺件: yes"))
    assert "maps '承诺件' to True: YAML reads unquoted yes/no/on/off/true/false as a boolean; quote the text" in message
    message = refused(GOOD.replace('自然人: "1"', "自然人: 1"))
    assert "maps '自然人' to the number 1: quote it (\"1\") if a code was meant" in message
    message = refused(GOOD + "  dept_name: {path: slbm, code: {市局: yes}}\n")
    assert "fields: dept_name: the inline code table maps '市局' to True" in message and "cannot hold" in message


def test_booleans_are_right_where_the_field_is_a_boolean() -> None:
    mapper = load(GOOD + "  deleted: {path: zf, code: {是: yes, 否: no}}\n")
    assert mapper.map({"zf": "是"})[0]["deleted"] is True and mapper.map({"zf": "否"})[0]["deleted"] is False


def test_a_target_the_model_does_not_have_is_named_with_the_close_match() -> None:
    message = refused(GOOD.replace("  finished_at:", "  finshed_at:"))
    assert message == ("mappings/jn_zjj.yaml: line 10: fields: finshed_at is not a field of the canonical Case "
                       "(did you mean 'finished_at'?)")
    message = refused(GOOD + "  applicant.idnumber: zjhm\n")
    assert "fields: applicant.idnumber is not a field of the canonical Case (did you mean 'applicant.id_number'?)" \
        in message
    assert "case_no.x is" not in refused(GOOD + "  case_no.x: y\n")
    assert "fields: case_no is not an object: case_no.x cannot be set inside it" in refused(GOOD + "  case_no.x: y\n")


def test_list_items_are_checked_against_their_own_model() -> None:
    events = ("  events:\n    list:\n      - from: steps\n        fields:\n          seq: {position: true}\n"
              "          kind: {const: stepp}\n          name: hjmc\n          started_at: {path: kssj, date: iso8601}\n"
              "          actoin: dz\n")
    message = refused(GOOD + events)
    assert "line 21: fields: events[].kind: const 'stepp', which is not one of the values of kind (did you mean 'step'?)" \
        in message
    assert "line 24: fields: events[].actoin is not a field of the canonical CaseEvent (did you mean 'action'?)" \
        in message


def test_without_a_model_nothing_is_checked() -> None:
    Mapper.from_text(GOOD.replace("  finished_at:", "  finshed_at:"), where="t.yaml")


def test_an_enum_failure_names_the_code_table_it_came_from() -> None:
    # a value passed through unchanged (on_unknown: keep) is the one way a record can still miss the code list
    text = GOOD.replace("{path: bjjg, code: result}", "{path: bjjg, code: result, on_unknown: keep}")
    mapper = load(text)
    record = {"case_no": "B1", "item_code": "X", "item_name": "n", "case_type": "instant",
              "applicant": {"type": "1", "name": "张三", "id_type": "111", "id_number": "11010519491231002X"},
              "applied_at": "2024-03-01T10:00:00+08:00", "dept_name": "d", "dept_code": "113701000043020001",
              "division_code": "370100", "status": "finished", "result": "转报",
              "updated_at": "2024-03-01T10:00:00+08:00"}
    result = mapper.validate([record], ["jn_zjj:1"])
    [(_, rejected)] = result.rejected
    [issue] = [i for i in rejected.issues if i.field == "result"]
    assert issue.rule == "enum" and "(from code table 'result' of mappings/jn_zjj.yaml)" in issue.message


def test_every_shipped_mapping_passes_against_its_model() -> None:
    for system in load_systems(REPO / "config" / "systems.yaml").systems.values():
        Mapper.from_file(system.mapping_path, model=Case)
    for path in sorted((REPO / "tests" / "foreign" / "mappings").glob("*.yaml")):
        Mapper.from_file(path, model=Case)
    Mapper.from_file(REPO / "mappings" / "catalogue" / "sd_catalogue.yaml", model=CatalogueEntry)
    Mapper.from_file(REPO / "mappings" / "certificates" / "sd_licences.yaml", model=Certificate)


def test_a_constant_the_model_reads_its_own_way_is_not_refused_at_load() -> None:
    """The catalogue model reads 20个工作日 into a TimeLimit and splits 自然人、法人 into a list before validating:
    the bare field annotation would refuse both, so such fields' constants are judged per record, not at load."""
    from pathlib import Path

    from gateway.catalogue.entry import CatalogueEntry
    from gateway.mapping.mapper import Mapper

    repo = Path(__file__).resolve().parents[2]
    text = (repo / "mappings" / "catalogue" / "sd_catalogue.yaml").read_text(encoding="utf-8")
    edited = text.replace("  service_objects: FWDX\n", "  service_objects: {const: 自然人、法人}\n").replace(
        "  legal_limit: FDSX\n", "  legal_limit: {field: FDSX, default: 20个工作日}\n")
    assert edited != text
    Mapper.from_text(edited, where="sd_catalogue.yaml", base_dir=repo / "mappings" / "catalogue", model=CatalogueEntry)
