"""`canonical_query.empty_value: skip`: "值为空的参数不参与签名" — a parameter with an empty value is left out of
the string to sign and still sent, for the query, the form body and the JSON body."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from connectors.rest import RestConnector

SECRET = "k9#密钥"


def _fields(request: Seen) -> list[tuple[str, str]]:
    pairs = parse_qsl(urlsplit(request.path).query, keep_blank_values=True)
    if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        pairs += parse_qsl(request.body.decode(), keep_blank_values=True)
    elif request.body:
        pairs += [(k, "" if v is None else str(v)) for k, v in json.loads(request.body).items()]
    return pairs


@pytest.fixture
def platform() -> Iterator[tuple[ScriptedServer, list[list[tuple[str, str]]]]]:
    sent: list[list[tuple[str, str]]] = []

    def answer(request: Seen) -> Answer:
        pairs = _fields(request)
        sent.append(pairs)
        text = "&".join(f"{k}={v}" for k, v in sorted(pairs) if v != "")
        want = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
        ok = request.headers.get("X-Sign") == want
        body = {"code": "0", "data": [{"id": "1"}]} if ok else {"code": "1001", "msg": "签名错误"}
        return json_answer(json.dumps(body, ensure_ascii=False).encode())

    with ScriptedServer(answer) as server:
        yield server, sent


@pytest.mark.parametrize("params_in", ["query", "form", "json"])
def test_empty_values_are_left_out_of_the_signature_but_sent(platform: Any, params_in: str) -> None:
    server, sent = platform
    config = {
        "base_url": server.url,
        "retry": {"max_attempts": 1},
        "auth": {"type": "signature", "algorithm": "hmac-sha256", "secret": "secret", "encoding": "hex_upper",
                 "canonical_query": {"encoding": "raw", "empty_value": "skip", "include_form": True,
                                     "include_json": params_in == "json"},
                 "string_to_sign": "{query}", "headers": {"X-Sign": "{signature}"}},
        "streams": {"cases": {"path": "/api/list", "method": "GET" if params_in == "query" else "POST",
                              "params_in": params_in, "record_selector": "data", "primary_key": "id",
                              "params": {"area": "3701", "itemCode": "", "pageSize": "10"},
                              "success": {"field": "code", "equals": "0", "message_field": "msg"}}},
    }
    connector = RestConnector(config, secrets={"secret": SECRET}, sleep=lambda s: None)
    ids = [r.source_id for p in connector.read("cases", mode="full_refresh") for r in p.records]
    assert ids == ["1"]
    assert ("itemCode", "") in sent[0]  # still sent
