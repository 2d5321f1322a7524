"""Writes that send the record as a document in a string parameter, and parameter templates that cannot inject.

``SubmitXxx(string xmlData)`` is the usual shape of .NET ASMX and Chinese services: the case goes as an XML or
JSON document inside one ``xsd:string``. The hospital HIS service (document/literal, ``SaveFee`` takes five
strings) and Kingdee EAS (Axis 1.x rpc/encoded, ``loginBfb(jsonStr)``) are served unchanged over real HTTP on
127.0.0.1; every test reads what arrived: the envelope parsed, then the document inside the parameter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from http_testlib import Answer, ScriptedServer, Seen, plain_session
from lxml import etree
from soap_testlib import CORPUS

from connectors.soap import SoapConnector
from gateway.contract.errors import ConfigError, WriteRejectedError

HIS_WSDL = CORPUS / "cn-hospital-his-quyiservice.wsdl"
EAS_WSDL = CORPUS / "cn-kingdee-eas-easlogin-axis1.wsdl"
FORGED = "王五</SQRXM><SXBM>FORGED</SXBM><SQRXM>x"
HOSTILE = {
    "BJBH": "370100202500009997",
    "SQRXM": "张&三",
    "FORGED": FORGED,
    "BZ": "a < b && c > d ]]> \"双引号\" 'single' <![CDATA[x]]>",
    "SXBM": "X1",
}


class Service:
    """Answers every POST with a success; keeps the parameters of each call as they arrived."""

    def __init__(self, wsdl: bytes) -> None:
        self.wsdl = wsdl
        self.calls: list[dict[str, str | None]] = []

    def __call__(self, request: Seen) -> Answer:
        if request.method == "GET":
            return Answer(200, {"Content-Type": "text/xml"}, self.wsdl)
        call = etree.fromstring(request.body).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
        operation = etree.QName(call).localname
        self.calls.append({etree.QName(c).localname: c.text for c in call})
        result = escape('<?xml version="1.0" encoding="gbk"?><Result><Code>0</Code><Message>成功</Message>'
                        "<FeeNo>F-9</FeeNo></Result>")
        ns = "http://tempuri.org/" if operation == "SaveFee" else "http://login.webservice.bos.kingdee.com"
        body = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
                f'soap/envelope/"><soap:Body><{operation}Response xmlns="{ns}"><{operation}Result>{result}'
                f"</{operation}Result></{operation}Response></soap:Body></soap:Envelope>")
        return Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, body.encode())


def _served(wsdl: Path) -> Any:
    service = Service(wsdl.read_bytes())
    with ScriptedServer(service) as server:
        service.url = server.url
        yield service


@pytest.fixture
def his() -> Any:
    yield from _served(HIS_WSDL)


@pytest.fixture
def eas() -> Any:
    yield from _served(EAS_WSDL)


def _his(url: str, **upsert: Any) -> dict[str, Any]:
    call = {"operation": "SaveFee", "params": {"clinicCode": "{key}"}} | upsert
    return {
        "kind": "soap", "name": "his", "wsdl": f"{url}/HisService.asmx?wsdl", "address": f"{url}/HisService.asmx",
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "check": {"call": {"operation": "HelloWorld"}},
        "write": {"fees": {"upsert": call, "embedded": {"path": "SaveFeeResponse.SaveFeeResult"},
                           "result_path": "Result", "success": {"field": "Code", "equals": "0"},
                           "target_id_path": "FeeNo"}},
    }


def _write(config: dict[str, Any], record: dict[str, Any], key: str = "370100202500009997") -> Any:
    connector = SoapConnector(config, session=plain_session(), sleep=lambda s: None)
    try:
        return connector.write("fees", record, key=key, idempotency_key=f"{key}:1")
    finally:
        connector.close()


def test_the_record_goes_as_an_xml_document_in_a_string_parameter_with_every_value_intact(his: Service) -> None:
    record = HOSTILE | {"SQRQ": None, "Fees": {"Fee": [{"Name": "挂号费"}, {"Name": "诊查费"}]}, "JE": 12.5,
                        "JJ": True}
    result = _write(_his(his.url, embedded={"param": "recipeNo", "format": "xml", "root": "Case"}), record)
    assert (result.status, result.target_id) == ("applied", "F-9")
    (call,) = his.calls
    assert call["clinicCode"] == "370100202500009997"
    text = call["recipeNo"]
    assert text is not None and text.startswith("<Case>")  # no declaration unless asked
    case = etree.fromstring(text)
    assert [c.tag for c in case] == ["BJBH", "SQRXM", "FORGED", "BZ", "SXBM", "SQRQ", "Fees", "JE", "JJ"]
    for name in ("SQRXM", "FORGED", "BZ"):
        assert case.findtext(name) == HOSTILE[name]
    assert case.findall("SXBM")[0].text == "X1" and len(case.findall("SXBM")) == 1  # nothing forged
    assert case.find("SQRQ") is not None and case.find("SQRQ").text is None and len(case.find("SQRQ")) == 0
    assert [f.findtext("Name") for f in case.find("Fees")] == ["挂号费", "诊查费"]
    assert (case.findtext("JE"), case.findtext("JJ")) == ("12.5", "true")


def test_a_gb2312_declaration_and_characters_gb2312_lacks_as_references(his: Service) -> None:
    embedded = {"param": "recipeNo", "root": "Case", "declaration": True, "encoding": "GB2312", "nulls": "omit"}
    _write(_his(his.url, embedded=embedded), {"SQRXM": "朱镕基 & 欧阳𠮷", "SQRQ": None})
    text = his.calls[0]["recipeNo"]
    assert text is not None and text.startswith('<?xml version="1.0" encoding="GB2312"?><Case>')
    assert "&#38229;" in text and "&#134071;" in text  # 镕 and 𠮷 are not in GB2312
    case = etree.fromstring(text.encode("gb2312"))  # the service may turn the string into GB2312 bytes: nothing lost
    assert case.findtext("SQRXM") == "朱镕基 & 欧阳𠮷"
    assert case.find("SQRQ") is None  # nulls: omit


def test_the_record_goes_as_a_json_document_over_rpc_encoded(eas: Service) -> None:
    config = {
        "kind": "soap", "name": "eas", "wsdl": f"{eas.url}/ormrpc/services/EASLogin?wsdl",
        "address": f"{eas.url}/ormrpc/services/EASLogin",
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "check": {"call": {"operation": "logout"}},
        "write": {"fees": {"upsert": {"operation": "loginBfb",
                                      "embedded": {"param": "jsonStr", "format": "json", "root": "case"}}}},
    }
    record = HOSTILE | {"SQRQ": None, "HJ": [{"XH": 1, "HJMC": "受理"}]}
    assert _write(config, record).status == "applied"
    text = eas.calls[0]["jsonStr"]
    assert text is not None and "张&三" in text  # ensure_ascii false: Chinese as itself
    assert json.loads(text) == {"case": record}


def test_values_in_a_markup_template_are_escaped_and_cannot_forge_an_element(his: Service) -> None:
    template = "<Case><SQRXM>{SQRXM}</SQRXM><SXBM>{SXBM}</SXBM><BZ a=\"{BZ}\">{FORGED}</BZ></Case>"
    _write(_his(his.url, params={"clinicCode": "{key}", "recipeNo": template}), HOSTILE)
    case = etree.fromstring(his.calls[0]["recipeNo"] or "")
    assert [c.tag for c in case] == ["SQRXM", "SXBM", "BZ"]
    assert case.findtext("SQRXM") == "张&三" and case.findtext("SXBM") == "X1"
    assert case.find("BZ").get("a") == HOSTILE["BZ"] and case.findtext("BZ") == FORGED
    assert his.calls[0]["clinicCode"] == "370100202500009997"  # plain templates: unchanged


@pytest.mark.parametrize(("template", "said"), [
    ("<{SXBM}>x</{SXBM}>", "inside a tag"),
    ("<Case a={SXBM}/>", "inside a tag"),
    ("<Case><![CDATA[{SQRXM}]]></Case>", "CDATA"),
    ("<Case><!-- {SQRXM} --></Case>", "comment"),
    ("<Case><SQRXM>{SQRXM}</Case>", "not well-formed"),
    ('{{"name": "{SQRXM}"}}', "format: json"),
    ("<Case>{record}</Case>", "whole value"),
])
def test_templates_escaping_cannot_protect_are_refused_at_load(his: Service, template: str, said: str) -> None:
    with pytest.raises(ConfigError, match=f"recipeNo.*{said}.*embedded|recipeNo.*embedded.*{said}"):
        SoapConnector(_his(his.url, params={"recipeNo": template}), session=plain_session())


def test_record_aimed_at_a_string_parameter_stops_the_target_before_anything_is_sent(his: Service) -> None:
    config = _his(his.url, params={"clinicCode": "{key}", "recipeNo": "{record}"})
    with pytest.raises(ConfigError, match=r"'recipeNo' is a string .*embedded: \{param: recipeNo") as caught:
        _write(config, HOSTILE)
    assert not isinstance(caught.value, WriteRejectedError)
    assert his.calls == []


def test_record_aimed_at_a_string_parameter_over_rpc_encoded_is_refused(eas: Service) -> None:
    config = {
        "kind": "soap", "name": "eas", "wsdl": f"{eas.url}/ormrpc/services/EASLogin?wsdl",
        "address": f"{eas.url}/ormrpc/services/EASLogin", "check": {"call": {"operation": "logout"}},
        "write": {"fees": {"upsert": {"operation": "loginBfb", "params": {"jsonStr": "{record}"}}}},
    }
    with pytest.raises(ConfigError, match="'jsonStr' is a string"):
        _write(config, HOSTILE)
    assert eas.calls == []


def test_an_embedded_parameter_the_operation_lacks_is_named(his: Service) -> None:
    with pytest.raises(ConfigError, match=r"embedded.param 'caseXml' is not a parameter .*recipeNo"):
        _write(_his(his.url, embedded={"param": "caseXml", "root": "Case"}), HOSTILE)
    assert his.calls == []


def test_a_record_key_that_is_no_xml_name_rejects_that_record_only(his: Service) -> None:
    config = _his(his.url, embedded={"param": "recipeNo", "root": "Case"})
    with pytest.raises(WriteRejectedError, match="'办 件' is not an XML element name"):
        _write(config, {"办 件": "x"})
    with pytest.raises(WriteRejectedError, match="SQRXM"):
        _write(config, {"SQRXM": "a\x01b"})
    assert his.calls == []


@pytest.mark.parametrize(("embedded", "said"), [
    ({"param": "recipeNo"}, "needs `root`"),
    ({"param": "recipeNo", "root": "my case"}, "not an XML element name"),
    ({"param": "recipeNo", "root": "Case", "encoding": "nope"}, "not a known encoding"),
    ({"param": "recipeNo", "format": "json", "declaration": True}, "for `format: xml`"),
    ({"param": "clinicCode", "root": "Case"}, "both in `params`"),
])
def test_the_embedded_form_is_checked_at_load(his: Service, embedded: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        SoapConnector(_his(his.url, embedded=embedded), session=plain_session())
