"""A body labelled GBK whose bytes happen to be valid UTF-8 is read as GBK, not as mojibake.

About 930 of the 3,755 common hanzi are GBK byte pairs that also form a valid UTF-8 character (女 卢 毛 平 石):
``毛平 女`` in GBK reads ``ëƽ Ů`` as UTF-8. Short answers — one record with a name and a sex — are whole bodies
of such pairs, and were stored garbled without a word. The converse must hold too: UTF-8 labelled GBK (a lying
header) stays UTF-8 even when GB18030 could read its bytes as well. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from http_testlib import Answer, ScriptedServer, plain_session
from soap_testlib import SECRETS, envelope, market_config

from connectors.rest import RestConnector
from connectors.soap import SoapConnector


def _rest_read(body: bytes, content_type: str) -> dict[str, object]:
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": content_type}, body)) as server:
        config = {"kind": "rest", "name": "civil", "base_url": server.url,
                  "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
                  "streams": {"cases": {"path": "/api/cases", "record_selector": "data", "primary_key": "id"}}}
        (page,) = list(RestConnector(config, session=plain_session()).read("cases"))
    assert not page.rejects
    (record,) = page.records
    return dict(record.payload)


def _both_valid(data: bytes) -> bytes:
    data.decode("utf-8"), data.decode("gb18030")  # the ambiguity under test: both strict readings succeed
    return data


@pytest.mark.parametrize("label", ["GBK", "gb2312", "GB18030"])
def test_a_gbk_json_body_that_is_valid_utf8_is_read_as_gbk(label: str) -> None:
    record = {"id": "R1", "xm": "毛平", "xb": "女"}
    body = _both_valid(json.dumps({"data": [record]}, ensure_ascii=False).encode("gbk"))
    assert _rest_read(body, f"application/json; charset={label}") == record


@pytest.mark.parametrize("name", ["澹赤", "弱沣", "述麻", "谱强"])
def test_utf8_labelled_gbk_stays_utf8_though_gb18030_reads_it_too(name: str) -> None:
    record = {"id": "R1", "xm": name}
    body = _both_valid(json.dumps({"data": [record]}, ensure_ascii=False).encode("utf-8"))
    assert _rest_read(body, "application/json; charset=GBK") == record


def _soap_page(name: str, sex: str) -> str:
    return ('<GetBusinessListResponse xmlns="http://scjg.jinan.gov.cn/zwfw/"><GetBusinessListResult>'
            "<CODE>0</CODE><MSG>OK</MSG><TOTAL>1</TOTAL><PAGEINDEX>1</PAGEINDEX><PAGESIZE>2</PAGESIZE><RECORDS>"
            f"<YWXX><YWLSH>SCJG1</YWLSH><SQRMC>{name}</SQRMC><XB>{sex}</XB><GXSJ>20240305103100</GXSJ></YWXX>"
            "</RECORDS></GetBusinessListResult></GetBusinessListResponse>")


@pytest.mark.parametrize("header", ["text/xml; charset=GBK", "text/xml"])
def test_a_gbk_soap_answer_that_is_valid_utf8_is_read_as_gbk(tmp_path: Path, header: str) -> None:
    body = _both_valid(envelope(_soap_page("毛平", "女"), encoding="GBK").encode("gbk"))
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": header}, body)) as server:
        connector = SoapConnector(market_config(tmp_path, address=server.url + "/ScjgService.asmx"),
                                  secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        (page,) = list(connector.read("cases"))
    (record,) = page.records
    assert (record.payload["SQRMC"], record.payload["XB"]) == ("毛平", "女")


def test_a_utf8_soap_answer_declared_gbk_stays_utf8(tmp_path: Path) -> None:
    body = _both_valid(envelope(_soap_page("澹赤", "未知"), encoding="GBK").encode("utf-8"))
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": "text/xml; charset=GBK"}, body)) as server:
        connector = SoapConnector(market_config(tmp_path, address=server.url + "/ScjgService.asmx"),
                                  secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        (page,) = list(connector.read("cases"))
    assert (page.records[0].payload["SQRMC"], page.records[0].payload["XB"]) == ("澹赤", "未知")
