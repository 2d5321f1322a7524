"""XML attributes are fields: the fast path reads them (both walkers alike), so a service that writes its data
as attributes — rows of an exchange document, a record's id, a leaf's unit — loses nothing.

The rules: an element read as a dict (a record, a container) has its own attributes as keys ``@name`` (first, in
document order); a leaf — text, empty or blank — keeps its value (a field never changes type because one record's
element carries an attribute: ``<bz lang="zh"/>`` stays ``""``, as a text field reads it) and its attributes sit
beside it as ``name@attr`` (a repeated leaf's are a list that lines up with its values, ``None`` where an item
carries none);
attributes that describe the XML's encoding (``xsi:``, ``xml:``, SOAP encoding and envelope, .NET DataSet
``diffgr:``/``msdata:``) are never fields; a nil element is ``None`` whatever else it carries.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from connectors.soap import decode
from connectors.soap.decode import (
    EMPTY,
    UNREAD_ATTRIBUTE_NAMESPACES,
    Shape,
    dataset_rows,
    element_to_dict_py,
)

NS = ('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:p="urn:p" '
      'xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"')
WALKERS = pytest.mark.parametrize("walk", [element_to_dict_py, decode.element_to_dict], ids=["python", "in-use"])


def _tree(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


@WALKERS
def test_a_records_own_attributes_come_first(walk: Any) -> None:
    record = _tree(f'<Case {NS} id="A-1" p:dept="民政" xsi:type="ns:Case" enc:root="0" xml:lang="zh">'
                   "<Name>王秀英</Name></Case>")
    assert list(walk(record).items()) == [("@id", "A-1"), ("@dept", "民政"), ("Name", "王秀英")]


@WALKERS
def test_an_empty_element_keeps_its_value_and_its_attributes_sit_beside_it(walk: Any) -> None:
    """Read as the dict of its attributes, ``<bz lang="zh"/>`` became ``{"@lang": "zh"}`` where the mapping reads a
    text field, and a system that worked before had every such record rejected."""
    record = _tree(f'<Case {NS}><Applicant name="张三" idNo="11010519491231002X"/><Agent xsi:type="T"/>'
                   '<Gone xsi:nil="true" reason="withdrawn"/><Blank code="1">\n  </Blank><Plain/></Case>')
    assert walk(record) == {"Applicant": "", "Applicant@name": "张三", "Applicant@idNo": "11010519491231002X",
                            "Agent": "",  # only an encoding attribute: still the empty element it was
                            "Gone": None, "Blank": "\n  ", "Blank@code": "1", "Plain": ""}


@WALKERS
def test_a_leafs_attributes_sit_beside_it(walk: Any) -> None:
    record = _tree(f'<Case {NS}><Fee unit="元" xsi:type="xsd:decimal">12.50</Fee>'
                   '<Tel kind="home">1</Tel><Tel kind="work">2</Tel><Tel>3</Tel></Case>')
    assert walk(record) == {"Fee": "12.50", "Fee@unit": "元", "Tel": ["1", "2", "3"],
                            "Tel@kind": ["home", "work", None]}
    listed = Shape(frozenset({"Tel"}), {})
    one = _tree('<Case><Tel kind="home">1</Tel></Case>')
    assert walk(one, listed) == {"Tel": ["1"], "Tel@kind": ["home"]}  # repeats: a list even with one


@WALKERS
def test_a_repeated_leafs_attributes_line_up_with_its_values(walk: Any) -> None:
    """Found by review: appended as they came, the second phone's value sat beside the third phone's kind."""
    record = _tree('<Case><Tel kind="home">1</Tel><Tel>2</Tel><Tel kind="work" ext="9">3</Tel>'
                   '<Tel><x/></Tel><Tel kind="fax">5</Tel></Case>')
    assert walk(record) == {"Tel": ["1", "2", "3", {"x": ""}, "5"],
                            "Tel@kind": ["home", None, "work", None, "fax"], "Tel@ext": [None, None, "9", None, None]}
    listed = Shape(frozenset({"Tel"}), {})
    assert walk(_tree('<Case><Tel>1</Tel><Tel kind="work">2</Tel></Case>'), listed) == {
        "Tel": ["1", "2"], "Tel@kind": [None, "work"]}


@WALKERS
def test_a_declared_complex_element_keeps_its_lists_and_reads_its_attributes(walk: Any) -> None:
    shape = Shape(frozenset(), {"Applicant": Shape(frozenset({"Phone"}), {})})
    record = _tree('<Case><Applicant name="张三"/></Case>')
    assert walk(record, shape) == {"Applicant": {"@name": "张三", "Phone": []}}
    assert walk(_tree("<Case><Applicant/></Case>"), shape) == {"Applicant": {"Phone": []}}


def test_dataset_rows_carry_no_diffgram_ids() -> None:
    result = _tree(
        '<Result><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="NewDataSet"><xs:complexType>'
        '<xs:choice><xs:element name="Table"><xs:complexType><xs:sequence><xs:element name="NO"/>'
        '<xs:element name="NAME"/></xs:sequence></xs:complexType></xs:element></xs:choice></xs:complexType>'
        '</xs:element></xs:schema><diffgr:diffgram xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1" '
        'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"><NewDataSet><Table diffgr:id="Table1" '
        'msdata:rowOrder="0" diffgr:hasChanges="inserted"><NO>1</NO></Table></NewDataSet></diffgr:diffgram></Result>')
    assert dataset_rows(result) == [{"NO": "1", "NAME": None}]


def test_both_walkers_leave_out_the_same_namespaces() -> None:
    if decode._COMPILED is None:  # noqa: SLF001
        pytest.skip(f"compiled walker not in use: {decode.WALKER}")
    from connectors.soap import _fastdict  # type: ignore[attr-defined]

    assert _fastdict.UNREAD_ATTRIBUTE_NAMESPACES == UNREAD_ATTRIBUTE_NAMESPACES


@WALKERS
def test_many_repeats_of_an_undeclared_element_stay_linear(walk: Any) -> None:
    """A list grown in place: 20,000 repeats of an element the schema does not declare repeating (copying the
    list at each repeat made this quadratic)."""
    record = _tree("<r>" + '<x n="1">v</x>' * 20_000 + "</r>")
    out = walk(record, EMPTY)
    assert len(out["x"]) == 20_000 and len(out["x@n"]) == 20_000


def test_a_mapping_reads_attribute_fields_by_their_keys() -> None:
    from gateway.mapping.mapper import Mapper

    mapper = Mapper.from_text("""
system: t
version: "1"
fields:
  case_no: {path: "@id"}
  applicant_name: {path: "Applicant@name"}
  fee_unit: {path: "Fee@unit"}
""", where="t.yaml")
    record = _tree('<Case id="A-1"><Applicant name="张三"/><Fee unit="元">12.50</Fee></Case>')
    assert mapper.map(decode.element_to_dict(record)) == (
        {"case_no": "A-1", "applicant_name": "张三", "fee_unit": "元"}, [])
