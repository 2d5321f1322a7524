"""A response larger than the connector's cap fails its page with an error naming the URL, the cap and the YAML
key — refused up front when ``Content-Length`` says so, stopped while streaming otherwise — and memory stays
bounded by the cap, not by what the server sends (REST ``max_response_bytes``, SOAP ``limits.max_bytes``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import psutil
import pytest
import requests
import responses
from hostile_testlib import MB, HostileServer, Reply, endless_json, rest_connector
from http_testlib import plain_session
from soap_testlib import SECRETS, envelope, market_config, page, record

from connectors.http.body import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLargeError
from connectors.rest import RestConnector
from connectors.rest.config import parse_config
from connectors.soap import SoapConnector
from connectors.soap.hardening import UnsafeXmlError
from gateway.contract.errors import ConfigError, FatalSyncError, RetriableSyncError, SourceUnavailableError

BASE = "http://limits.test"


def test_the_default_cap_is_64_mib_and_the_key_is_validated() -> None:
    config = parse_config({"base_url": BASE, "streams": {"s": {"path": "/s", "primary_key": "id"}}})
    assert config.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 64 * MB
    with pytest.raises(ConfigError, match="max_response_bytes"):
        parse_config({"base_url": BASE, "max_response_bytes": 10, "streams": {"s": {"path": "/s", "primary_key": "id"}}})


@responses.activate
def test_a_body_over_the_cap_fails_the_page_naming_url_cap_and_key() -> None:
    body = b'{"data":[' + b",".join(b'{"id":"R%d","pad":"%s"}' % (n, b"x" * 100) for n in range(200)) + b"]}"
    responses.get(f"{BASE}/cases", body=body, content_type="application/json")
    with pytest.raises(ResponseTooLargeError) as info:
        list(rest_connector(BASE, max_response_bytes=4096).read("cases"))
    message = str(info.value)
    assert f"GET {BASE}/cases" in message and "4,096 bytes" in message and "(max_response_bytes)" in message
    assert isinstance(info.value, FatalSyncError) and not isinstance(info.value, RetriableSyncError)


@responses.activate
def test_a_body_at_the_cap_is_read() -> None:
    body = b'{"data":[{"id":"R1"}]}'
    responses.get(f"{BASE}/cases", body=body.ljust(2048), content_type="application/json")
    (only,) = list(rest_connector(BASE, max_response_bytes=2048).read("cases"))
    assert [r.source_id for r in only.records] == ["R1"]


@responses.activate
def test_a_huge_error_page_is_only_peeked_at() -> None:
    responses.get(f"{BASE}/cases", status=503, body=b"<html><title>busy</title>" + b"x" * (5 * MB),
                  content_type="text/html")
    with pytest.raises(RetriableSyncError, match="busy"):
        list(rest_connector(BASE).read("cases"))


class PeakRss:
    """Samples this process's RSS every few milliseconds while in the block; ``growth`` is peak minus start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.start = self.peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self) -> Self:
        self.start = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.mark.parametrize("announce", [False, True], ids=["streamed", "content-length"])
def test_100_mb_from_a_real_server_with_a_1_mb_cap_keeps_memory_bounded(announce: bool) -> None:
    total = 100 * MB
    headers = {"Content-Type": "application/json"}
    if announce:
        headers["Content-Length"] = str(total + 64 * 1024)
    with HostileServer() as server:
        server.route("/cases", Reply(headers=headers, stream=endless_json(total)))
        connector = rest_connector(server.url, max_response_bytes=1 * MB)
        with PeakRss() as rss, pytest.raises(ResponseTooLargeError) as info:
            list(connector.read("cases"))
        time.sleep(0.05)
        sent = server.sent["/cases"]
    message = str(info.value)
    assert f"GET {server.url}/cases" in message and "1,048,576 bytes" in message and "max_response_bytes" in message
    assert ("Content-Length" in message) is announce
    assert rss.growth < 40 * MB, f"RSS grew by {rss.growth / MB:.1f} MB reading a 100 MB body with a 1 MB cap"
    assert sent < 50 * MB, f"the server got {sent / MB:.1f} MB onto the socket: the client kept reading"


