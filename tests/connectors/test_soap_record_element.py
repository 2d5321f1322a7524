"""Records in the answer but not where ``result_path`` says are an error, never "no records".

A server upgrade that writes the record element in lower case (``<ywxx>``), or wraps the record list in a new
element (``<DATA><RECORDS>…``), used to end the read as an empty result: records present, none read, no error,
the watermark untouched for ever. An answer that really holds no records — an empty container, no container,
a result that holds only status fields — still reads as none. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from http_testlib import Answer, ScriptedServer, plain_session
from soap_testlib import SECRETS, envelope, market_config, page, record

from connectors.soap import SoapConnector
from gateway.contract.errors import FatalSyncError


def _read(tmp_path: Path, body: str) -> list[str]:
    data = envelope(body).encode()
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, data)) as server:
        connector = SoapConnector(market_config(tmp_path, address=server.url + "/ScjgService.asmx"),
                                  secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        return [r.source_id for p in connector.read("cases") for r in p.records]


def test_a_record_element_in_another_case_is_an_error_naming_what_was_found(tmp_path: Path) -> None:
    body = page([record("SCJG1"), record("SCJG2")]).replace("YWXX>", "ywxx>")
    with pytest.raises(FatalSyncError, match=r"<RECORDS> holds 2 child element\(s\) \(<ywxx>\) but none is <YWXX>"):
        _read(tmp_path, body)


def test_a_renamed_record_element_is_an_error(tmp_path: Path) -> None:
    """Two or more siblings of one name (a repeated, record-shaped element) that are not the record tag."""
    body = page([record("SCJG1"), record("SCJG2")]).replace("YWXX>", "Row>")
    with pytest.raises(FatalSyncError, match=r"\(<Row>\) but none is <YWXX>"):
        _read(tmp_path, body)


def test_an_extra_wrapper_is_an_error_naming_where_the_records_are(tmp_path: Path) -> None:
    body = page([record("SCJG1"), record("SCJG2")]).replace("<RECORDS>", "<DATA><RECORDS>").replace(
        "</RECORDS>", "</RECORDS></DATA>")
    with pytest.raises(FatalSyncError, match="GetBusinessListResult.DATA.RECORDS.YWXX"):
        _read(tmp_path, body)


@pytest.mark.parametrize("shape", ["empty container", "no container"])
def test_an_answer_without_records_is_still_read_as_none(tmp_path: Path, shape: str) -> None:
    body = page([])
    if shape == "no container":
        body = body.replace("<RECORDS></RECORDS>", "")
    assert _read(tmp_path, body) == []


def test_a_container_of_status_fields_only_is_read_as_none(tmp_path: Path) -> None:
    """Records sitting next to status fields (``return.ywxx`` beside ``return.code``): an empty page has only
    the simple status fields, which are not records under another name."""
    config = market_config(tmp_path)
    stream = config["streams"]["cases"]
    stream["result_path"] = "GetBusinessListResponse.GetBusinessListResult.YWXX"
    body = page([]).replace("<RECORDS></RECORDS>", "")
    data = envelope(body).encode()
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, data)) as server:
        config["address"] = server.url + "/ScjgService.asmx"
        connector = SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        assert [r.source_id for p in connector.read("cases") for r in p.records] == []


def _read_at(tmp_path: Path, result_path: str, body: str) -> list[str]:
    config = market_config(tmp_path)
    config["streams"]["cases"]["result_path"] = result_path
    config["streams"]["cases"].pop("status_path", None)
    config["streams"]["cases"].pop("success", None)
    data = envelope(body).encode()
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, data)) as server:
        config["address"] = server.url + "/ScjgService.asmx"
        connector = SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        return [r.source_id for p in connector.read("cases") for r in p.records]


_WRAP = ('<GetBusinessListResponse xmlns="http://scjg.jinan.gov.cn/zwfw/"><GetBusinessListResult>{}'
         '</GetBusinessListResult></GetBusinessListResponse>')
_PATH = "GetBusinessListResponse.GetBusinessListResult.YWXX"


@pytest.mark.parametrize("inner", [
    "<head><code>0</code><msg>查询无数据</msg></head>",
    "<code>0</code><pageInfo><total>0</total><pageNo>1</pageNo></pageInfo>",
], ids=["status head", "paging block"])
def test_a_compound_status_or_paging_block_beside_no_records_is_an_empty_page(tmp_path: Path, inner: str) -> None:
    """An empty answer whose container also holds one compound block (``<head>``, ``<pageInfo>``) is an empty
    page, not a renamed record element: it used to stop the stream for good on every quiet day."""
    assert _read_at(tmp_path, _PATH, _WRAP.format(inner)) == []


def test_records_beside_a_compound_status_block_are_read(tmp_path: Path) -> None:
    inner = "<head><code>0</code></head>" + record("SCJG1") + record("SCJG2")
    assert _read_at(tmp_path, _PATH, _WRAP.format(inner)) == ["SCJG1", "SCJG2"]


def test_one_record_in_another_case_beside_a_status_block_is_still_an_error(tmp_path: Path) -> None:
    inner = "<head><code>0</code></head>" + record("SCJG1").replace("YWXX>", "ywxx>")
    with pytest.raises(FatalSyncError, match=r"but none is <YWXX>"):
        _read_at(tmp_path, _PATH, _WRAP.format(inner))
