"""An HTML page where JSON or XML was expected — HTTP 200 from a proxy or gateway, whatever its Content-Type — is
retried like a 503 and then reported as retriable, saying what arrived (first bytes, digit runs masked)."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from hostile_testlib import HostileServer, Reply, rest_connector, soap_read_after
from soap_testlib import ADDRESS, connector

from connectors.http.body import first_bytes, looks_like_html, mask_digits
from gateway.contract.errors import FatalSyncError, RetriableSyncError

BASE = "http://proxy.test"
URL = f"{BASE}/cases"
PROXY_PAGE = (b"<!DOCTYPE html><html><head><title>\xe8\xae\xbf\xe9\x97\xae\xe5\x8f\x97\xe9\x99\x90</title></head>"
              b"<body>request 110105199003071234 blocked, ticket 20240305</body></html>")  # 访问受限
JSON_PAGE = b'{"data":[{"id":"R1"}]}'


@responses.activate
@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/xml", "application/json", ""])
def test_rest_retries_an_html_200_then_reports_what_arrived(content_type: str) -> None:
    responses.get(URL, body=PROXY_PAGE, content_type=content_type or None)
    sleeps: list[float] = []
    c = rest_connector(BASE, retry={"max_attempts": 3, "backoff_seconds": 0.5, "jitter": False})
    c.transport._sleep = sleeps.append
    with pytest.raises(RetriableSyncError) as info:
        list(c.read("cases"))
    assert len(responses.calls) == 3 and sleeps == [0.5, 1.0]
    message = str(info.value)
    assert "HTTP 200" in message and "instead of JSON" in message and "访问受限" in message
    assert "<!DOCTYPE html><html><head>" in message and "3 attempt(s)" in message
    assert "110105199003071234" not in message and "##################" in message
    assert "20240305" not in message


@responses.activate
def test_rest_reads_on_when_the_proxy_page_goes_away() -> None:
    responses.get(URL, body=PROXY_PAGE, content_type="text/html")
    responses.get(URL, body=JSON_PAGE, content_type="application/json")
    c = rest_connector(BASE, retry={"max_attempts": 3, "backoff_seconds": 0, "jitter": False})
    (only,) = list(c.read("cases"))
    assert [r.source_id for r in only.records] == ["R1"] and len(responses.calls) == 2


@responses.activate
def test_json_labelled_text_html_is_still_json() -> None:
    responses.get(URL, body=JSON_PAGE, content_type="text/html;charset=UTF-8")
    (only,) = list(rest_connector(BASE).read("cases"))
    assert [r.source_id for r in only.records] == ["R1"]


@responses.activate
def test_other_text_that_is_not_json_stays_fatal() -> None:
    responses.get(URL, body=b"Service temporarily moved", content_type="text/plain")
    with pytest.raises(FatalSyncError) as info:
        list(rest_connector(BASE).read("cases"))
    assert not isinstance(info.value, RetriableSyncError) and "not JSON" in str(info.value)


def test_detection_and_masking() -> None:
    assert looks_like_html(b"\xef\xbb\xbf  <?xml version='1.0'?><!-- gw --><HTML lang=zh>", "text/xml")
    assert looks_like_html(b"<head><title>x</title></head>", "text/html")
    assert not looks_like_html(b"<soap:Envelope/>", "text/xml")
    assert not looks_like_html(b'{"html": "<html>"}', "text/html")
    assert mask_digits("id 110105199003071234, code 12345, phone 13800138000") == (
        "id ##################, code 12345, phone ###########")
    assert first_bytes("<p>张三</p>".encode() * 100, chars=12) == "'<p>张三</p><p>…'"


def test_rest_against_a_real_server_serving_a_proxy_page_then_json() -> None:
    with HostileServer() as server:
        server.route("/cases", Reply(headers={"Content-Type": "text/html"}, body=PROXY_PAGE),
                     Reply(body=JSON_PAGE))
        c = rest_connector(server.url, retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": False})
        (only,) = list(c.read("cases"))
        assert [r.source_id for r in only.records] == ["R1"] and server.hits["/cases"] == 2
        server.route("/cases", body=PROXY_PAGE, headers={"Content-Type": "text/xml"})
        with pytest.raises(RetriableSyncError, match="instead of JSON"):
            list(c.read("cases"))


@responses.activate
@pytest.mark.parametrize("content_type", ["text/html", "text/xml; charset=utf-8"])
def test_soap_retries_an_html_200_then_reports_what_arrived(tmp_path: Path, content_type: str) -> None:
    responses.post(ADDRESS, body=PROXY_PAGE, status=200, content_type=content_type)
    with pytest.raises(RetriableSyncError) as info:
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 3  # retry.max_attempts
    message = str(info.value)
    assert "HTTP 200" in message and "instead of a SOAP envelope" in message and "访问受限" in message
    assert "110105199003071234" not in message and "<!DOCTYPE html>" in message


@responses.activate
def test_a_soap_write_answered_by_an_html_200_is_not_resent(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=PROXY_PAGE, status=200, content_type="text/html")
    with pytest.raises(FatalSyncError) as info:
        connector(tmp_path).write("cases", {"BJBH": "1"}, key="1", idempotency_key="1:1")
    assert not isinstance(info.value, RetriableSyncError) and len(responses.calls) == 1


def test_soap_against_a_real_server_serving_a_proxy_page_then_the_answer(tmp_path: Path) -> None:
    ids, hits = soap_read_after(Reply(headers={"Content-Type": "text/xml"}, body=PROXY_PAGE), tmp_path)
    assert ids == ["SCJG1"] and hits == 2
