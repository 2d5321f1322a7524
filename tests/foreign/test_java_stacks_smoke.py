"""The foreign stacks themselves, checked with plain requests + lxml (no Tongban code): each serves its live
WSDL; JAX-WS RI imports its schema from ?xsd=1; Axis 1.4 speaks soapenc:Array and multiRef; the WSS4J service
refuses a request without a UsernameToken and accepts a correct one; every answer holds the expected records."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import datetime

import pytest
import requests
from lxml import etree

from .java_soap import JavaService, expected_page

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the first test may install and compile

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SOAPENC = "http://schemas.xmlsoap.org/soap/encoding/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
XSD = "http://www.w3.org/2001/XMLSchema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
UT_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
# Axis 1 writes characters outside the BMP as two surrogate character references (&#xD842;&#xDFB7;), which
# XML forbids: a strict parser refuses the whole answer, so these checks read Axis answers leniently.
LENIENT = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)


def _xml(data: bytes, parser: etree.XMLParser | None = None) -> etree._Element:
    return etree.fromstring(data, parser or etree.XMLParser(resolve_entities=False, no_network=True))


def _since(service: JavaService) -> datetime:
    """An updatedSince that makes the first page mix ties, nulls and (somewhere in the set) rare names."""
    return sorted({r["updateTime"] for r in service.records})[len(service.records) // 3]


def _page_of(answer: etree._Element) -> tuple[int, list[dict[str, str | None]]]:
    """total and the records of a (multiRef-free) answer, by local names, nil/absent -> None."""
    total = int(answer.xpath("string(.//*[local-name()='total'])"))
    records = []
    for element in answer.xpath(".//*[local-name()='cases'][*[local-name()='caseNo']]"):
        record: dict[str, str | None] = {}
        for child in element:
            nil = child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
            record[etree.QName(child).localname] = None if nil else (child.text or "")
        records.append(record)
    return total, records


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)  # Axis: ...Z, JAXB: +08:00


def _check_records(got: list[dict[str, str | None]], want: list, *, names: bool = True) -> None:
    assert [g["caseNo"] for g in got] == [w["caseNo"] for w in want]
    for g, w in zip(got, want):
        assert int(g["id"]) == w["id"]
        assert g["status"] == w["status"] and g["itemName"] == w["itemName"] and g["idNumber"] == w["idNumber"]
        if names:
            assert g["applicantName"] == w["applicantName"]
        assert _instant(g["updateTime"]) == w["updateTime"]
        assert _instant(g["acceptTime"]) == w["acceptTime"]
        assert _instant(g.get("finishTime")) == w["finishTime"]


# -- JAX-WS RI -----------------------------------------------------------------------------------------------------

def test_jaxws_wsdl_imports_its_schema_from_xsd_1(jaxws_service: JavaService) -> None:
    answer = requests.get(jaxws_service.wsdl_url, timeout=30)
    assert answer.status_code == 200
    wsdl = _xml(answer.content)
    assert wsdl.tag == f"{{{WSDL}}}definitions"
    imports = wsdl.findall(f"{{{WSDL}}}types/{{{XSD}}}schema/{{{XSD}}}import")
    locations = [i.get("schemaLocation") for i in imports]
    assert locations == [f"{jaxws_service.endpoint_url}?xsd=1"], locations
    schema = _xml(requests.get(locations[0], timeout=30).content)
    assert schema.tag == f"{{{XSD}}}schema"
    assert schema.get("targetNamespace") == jaxws_service.namespace
    assert {e.get("name") for e in schema.findall(f"{{{XSD}}}element")} == {"queryCases", "queryCasesResponse"}
    binding = wsdl.find(f"{{{WSDL}}}binding/{{http://schemas.xmlsoap.org/wsdl/soap/}}binding")
    assert binding is not None and binding.get("style") == "document"


def _literal_call(service: JavaService, since: datetime | None, page_no: int, page_size: int,
                  header: str = "") -> requests.Response:
    since_xml = f"<updatedSince>{since.isoformat()}</updatedSince>" if since else ""
    body = (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}"><s:Header>{header}</s:Header>'
            f'<s:Body><q:queryCases xmlns:q="{service.namespace}">{since_xml}<pageNo>{page_no}</pageNo>'
            f"<pageSize>{page_size}</pageSize></q:queryCases></s:Body></s:Envelope>")
    return requests.post(service.endpoint_url, data=body.encode("utf-8"), headers=HEADERS, timeout=60)


def test_jaxws_answers_the_expected_page(jaxws_service: JavaService) -> None:
    since = _since(jaxws_service)
    answer = _literal_call(jaxws_service, since, 2, 50)
    assert answer.status_code == 200, answer.text[:2000]
    total, got = _page_of(_xml(answer.content))
    want_total, want = expected_page(jaxws_service.records, since, 2, 50)
    assert total == want_total
    _check_records(got, want)


def test_jaxws_pages_cover_every_record_once(jaxws_service: JavaService) -> None:
    """All pages, every field: the Chinese names (CJK extension A, U+20BB7, middle dot) come through as UTF-8."""
    seen: list[dict[str, str | None]] = []
    for page_no in range(1, 100):
        total, got = _page_of(_xml(_literal_call(jaxws_service, None, page_no, 400).content))
        if not got:
            break
        seen += got
    assert total == len(jaxws_service.records)
    _check_records(seen, expected_page(jaxws_service.records, None, 1, 10_000)[1])
    assert any("𠮷" in (r["applicantName"] or "") for r in seen)


# -- Axis 1.4 ------------------------------------------------------------------------------------------------------

def test_axis_wsdl_is_rpc_encoded_with_a_soapenc_array(axis_service: JavaService) -> None:
    answer = requests.get(axis_service.wsdl_url, timeout=30)
    assert answer.status_code == 200
    assert b"soapenc:Array" in answer.content
    wsdl = _xml(answer.content)
    restriction = wsdl.xpath("//xsd:complexType[@name='ArrayOfCaseRecord']/xsd:complexContent/xsd:restriction",
                             namespaces={"xsd": XSD})
    assert restriction and restriction[0].get("base") == "soapenc:Array"
    body = wsdl.xpath("//wsdl:binding//soap:body", namespaces={"wsdl": WSDL,
                                                               "soap": "http://schemas.xmlsoap.org/wsdl/soap/"})
    assert body and all(b.get("use") == "encoded" and b.get("encodingStyle") == SOAPENC for b in body)


def _encoded_call(service: JavaService, since: datetime | None, page_no: int, page_size: int) -> requests.Response:
    since_xml = (f'<updatedSince xsi:type="xsd:dateTime">{since.isoformat()}</updatedSince>' if since
                 else '<updatedSince xsi:nil="true"/>')
    body = (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:xsd="{XSD}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body>'
            f'<q:queryCases xmlns:q="{service.namespace}" s:encodingStyle="{SOAPENC}">{since_xml}'
            f'<pageNo xsi:type="xsd:int">{page_no}</pageNo><pageSize xsi:type="xsd:int">{page_size}</pageSize>'
            f"</q:queryCases></s:Body></s:Envelope>")
    return requests.post(service.endpoint_url, data=body.encode("utf-8"), headers=HEADERS, timeout=60)


def _inline(body: etree._Element) -> None:
    """Resolve href="#id" against the multiRef elements (test-side, so the records can be compared)."""
    ids = {el.get("id"): el for el in body.iter() if el.get("id")}
    for _ in range(5):
        for element in list(body.iter()):
            href = element.get("href")
            if href and href.startswith("#"):
                target = ids[href[1:]]
                del element.attrib["href"]
                element.text = target.text
                for name in ("{http://www.w3.org/2001/XMLSchema-instance}nil",):
                    if target.get(name):
                        element.set(name, target.get(name))
                for child in target:
                    element.append(etree.fromstring(etree.tostring(child)))


def test_axis_answers_with_multirefs_and_the_expected_page(axis_service: JavaService) -> None:
    since = _since(axis_service)
    answer = _encoded_call(axis_service, since, 1, 40)
    assert answer.status_code == 200, answer.text[:2000]
    assert b"<multiRef " in answer.content and b'href="#id0"' in answer.content
    envelope = _xml(answer.content, LENIENT)
    body = envelope.find(f"{{{SOAP}}}Body")
    assert body is not None
    assert etree.QName(body[0]).localname == "queryCasesResponse" and body[0][0].get("href") == "#id0"
    _inline(body)
    total, got = _page_of(body[0])
    want_total, want = expected_page(axis_service.records, since, 1, 40)
    assert total == want_total
    _check_records(got, want, names=False)
    for g, w in zip(got, want):
        if w["applicantName"].isascii() or all(ord(c) < 0x10000 for c in w["applicantName"]):
            assert g["applicantName"] == w["applicantName"]


def test_axis_writes_characters_outside_the_bmp_as_surrogate_references(axis_service: JavaService) -> None:
    """What Axis 1.4 really sends for 𠮷 (U+20BB7): UTF-8 would be F0 A0 AE B7; Axis writes &#xD842;&#xDFB7;."""
    record = next(r for r in axis_service.records if "𠮷" in r["applicantName"])
    answer = _encoded_call(axis_service, record["updateTime"], 1, 200)
    assert answer.status_code == 200
    assert record["caseNo"].encode() in answer.content
    assert b"&#xD842;&#xDFB7;" in answer.content or "𠮷".encode() in answer.content


