"""The REST connector against department systems that answer the ways an outside review found (real HTTP servers on
127.0.0.1): an error envelope on HTTP 200 with no ``success`` rule, a write answered by a firewall's HTML page or a
redirect, a record holding NaN, a Retry-After no clock can hold, a secret copied with its line break."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hostile_testlib import HostileServer, Reply, rest_connector
from http_testlib import plain_session

from connectors.http.retry import LONGEST_RETRY_AFTER_S, parse_retry_after
from connectors.rest import RestConnector
from gateway.contract.errors import FatalSyncError, WriteRejectedError

JSON = {"Content-Type": "application/json"}


def test_an_error_envelope_without_a_success_rule_is_no_empty_page() -> None:
    """{"code": "500", "msg": "系统异常", "data": []} was read as a page without records: in a windowed read the
    watermark then moved past the window and its records were never read."""
    failed = json.dumps({"code": "500", "msg": "系统异常，请联系管理员", "data": []}, ensure_ascii=False).encode()
    with HostileServer() as server:
        server.route("/cases", body=failed)
        with pytest.raises(FatalSyncError, match="the answer says the request failed") as caught:
            list(rest_connector(server.url).read("cases"))
    assert "系统异常" in str(caught.value) and "`success` rule" in str(caught.value)


def test_an_ordinary_answer_without_a_success_rule_is_still_read() -> None:
    fine = json.dumps({"code": "0", "msg": "查询成功", "data": [{"id": "1"}]}, ensure_ascii=False).encode()
    with HostileServer() as server:
        server.route("/cases", body=fine)
        (page,) = list(rest_connector(server.url).read("cases"))
    assert [r.source_id for r in page.records] == ["1"]


def _writer(url: str, **write: Any) -> RestConnector:
    return RestConnector({"kind": "rest", "name": "dept", "base_url": url, "check": {"path": "/x"},
                          "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
                          "write": {"cases": {"upsert": {"method": "PUT", "path": "/c/{key}"}, **write}}},
                         secrets={}, session=plain_session(), sleep=lambda s: None)


WAF = "<!DOCTYPE html><html><head><title>访问被拦截 - Web应用防火墙</title></head><body>拦截</body></html>".encode()


@pytest.mark.parametrize("reply", [Reply(200, {"Content-Type": "text/html; charset=utf-8"}, WAF),
                                   Reply(302, {"Location": "/login"}, b""), Reply(302, {}, b"")])
@pytest.mark.parametrize("rule", [None, {"field": "code", "equals": 0}])
def test_a_write_answered_by_a_page_or_a_redirect_is_not_counted_applied(reply: Reply, rule: Any) -> None:
    """A firewall's HTML page on 200, a redirect to a gateway's login page, a 302 the transport cannot follow (no
    Location): counted applied (the push closed the row), the department's system never having seen the case."""
    with HostileServer() as server:
        server.route("/c/1", reply)
        server.route("/login", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, WAF))  # a gateway's login page
        writer = _writer(server.url, **({"success": rule} if rule else {}))
        with pytest.raises(FatalSyncError, match="may or may not have been applied") as caught:
            writer.write("cases", {"bjbh": "1"}, key="1", idempotency_key="1:1")
        assert server.hits["/c/1"] == 1  # not sent again
    assert "HTML page" in str(caught.value) or "HTTP 302" in str(caught.value)


def test_a_record_holding_nan_is_refused_not_sent() -> None:
    with HostileServer() as server:
        server.route("/c/1", Reply(200, JSON, b'{"code": 0}'))
        with pytest.raises(WriteRejectedError, match="not JSON"):
            _writer(server.url).write("cases", {"bjbh": "1", "fee": float("nan")}, key="1", idempotency_key="1:1")
        assert server.hits.get("/c/1", 0) == 0


