"""Records carried as text: a .NET ASMX service whose every result is ``xsd:string`` holding a document.

The hospital HIS service of ``cn-hospital-his-quyiservice.wsdl`` (57 operations, every result a string) is
served unchanged over real HTTP on 127.0.0.1; its answers are what such services send: the XML document
escaped into the string (with its own ``encoding="gb2312"`` declaration, as the .NET side wrote it before the
string was escaped), a JSON text in the string, or the same XML as child elements (services that break their
own WSDL). ``embedded`` names the element holding the text; ``result_path``/``status_path`` read inside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

import pytest
import yaml
from http_testlib import Answer, ScriptedServer, Seen, plain_session
from lxml import etree
from soap_testlib import CORPUS
from typer.testing import CliRunner

from connectors.soap import SoapConnector, UnsafeXmlError
from connectors.soap.config import parse_config
from gateway.cli import app
from gateway.contract.errors import ConfigError, FatalSyncError, SkippableSyncError

HIS_WSDL = CORPUS / "cn-hospital-his-quyiservice.wsdl"
PATH = "/HisService.asmx"
BEIJING = timezone(timedelta(hours=8))
ROWS = [
    {"ClinicCode": "MZ001", "PatientName": "欧阳𠮷", "DeptName": "西湖区行政审批服务局", "RegState": "0",
     "ModifyDate": "2026-03-01 09:30:05", "Items": [{"Name": "挂号费"}, {"Name": "诊查费"}]},
    {"ClinicCode": "MZ002", "PatientName": "Ｏ'Brien <&> 张三", "DeptName": "西湖区卫健局", "RegState": "2",
     "ModifyDate": "2026-03-01 11:00:00", "Items": [{"Name": "挂号费"}]},
]


def _xml_rows(rows: list[dict[str, Any]], code: str = "0", message: str = "成功") -> str:
    items = []
    for row in rows:
        fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in row.items() if k != "Items")
        fees = "".join(f"<Fee><Name>{escape(f['Name'])}</Name></Fee>" for f in row["Items"])
        items.append(f"<Item>{fields}<Fees>{fees}</Fees></Item>")
    return (f'<?xml version="1.0" encoding="gb2312"?>\r\n<Response><ResultCode>{code}</ResultCode>'
            f"<ResultMsg>{escape(message)}</ResultMsg><Items>{''.join(items)}</Items></Response>")


def _attribute_rows(rows: list[dict[str, Any]]) -> str:
    items = []
    for row in rows:
        fields = "".join(f' {k}="{escape(v, {chr(34): "&quot;"})}"' for k, v in row.items() if k != "Items")
        fees = "".join(f'<Fee Name="{escape(f["Name"])}" xsi:type="FeeType"/>' for f in row["Items"])
        items.append(f"<Item{fields}><Fees>{fees}</Fees><Remark lang=\"zh\">加急</Remark></Item>")
    return ('<?xml version="1.0" encoding="gb2312"?>\r\n<Response xmlns:xsi="http://www.w3.org/2001/XMLSchema-'
            f'instance"><ResultCode>0</ResultCode><ResultMsg>成功</ResultMsg><Items>{"".join(items)}</Items>'
            "</Response>")


def _envelope(operation: str, inner: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            'envelope/"><soap:Body>'
            f'<{operation}Response xmlns="http://tempuri.org/"><{operation}Result>{inner}</{operation}Result>'
            f"</{operation}Response></soap:Body></soap:Envelope>").encode()


class His:
    """The service: ``QueryRegInfoOper`` answers ``mode``'s shape of the rows changed since ``beginDate``."""

    def __init__(self) -> None:
        self.mode = "escaped"
        self.rows = list(ROWS)
        self.calls: list[dict[str, str | None]] = []

    def __call__(self, request: Seen) -> Answer:
        if request.method == "GET":
            return Answer(200, {"Content-Type": "text/xml"}, HIS_WSDL.read_bytes())
        body = etree.fromstring(request.body)[0][0]
        operation = etree.QName(body).localname
        params = {etree.QName(c).localname: c.text for c in body}
        self.calls.append({"operation": operation, **params})
        begin = params.get("beginDate") or ""
        rows = [r for r in self.rows if r["ModifyDate"] >= begin]
        if operation == "SaveFee":
            return self._answer(operation, escape('<?xml version="1.0" encoding="gbk"?><Result><Code>0</Code>'
                                                  '<Message>结算成功</Message><FeeNo>F-9</FeeNo></Result>'))
        if self.mode == "escaped":
            return self._answer(operation, escape(_xml_rows(rows)))
        if self.mode == "cdata":
            return self._answer(operation, f"<![CDATA[{_xml_rows(rows)}]]>")
        if self.mode == "inline":
            return self._answer(operation, _xml_rows(rows).split("?>", 1)[1])
        if self.mode == "attributes":  # a row per element, its fields as attributes (common in exchange formats)
            return self._answer(operation, escape(_attribute_rows(rows)))
        if self.mode == "none":
            return self._answer(operation, escape(_xml_rows([], code="1", message="无数据")))
        if self.mode == "json":
            document = {"code": "0", "msg": "成功", "data": {"list": rows}}
            return self._answer(operation, escape(json.dumps(document, ensure_ascii=False)))
        if self.mode == "empty":
            return self._answer(operation, "")
        if self.mode == "xxe":
            return self._answer(operation, escape('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                                  "<Response><ResultCode>0</ResultCode><Items/></Response>"))
        raise AssertionError(self.mode)

    @staticmethod
    def _answer(operation: str, inner: str) -> Answer:
        return Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, _envelope(operation, inner))


def _config(url: str, **stream: Any) -> dict[str, Any]:
    reg = {
        "operation": "QueryRegInfoOper",
        "params": {"operCode": "0001"},
        "embedded": {"path": "QueryRegInfoOperResponse.QueryRegInfoOperResult"},
        "result_path": "Response.Items.Item",
        "status_path": "Response",
        "success": {"field": "ResultCode", "message_field": "ResultMsg", "codes": {"0": "ok", "1": "skip"}},
        "list_fields": ["Fees.Fee"],
        "primary_key": "ClinicCode",
        "incremental": {"cursor_field": "ModifyDate", "cursor_format": "%Y-%m-%d %H:%M:%S", "timezone": "+08:00",
                        "param": "beginDate", "param_format": "%Y-%m-%d %H:%M:%S"},
    } | stream
    return {
        "kind": "soap", "name": "his", "wsdl": f"{url}{PATH}?wsdl", "address": f"{url}{PATH}",
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "streams": {"reg": reg},
        "write": {"fees": {"upsert": {"operation": "SaveFee", "params": {"clinicCode": "{key}", "totCost": "{cost}"}},
                           "embedded": {"path": "SaveFeeResponse.SaveFeeResult"},
                           "result_path": "Result",
                           "success": {"field": "Code", "equals": "0", "message_field": "Message"},
                           "target_id_path": "FeeNo"}},
    }


@pytest.fixture
def his() -> Any:
    service = His()
    with ScriptedServer(service) as server:
        service.url = server.url
        yield service


def _read(service: His, **stream: Any) -> tuple[list[Any], list[Any]]:
    connector = SoapConnector(_config(service.url, **stream), session=plain_session(), sleep=lambda s: None)
    try:
        pages = list(connector.read("reg", since=datetime(2026, 3, 1, tzinfo=BEIJING)))
    finally:
        connector.close()
    return [r for p in pages for r in p.records], [r for p in pages for r in p.rejects]


@pytest.mark.parametrize("mode", ["escaped", "cdata", "inline"])
def test_records_in_an_xml_string_are_read_with_every_character(his: His, mode: str) -> None:
    his.mode = mode
    records, rejects = _read(his)
    assert rejects == []
    assert [r.source_id for r in records] == ["MZ001", "MZ002"]
    first, second = (r.payload for r in records)
    assert first["PatientName"] == "欧阳𠮷" and second["PatientName"] == "Ｏ'Brien <&> 张三"
    assert first["Fees"] == {"Fee": [{"Name": "挂号费"}, {"Name": "诊查费"}]}
    assert second["Fees"] == {"Fee": [{"Name": "挂号费"}]}  # one fee: still a list (list_fields)
    assert records[1].cursor == datetime(2026, 3, 1, 11, 0, tzinfo=BEIJING)
    assert his.calls[-1]["beginDate"] == "2026-03-01 00:00:00" and his.calls[-1]["operCode"] == "0001"


def test_records_written_as_attributes_are_read_with_every_value(his: His) -> None:
    """Rows whose fields are attributes (``<Item ClinicCode="MZ001" PatientName="…"/>``): each attribute of the record
    is a field named ``@name`` (key and cursor included), a leaf's sit beside it (``Remark@lang``, ``Fee@Name`` — listed
    as the repeated ``Fee`` is, ``Fees.Fee`` in ``list_fields``); attributes that describe the encoding (``xsi:type``)
    are not fields. The fast path read none of them before."""
    his.mode = "attributes"
    incremental = {"cursor_field": "@ModifyDate", "cursor_format": "%Y-%m-%d %H:%M:%S", "timezone": "+08:00",
                   "param": "beginDate", "param_format": "%Y-%m-%d %H:%M:%S"}
    records, rejects = _read(his, primary_key="@ClinicCode", incremental=incremental)
    assert rejects == []
    assert [r.source_id for r in records] == ["MZ001", "MZ002"]
    first, second = (r.payload for r in records)
    assert first == {"@ClinicCode": "MZ001", "@PatientName": "欧阳𠮷", "@DeptName": "西湖区行政审批服务局",
                     "@RegState": "0", "@ModifyDate": "2026-03-01 09:30:05",
                     "Fees": {"Fee": ["", ""], "Fee@Name": ["挂号费", "诊查费"]}, "Remark": "加急", "Remark@lang": "zh"}
    assert second["@PatientName"] == "Ｏ'Brien <&> 张三" and second["Fees"] == {"Fee": [""], "Fee@Name": ["挂号费"]}
    assert records[1].cursor == datetime(2026, 3, 1, 11, 0, tzinfo=BEIJING)


def test_records_in_a_json_string_are_read_as_a_rest_body(his: His) -> None:
    his.mode = "json"
    records, rejects = _read(his, embedded={"path": "QueryRegInfoOperResponse.QueryRegInfoOperResult",
                                            "format": "json"},
                             result_path="data.list", status_path=None, list_fields=[],
                             success={"field": "code", "equals": "0", "message_field": "msg"})
    assert rejects == []
    assert [r.payload["PatientName"] for r in records] == ["欧阳𠮷", "Ｏ'Brien <&> 张三"]
    assert records[0].payload["Items"] == [{"Name": "挂号费"}, {"Name": "诊查费"}]


def test_the_documents_own_no_data_code_is_an_empty_page(his: His) -> None:
    his.mode = "none"
    assert _read(his) == ([], [])


@pytest.mark.parametrize(("mode", "error", "said"), [
    ("empty", FatalSyncError, "holds no text"),
    ("xxe", UnsafeXmlError, "DTD"),
])
def test_an_answer_without_a_usable_document_stops_the_read(his: His, mode: str, error: type[Exception],
                                                             said: str) -> None:
    his.mode = mode
    with pytest.raises(error, match=said):
        _read(his)


def test_a_wrong_path_names_what_the_answer_holds(his: His) -> None:
    with pytest.raises(FatalSyncError, match=r"QueryRegInfoOperResponse has no <Result> .*QueryRegInfoOperResult"):
        _read(his, embedded={"path": "QueryRegInfoOperResponse.Result"})


def test_records_renamed_inside_the_document_are_not_read_as_none(his: His) -> None:
    with pytest.raises(FatalSyncError, match="Item"):
        _read(his, result_path="Response.Items.Record")


def test_a_write_reads_its_result_document(his: His) -> None:
    connector = SoapConnector(_config(his.url), session=plain_session(), sleep=lambda s: None)
    try:
        result = connector.write("fees", {"cost": "12.50"}, key="MZ001", idempotency_key="MZ001:1")
    finally:
        connector.close()
    assert (result.status, result.target_id) == ("applied", "F-9")
    assert his.calls[-1] == {"operation": "SaveFee", "clinicCode": "MZ001", "totCost": "12.50"}


@pytest.mark.parametrize(("stream", "said"), [
    ({"decoder": "zeep"}, "fast decoder"),
    ({"embedded": {"path": "X.Y", "format": "json"}, "result": "dataset"}, "DataSet"),
    ({"embedded": {"path": "", "format": "xml"}}, "path"),
])
def test_configurations_that_cannot_work_are_refused_at_load(stream: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        SoapConnector(_config("http://127.0.0.1:9", **stream))


def test_a_record_with_a_broken_character_is_a_reject_carrying_its_text() -> None:
    def answer(request: Seen) -> Answer:
        if request.method == "GET":
            return Answer(200, {"Content-Type": "text/xml"}, HIS_WSDL.read_bytes())
        good = _envelope("QueryRegInfoOper", escape(_xml_rows(ROWS)))
        broken = good.replace("西湖区卫健局".encode(), b"&#xD842;")  # half a character: XML cannot carry it
        return Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, broken)

    service: Callable[[Seen], Answer] = answer
    with ScriptedServer(service) as server:
        connector = SoapConnector(_config(server.url), session=plain_session(), sleep=lambda s: None)
        pages = list(connector.read("reg", since=datetime(2026, 3, 1, tzinfo=BEIJING)))
        connector.close()
    records = [r for p in pages for r in p.records]
    rejects = [r for p in pages for r in p.rejects]
    assert [r.source_id for r in records] == ["MZ001"]
    assert len(rejects) == 1 and isinstance(rejects[0], SkippableSyncError)
    assert rejects[0].source_id == "MZ002" and "DeptName" in str(rejects[0])


def test_the_scaffold_offers_a_stream_inside_the_string_that_reads_once_filled_in(his: His, tmp_path: Any) -> None:
    """``connector new`` on the HIS WSDL: no list query, so the YAML carries a commented ``embedded`` stream for
    the best string read (a change-time window first); uncommented and given the document's paths and key from
    one real answer, it reads the records."""
    result = CliRunner().invoke(app, ["connector", "new", "his", "--wsdl", str(HIS_WSDL), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "answer one string" in result.output and "embedded" in result.output
    text = (tmp_path / "config" / "connectors" / "his.yaml").read_text(encoding="utf-8")
    template = text[text.index("# streams:"):]
    assert "embedded: {path: GetLisResultInfoResponse.GetLisResultInfoResult, format: xml}" in template
    assert "param: beginDate" in template  # a read with a change-time window is offered first
    stream = template.removeprefix("# ").replace("\n# ", "\n").replace("GetLisResultInfo", "QueryRegInfoOper").replace(
        "ROOT.RECORDS.RECORD", "Response.Items.Item").replace("status_path: ROOT", "status_path: Response").replace(
        "CODE", "ResultCode").replace("MSG", "ResultMsg").replace("CHOOSE_THE_KEY", "ClinicCode").replace(
        "cursor_field: CHOOSE", "cursor_field: ModifyDate")
    config = yaml.safe_load(text.split("streams: {}")[0] + stream)
    config |= {"wsdl": f"{his.url}{PATH}?wsdl", "address": f"{his.url}{PATH}",
               "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False}}
    parse_config(config)
    connector = SoapConnector(config, session=plain_session(), sleep=lambda s: None)
    try:
        records = [r for p in connector.read("records", since=datetime(2026, 3, 1, tzinfo=BEIJING)) for r in p.records]
    finally:
        connector.close()
    assert [r.source_id for r in records] == ["MZ001", "MZ002"]


def test_surrogate_pairs_and_forbidden_characters_inside_the_string_are_read_as_in_an_answer() -> None:
    """Old Java/.NET writers put 𠮷 as two references to UTF-16 halves, and a clerk's Ctrl-A as ``&#x1;``: in the
    document inside the string, as in an answer, a pair is the character it stands for and a lone half or a
    forbidden character rejects its record only — libxml2 refused the whole document, every run."""
    rows = [dict(ROWS[0], PatientName="&#xD842;&#xDFB7;"), dict(ROWS[1], DeptName="西湖&#x1;卫健局"),
            dict(ROWS[1], ClinicCode="MZ003", DeptName="&#xD842;半个")]

    def answer(request: Seen) -> Answer:
        if request.method == "GET":
            return Answer(200, {"Content-Type": "text/xml"}, HIS_WSDL.read_bytes())
        inner = _xml_rows([dict(r, PatientName="P") if "&#" not in r["PatientName"] else r for r in rows])
        inner = inner.replace("&amp;#", "&#")  # the references as the writer wrote them, not as text
        return Answer(200, {"Content-Type": "text/xml; charset=utf-8"},
                      _envelope("QueryRegInfoOper", escape(inner)))

    with ScriptedServer(answer) as server:
        connector = SoapConnector(_config(server.url), session=plain_session(), sleep=lambda s: None)
        try:
            pages = list(connector.read("reg", since=datetime(2026, 3, 1, tzinfo=BEIJING)))
        finally:
            connector.close()
    records = [r for p in pages for r in p.records]
    rejects = [r for p in pages for r in p.rejects]
    assert [(r.source_id, r.payload["PatientName"]) for r in records] == [("MZ001", "𠮷")]
    assert sorted(r.source_id for r in rejects) == ["MZ002", "MZ003"]
    assert all("DeptName" in str(r) for r in rejects)
