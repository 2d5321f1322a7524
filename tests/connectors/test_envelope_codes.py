"""Envelope codes classified in YAML: ``code → ok | auth | retry | skip | fatal`` for systems that answer HTTP 200
with their status inside the body."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from connectors.common.records import check_success, check_write_success
from connectors.common.settings import SuccessRule
from connectors.rest import RestConnector
from gateway.contract.errors import (
    AuthenticationError,
    ConfigError,
    FatalSyncError,
    RetriableSyncError,
    WriteRejectedError,
)

RULE = SuccessRule.model_validate({"field": "retCode", "message_field": "retMsg",
                                   "codes": {"0000": "ok", "4011": "auth", 5003: "retry", "4040": "skip"}})
URL = "http://social.test/api/case/query"


def body(code: Any, msg: str = "") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": {"rows": [{"ywlsh": "A1", "gxsj": "20260101080000"}]}}


def test_each_code_means_what_the_yaml_says() -> None:
    assert check_success(body("0000"), RULE, where="w") == "ok"
    assert check_success(body("4040", "查询无数据"), RULE, where="w") == "skip"
    with pytest.raises(AuthenticationError, match="4011.*签名无效"):
        check_success(body("4011", "签名无效"), RULE, where="w")
    with pytest.raises(RetriableSyncError, match="5003"):
        check_success(body(5003, "系统繁忙"), RULE, where="w")   # an int code matches the YAML's 5003 too
    with pytest.raises(FatalSyncError, match="'9999', expected one of '0000' \\(code means: fatal\\)"):
        check_success(body("9999", "其他错误"), RULE, where="w")


def test_a_write_refused_by_its_code_is_dead_lettered_not_fatal() -> None:
    with pytest.raises(WriteRejectedError, match="4040"):
        check_write_success(body("4040"), RULE, where="w")
    with pytest.raises(AuthenticationError):
        check_write_success(body("4011"), RULE, where="w")
    check_write_success(body("0000"), RULE, where="w")


def test_the_old_equals_form_still_works_and_one_of_the_two_is_required() -> None:
    old = SuccessRule.model_validate({"field": "code", "equals": 0})
    assert check_success({"code": 0}, old, where="w") == "ok"
    with pytest.raises(FatalSyncError):
        check_success({"code": 1}, old, where="w")
    with pytest.raises(ValueError, match="equals .* or codes"):
        SuccessRule.model_validate({"field": "code"})


def _connector(sleeps: list[float]) -> RestConnector:
    config = {"kind": "rest", "name": "social", "base_url": "http://social.test",
              "retry": {"max_attempts": 3, "backoff_seconds": 0.01, "jitter": False},
              "streams": {"cases": {"path": "/api/case/query", "record_selector": "result.rows",
                                    "primary_key": "ywlsh", "ordered": False,
                                    "success": {"field": "retCode", "message_field": "retMsg",
                                                "codes": {"0000": "ok", "4011": "auth", "5003": "retry",
                                                          "4040": "skip"}}}}}
    return RestConnector(config, secrets={}, sleep=sleeps.append)


@responses.activate
def test_a_busy_code_is_retried_by_the_transport_then_the_page_is_read() -> None:
    responses.get(URL, json=body("5003", "系统繁忙"))
    responses.get(URL, json=body("0000"))
    sleeps: list[float] = []
    pages = list(_connector(sleeps).read("cases", mode="full_refresh"))
    assert [r.source_id for p in pages for r in p.records] == ["A1"] and len(sleeps) == 1


@responses.activate
def test_a_busy_code_that_stays_busy_is_a_retriable_failure() -> None:
    responses.get(URL, json=body("5003", "系统繁忙"))
    with pytest.raises(RetriableSyncError, match="busy"):
        list(_connector([]).read("cases", mode="full_refresh"))
    assert len(responses.calls) == 3


@responses.activate
def test_no_data_is_an_empty_stream_and_auth_is_an_authentication_failure() -> None:
    responses.get(URL, json={"retCode": "4040", "retMsg": "查询无数据", "result": None})
    assert [r for p in _connector([]).read("cases", mode="full_refresh") for r in p.records] == []
    responses.replace(responses.GET, URL, json={"retCode": "4011", "retMsg": "签名无效", "result": None})
    with pytest.raises(AuthenticationError):
        list(_connector([]).read("cases", mode="full_refresh"))


def test_a_bad_outcome_name_is_a_config_error() -> None:
    config = {"kind": "rest", "name": "x", "base_url": "http://x",
              "streams": {"a": {"path": "/a", "primary_key": "id", "success": {"field": "c", "codes": {"0": "fine"}}}}}
    with pytest.raises(ConfigError, match="streams.a.success.codes"):
        RestConnector(config, secrets={})


@pytest.mark.parametrize("yaml_text", ["{field: code, equals: 0000}", "{field: code, codes: {0000: ok}}"])
def test_a_code_with_leading_zeros_left_unquoted_in_the_yaml_is_said_so(yaml_text: str) -> None:
    """YAML reads ``0000`` as the number 0: the system's "0000" (成功) then failed every answer as "code = '0000',
    expected 0", with nothing to say that the YAML had to quote it."""
    import yaml

    rule = SuccessRule.model_validate(yaml.safe_load(yaml_text))
    with pytest.raises(FatalSyncError) as refused:
        check_success({"code": "0000", "msg": "成功"}, rule, where="w")
    assert "YAML read 0000 unquoted as the number 0: quote it in the YAML ('0000')" in str(refused.value)
    with pytest.raises(FatalSyncError) as other:  # a real failure code gets no such hint
        check_success({"code": "0001", "msg": "失败"}, rule, where="w")
    assert "quote it" not in str(other.value)
