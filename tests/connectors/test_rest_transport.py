"""Transport error paths: retries with backoff and Retry-After, outages, auth refusals, unreadable bodies."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import pytest
import requests
import responses

from connectors.rest import RestConnector, TokenBucket
from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    RetriableSyncError,
    SourceUnavailableError,
)

BASE = "http://civil.test"
URL = f"{BASE}/api/v1/approvals"
NOW = 1_700_000_000.0
OK = {"code": 0, "msg": "success", "data": {"rows": [{"id": "A", "updateTime": "2024-03-05 10:31:00"}]}}


def _connector(retry: dict[str, Any] | None = None, **extra: Any) -> tuple[RestConnector, list[float]]:
    sleeps: list[float] = []
    config = {
        "base_url": BASE,
        "name": "civil",
        "retry": {"max_attempts": 4, "backoff_seconds": 0.5, "max_backoff_seconds": 30, **(retry or {})},
        "auth": {"type": "api_key", "header": "X-Api-Key", "secret": "api_key"},
        "streams": {
            "cases": {
                "path": "/api/v1/approvals",
                "record_selector": "data.rows",
                "success": {"field": "code", "equals": 0},
                "primary_key": "id",
            }
        },
        **extra,
    }
    connector = RestConnector(
        config,
        secrets={"api_key": "civil-demo-key"},
        sleep=sleeps.append,
        clock=lambda: NOW,
        random=lambda: 0.5,
    )
    return connector, sleeps


def _read_all(connector: RestConnector) -> list[Any]:
    return list(connector.read("cases", mode="full_refresh"))


@responses.activate
def test_retry_after_seconds_and_http_date_are_honoured() -> None:
    responses.get(URL, status=503, headers={"Retry-After": "2"}, json={"code": 503})
    responses.get(URL, status=429, headers={"Retry-After": formatdate(NOW + 7, usegmt=True)}, json={})
    responses.get(URL, json=OK)
    connector, sleeps = _connector()
    pages = _read_all(connector)
    assert sleeps == [2.0, 7.0]
    assert [r.source_id for r in pages[0].records] == ["A"]
    assert len(responses.calls) == 3


@responses.activate
def test_a_retry_after_beyond_max_backoff_stops_the_call() -> None:
    """Coming back after the cap when the server said an hour gets app keys blocked: the run stops and hands the
    server's delay on (``retry_after``) instead. (Over real HTTP: ``test_retry_budget.py``.)"""
    responses.get(URL, status=503, headers={"Retry-After": "3600"})
    responses.get(URL, json=OK)
    connector, sleeps = _connector({"max_backoff_seconds": 30})
    with pytest.raises(RetriableSyncError) as info:
        _read_all(connector)
    assert sleeps == [] and len(responses.calls) == 1
    assert info.value.retry_after == 3600


@responses.activate
def test_exponential_backoff_with_full_jitter_then_retriable_error() -> None:
    responses.get(URL, status=500, body="oops")
    connector, sleeps = _connector()  # random() = 0.5: half of 0.5, 1, 2
    with pytest.raises(RetriableSyncError) as info:
        _read_all(connector)
    assert sleeps == [0.25, 0.5, 1.0]
    assert len(responses.calls) == 4
    assert "HTTP 500 after 4 attempt(s)" in str(info.value)
    assert info.value.retry_after is None


@responses.activate
def test_backoff_without_jitter_is_capped() -> None:
    responses.get(URL, status=502, body="")
    connector, sleeps = _connector({"jitter": False, "max_attempts": 6, "max_backoff_seconds": 3})
    with pytest.raises(RetriableSyncError):
        _read_all(connector)
    assert sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]


@responses.activate
def test_exhausted_503_carries_the_servers_retry_after() -> None:
    responses.get(URL, status=503, headers={"Retry-After": "1"}, json={"code": 503, "msg": "busy"})
    connector, sleeps = _connector()
    with pytest.raises(RetriableSyncError) as info:
        _read_all(connector)
    assert info.value.retry_after == 1.0
    assert sleeps == [1.0, 1.0, 1.0]


@responses.activate
@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ConnectTimeout("timed out"),
        requests.exceptions.ConnectionError("Connection refused"),
    ],
    ids=["timeout", "refused"],
)
def test_no_answer_becomes_source_unavailable_after_all_attempts(error: Exception) -> None:
    responses.get(URL, body=error)
    connector, sleeps = _connector({"max_attempts": 3})
    with pytest.raises(SourceUnavailableError) as info:
        _read_all(connector)
    assert len(responses.calls) == 3
    assert len(sleeps) == 2
    assert "civil" in str(info.value) and URL in str(info.value) and "3 attempt(s)" in str(info.value)


