"""GBK sent as bare ``application/json`` to a connector without ``charset:``: the error says to set it.

``connector check`` on such a system said "the system must fix its response" — but the system is only
sending GBK without saying so, which ``charset: gb18030`` on the connector fixes. When the bytes read cleanly as
GB18030 the message now says that; when a charset was declared (and the bytes break it), or the bytes are not
GB18030 either, it still asks the system. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

from http_testlib import Answer, ScriptedServer, plain_session

from connectors.rest import RestConnector

HINT = "looks like GBK/GB18030: set `charset: gb18030` on the connector"
ROWS = [{"ywlsh": "YW001", "sqrxm": "张三"}, {"ywlsh": "YW002", "sqrxm": "李四"}]


def _connector(url: str, **config: Any) -> RestConnector:
    return RestConnector(
        {"kind": "rest", "name": "gjj", "base_url": url, "retry": {"max_attempts": 1},
         "streams": {"list": {"path": "/api/list", "record_selector": "data.list", "primary_key": "ywlsh",
                              "success": {"field": "code", "equals": "0", "message_field": "msg"}}},
         **config},
        session=plain_session())


def _serving(body: bytes, content_type: str = "application/json") -> ScriptedServer:
    return ScriptedServer(lambda request: Answer(200, {"Content-Type": content_type}, body))


def _gbk(msg: str) -> bytes:
    return json.dumps({"code": "0", "msg": msg, "data": {"list": ROWS}}, ensure_ascii=False).encode("gbk")


def test_check_of_a_gbk_envelope_says_to_set_the_charset() -> None:
    with _serving(_gbk("成功")) as server:
        result = _connector(server.url).check()
    assert not result.ok
    assert HINT in result.message and "the system must fix" not in result.message


def test_check_of_gbk_records_under_an_ascii_envelope_says_to_set_the_charset() -> None:
    with _serving(_gbk("ok")) as server:
        result = _connector(server.url).check()
    assert not result.ok and HINT in result.message and "text.invalid_encoding" in result.message


def test_a_read_names_the_setting_in_each_rejection() -> None:
    with _serving(_gbk("ok")) as server:
        (page,) = list(_connector(server.url).read("list"))
    assert [r.source_id for r in page.rejects] == ["YW001", "YW002"]
    assert all(HINT in str(r) for r in page.rejects)


def test_with_the_setting_the_same_answer_is_read() -> None:
    with _serving(_gbk("成功")) as server:
        connector = _connector(server.url, charset="gb18030")
        assert connector.check().ok
        (page,) = list(connector.read("list"))
    assert [r.payload["sqrxm"] for r in page.records] == ["张三", "李四"]


def test_a_declared_utf8_label_broken_by_the_bytes_is_still_the_systems_to_fix() -> None:
    """``Content-Type: application/json; charset=utf-8`` wins over any setting: no hint to set one."""
    with _serving(_gbk("成功"), "application/json; charset=utf-8") as server:
        result = _connector(server.url).check()
    assert not result.ok and HINT not in result.message and "the system must fix its response" in result.message
