"""Answers real SOAP services give that the connector mishandled (an outside review; every case over a real HTTP
server on 127.0.0.1, the connector built from its config as the sync builds it): an empty CDATA section failed
the whole read, a boolean template value went out as true, a remote WSDL read local files and endless documents,
and an envelope labelled text/html was refused (a write the server applied counted failed)."""

from __future__ import annotations

import http.server
import re
import socketserver
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.soap import SoapConnector, loader


def _wsdl(schema: str, op: str) -> str:
    """A document/literal WSDL of one operation ``op`` (elements ``op`` and ``opResponse`` in ``schema``)."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:demo" targetNamespace="urn:demo">
 <wsdl:types>
{schema}
 </wsdl:types>
 <wsdl:message name="In"><wsdl:part name="parameters" element="tns:{op}"/></wsdl:message>
 <wsdl:message name="Out"><wsdl:part name="parameters" element="tns:{op}Response"/></wsdl:message>
 <wsdl:portType name="P"><wsdl:operation name="{op}"><wsdl:input message="tns:In"/><wsdl:output message="tns:Out"/></wsdl:operation></wsdl:portType>
 <wsdl:binding name="B" type="tns:P"><soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
  <wsdl:operation name="{op}"><soap:operation soapAction="urn:demo/{op}" style="document"/>
   <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>
 <wsdl:service name="S"><wsdl:port name="SP" binding="tns:B"><soap:address location="http://example.invalid/svc.asmx"/></wsdl:port></wsdl:service>
</wsdl:definitions>"""


READ_WSDL = _wsdl("""  <s:schema elementFormDefault="qualified" targetNamespace="urn:demo">
   <s:element name="GetCases"><s:complexType><s:sequence>
     <s:element minOccurs="0" name="since" type="s:string"/></s:sequence></s:complexType></s:element>
   <s:element name="GetCasesResponse"><s:complexType><s:sequence>
     <s:element minOccurs="0" name="GetCasesResult" type="tns:Result"/></s:sequence></s:complexType></s:element>
   <s:complexType name="Result"><s:sequence>
     <s:element name="Cases"><s:complexType><s:sequence>
        <s:element name="Case" type="tns:Case" minOccurs="0" maxOccurs="unbounded"/></s:sequence></s:complexType></s:element>
   </s:sequence></s:complexType>
   <s:complexType name="Case"><s:sequence>
     <s:element name="CaseNo" type="s:string"/>
     <s:element name="Applicants"><s:complexType>
        <s:choice minOccurs="0" maxOccurs="unbounded">
          <s:element name="Person" type="tns:Party"/>
          <s:element name="Company" type="tns:Party"/>
        </s:choice></s:complexType></s:element>
     <s:element name="Attachments"><s:complexType>
        <s:sequence minOccurs="0" maxOccurs="unbounded">
          <s:element name="Attachment" type="s:string"/>
        </s:sequence></s:complexType></s:element>
     <s:element name="Steps"><s:complexType><s:sequence>
          <s:group ref="tns:StepGroup"/>
        </s:sequence></s:complexType></s:element>
   </s:sequence></s:complexType>
   <s:group name="StepGroup"><s:sequence>
      <s:element name="Step" type="s:string" maxOccurs="unbounded"/></s:sequence></s:group>
   <s:complexType name="Party"><s:sequence><s:element name="Name" type="s:string"/></s:sequence></s:complexType>
  </s:schema>""", "GetCases")

WRITE_WSDL = _wsdl("""  <s:schema elementFormDefault="qualified" targetNamespace="urn:demo">
   <s:element name="SubmitCase"><s:complexType><s:sequence>
     <s:element name="caseNo" type="s:string"/>
     <s:element name="urgent" type="s:boolean"/>
     <s:element name="amount" type="s:decimal"/>
     <s:element name="remark" type="s:string" minOccurs="0"/>
   </s:sequence></s:complexType></s:element>
   <s:element name="SubmitCaseResponse"><s:complexType><s:sequence>
     <s:element name="SubmitCaseResult" type="s:string"/></s:sequence></s:complexType></s:element>
  </s:schema>""", "SubmitCase")


