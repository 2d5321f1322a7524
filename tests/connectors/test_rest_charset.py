"""``charset:`` — the charset of a REST system's JSON when its ``Content-Type`` names none.

Many Chinese systems send GBK as bare ``application/json``. Read as UTF-8, every record with Chinese text was
rejected as ``text.invalid_encoding`` and dead-lettered, run after run. JSON carries no declaration of its own
(XML does, which is why the SOAP connector can fall back on GB18030), so the connector YAML says it: ``charset:
gbk``. A charset in the header still wins. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import ConfigError

ROWS = [{"id": "R1", "xm": "张三"}, {"id": "R2", "xm": "李四"}, {"id": "R3", "xm": "Smith"}]


def _read(body: bytes, content_type: str, **config: Any) -> tuple[list[dict[str, Any]], list[Exception]]:
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": content_type}, body)) as server:
        connector = RestConnector(
            {"kind": "rest", "name": "civil", "base_url": server.url, "retry": {"max_attempts": 1},
             "streams": {"cases": {"path": "/api/cases", "record_selector": "data", "primary_key": "id"}},
             **config},
            session=plain_session())
        (page,) = list(connector.read("cases"))
    return [dict(r.payload) for r in page.records], list(page.rejects)


def _gbk(rows: list[dict[str, str]]) -> bytes:
    return json.dumps({"data": rows}, ensure_ascii=False).encode("gbk")


@pytest.mark.parametrize("charset", ["gbk", "GB2312", "gb18030"])
def test_undeclared_gbk_is_read_with_the_charset_setting(charset: str) -> None:
    records, rejects = _read(_gbk(ROWS), "application/json", charset=charset)
    assert records == ROWS and rejects == []


def test_without_the_setting_undeclared_gbk_records_are_rejected_not_garbled() -> None:
    records, rejects = _read(_gbk(ROWS), "application/json")
    assert records == [ROWS[2]] and len(rejects) == 2


def test_gbk_that_is_valid_utf8_is_read_as_gbk_with_the_setting() -> None:
    rows = [{"id": "R1", "xm": "毛平", "xb": "女"}]
    body = _gbk(rows)
    body.decode("utf-8")  # the trap: valid UTF-8 by chance
    assert _read(body, "application/json", charset="gbk") == (rows, [])


def test_a_charset_in_the_header_wins() -> None:
    body = json.dumps({"data": ROWS}, ensure_ascii=False).encode("utf-8")
    assert _read(body, "application/json; charset=utf-8", charset="gbk") == (ROWS, [])


def test_an_unknown_charset_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="charset.*unknown charset 'gkb'"):
        RestConnector({"base_url": "http://127.0.0.1:9", "charset": "gkb",
                       "streams": {"cases": {"path": "/c", "primary_key": "id"}}})
