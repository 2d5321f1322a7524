"""A REST write's answer is decoded in the connector's ``charset``, as reads are.

A 公积金 system answers writes, like reads, with GBK bytes labelled bare ``application/json``. The writer used
``response.json()``, which reads them as UTF-8: the refusal's message came out garbled and a Chinese duplicate
marker never matched. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from http_testlib import ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import WriteRejectedError


def _gbk(body: dict[str, Any]) -> Any:
    return lambda request: json_answer(json.dumps(body, ensure_ascii=False).encode("gbk"))


def _connector(url: str) -> RestConnector:
    config = {
        "kind": "rest", "name": "gjj", "base_url": url, "charset": "gbk",
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "streams": {"list": {"path": "/api/list", "record_selector": "data.list", "primary_key": "id"}},
        "write": {"cases": {
            "upsert": {"method": "POST", "path": "/api/cases/{key}"},
            "success": {"field": "code", "equals": "0", "message_field": "msg"},
            "duplicate": {"field": "data.zt", "equals": "已受理过"},
            "target_id_path": "data.slbh",
        }},
    }
    return RestConnector(config, session=plain_session(), sleep=lambda s: None)


def test_a_gbk_refusal_is_quoted_in_chinese() -> None:
    with ScriptedServer(_gbk({"code": "2001", "msg": "办件编号格式错误", "data": None})) as server, \
            pytest.raises(WriteRejectedError, match="办件编号格式错误"):
        _connector(server.url).write("cases", {"bjmc": "公积金提取"}, key="C1", idempotency_key="C1:1")


def test_a_gbk_duplicate_marker_and_target_id_are_read() -> None:
    seen: list[Seen] = []

    def answer(request: Seen) -> Any:
        seen.append(request)
        return _gbk({"code": "0", "msg": "成功", "data": {"zt": "已受理过", "slbh": "受理2024001"}})(request)

    with ScriptedServer(answer) as server:
        result = _connector(server.url).write("cases", {"bjmc": "公积金提取"}, key="C1", idempotency_key="C1:1")
    assert result.status == "duplicate" and result.target_id == "受理2024001"
    assert len(seen) == 1