class _Site:
    """A WSDL on GET, canned answers on POST (the requests kept), on 127.0.0.1."""

    def __init__(self) -> None:
        self.wsdl: bytes | Any = b""
        self.answer: tuple[int, dict[str, str], bytes] = (200, {}, b"")
        self.requests: list[bytes] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = site.wsdl(self) if callable(site.wsdl) else site.wsdl
                if body is None:
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                site.requests.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                status, headers, body = site.answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def connector(self, **config: Any) -> SoapConnector:
        loader._CACHE.clear()  # noqa: SLF001 - each test its own WSDL at a reused address
        base = {"kind": "soap", "name": "demo", "wsdl": self.base + "/svc.asmx?wsdl", "base_url": self.base,
                "retry": {"max_attempts": 2, "backoff_seconds": 0, "jitter": False}}
        return SoapConnector({**base, **config}, secrets={}, sleep=lambda s: None)


@pytest.fixture
def site() -> Iterator[_Site]:
    made = _Site()
    yield made
    made.server.shutdown()
    made.server.server_close()


def _envelope(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' + body +
            "</soap:Body></soap:Envelope>").encode()


CASES = {"cases": {"operation": "GetCases", "primary_key": "CaseNo",
                    "result_path": "GetCasesResponse.GetCasesResult.Cases.Case"}}


def _cases(*records: str) -> bytes:
    return _envelope('<GetCasesResponse xmlns="urn:demo"><GetCasesResult><Cases>' + "".join(records)
                     + "</Cases></GetCasesResult></GetCasesResponse>")


def _read(connector: SoapConnector) -> list[dict[str, Any]]:
    return [r.payload for page in connector.read("cases", mode="full_refresh") for r in page.records]


def test_an_empty_cdata_section_is_an_empty_value_not_a_failed_read(site: _Site) -> None:
    """<Remark><![CDATA[]]></Remark> has the text "" (not None): its first character was read, and the IndexError
    failed every run while the record stayed in the window."""
    site.wsdl = READ_WSDL.encode()
    site.answer = (200, {"Content-Type": "text/xml; charset=utf-8"}, _cases(
        "<Case><CaseNo>A1</CaseNo><Attachments><Attachment><![CDATA[]]></Attachment></Attachments></Case>"))
    # (Attachment sits in an <s:choice maxOccurs="unbounded">: a list, as the WSDL says)
    assert _read(site.connector(streams=CASES)) == [{"CaseNo": "A1", "Attachments": {"Attachment": [""]}}]


def test_an_envelope_labelled_text_html_is_read_as_the_envelope_it_is(site: _Site) -> None:
    site.wsdl = READ_WSDL.encode()
    site.answer = (200, {"Content-Type": "text/html; charset=utf-8"}, _cases("<Case><CaseNo>A1</CaseNo></Case>"))
    assert _read(site.connector(streams=CASES)) == [{"CaseNo": "A1"}]
    site.answer = (200, {"Content-Type": "text/html"}, b"<html><head><title>502</title></head><body>x</body></html>")
    with pytest.raises(Exception, match="instead of a SOAP envelope"):  # a page is still no answer
        _read(site.connector(streams=CASES))


@pytest.mark.parametrize(("record", "sent"), [
    ({"urgent": False, "amount": 0.00001}, [("urgent", "false"), ("amount", "0.00001")]),
    ({"urgent": True, "amount": Decimal("1234.50")}, [("urgent", "true"), ("amount", "1234.50")]),
    ({"urgent": False, "amount": 12.0}, [("urgent", "false"), ("amount", "12")]),
])
def test_template_values_go_out_in_xml_schemas_forms(site: _Site, record: dict[str, Any],
                                                     sent: list[tuple[str, str]]) -> None:
    """str(False) is "False", which zeep's xsd:boolean sends as true: "not urgent" was written as urgent; a Decimal
    was "no field"; 1e-05 is no xsd:decimal."""
    site.wsdl = WRITE_WSDL.encode()
    site.answer = (200, {"Content-Type": "text/xml; charset=utf-8"}, _envelope(
        '<SubmitCaseResponse xmlns="urn:demo"><SubmitCaseResult>OK</SubmitCaseResult></SubmitCaseResponse>'))
    connector = site.connector(check={"call": {"operation": "SubmitCase"}}, write={"cases": {"upsert": {
        "operation": "SubmitCase", "params": {"caseNo": "{key}", "urgent": "{urgent}", "amount": "{amount}"}}}})
    assert connector.write("cases", record, key="C1", idempotency_key="C1:1").status == "applied"
    assert re.findall(r"<(?:\w+:)?(urgent|amount)>([^<]*)<", site.requests[-1].decode()) == sent


