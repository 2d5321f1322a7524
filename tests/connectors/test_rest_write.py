"""Writes: templated URLs, idempotency headers, and applied / duplicate / superseded / rejected outcomes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
import yaml
from rest_testlib import example

from connectors.rest import RestConnector
from gateway.contract.connector import WriteResult
from gateway.contract.errors import ConfigError, RetriableSyncError, WriteRejectedError

HALL = "http://hall.test"
CASE = {"case_no": "370100202403050001234", "item_name": "不动产首次登记", "version": 3}


def _connector(name: str, base: str, secrets: dict[str, str]) -> tuple[RestConnector, list[float]]:
    config = yaml.safe_load(example(name).read_text(encoding="utf-8")) | {"base_url": base}
    config["retry"] = {"max_attempts": 3, "jitter": False, "backoff_seconds": 1}
    sleeps: list[float] = []
    return RestConnector(config, secrets=secrets, sleep=sleeps.append), sleeps


def _hall() -> tuple[RestConnector, list[float]]:
    responses.post(f"{HALL}/oauth/token", json={"access_token": "T", "expires_in": 300})
    return _connector("hall", HALL, {"client_id": "tongban", "client_secret": "hall-demo-secret"})


def _writes() -> list[Any]:
    return [c.request for c in responses.calls if not c.request.url.endswith("/oauth/token")]


@responses.activate
def test_hall_upsert_applied_with_idempotency_key_and_utf8_body() -> None:
    answer = {"case_no": CASE["case_no"], "version": 3, "duplicate": False}  # as the hall answers
    responses.put(f"{HALL}/api/cases/{CASE['case_no']}", status=201, json=answer)
    connector, _ = _hall()
    result = connector.write("cases", CASE, key=CASE["case_no"], idempotency_key="370100202403050001234:3")
    assert result == WriteResult(status="applied")
    (request,) = _writes()
    assert request.headers["Idempotency-Key"] == "370100202403050001234:3"
    assert request.headers["Authorization"] == "Bearer T"
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.body) == CASE and "不动产".encode() in request.body


@responses.activate
def test_hall_duplicate_and_stale_version() -> None:
    url = f"{HALL}/api/cases/{CASE['case_no']}"
    responses.put(url, json={"duplicate": True})
    responses.put(url, status=409, json={"error": "stale_version", "current_version": 5})
    connector, _ = _hall()
    assert connector.write("cases", CASE, key=CASE["case_no"], idempotency_key="k").status == "duplicate"
    assert connector.write("cases", CASE, key=CASE["case_no"], idempotency_key="k2").status == "superseded"


@responses.activate
def test_hall_delete_is_a_tombstone_with_the_version_in_the_query() -> None:
    responses.delete(f"{HALL}/api/cases/{CASE['case_no']}", json={"deleted": True, "duplicate": False})
    connector, _ = _hall()
    result = connector.write(
        "cases", {"version": 4}, key=CASE["case_no"], idempotency_key="k:4", operation="delete"
    )
    assert result.status == "applied"
    (request,) = _writes()
    assert request.method == "DELETE" and request.url.endswith("?version=4") and request.body is None
    assert request.headers["Idempotency-Key"] == "k:4"


@responses.activate
def test_write_retries_5xx_with_the_same_idempotency_key_then_raises_retriable() -> None:
    responses.put(f"{HALL}/api/cases/X", status=503, headers={"Retry-After": "1"}, body="busy")
    connector, sleeps = _hall()
    with pytest.raises(RetriableSyncError) as info:
        connector.write("cases", CASE, key="X", idempotency_key="X:3")
    assert sleeps == [1.0, 1.0] and info.value.retry_after == 1.0
    assert {r.headers["Idempotency-Key"] for r in _writes()} == {"X:3"} and len(_writes()) == 3


@responses.activate
def test_write_recovers_after_a_transient_503() -> None:
    responses.put(f"{HALL}/api/cases/X", status=503, body="busy")
    responses.put(f"{HALL}/api/cases/X", status=200, json={"duplicate": False})
    connector, sleeps = _hall()
    assert connector.write("cases", CASE, key="X", idempotency_key="X:3").status == "applied"
    assert sleeps == [1.0]


@responses.activate
def test_other_4xx_is_rejected_for_good() -> None:
    responses.put(f"{HALL}/api/cases/X", status=422, json={"error": "item_code unknown"})
    connector, sleeps = _hall()
    with pytest.raises(WriteRejectedError, match=r"HTTP 422: .*item_code unknown"):
        connector.write("cases", CASE, key="X", idempotency_key="X:3")
    assert sleeps == []


@responses.activate
def test_key_is_one_encoded_path_segment() -> None:
    responses.put(f"{HALL}/api/cases/a%2Fb%20c", json={"duplicate": False})
    connector, _ = _hall()
    connector.write("cases", CASE, key="a/b c", idempotency_key="k")
    assert _writes()[0].path_url == "/api/cases/a%2Fb%20c"


@responses.activate
def test_template_field_missing_from_the_record_is_a_rejection() -> None:
    connector, _ = _hall()
    with pytest.raises(WriteRejectedError, match="no field 'version'"):
        connector.write("cases", {}, key="X", idempotency_key="k", operation="delete")
    assert _writes() == []


def test_unconfigured_operation_or_stream_is_a_config_error() -> None:
    connector, _ = _connector("civil", "http://civil.test", {"api_key": "k"})
    with pytest.raises(ConfigError, match="no `delete` operation"):
        connector.write("cases", {}, key="X", idempotency_key="k", operation="delete")
    with pytest.raises(ConfigError, match="no writable stream 'certs'"):
        connector.write("certs", {}, key="X", idempotency_key="k")


@responses.activate
def test_civil_envelope_duplicate_and_target_id() -> None:
    url = "http://civil.test/api/v1/approvals/by-project/370000202403050000123"
    responses.put(url, json={"code": 0, "data": {"id": "MZ1", "created": True, "duplicate": False}})
    responses.put(url, json={"code": 0, "data": {"id": "MZ1", "created": True, "duplicate": True}})
    responses.put(url, json={"code": 40001, "msg": "taskCode 不存在"})
    connector, _ = _connector("civil", "http://civil.test", {"api_key": "k"})
    project_no = "370000202403050000123"

    def write() -> WriteResult:
        return connector.write("cases", {"projectNo": project_no}, key=project_no, idempotency_key="r1")

    assert write() == WriteResult(status="applied", target_id="MZ1")
    assert write() == WriteResult(status="duplicate", target_id="MZ1")
    with pytest.raises(WriteRejectedError, match="code = 40001, expected 0: taskCode 不存在"):
        write()
    assert {c.request.headers["X-Request-Id"] for c in responses.calls} == {"r1"}
