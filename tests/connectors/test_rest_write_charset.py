"""Writing to a system that reads no UTF-8 (``write.<stream>.charset: gbk``), over real HTTP.

Legacy department systems parse request bodies as GBK: a UTF-8 body turned every name into mojibake there (their
answer was "成功", the case was stored as ``鐜嬪皬鏄�``). The body is now written in the stream's charset and says so
in its ``Content-Type``; a character the charset lacks refuses the write, naming the field — sent as ``?`` it
would be another person's name.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import ConfigError, WriteRejectedError


def _connector(url: str, **write: Any) -> RestConnector:
    return RestConnector({"kind": "rest", "name": "gbk-dept", "base_url": url,
                          "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
                          "streams": {"l": {"path": "/api/l", "record_selector": "data", "primary_key": "id"}},
                          "write": {"cases": {"upsert": {"method": "POST", "path": "/api/cases/{key}"},
                                              "success": {"field": "code", "equals": "0"}, **write}}},
                         session=plain_session(), sleep=lambda s: None)


class GbkDepartment:
    """Reads every body as GBK, strictly (a body it cannot read is refused, as such systems do)."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []

    def __call__(self, request: Seen) -> Answer:
        try:
            self.stored.append(json.loads(request.body.decode("gbk")))
        except (UnicodeDecodeError, ValueError):
            return json_answer(json.dumps({"code": "1", "msg": "报文解析失败"}).encode())
        return json_answer(json.dumps({"code": "0", "msg": "成功"}).encode())


def test_a_gbk_system_receives_the_names_it_can_read() -> None:
    department = GbkDepartment()
    record = {"applicant": {"name": "王小明"}, "item": "婚姻登记"}
    with ScriptedServer(department) as server:
        _connector(server.url, charset="gbk").write("cases", record, key="C1", idempotency_key="C1:1")
        headers = server.seen[0].headers
    assert department.stored == [record]
    assert headers["Content-Type"] == "application/json; charset=gbk"


def test_a_character_gbk_lacks_refuses_the_write_naming_the_field() -> None:
    department = GbkDepartment()
    with ScriptedServer(department) as server:
        with pytest.raises(WriteRejectedError) as refused:
            _connector(server.url, charset="gbk").write("cases", {"applicant": {"name": "张𠮷"}}, key="C2",
                                                        idempotency_key="C2:1")
        sent = len(server.seen)
    assert sent == 0 and department.stored == []
    assert "applicant.name" in str(refused.value) and "U+20BB7" in str(refused.value)


def test_without_a_charset_the_body_stays_utf8() -> None:
    seen: list[bytes] = []

    def answer(request: Seen) -> Answer:
        seen.append(request.body)
        return json_answer(b'{"code": "0"}')

    with ScriptedServer(answer) as server:
        _connector(server.url).write("cases", {"name": "王"}, key="C3", idempotency_key="C3:1")
    assert seen == ['{"name":"王"}'.encode()]


@pytest.mark.parametrize("sign", [
    {"type": "signature", "algorithm": "md5", "secret": "k", "string_to_sign": "{body}{secret}",
     "headers": {"X-Sign": "{signature}"}},
    {"type": "signature", "algorithm": "hmac-sha256", "secret": "k", "string_to_sign": "{query}",
     "canonical_query": {"include_json": True}, "headers": {"X-Sign": "{signature}"}},
])
def test_a_signature_over_the_body_text_cannot_be_combined_with_another_charset(sign: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="write.cases.charset 'gbk'"):
        RestConnector({"kind": "rest", "base_url": "http://127.0.0.1:9", "auth": sign,
                       "streams": {"l": {"path": "/l", "record_selector": "data", "primary_key": "id"}},
                       "write": {"cases": {"upsert": {"method": "POST", "path": "/c"}, "charset": "gbk"}}},
                      secrets={"k": "secret-value"}, session=requests.Session())


def test_an_unknown_charset_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="unknown charset 'gbk2'"):
        _connector("http://127.0.0.1:9", charset="gbk2")


def test_a_codec_that_is_no_charset_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown charset 'base64'"):
        _connector("http://127.0.0.1:9", charset="base64")


def test_a_content_type_in_the_streams_headers_names_the_body_s_charset() -> None:
    department = GbkDepartment()
    with ScriptedServer(department) as server:
        _connector(server.url, charset="gbk", headers={"Content-Type": "application/json;charset=UTF-8"}).write(
            "cases", {"name": "王小明"}, key="C4", idempotency_key="C4:1")
        sent = server.seen[0].headers["Content-Type"]
    assert sent == "application/json; charset=gbk" and department.stored == [{"name": "王小明"}]


@pytest.mark.parametrize(("given", "sent"), [
    ('application/json; profile="urn:a;charset=utf-8;v=1"', 'application/json; profile="urn:a;charset=utf-8;v=1"; '
                                                            'charset=gbk'),
    ("application/json; charsetVersion=2", "application/json; charsetVersion=2; charset=gbk"),
    ('Application/JSON; Charset="utf-8"', "Application/JSON; charset=gbk"),
])
def test_only_the_charset_parameter_of_a_content_type_is_replaced(given: str, sent: str) -> None:
    department = GbkDepartment()
    with ScriptedServer(department) as server:
        _connector(server.url, charset="gbk", headers={"Content-Type": given}).write(
            "cases", {"name": "王"}, key="C5", idempotency_key="C5:1")
        assert server.seen[0].headers["Content-Type"] == sent
