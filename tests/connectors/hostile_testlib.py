"""A real HTTP server on 127.0.0.1 that answers what a test tells it to — hostile bodies included — so that
the connectors are exercised through requests, urllib3 and a socket, not only through ``responses``.

    with HostileServer() as server:
        server.route("/cases", body=b'{"data": [NaN]}')
        server.route("/huge", stream=endless_json(100 * MB))        # generated lazily, never held in memory
        connector = rest_connector(server.url)

A route table over the one test server (``http_testlib``): ``sent[path]`` counts the body bytes each route
actually got onto the socket (a client that stops reading makes the server's writes fail, and the count stops
there), ``hits[path]`` the requests it got. Also here:
what a delivered record and a rejection must be (``assert_storable``, ``assert_rejection``), and a SOAP read
through such a server (``soap_read_after``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from http_testlib import Answer, ScriptedServer, Seen, plain_session
from soap_testlib import SECRETS, envelope, market_config, page, record

from connectors.common.jsontext import DuplicateKeys, Unrepresentable
from connectors.common.records import RecordRejection
from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from gateway.contract.connector import RawRecord

MB = 1024 * 1024


Reply = Answer
"""One answer of a route (status, headers, body or a stream of chunks)."""


class HostileServer(ScriptedServer):
    """Answers each path with the replies ``route`` gave it, in turn; ``hits[path]`` counts its requests."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.hits: dict[str, int] = {}
        super().__init__(self._reply)

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

    def _reply(self, request: Seen) -> Reply:
        with self._lock:
            replies = self.routes.get(request.route)
            if replies is None:
                return Reply(404, {"Content-Type": "text/plain"}, b"no such route")
            self.hits[request.route] += 1
            return replies.pop(0) if len(replies) > 1 else replies[0]


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
    return RestConnector(config, session=plain_session(), sleep=lambda s: None)


def soap_read_after(first: Reply, tmp_path: Path, path: str = "/ScjgService.asmx") -> tuple[list[str], int]:
    """Read stream ``cases`` with the market SOAP connector (``soap_testlib``) from a real server that answers
    ``first``, then a page holding record SCJG1: the source ids read and how many requests ``path`` got."""
    answer = Reply(200, {"Content-Type": "text/xml; charset=utf-8"}, envelope(page([record("SCJG1")])).encode())
    with HostileServer() as server:
        server.route(path, first, answer)
        c = SoapConnector(market_config(tmp_path, address=server.url + path), secrets=SECRETS,
                          session=plain_session(), sleep=lambda s: None)
        (only,) = list(c.read("cases"))
        return [r.source_id for r in only.records], server.hits[path]


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