# -- WS-Security (WSS4J) -------------------------------------------------------------------------------------------

def _username_token(username: str, password: str, *, digest: bool, created: str | None = None,
                    nonce: bytes | None = None) -> str:
    nonce = nonce if nonce is not None else os.urandom(16)
    created = created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if digest:
        text = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode("utf-8")).digest()).decode()
        kind = "PasswordDigest"
    else:
        text, kind = password, "PasswordText"
    return (f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" s:mustUnderstand="1">'
            f'<wsse:UsernameToken wsu:Id="UT-1"><wsse:Username>{username}</wsse:Username>'
            f'<wsse:Password Type="{UT_PROFILE}#{kind}">{text}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>")


def _fault(answer: requests.Response) -> tuple[str, str]:
    assert answer.status_code == 500, answer.text[:2000]
    fault = _xml(answer.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None, answer.text[:2000]
    code = fault.findtext("faultcode") or ""
    prefix, _, local = code.partition(":")
    element = fault.find("faultcode")
    assert element is not None and element.nsmap.get(prefix) == WSSE, code
    return local, fault.findtext("faultstring") or ""


def test_wss_wsdl_is_served(wss_service: JavaService) -> None:
    answer = requests.get(wss_service.wsdl_url, timeout=30)
    assert answer.status_code == 200 and _xml(answer.content).tag == f"{{{WSDL}}}definitions"


def test_wss_refuses_a_request_without_a_username_token(wss_service: JavaService) -> None:
    local, message = _fault(_literal_call(wss_service, None, 1, 5))
    assert local == "InvalidSecurity" and "Security" in message


def test_wss_refuses_a_wrong_password(wss_service: JavaService) -> None:
    header = _username_token(wss_service.username, "not-the-password", digest=True)
    assert _fault(_literal_call(wss_service, None, 1, 5, header))[0] == "FailedAuthentication"


def test_wss_accepts_a_correct_digest_token_once(wss_service: JavaService) -> None:
    assert wss_service.password_type == "PasswordDigest"
    header = _username_token(wss_service.username, wss_service.password, digest=True)
    answer = _literal_call(wss_service, None, 1, 5, header)
    assert answer.status_code == 200, answer.text[:2000]
    total, got = _page_of(_xml(answer.content))
    want_total, want = expected_page(wss_service.records, None, 1, 5)
    assert total == want_total == len(wss_service.records)
    _check_records(got, want)
    replay = _literal_call(wss_service, None, 1, 5, header)  # the same nonce again: WSS4J's replay cache
    assert _fault(replay)[0] in ("FailedAuthentication", "InvalidSecurity")


def test_wss_refuses_password_text_when_digest_is_required(wss_service: JavaService) -> None:
    header = _username_token(wss_service.username, wss_service.password, digest=False)
    assert _fault(_literal_call(wss_service, None, 1, 5, header))[0] == "FailedAuthentication"
