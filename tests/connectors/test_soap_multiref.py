"""SOAP-encoded references (Axis 1.x multiRef, SOAP 1.2 enc:ref) are inlined before records are read: the
records come out as a document/literal server would send them; a missing target, a cycle and an expansion
bomb are refused with a clear error, fast and with bounded memory."""

from __future__ import annotations

import time

import pytest
import responses
from lxml import etree
from soap_testlib import CORPUS, envelope

from connectors.soap import SoapConnector
from connectors.soap.decode import element_to_dict, soap_body
from connectors.soap.hardening import UnsafeXmlError, parse_document
from connectors.soap.multiref import has_references, inline_references
from gateway.contract.errors import FatalSyncError

KINGDEE = CORPUS / "cn-kingdee-eas-easlogin-axis1.wsdl"
KINGDEE_ADDRESS = "http://192.168.91.35:56898/ormrpc/services/EASLogin"
ENC11 = 'soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" ' \
        'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" ' \
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'

AXIS_CASES = (  # what Axis 1.4 writes for getCases() returning CaseList{cases: Case[], total}
    f'<ns1:getCasesResponse {ENC11} xmlns:ns1="urn:cases"><getCasesReturn href="#id0"/></ns1:getCasesResponse>'
    f'<multiRef id="id0" soapenc:root="0" {ENC11} xsi:type="ns2:CaseList" xmlns:ns2="urn:cases">'
    f'<cases soapenc:arrayType="ns2:Case[2]" xsi:type="soapenc:Array"><cases href="#id1"/><cases href="#id2"/>'
    f'</cases><total xsi:type="xsd:int">2</total></multiRef>'
    f'<multiRef id="id2" soapenc:root="0" {ENC11} xsi:type="ns2:Case" xmlns:ns2="urn:cases">'
    f'<caseNo xsi:type="xsd:string">A-2</caseNo><applicant href="#id3"/><note xsi:type="xsd:string" xsi:nil="true"/>'
    f'</multiRef>'
    f'<multiRef id="id1" soapenc:root="0" {ENC11} xsi:type="ns2:Case" xmlns:ns2="urn:cases">'
    f'<caseNo xsi:type="xsd:string">A-1</caseNo><applicant href="#id3"/><note xsi:type="xsd:string"></note>'
    f'</multiRef>'
    f'<multiRef id="id3" soapenc:root="0" {ENC11} xsi:type="ns2:Person" xmlns:ns2="urn:cases">'
    f'<name xsi:type="xsd:string">𠮷田</name></multiRef>'
)


def _body(inner: str) -> etree._Element:
    data = envelope(inner).encode()
    assert has_references(data)
    return soap_body(parse_document(data, where="t"), where="t")


def test_axis_multirefs_become_nested_records() -> None:
    body = _body(AXIS_CASES)
    assert inline_references(body, where="t", max_elements=10_000) == 5
    assert [etree.QName(el).localname for el in body] == ["getCasesResponse"]  # the multiRefs are gone
    answer = element_to_dict(body[0])
    person = {"name": "𠮷田"}
    assert answer == {"getCasesReturn": {
        "cases": {"cases": [{"caseNo": "A-1", "applicant": person, "note": ""},
                            {"caseNo": "A-2", "applicant": person, "note": None}]},
        "total": "2"}}
    # the referring element takes the value's type, as if it had been written inline
    assert body[0][0].get("{http://www.w3.org/2001/XMLSchema-instance}type") == "ns2:CaseList"


def test_soap12_enc_ref_and_id() -> None:
    inner = ('<r:resp xmlns:r="urn:r" xmlns:enc="http://www.w3.org/2003/05/soap-encoding">'
             '<out enc:ref="a"/></r:resp>'
             '<r:Case xmlns:r="urn:r" xmlns:enc="http://www.w3.org/2003/05/soap-encoding" enc:id="a">'
             '<no>7</no></r:Case>')
    body = _body(inner)
    inline_references(body, where="t", max_elements=100)
    assert element_to_dict(body[0]) == {"out": {"no": "7"}} and len(body) == 1