@responses.activate
def test_read_timeout_is_retried_then_succeeds() -> None:
    responses.get(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(URL, json=OK)
    connector, sleeps = _connector()
    assert len(_read_all(connector)[0].records) == 1
    assert sleeps == [0.25]


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_raise_authentication_error_without_retry(status: int) -> None:
    responses.get(URL, status=status, json={"code": 401, "msg": "invalid api key"})
    connector, sleeps = _connector()
    with pytest.raises(AuthenticationError) as info:
        _read_all(connector)
    assert len(responses.calls) == 1 and sleeps == []
    assert f"HTTP {status}" in str(info.value) and "invalid api key" in str(info.value)


@responses.activate
def test_html_502_page_gives_a_clear_message() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    responses.get(URL, status=502, body=page, content_type="text/html")
    connector, _ = _connector({"max_attempts": 2})
    with pytest.raises(RetriableSyncError) as info:
        _read_all(connector)
    message = str(info.value)
    assert "HTTP 502" in message and "HTML page ('502 Bad Gateway')" in message
    assert "Expecting value" not in message and info.value.__cause__ is None


@responses.activate
def test_html_page_with_200_is_retried_like_a_503_not_a_json_traceback() -> None:
    """A proxy's login or error page served as HTTP 200 is a transient outage of the real system: retried, and
    after the last attempt a RetriableSyncError that says what arrived instead of JSON."""
    responses.get(URL, body="<html><title>统一身份认证 登录</title></html>", content_type="text/html")
    connector, _ = _connector()
    with pytest.raises(RetriableSyncError) as info:
        _read_all(connector)
    assert "HTML page ('统一身份认证 登录')" in str(info.value) and "instead of JSON" in str(info.value)
    assert len(responses.calls) == 4
    assert info.value.__cause__ is None  # no JSON decoder traceback chained behind it
    assert info.value.__context__ is None or info.value.__suppress_context__


@responses.activate
def test_gbk_error_page_without_charset_is_readable() -> None:
    page = "<html><title>系统维护中</title></html>".encode("gbk")
    responses.get(URL, status=400, body=page, content_type="text/html")
    connector, _ = _connector()
    with pytest.raises(FatalSyncError, match="HTML page \\('系统维护中'\\)"):
        _read_all(connector)


@responses.activate
def test_other_4xx_is_fatal_with_the_body_excerpt() -> None:
    responses.get(URL, status=400, json={"code": 400, "msg": "pageSize must be <= 500"})
    connector, _ = _connector()
    with pytest.raises(FatalSyncError) as info:
        _read_all(connector)
    assert "HTTP 400" in str(info.value) and "pageSize must be <= 500" in str(info.value)
    assert len(responses.calls) == 1


@responses.activate
def test_rate_limit_spaces_requests() -> None:
    responses.get(URL, json={"code": 0, "data": {"rows": []}})
    connector, sleeps = _connector(rate_limit={"requests_per_second": 4, "burst": 1})
    for _ in range(3):
        _read_all(connector)
    assert sleeps == [0.25, 0.25]  # the clock is frozen, so each later request waits a full token


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        bucket.acquire()
    assert waits == pytest.approx([0.1, 0.1])
    now[0] += 1.0
    bucket.acquire()
    bucket.acquire()
    assert len(waits) == 2  # a full bucket again after a quiet second


def test_a_transport_error_never_carries_the_query_string_into_logs_or_messages() -> None:
    """urllib3 quotes the URL it failed on, query and all: a static access_token (a secret parameter) or a
    signature would reach the retry warning and the error. The query is cut from the text."""
    import requests

    from connectors.http.transport import _reason

    failed = requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='gov.example', port=443): Max retries exceeded with url: "
        "/api/cases?access_token=S3CRET-TOKEN&sign=ABCDEF (Caused by SSLError('self-signed certificate'))")
    text = _reason(failed)
    assert "S3CRET-TOKEN" not in text and "ABCDEF" not in text
    assert "/api/cases?…" in text and "self-signed certificate" in text


def test_a_plain_http_system_called_over_https_is_said_so() -> None:
    """Found by an engineer onboarding a system: a connection host without a scheme is https, and a system serving
    plain HTTP answered four retries of ``SSLError … WRONG_VERSION_NUMBER`` with no hint that https was assumed."""
    from http_testlib import ScriptedServer, json_answer

    with ScriptedServer(lambda request: json_answer(b'{"code":"0"}')) as server:
        https_url = server.url.replace("http://", "https://", 1)
        connector = RestConnector({"kind": "rest", "name": "gov", "base_url": https_url, "retry": {"max_attempts": 1},
                                   "check": {"path": "/ping"},
                                   "streams": {"cases": {"path": "/api/cases", "primary_key": "id"}}})
        result = connector.check()
    assert not result.ok and "answers plain HTTP? give the endpoint with http://" in result.message, result.message
