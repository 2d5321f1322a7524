"""Where a WSDL's imports may come from: bundled standard schemas, the service's own origin, a mapped local
file; anything else refused with the URL and the YAML key that fixes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from http_testlib import Answer, ScriptedServer, Seen

from connectors.soap.loader import ImportPolicy, bundled_schema, load_wsdl
from gateway.contract.errors import ConfigError

SCHEMA = b"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns:t="urn:t"
           elementFormDefault="qualified">
  <xs:element name="ping"><xs:complexType><xs:sequence><xs:element name="n" type="xs:int"/></xs:sequence>
  </xs:complexType></xs:element>
  <xs:element name="pingResponse"><xs:complexType><xs:sequence><xs:element name="r" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""


def wsdl(schema_location: str) -> bytes:
    return f"""<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
             xmlns:t="urn:t" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">
  <types><xs:schema><xs:import namespace="urn:t" schemaLocation="{schema_location}"/></xs:schema></types>
  <message name="in"><part name="p" element="t:ping"/></message>
  <message name="out"><part name="p" element="t:pingResponse"/></message>
  <portType name="P"><operation name="ping"><input message="t:in"/><output message="t:out"/></operation></portType>
  <binding name="B" type="t:P"><soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="ping"><soap:operation soapAction=""/><input><soap:body use="literal"/></input>
    <output><soap:body use="literal"/></output></operation></binding>
  <service name="S"><port name="p" binding="t:B"><soap:address location="http://127.0.0.1/x"/></port></service>
</definitions>""".encode()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    def answer(request: Seen) -> Answer:
        if request.path.startswith("/svc?xsd=1"):
            body = SCHEMA
        elif request.path.startswith("/svc?wsdl"):
            body = wsdl("svc?xsd=1")  # relative, as JAX-WS RI writes it after the host is rewritten
        elif request.path.startswith("/foreign?wsdl"):
            body = wsdl("http://schemas.example.invalid/t.xsd")
        else:
            return Answer(404, {"Content-Type": "text/plain"}, b"not found")
        return Answer(200, {"Content-Type": "text/xml"}, body)

    with ScriptedServer(answer) as running:
        yield running.url


def test_imports_from_the_services_own_origin_are_followed(server: str) -> None:
    loaded = load_wsdl(f"{server}/svc?wsdl")
    assert "ping" in {op.name for op in loaded.model.operations_of(loaded.model.ports[0])}
    assert loaded.client.service.ping is not None


def test_imports_from_another_host_are_refused_naming_the_url_and_the_yaml_key(server: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_wsdl(f"{server}/foreign?wsdl")
    message = str(caught.value)
    assert "http://schemas.example.invalid/t.xsd" in message and "schema_locations" in message


def test_a_mapped_local_file_serves_a_foreign_import(server: str, tmp_path: Path) -> None:
    local = tmp_path / "t.xsd"
    local.write_bytes(SCHEMA)
    loaded = load_wsdl(f"{server}/foreign?wsdl",
                       schema_locations={"http://schemas.example.invalid/t.xsd": str(local)})
    assert loaded.client.service.ping is not None


@pytest.mark.parametrize("url", [
    "http://schemas.xmlsoap.org/soap/encoding/", "https://schemas.xmlsoap.org/soap/encoding/",
    "http://schemas.xmlsoap.org/soap/encoding", "http://www.w3.org/2001/xml.xsd",
    "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd",
])
def test_standard_schemas_come_from_the_bundled_copies_however_spelled(url: str) -> None:
    data = bundled_schema(url)
    assert data is not None and b"<!DOCTYPE" not in data
    ImportPolicy("http://127.0.0.1:1/x?wsdl").local_copy(url)  # never reaches for the network


def test_offline_refuses_even_the_services_own_origin() -> None:
    with pytest.raises(ConfigError, match="offline"):
        ImportPolicy("http://127.0.0.1:1/x?wsdl", offline=True).check_remote("http://127.0.0.1:1/x?xsd=1")