def _soap_server(stream: Callable[[], Iterator[bytes]] | None = None, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> tuple[HostileServer, dict[str, Any]]:
    server = HostileServer()
    server.route("/ScjgService.asmx", Reply(headers=headers or {"Content-Type": "text/xml; charset=utf-8"},
                                            body=body, stream=stream))
    return server, {"address": f"{server.url}/ScjgService.asmx"}


def endless_soap(total: int) -> Callable[[], Iterator[bytes]]:
    head, _, tail = envelope(page(["@@"])).partition("@@")

    def generate() -> Iterator[bytes]:
        yield head.encode()
        produced, n = 0, 0
        while produced < total:
            chunk = "".join(record(f"SCJG{n + k}") for k in range(200)).encode()
            n += 200
            produced += len(chunk)
            yield chunk
        yield tail.encode()

    return generate


def test_soap_answers_obey_limits_max_bytes_on_a_real_server(tmp_path: Path) -> None:
    server, extra = _soap_server(stream=endless_soap(100 * MB))
    with server:
        session = requests.Session()
        session.trust_env = False
        connector = SoapConnector(market_config(tmp_path, limits={"max_bytes": 1 * MB}, **extra), secrets=SECRETS,
                                  session=session, sleep=lambda s: None)
        with PeakRss() as rss, pytest.raises(UnsafeXmlError) as info:
            list(connector.read("cases"))
        time.sleep(0.05)
        sent = server.sent["/ScjgService.asmx"]
    message = str(info.value)
    assert "limits.max_bytes" in message and "1,048,576 bytes" in message and f"POST {server.url}/ScjgService.asmx" in message
    assert rss.growth < 40 * MB and sent < 50 * MB


def test_a_body_cut_short_on_a_real_server_is_retried_then_read() -> None:
    cut = Reply(headers={"Content-Type": "application/json", "Content-Length": "5000"}, body=b'{"data":[{"id":"R')
    with HostileServer() as server:
        server.route("/cases", cut, Reply(body=b'{"data":[{"id":"R1"}]}'))
        c = rest_connector(server.url, retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": False})
        (only,) = list(c.read("cases"))
        assert [r.source_id for r in only.records] == ["R1"] and server.hits["/cases"] == 2
        server.route("/cases", cut)
        with pytest.raises(RetriableSyncError, match="connection broke while reading"):
            list(c.read("cases"))


def _trickle(total: bytes, every: float) -> Callable[[], Iterator[bytes]]:
    """A body sent one byte at a time, ``every`` seconds apart: each wait is short, the whole is not."""
    def generate() -> Iterator[bytes]:
        for n in range(len(total)):
            time.sleep(every)
            yield total[n:n + 1]

    return generate


@pytest.mark.parametrize("announce", [False, True], ids=["until-close", "content-length"])
def test_an_answer_that_trickles_in_is_stopped_at_timeout_total(announce: bool) -> None:
    body = b'{"data":[' + b'{"id":"R1"},' * 40 + b'{"id":"R2"}]}'
    headers = {"Content-Type": "application/json", **({"Content-Length": str(len(body))} if announce else {})}
    with HostileServer() as server:
        server.route("/cases", Reply(headers=headers, stream=_trickle(body, 0.2)))
        connector = rest_connector(server.url, timeout={"connect": 5, "read": 5, "total": 2},
                                   retry={"max_attempts": 1, "backoff_seconds": 0, "jitter": False})
        began = time.monotonic()
        with pytest.raises(RetriableSyncError, match=r"still arriving after 2 s .*timeout\.total"):
            list(connector.read("cases"))
        assert time.monotonic() - began < 30  # at the deadline, not when the server is done (~100 s)


class _HeadTrickler:
    """A real server (a raw socket on 127.0.0.1) that reads a request, then sends its status line and headers one
    byte every ``every`` seconds — each wait far shorter than ``timeout.read``, the whole far longer than
    ``timeout.total`` — and then a JSON page. ``answered`` counts the requests it finished answering."""

    def __init__(self, every: float) -> None:
        import socket

        self.every = every
        self.answered = 0
        self.stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Any) -> None:
        body = b'{"data":[{"id":"R1"}]}'
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 400 +
                b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                received += chunk
            try:
                for n in range(len(head)):
                    if self.stopping.wait(self.every):
                        return
                    conn.sendall(head[n:n + 1])
                conn.sendall(body)
                self.answered += 1
            except OSError:  # the client hung up: what the test wants to see
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._thread.join(timeout=10)
        self._listener.close()


@pytest.mark.parametrize("every", [0.2, 0.02], ids=["status-line-trickles", "headers-trickle"])
def test_a_status_line_and_headers_that_trickle_in_are_stopped_at_timeout_total(every: float) -> None:
    """``timeout.read`` bounds each wait for the next bytes; a server trickling its status line and headers one byte
    every 0.2 s (some 90 s in all) was waited for to the end, holding the run and the system's lease. The whole
    answer is now bounded by ``timeout.total``: the read fails at about 2 s (the source unavailable, retried by
    the engine), naming the setting; an
    answer whose head arrives in time is read whole."""
    with _HeadTrickler(every=0.2) as server:
        connector = rest_connector(server.url, timeout={"connect": 5, "read": 5, "total": 2},
                                   retry={"max_attempts": 1, "backoff_seconds": 0, "jitter": False})
        began = time.monotonic()
        with pytest.raises(SourceUnavailableError, match=r"GET .*/cases did not answer .*: the status line and "
                                                         r"headers were still arriving after 2 s \(timeout\.total\)"):
            list(connector.read("cases"))
        assert time.monotonic() - began < 30  # at the deadline, not when the server is done (~90 s)
        assert server.answered == 0

    with _HeadTrickler(every=0.001) as quick:  # the same server, quick enough: read as usual
        connector = rest_connector(quick.url, timeout={"connect": 5, "read": 5, "total": 60})
        (only,) = list(connector.read("cases"))
        assert [r.source_id for r in only.records] == ["R1"]


def test_a_wsdl_whose_headers_trickle_in_is_given_up_at_timeout_total() -> None:
    """The WSDL is fetched when a SOAP connector first calls (every run): a server trickling its answer's head held
    the run there for as long as it liked. Bounded by the same ``timeout.total``, and said so."""
    from connectors.soap.loader import fetch_wsdl

    with _HeadTrickler(every=0.2) as server:
        began = time.monotonic()
        with pytest.raises(SourceUnavailableError, match=r"cannot fetch the WSDL .*still arriving after 2 s \(timeout\.total\)"):
            fetch_wsdl(server.url + "/Service.asmx?wsdl", session=plain_session(), ttl=0, timeout=5, total=2)
        assert time.monotonic() - began < 30


def test_through_an_http_proxy_the_head_is_bounded_too() -> None:
    """An intranet's egress proxy (``HTTP_PROXY``): requests' proxy manager made plain connections, not the watched
    ones, and the deadline was off behind it."""
    with _HeadTrickler(every=0.02) as proxy:
        session = plain_session()
        session.proxies = {"http": proxy.url}
        connector = RestConnector({"name": "viaproxy", "base_url": "http://dept.example.gov.cn",
                                   "timeout": {"connect": 5, "read": 5, "total": 2},
                                   "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
                                   "streams": {"cases": {"path": "/cases", "record_selector": "data",
                                                         "primary_key": "id"}}}, session=session, sleep=lambda s: None)
        began = time.monotonic()
        with pytest.raises(SourceUnavailableError, match=r"still arriving after 2 s \(timeout\.total\)"):
            list(connector.read("cases"))
        assert time.monotonic() - began < 30 and proxy.answered == 0


def test_an_error_answer_trickling_its_body_is_described_by_timeout_total() -> None:
    """A 503 is read only to be described (64 KiB at most) — but without a deadline: its body trickling one byte
    under the read timeout held the run for as long as the server liked, on every retry."""
    body = b"<html><body>Service Unavailable" + b" " * 40 + b"</body></html>"
    with HostileServer() as server:
        server.route("/cases", Reply(503, {"Content-Type": "text/html", "Content-Length": str(len(body))},
                                     stream=_trickle(body, 0.2)))
        connector = rest_connector(server.url, timeout={"connect": 5, "read": 5, "total": 2},
                                   retry={"max_attempts": 1, "backoff_seconds": 0, "jitter": False})
        began = time.monotonic()
        with pytest.raises(RetriableSyncError, match="HTTP 503"):
            list(connector.read("cases"))
        assert time.monotonic() - began < 12  # the deadline, not the ~17 s the body takes
