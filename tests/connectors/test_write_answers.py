"""What a write's answer must say before the record counts as delivered: an HTTP 200 whose body says failure
(with the shipped hall config, and with no `success` rule at all), and answers too big or too slow to read."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from http_testlib import Answer, ScriptedServer, Seen, json_answer
from rest_testlib import example

from connectors.rest import RestConnector
from gateway.contract.errors import RetriableSyncError, WriteRejectedError

CASE = {"case_no": "370100202403050001234", "item_name": "不动产首次登记", "version": 3}
FAILURES = [
    {"code": "500", "msg": "系统异常", "data": None},
    {"success": False, "message": "办件编号格式错误"},
    {"status": "error", "errcode": 40001, "errmsg": "invalid item_code"},
    {"code": 1001, "message": "参数错误"},
    {"errCode": "10086", "data": None},
]
SANDBOX_SUCCESS = {  # the normal answers of the sandbox write targets (sandbox/*.py), none of them a failure
    "hall": {"case_no": "370100202403050001234", "version": 3, "deleted": False, "duplicate": False},
    "civil": {"code": 0, "msg": "success", "data": {"id": "MZ20249000001", "created": True, "duplicate": False}},
    "estate": {"success": True, "ywh": "2024BDC9000001", "created": True, "duplicate": False},
    "xhall": {"resultCode": "0000", "resultMsg": "成功", "data": {"sblsh": "X1", "cf": False}},
    "seal": {"flag": True, "message": "成功", "data": {"ywbh": "Y1", "cf": False}},
    "tax": {"head": {"rtnCode": "000", "rtnMsg": "成功"}, "body": {"sqbh": "T1", "sfcf": False}},
    "echoed record with a code of its own": {"code": "370100-XK-001", "name": "x", "duplicate": False},
    "code 200 with a message": {"code": 200, "msg": "ok"},
    "code 0000": {"code": "0000", "msg": "成功"},
    "errcode 0": {"errcode": 0, "errmsg": "ok"},
    "a numeric code echoed without a message": {"code": 370100, "name": "x"},
}


def _hall(url: str, *, success: bool = True, **overrides: Any) -> RestConnector:
    config = yaml.safe_load(example("hall").read_text(encoding="utf-8"))
    config.pop("auth")
    config["base_url"] = url
    config["retry"] = {"max_attempts": 2, "backoff_seconds": 0, "jitter": False}
    config.update(overrides)
    if not success:
        config["write"]["cases"].pop("success", None)
    return RestConnector(config, secrets={}, sleep=lambda s: None)


@pytest.fixture
def server() -> Iterator[tuple[ScriptedServer, list[Any]]]:
    script: list[Any] = []

    def answer(request: Seen) -> Answer:
        reply = script[0] if len(script) == 1 else script.pop(0)
        if isinstance(reply, Answer):
            return reply
        return json_answer(json.dumps(reply, ensure_ascii=False).encode())

    with ScriptedServer(answer) as srv:
        yield srv, script


@pytest.mark.parametrize("success", [True, False], ids=["shipped hall config", "no success rule"])
@pytest.mark.parametrize("body", FAILURES, ids=lambda b: json.dumps(b, ensure_ascii=False)[:40])
def test_http_200_failure_body_is_not_a_delivery(server: Any, body: dict[str, Any], success: bool) -> None:
    srv, script = server
    script.append(body)
    with pytest.raises(WriteRejectedError) as caught:
        _hall(srv.url, success=success).write("cases", CASE, key=CASE["case_no"], idempotency_key="k:3")
    said = next((body[k] for k in ("msg", "message", "errmsg") if k in body), None)
    if said is not None:
        assert said in str(caught.value)


@pytest.mark.parametrize("name", list(SANDBOX_SUCCESS))
def test_normal_success_answers_pass_without_a_success_rule(server: Any, name: str) -> None:
    srv, script = server
    script.append(SANDBOX_SUCCESS[name])
    result = _hall(srv.url, success=False).write("cases", CASE, key=CASE["case_no"], idempotency_key="k:3")
    assert result.status == "applied"


def test_shipped_hall_config_passes_the_sandbox_hall() -> None:
    start_all = pytest.importorskip("sandbox").start_all
    with start_all(seed=7, records={"hall": 1}, systems=("hall",)) as sb:
        for success in (True, False):
            config = yaml.safe_load(example("hall").read_text(encoding="utf-8"))
            config["base_url"] = sb.urls["hall"]
            if not success:
                config["write"]["cases"].pop("success")
            hall = RestConnector(config, secrets=sb.credentials["hall"], sleep=lambda s: None)
            case = {**CASE, "case_no": f"37010020240305999900{int(success)}", "version": 1}
            key = case["case_no"]
            assert hall.write("cases", case, key=key, idempotency_key=f"{key}:1").status == "applied"
            assert hall.write("cases", case, key=key, idempotency_key=f"{key}:1").status == "duplicate"
            tombstone = hall.write("cases", {"version": 2}, key=key, idempotency_key=f"{key}:2", operation="delete")
            assert tombstone.status == "applied"


def test_write_answer_over_max_response_bytes_is_retried_not_delivered(server: Any) -> None:
    srv, script = server

    def huge() -> Iterator[bytes]:
        yield b'{"duplicate":false,"pad":"'
        # 64 MiB against a cap of 64 KiB, no Content-Length: far more than any loopback socket buffers
        # hold, so the bound below measures the client closing early, not how much the kernel buffered
        for _ in range(1024):
            yield b"x" * 65536
        yield b'"}'

    script.append(Answer(200, {"Content-Type": "application/json"}, stream=huge))
    hall = _hall(srv.url, max_response_bytes=65536)
    with pytest.raises(RetriableSyncError, match=r"max_response_bytes.*may or may not have been applied"):
        hall.write("cases", CASE, key=CASE["case_no"], idempotency_key="k:3")
    assert srv.sent["/api/cases/370100202403050001234"] < 4 * 1024 * 1024


def test_write_answer_slower_than_timeout_total_is_retried_not_delivered(server: Any) -> None:
    srv, script = server
    release = threading.Event()

    def trickle() -> Iterator[bytes]:
        yield b'{"duplicate":false,"pad":"'
        release.wait(30)  # held until the client gives up (the deadline shuts the connection down)
        yield b'"}'

    script.append(Answer(200, {"Content-Type": "application/json"}, stream=trickle))
    hall = _hall(srv.url, timeout={"connect": 5, "read": 30, "total": 0.5})
    try:
        with pytest.raises(RetriableSyncError, match=r"timeout.total.*may or may not have been applied"):
            hall.write("cases", CASE, key=CASE["case_no"], idempotency_key="k:3")
    finally:
        release.set()