def test_an_element_referred_to_in_place_keeps_no_id() -> None:
    """SOAP 1.1 lets a value be written where it first occurs (``id`` on an inline element) and referred to
    elsewhere: the id is the encoding's, not the record's, and the fast path reads attributes as fields."""
    inner = ('<r:resp xmlns:r="urn:r"><first id="p1"><name>王</name></first><second href="#p1"/>'
             '<third code="7">x</third></r:resp>')
    body = _body(inner)
    inline_references(body, where="t", max_elements=100)
    assert element_to_dict(body[0]) == {"first": {"name": "王"}, "second": {"name": "王"}, "third": "x",
                                        "third@code": "7"}


def test_answers_without_references_are_left_alone() -> None:
    assert not has_references(envelope("<a><b id='x'>1</b><c>href</c></a>").encode())


def test_a_reference_to_nothing_names_it() -> None:
    with pytest.raises(FatalSyncError, match=r"refers to #id9, but no element has id='id9'"):
        inline_references(_body('<resp><out href="#id9"/></resp>'), where="t", max_elements=100)


def test_a_cycle_is_refused() -> None:
    inner = ('<resp><out href="#a"/></resp><multiRef id="a"><next href="#b"/></multiRef>'
             '<multiRef id="b"><back href="#a"/></multiRef>')
    with pytest.raises(FatalSyncError, match="reference cycle #a → #b → #a"):
        inline_references(_body(inner), where="t", max_elements=100)


def test_an_expansion_bomb_is_refused_quickly() -> None:
    """Thirty levels, each pointing twice at the next: 2**30 copies if expanded blindly."""
    levels = [f'<multiRef id="l{k}"><x href="#l{k + 1}"/><y href="#l{k + 1}"/></multiRef>' for k in range(30)]
    inner = '<resp><out href="#l0"/></resp>' + "".join(levels) + '<multiRef id="l30"><v>1</v></multiRef>'
    started = time.perf_counter()
    with pytest.raises(UnsafeXmlError, match="limits.max_elements"):
        inline_references(_body(inner), where="t", max_elements=100_000)
    assert time.perf_counter() - started < 10


@pytest.mark.skipif(not KINGDEE.is_file(), reason=f"WSDL corpus not found at {KINGDEE}")
@responses.activate
def test_an_axis1_rpc_encoded_answer_reads_as_records() -> None:
    """Kingdee EAS (Axis 1) login answers its WSContext as a multiRef; the stream sees the struct's fields."""
    answer = (f'<ns1:loginResponse {ENC11} xmlns:ns1="http://login.webservice.bos.kingdee.com">'
              f'<loginReturn href="#id0"/></ns1:loginResponse>'
              f'<multiRef id="id0" soapenc:root="0" {ENC11} xsi:type="ns2:WSContext" '
              f'xmlns:ns2="urn:client"><dbType xsi:type="xsd:int">0</dbType>'
              f'<dcName xsi:type="xsd:string">dc</dcName><password xsi:type="xsd:string" xsi:nil="true"/>'
              f'<sessionId xsi:type="xsd:string">S-42</sessionId><slnName xsi:type="xsd:string">eas</slnName>'
              f'<userName xsi:type="xsd:string">kd</userName></multiRef>')
    responses.post(KINGDEE_ADDRESS, body=envelope(answer).encode(), content_type="text/xml; charset=utf-8")
    params = {"userName": "kd", "password": "p", "slnName": "eas", "dcName": "dc", "language": "l2", "dbType": 0}
    connector = SoapConnector({"kind": "soap", "name": "eas", "wsdl": str(KINGDEE), "offline": True,
                               "streams": {"session": {"operation": "login", "overload": 2, "params": params,
                                                       "result_path": "loginResponse.loginReturn",
                                                       "primary_key": "sessionId", "ordered": False}}},
                              secrets={})
    (page,) = list(connector.read("session", mode="full_refresh"))
    assert [r.payload for r in page.records] == [{"dbType": "0", "dcName": "dc", "password": None,
                                                  "sessionId": "S-42", "slnName": "eas", "userName": "kd"}]
