"""A real HTTP server on 127.0.0.1 that answers what a test tells it to — hostile bodies included — so that
the connectors are exercised through requests, urllib3 and a socket, not only through ``responses``.

    with HostileServer() as server:
        server.route("/cases", body=b'{"data": [NaN]}')
        server.route("/huge", stream=endless_json(100 * MB))        # generated lazily, never held in memory
        connector = rest_connector(server.url)

The server runs in a daemon thread; ``sent[path]`` counts the body bytes each route actually got onto the
socket (a client that stops reading makes the server's writes fail, and the count stops there). Also here:
what a delivered record and a rejection must be (``assert_storable``, ``assert_rejection``), and a SOAP read
through such a server (``soap_read_after``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import orjson
import requests
from soap_testlib import SECRETS, envelope, market_config, page, record

from connectors.common.jsontext import DuplicateKeys, Unrepresentable
from connectors.common.records import RecordRejection
from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from gateway.contract.connector import RawRecord

MB = 1024 * 1024


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b""
    stream: Callable[[], Iterable[bytes]] | None = None


class HostileServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.sent: dict[str, int] = {}
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # no keep-alive: a body without Content-Length ends at close

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._answer(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server._answer(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, *replies: Reply, body: bytes | None = None, status: int = 200,
              headers: dict[str, str] | None = None, stream: Callable[[], Iterable[bytes]] | None = None) -> None:
        """Answer ``path`` with ``replies`` in turn (the last one repeats), or with one reply built from the
        keyword arguments."""
        if not replies:
            replies = (Reply(status, headers or {"Content-Type": "application/json"}, body or b"", stream),)
        with self._lock:
            self.routes[path] = list(replies)
            self.sent[path] = 0
            self.hits[path] = 0

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            replies = self.routes.get(path)
            if replies is None:
                reply = Reply(404, {"Content-Type": "text/plain"}, b"no such route")
            else:
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                self.hits[path] += 1
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            if reply.stream is None and "Content-Length" not in reply.headers:
                handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            chunks: Iterable[bytes] = reply.stream() if reply.stream is not None else (reply.body,)
            for chunk in chunks:
                handler.wfile.write(chunk)
                with self._lock:
                    self.sent[path] = self.sent.get(path, 0) + len(chunk)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the client stopped reading: what these tests want to see

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def endless_json(total: int, chunk: int = 64 * 1024) -> Callable[[], Iterator[bytes]]:
    """A JSON page of about ``total`` bytes, produced chunk by chunk (never held in memory)."""
    record = b'{"id":"R%08d","name":"\xe5\xbc\xa0\xe4\xb8\x89","note":"' + b"x" * 200 + b'"}'

    def generate() -> Iterator[bytes]:
        yield b'{"data":['
        produced, n, buffer = 0, 0, bytearray()
        while produced < total:
            buffer += (b"," if n else b"") + record % n
            n += 1
            if len(buffer) >= chunk:
                produced += len(buffer)
                yield bytes(buffer)
                buffer.clear()
        yield bytes(buffer) + b"]}"

    return generate


def rest_connector(base_url: str, *, stream: dict[str, Any] | None = None, **overrides: Any) -> RestConnector:
    """A REST connector on ``base_url`` reading stream ``cases`` at ``/cases`` (records at ``data``, key ``id``);
    no retries' sleeping, no proxies from the environment."""
    config: dict[str, Any] = {
        "name": "hostile",
        "base_url": base_url,
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "streams": {"cases": {"path": "/cases", "record_selector": "data", "primary_key": "id", **(stream or {})}},
        **overrides,
    }
    return RestConnector(config, session=_local_session(), sleep=lambda s: None)


def soap_read_after(first: Reply, tmp_path: Path, path: str = "/ScjgService.asmx") -> tuple[list[str], int]:
    """Read stream ``cases`` with the market SOAP connector (``soap_testlib``) from a real server that answers
    ``first``, then a page holding record SCJG1: the source ids read and how many requests ``path`` got."""
    answer = Reply(200, {"Content-Type": "text/xml; charset=utf-8"}, envelope(page([record("SCJG1")])).encode())
    with HostileServer() as server:
        server.route(path, first, answer)
        c = SoapConnector(market_config(tmp_path, address=server.url + path), secrets=SECRETS,
                          session=_local_session(), sleep=lambda s: None)
        (only,) = list(c.read("cases"))
        return [r.source_id for r in only.records], server.hits[path]


def _local_session() -> requests.Session:
    """A session that takes no proxy from the environment (the server is on 127.0.0.1)."""
    session = requests.Session()
    session.trust_env = False
    return session


def walk(value: Any) -> Iterator[Any]:
    """Every node under ``value``, dict keys included (iterative: depth costs no stack)."""
    stack = [value]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def assert_storable(record: RawRecord) -> None:
    """What the ledger needs of a delivered record: plain dicts and lists, no markers, finite numbers, Unicode
    text, 64-bit integers (orjson, the ledger's serialiser, writes it)."""
    for node in walk(record.payload):
        assert not isinstance(node, (Unrepresentable, DuplicateKeys))
        assert not isinstance(node, dict) or type(node) is dict
        assert not (isinstance(node, float) and not math.isfinite(node))
    orjson.dumps(record.payload)
    record.source_id.encode("utf-8")


def assert_rejection(reject: Exception) -> RecordRejection:
    """A per-record rejection with its issues and raw text the dead-letter store can keep (as UTF-8)."""
    assert isinstance(reject, RecordRejection) and reject.issues
    assert isinstance(reject.raw, str)
    reject.raw.encode("utf-8")  # the dead-letter store keeps it as UTF-8 text
    orjson.dumps(reject.raw)
    return reject
