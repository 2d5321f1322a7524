"""What goes on the wire: rpc/encoded with xsi:type and encodingStyle, every Kingdee overload and Axis2's
dropped flushCache callable, WS-Security UsernameToken (text and digest, nonce, created) with a timestamp,
SOAP 1.2 headers, HTTP basic and client-certificate settings, DataSet answers as rows."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import responses
from lxml import etree
from soap_testlib import ADDRESS, CORPUS, SECRETS, connector, envelope, market_config

from connectors.soap import SoapConnector
from connectors.soap.wsse import PASSWORD_DIGEST, PASSWORD_TEXT, WSSE, WSU
from gateway.contract.errors import ConfigError

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
KINGDEE = CORPUS / "cn-kingdee-eas-easlogin-axis1.wsdl"
AXIS2 = CORPUS / "axis2-intesi-qrbox-handler.wsdl"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"WSDL corpus not found at {CORPUS}")


def kingdee() -> SoapConnector:
    return SoapConnector({"kind": "soap", "wsdl": str(KINGDEE), "offline": True,
                          "check": {"call": {"operation": "logout", "params": {}}}}, secrets={})


def body_call(envelope_el: etree._Element) -> etree._Element:
    return envelope_el.find(f"{{{SOAP11}}}Body")[0]


@needs_corpus
def test_rpc_encoded_requests_carry_xsi_type_and_encoding_style() -> None:
    client = kingdee().client
    params = {"userName": "kd", "password": "p", "slnName": "eas", "dcName": "dc", "language": "l2", "dbType": 0}
    call = body_call(client.build(client.operation("login", 2), params))
    assert call.get(f"{{{SOAP11}}}encodingStyle") == ENC
    types = {child.tag: child.get(f"{{{XSI}}}type") for child in call}
    assert types["userName"].endswith(":string") and types["dbType"].endswith(":int")
    prefix = types["dbType"].split(":")[0]
    assert call.nsmap[prefix] == "http://www.w3.org/2001/XMLSchema"
    assert [c.tag for c in call] == ["userName", "password", "slnName", "dcName", "language", "dbType"]


@needs_corpus
def test_every_login_overload_can_be_called_although_zeep_keeps_only_the_last() -> None:
    client = kingdee().client
    assert client.loaded.zeep_operations()[client.port.binding.text] >= {"login"}
    with pytest.raises(ConfigError, match="overloaded 3 times"):
        client.operation("login")
    base = {"userName": "kd", "password": "p", "slnName": "eas", "dcName": "dc", "language": "l2", "dbType": 0}
    sizes = []
    for overload, extra in ((0, {"authPattern": "BaseDB"}), ("loginRequest1", {"authPattern": "x", "isEncodePwd": 1}),
                            (2, {})):
        op = client.operation("login", overload)
        sizes.append(len(body_call(client.build(op, base | extra))))
    assert sizes == [7, 8, 6]
    assert not client.zeep_exposes(client.operation("login", 0))


@needs_corpus
def test_axis2_flush_cache_is_callable_although_zeep_dropped_it() -> None:
    c = SoapConnector({"kind": "soap", "wsdl": str(AXIS2), "offline": True,
                       "check": {"call": {"operation": "flushCache"}}}, secrets={})
    op = c.client.operation("flushCache")
    assert op.missing_messages and not c.client.zeep_exposes(op)
    call = body_call(c.client.build(op, {"cache": 1, "key": "all"}))
    assert etree.QName(call).localname == "flushCache"
    assert [etree.QName(x).localname for x in call] == ["cache", "key"] and call[1].text == "all"


@responses.activate
@pytest.mark.parametrize("digest", [False, True])
def test_ws_security_username_token_and_timestamp(tmp_path: Path, digest: bool) -> None:
    responses.post(ADDRESS, body=envelope('<GetItemCatalogResponse xmlns="http://scjg.jinan.gov.cn/zwfw/">'
                                          "<GetItemCatalogResult/></GetItemCatalogResponse>").encode(),
                   content_type="text/xml")
    c = SoapConnector(market_config(tmp_path, wsse={"username_secret": "username", "password_secret": "password",
                                                    "digest": digest, "timestamp_ttl_seconds": 120}), secrets=SECRETS)
    assert list(c.read("items", mode="full_refresh"))[0].records == []
    sent = etree.fromstring(responses.calls[0].request.body)
    security = sent.find(f"{{{SOAP11}}}Header/{{{WSSE}}}Security")
    assert security.get(f"{{{SOAP11}}}mustUnderstand") == "1"
    assert security.find(f"{{{WSU}}}Timestamp/{{{WSU}}}Expires") is not None
    token = security.find(f"{{{WSSE}}}UsernameToken")
    password = token.find(f"{{{WSSE}}}Password")
    nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce"))
    created = token.findtext(f"{{{WSU}}}Created")
    assert token.findtext(f"{{{WSSE}}}Username") == "tongban" and len(nonce) == 16 and created.endswith("Z")
    if digest:
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"market-demo-secret").digest()).decode()
        assert password.get("Type") == PASSWORD_DIGEST and password.text == expected
    else:
        assert password.get("Type") == PASSWORD_TEXT and password.text == "market-demo-secret"
    assert responses.calls[0].request.headers["SOAPAction"] == '"http://scjg.jinan.gov.cn/zwfw/GetItemCatalog"'


@responses.activate
def test_soap12_port_http_basic_and_client_certificates(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=envelope('<GetItemCatalogResponse xmlns="http://scjg.jinan.gov.cn/zwfw/">'
                                          "<GetItemCatalogResult/></GetItemCatalogResponse>", soap12=True).encode(),
                   content_type="application/soap+xml")
    config = market_config(tmp_path, soap_version="1.2",
                           http_basic={"username_secret": "username", "password_secret": "password"},
                           tls={"client_cert": "/etc/tongban/client.pem", "client_key": "/etc/tongban/client.key",
                                "ca_bundle": "/etc/tongban/ca.pem"})
    c = SoapConnector(config, secrets=SECRETS)
    list(c.read("items", mode="full_refresh"))
    request = responses.calls[0].request
    assert request.headers["Content-Type"].startswith("application/soap+xml")
    assert 'action="http://scjg.jinan.gov.cn/zwfw/GetItemCatalog"' in request.headers["Content-Type"]
    assert etree.fromstring(request.body).tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"tongban:market-demo-secret").decode()
    session = c.client.transport.session
    assert session.cert == ("/etc/tongban/client.pem", "/etc/tongban/client.key")
    assert session.verify == "/etc/tongban/ca.pem"


@responses.activate
def test_a_dataset_answer_becomes_rows_with_null_columns_filled(tmp_path: Path) -> None:
    dataset = (
        '<GetItemCatalogResponse xmlns="http://scjg.jinan.gov.cn/zwfw/"><GetItemCatalogResult>'
        '<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"><xs:element name="NewDataSet" msdata:IsDataSet="true">'
        '<xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded"><xs:element name="SXML"><xs:complexType>'
        '<xs:sequence><xs:element name="SXBM" type="xs:string" minOccurs="0"/><xs:element name="SXMC" '
        'type="xs:string" minOccurs="0"/><xs:element name="ZZMC" type="xs:string" minOccurs="0"/></xs:sequence>'
        "</xs:complexType></xs:element></xs:choice></xs:complexType></xs:element></xs:schema>"
        '<diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" '
        'xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"><NewDataSet xmlns="">'
        '<SXML diffgr:id="SXML1" msdata:rowOrder="0"><SXBM>A1</SXBM><SXMC>食品经营许可</SXMC><ZZMC></ZZMC></SXML>'
        '<SXML diffgr:id="SXML2" msdata:rowOrder="1"><SXBM>A2</SXBM><SXMC>企业注销登记</SXMC></SXML>'
        "</NewDataSet></diffgr:diffgram></GetItemCatalogResult></GetItemCatalogResponse>"
    )
    responses.post(ADDRESS, body=envelope(dataset).encode(), content_type="text/xml")
    (only,) = list(connector(tmp_path).read("items", mode="full_refresh"))
    assert [r.payload for r in only.records] == [
        {"SXBM": "A1", "SXMC": "食品经营许可", "ZZMC": ""},
        {"SXBM": "A2", "SXMC": "企业注销登记", "ZZMC": None},
    ]