@pytest.mark.parametrize("value", ["99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_retry_after_no_clock_holds_is_read_as_a_day(value: str) -> None:
    """1e20 seconds is finite: the push's timedelta of it raised OverflowError out of the drain."""
    assert parse_retry_after(value, now=0.0) == LONGEST_RETRY_AFTER_S


def test_a_secret_with_its_line_break_is_not_quoted_in_the_error() -> None:
    """A key copied from a file with its newline: requests refused the header quoting it, and the error (the run's
    record, `connector check`) showed the key in clear."""
    with HostileServer() as server:
        server.route("/cases", body=b'{"data": []}')
        connector = RestConnector({"kind": "rest", "name": "civil", "base_url": server.url,
                                   "auth": {"type": "api_key", "header": "X-Api-Key", "secret": "api_key"},
                                   "streams": {"cases": {"path": "/cases", "record_selector": "data",
                                                         "primary_key": "id"}}},
                                  secrets={"api_key": "SK-very-secret-4711\n"}, session=plain_session())
        with pytest.raises(FatalSyncError) as caught:
            list(connector.read("cases"))
        result = connector.check()
    for said in (str(caught.value), result.message):
        assert "SK-very-secret" not in said and "line break" in said


def test_a_query_secret_is_masked_in_the_signed_string_however_it_was_encoded() -> None:
    """The check quotes the string the request was signed over; a query secret there is percent-encoded
    (eyJhbGci%2BOiJ…) and was shown in clear: the masker knew its raw form only."""
    token = "eyJhbGci+OiJIUzI1/NiJ9=="
    with HostileServer() as server:
        server.route("/q", Reply(401, JSON, '{"code": "401", "msg": "签名错误"}'.encode()))
        connector = RestConnector({
            "kind": "rest", "name": "gw", "base_url": server.url,
            "auth": {"type": "signature", "algorithm": "hmac-sha256", "secret": "sec", "app_key": "APP1",
                     "canonical_query": {"encoding": "percent"}, "string_to_sign": "{method}\n{path}\n{query}",
                     "headers": {"X-Sign": "{signature}"}},
            "streams": {"cases": {"path": "/q", "params": {"access_token": {"secret": "token"}, "dept": "370100"},
                                  "record_selector": "data.rows", "success": {"field": "code", "equals": "0"},
                                  "primary_key": "id"}}},
            secrets={"sec": "k3y", "token": token}, session=plain_session())
        said = connector.check().message
    assert "access_token=***" in said and "eyJhbGci" not in said, said


def test_the_body_a_signature_header_describes_is_the_body_sent() -> None:
    """``body_fields`` were put into the body after the signature's headers were rendered: a Content-MD5 of
    ``{body_digest}`` described the body without them, and the system refused every request."""
    import base64
    import hashlib

    with HostileServer() as server:
        server.route("/q", body=b'{"code": 0, "data": {"rows": []}}')
        connector = RestConnector({
            "kind": "rest", "name": "gw", "base_url": server.url,
            "auth": {"type": "signature", "algorithm": "hmac-sha256", "secret": "sec", "app_key": "APP1",
                     "body_digest": {"algorithm": "md5", "encoding": "base64"},
                     "string_to_sign": "{method}\n{content_md5}\n{timestamp}",
                     "headers": {"Content-MD5": "{body_digest}", "X-Sign": "{signature}"},
                     "body_fields": {"appKey": "{app_key}", "timestamp": "{timestamp}"}},
            "streams": {"cases": {"path": "/q", "method": "POST", "params_in": "json",
                                  "params": {"deptCode": "370100"}, "record_selector": "data.rows",
                                  "success": {"field": "code", "equals": 0}, "primary_key": "id"}}},
            secrets={"sec": "k"}, session=plain_session())
        list(connector.read("cases"))
        (seen,) = server.seen
    assert b'"appKey":"APP1"' in seen.body
    assert seen.headers["Content-MD5"] == base64.b64encode(hashlib.md5(seen.body).digest()).decode()


def test_a_token_answer_is_read_under_a_pages_limits() -> None:
    """The OAuth2 token request was read whole, whatever its size or pace (8 MiB accepted with
    max_response_bytes 4096): a token endpoint gone wrong held the run as no page could."""
    big = json.dumps({"access_token": "tok", "pad": "x" * (8 * 1024 * 1024)}).encode()
    with HostileServer() as server:
        server.route("/oauth/token", Reply(200, JSON, big))
        server.route("/fd", body=b"[]")
        connector = RestConnector({
            "kind": "rest", "name": "hall", "base_url": server.url, "max_response_bytes": 4096,
            "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
            "auth": {"type": "oauth2_client_credentials", "token_url": "/oauth/token",
                     "client_id_secret": "id", "client_secret_secret": "sec"},
            "streams": {"fd": {"path": "/fd", "record_selector": "", "primary_key": "id"}}},
            secrets={"id": "client", "sec": "secret"}, session=plain_session())
        with pytest.raises(Exception, match="max_response_bytes"):
            list(connector.read("fd"))
        assert server.hits.get("/fd", 0) == 0


@pytest.mark.parametrize("depth", [500, 3000, 20000])
def test_one_record_nested_past_the_parser_is_rejected_alone(depth: int) -> None:
    """500 deep was that record's rejection (json.too_deep); 3,000 deep went past the parser and failed the whole
    page — the good records with it, and every later run at the same page."""
    deep = "[" * depth + "]" * depth
    body = ('{"code":0,"data":[{"id":"1","x":1},{"id":"2","x":%s,"note":"]]}{"},{"id":"3","x":3}]}' % deep).encode()
    with HostileServer() as server:
        server.route("/cases", body=body)
        (page,) = list(rest_connector(server.url, stream={"success": {"field": "code", "equals": 0}}).read("cases"))
    assert [r.source_id for r in page.records] == ["1", "3"]
    assert [(e.source_id, e.issues[0].rule) for e in page.rejects] == [("2", "json.too_deep")]