def test_a_wsdl_from_the_service_never_reads_a_file_on_this_machine(site: _Site, tmp_path) -> None:
    local = tmp_path / "local-only.xsd"
    local.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:local">'
                     '<xs:element name="LOCAL_MARKER" type="xs:string"/></xs:schema>', encoding="utf-8")
    site.wsdl = READ_WSDL.replace(
        '<s:schema elementFormDefault="qualified" targetNamespace="urn:demo">',
        '<s:schema elementFormDefault="qualified" targetNamespace="urn:demo">'
        f'<s:import namespace="urn:local" schemaLocation="{local.as_uri()}"/>').encode()
    check = site.connector(streams=CASES).check()
    assert not check.ok and "a file on this machine" in check.message and "schema_locations" in check.message


def test_a_wsdl_that_never_ends_is_refused_at_the_size_limit(site: _Site) -> None:
    """Streamed without end, it filled memory until the worker was killed (limits.max_bytes did not apply)."""
    def endless(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml")
        handler.end_headers()
        try:
            handler.wfile.write(b'<?xml version="1.0"?><wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">')
            chunk = b"<!-- " + b"x" * 65536 + b" -->"
            for _ in range(10_000):
                handler.wfile.write(chunk)
        except OSError:
            pass  # the connector stopped reading
        return None

    site.wsdl = endless
    started = time.monotonic()
    check = site.connector(streams=CASES, limits={"max_bytes": 1 << 20}).check()
    assert not check.ok and "exceeds the limit of 1,048,576 bytes (limits.max_bytes)" in check.message, check.message
    assert time.monotonic() - started < 120


def test_elements_of_a_repeating_choice_are_lists_whatever_their_count(site: _Site) -> None:
    """<s:choice maxOccurs="unbounded"> (JAXB's and .NET's list of mixed items): its elements' own maxOccurs is 1, so
    one attachment was a dict entry and two a list — the same field changing type with its count."""
    site.wsdl = READ_WSDL.encode()
    site.answer = (200, {"Content-Type": "text/xml; charset=utf-8"}, _cases(
        "<Case><CaseNo>A1</CaseNo><Attachments><Attachment>a.pdf</Attachment></Attachments></Case>",
        "<Case><CaseNo>A2</CaseNo><Attachments><Attachment>b.pdf</Attachment><Attachment>c.pdf</Attachment>"
        "</Attachments></Case>"))
    assert [r["Attachments"] for r in _read(site.connector(streams=CASES))] == [
        {"Attachment": ["a.pdf"]}, {"Attachment": ["b.pdf", "c.pdf"]}]


def test_a_server_error_in_plain_text_is_retried_and_shown(site: _Site) -> None:
    """An HTTP 500 whose body is a server's own text was fatal at once ("not well-formed XML"), never retried as a
    500 without a Fault is, and the message never showed what arrived."""
    from gateway.contract.errors import FatalSyncError, RetriableSyncError

    site.wsdl = READ_WSDL.encode()
    site.answer = (500, {"Content-Type": "text/plain"}, b"Internal Server Error: system busy")
    with pytest.raises(RetriableSyncError, match="HTTP 500 with a body that is no SOAP envelope.*system busy"):
        _read(site.connector(streams=CASES))
    assert len(site.requests) == 2  # retried (max_attempts 2)
    site.answer = (200, {"Content-Type": "application/json"}, b'{"code":500,"msg":"system busy"}')
    with pytest.raises(FatalSyncError, match="first bytes .*system busy"):
        _read(site.connector(streams=CASES))


GROUP_WSDL = _wsdl("""  <s:schema elementFormDefault="qualified" targetNamespace="urn:demo">
   <s:group name="Paging"><s:sequence>
     <s:element name="pageNo" type="s:int"/><s:element name="pageSize" type="s:int"/></s:sequence></s:group>
   <s:group name="Window"><s:sequence>
     <s:element name="beginTime" type="s:string" minOccurs="0"/><s:element name="endTime" type="s:string" minOccurs="0"/>
     </s:sequence></s:group>
   <s:group name="Row"><s:sequence>
     <s:element name="CaseNo" type="s:string"/><s:element name="Name" type="s:string"/></s:sequence></s:group>
   <s:element name="GetCases"><s:complexType><s:sequence>
     <s:element name="areaCode" type="s:string"/>
     <s:group ref="tns:Paging"/>
     <s:group ref="tns:Window" minOccurs="0"/></s:sequence></s:complexType></s:element>
   <s:element name="GetCasesResponse"><s:complexType><s:sequence>
     <s:element minOccurs="0" name="GetCasesResult"><s:complexType><s:sequence>
       <s:element name="Cases"><s:complexType><s:sequence>
         <s:element name="Case" minOccurs="0" maxOccurs="unbounded"><s:complexType><s:sequence>
           <s:group ref="tns:Row"/></s:sequence></s:complexType></s:element>
       </s:sequence></s:complexType></s:element>
     </s:sequence></s:complexType></s:element></s:sequence></s:complexType></s:element>
  </s:schema>""", "GetCases")


def test_parameters_written_in_a_model_group_are_parameters(site: _Site) -> None:
    """Hand-written and Axis schemas share elements between types with ``<xs:group ref="…"/>``; the WSDL model left
    them out, so ``connector check`` refused a stream whose paging parameters a group declares ("takes no
    parameter(s) ['pageNo', 'pageSize']") although zeep sends them."""
    from connectors.soap.wsdl_model import WsdlModel

    site.wsdl = GROUP_WSDL.encode()
    site.answer = (200, {"Content-Type": "text/xml; charset=utf-8"},
                   _cases("<Case><CaseNo>A1</CaseNo><Name>张伟</Name></Case>"))
    streams = {"cases": {**CASES["cases"], "params": {"areaCode": "370102"},
                         "pagination": {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize",
                                        "size": 50, "start": 1}}}
    connector = site.connector(streams=streams)
    check = connector.check()
    assert check.ok, check.message
    assert _read(site.connector(streams=streams)) == [{"CaseNo": "A1", "Name": "张伟"}]
    sent = site.requests[-1].decode()
    assert "<ns0:areaCode>370102</ns0:areaCode>" in sent or ">370102</" in sent
    assert re.search(r"pageNo>1</", sent) and re.search(r"pageSize>50</", sent), sent

    model = WsdlModel.parse(GROUP_WSDL.encode(), where="group.wsdl")
    (op,) = model.operations_of(model.soap_ports()[0])
    fields = {f.name: (f.min_occurs, f.max_occurs) for f in model.part_fields(op.input_parts)}
    assert fields == {"areaCode": (1, 1), "pageNo": (1, 1), "pageSize": (1, 1), "beginTime": (0, 1),
                      "endTime": (0, 1)}
    streams["cases"]["params"]["pagesize"] = 10  # a typo is still caught
    check = site.connector(streams=streams).check()
    assert not check.ok and "'pagesize'" in check.message


def test_a_group_that_contains_itself_is_read_once_by_the_model_and_named_by_the_check(site: _Site) -> None:
    """Invalid XSD, which zeep loads and then recursed on without end at the first call (a RecursionError: "check
    failed unexpectedly"). The model reads the group once; the check says what is wrong with the WSDL."""
    from connectors.soap.wsdl_model import WsdlModel

    circular = GROUP_WSDL.replace('<s:element name="endTime" type="s:string" minOccurs="0"/>',
                                  '<s:element name="endTime" type="s:string" minOccurs="0"/><s:group ref="tns:Window"/>')
    model = WsdlModel.parse(circular.encode(), where="circular.wsdl")
    (op,) = model.operations_of(model.soap_ports()[0])
    assert [f.name for f in model.part_fields(op.input_parts)] == ["areaCode", "pageNo", "pageSize", "beginTime",
                                                                   "endTime"]
    site.wsdl = circular.encode()
    check = site.connector(streams=CASES).check()
    assert not check.ok and "refers to itself without end" in check.message, check.message
