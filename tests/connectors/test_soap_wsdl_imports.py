"""A service split over several documents — CXF's and Axis2's usual layout: the service WSDL (binding, port)
imports the interface WSDL (messages, portType), whose types import a schema file — is modelled as one: the
inspector lists its operations with their parameters and record shape, the scaffold writes a stream for it,
and the client builds its requests. A cycle of imports is read once; a missing import is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.soap.loader import load_wsdl
from gateway.cli import app
from gateway.contract.errors import ConfigError

SERVICE = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="CaseService" targetNamespace="http://svc.zwfw.example.cn/"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:tns="http://svc.zwfw.example.cn/" xmlns:i="http://api.zwfw.example.cn/">
  <wsdl:import namespace="http://api.zwfw.example.cn/" location="api/CaseApi.wsdl"/>
  <wsdl:binding name="CaseServiceSoapBinding" type="i:CaseApi">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="queryCases">
      <soap:operation soapAction=""/>
      <wsdl:input name="queryCases"><soap:body use="literal"/></wsdl:input>
      <wsdl:output name="queryCasesResponse"><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="CaseService">
    <wsdl:port name="CaseServicePort" binding="tns:CaseServiceSoapBinding">
      <soap:address location="http://127.0.0.1:9/cases"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""
API = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="CaseApi" targetNamespace="http://api.zwfw.example.cn/"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="http://api.zwfw.example.cn/" xmlns:t="http://types.zwfw.example.cn/">
  <wsdl:import namespace="http://svc.zwfw.example.cn/" location="../CaseService.wsdl"/>
  <wsdl:types>
    <xsd:schema targetNamespace="http://api.zwfw.example.cn/imports">
      <xsd:import namespace="http://types.zwfw.example.cn/" schemaLocation="CaseApi_schema1.xsd"/>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="queryCases"><wsdl:part name="parameters" element="t:queryCases"/></wsdl:message>
  <wsdl:message name="queryCasesResponse">
    <wsdl:part name="parameters" element="t:queryCasesResponse"/>
  </wsdl:message>
  <wsdl:portType name="CaseApi">
    <wsdl:operation name="queryCases">
      <wsdl:input name="queryCases" message="tns:queryCases"/>
      <wsdl:output name="queryCasesResponse" message="tns:queryCasesResponse"/>
    </wsdl:operation>
  </wsdl:portType>
</wsdl:definitions>
"""
SCHEMA = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://types.zwfw.example.cn/"
    xmlns:tns="http://types.zwfw.example.cn/" elementFormDefault="unqualified">
  <xs:include schemaLocation="CaseApi_case.xsd"/>
  <xs:element name="queryCases">
    <xs:complexType><xs:sequence>
      <xs:element name="startTime" type="xs:string" minOccurs="0"/>
      <xs:element name="pageNo" type="xs:int"/>
    </xs:sequence></xs:complexType>
  </xs:element>
  <xs:element name="queryCasesResponse">
    <xs:complexType><xs:sequence>
      <xs:element name="return" type="tns:caseList" minOccurs="0"/>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""
INCLUDED = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://types.zwfw.example.cn/"
    xmlns:tns="http://types.zwfw.example.cn/">
  <xs:complexType name="caseList"><xs:sequence>
    <xs:element name="total" type="xs:int"/>
    <xs:element name="cases" type="tns:caseInfo" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType>
  <xs:complexType name="caseInfo"><xs:sequence>
    <xs:element name="caseNo" type="xs:string"/>
    <xs:element name="applicantName" type="xs:string" minOccurs="0"/>
    <xs:element name="updateTime" type="xs:string" minOccurs="0"/>
  </xs:sequence></xs:complexType>
</xs:schema>
"""


@pytest.fixture
def split_service(tmp_path: Path) -> Path:
    (tmp_path / "api").mkdir()
    (tmp_path / "CaseService.wsdl").write_text(SERVICE, encoding="utf-8")
    (tmp_path / "api" / "CaseApi.wsdl").write_text(API, encoding="utf-8")
    (tmp_path / "api" / "CaseApi_schema1.xsd").write_text(SCHEMA, encoding="utf-8")
    (tmp_path / "api" / "CaseApi_case.xsd").write_text(INCLUDED, encoding="utf-8")
    return tmp_path / "CaseService.wsdl"


def test_the_inspector_lists_the_operation_of_an_imported_interface(split_service: Path) -> None:
    result = CliRunner().invoke(app, ["connector", "new", "split", "--wsdl", str(split_service), "--dry-run",
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (op,) = report["operations"]
    assert op["name"] == "queryCases" and op["zeep_exposes"] and not op["flags"]
    assert [p["name"] for p in op["params"]] == ["startTime", "pageNo"]
    (answer,) = op["result"]
    assert answer["name"] == "return"
    cases = next(f for f in answer["children"] if f["name"] == "cases")
    assert cases["max_occurs"] is None  # unbounded
    assert [f["name"] for f in cases["children"]] == ["caseNo", "applicantName", "updateTime"]


def test_the_scaffold_finds_the_records_and_the_client_builds_the_request(split_service: Path,
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["connector", "new", "split", "--wsdl", str(split_service), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "result_path: queryCasesResponse.return.cases" in (out / "config" / "connectors" / "split.yaml").read_text(
        encoding="utf-8")
    loaded = load_wsdl(str(split_service), offline=True)
    assert loaded.model.target_namespace == "http://svc.zwfw.example.cn/"
    assert {"queryCases"} <= loaded.zeep_operations()["{http://svc.zwfw.example.cn/}CaseServiceSoapBinding"]


def test_a_missing_import_is_a_clear_error(split_service: Path) -> None:
    (split_service.parent / "api" / "CaseApi_case.xsd").unlink()
    with pytest.raises(ConfigError, match="CaseApi_case.xsd"):
        load_wsdl(str(split_service), offline=True)
