"""The one test HTTP server: real HTTP on 127.0.0.1 (a socket, http.server, a daemon thread) whose every answer
is computed by a test's function, with a log of what it received (method, path with query, headers, body) —
for tests that must see what actually went over the wire (which host got our credentials, how many requests one
page cost), and for sources, halls and webhooks that a test plays itself.

    def answer(request: Seen) -> Answer:
        return Answer(200, {"Content-Type": "application/json"}, b'{"data": []}')

    with ScriptedServer(answer) as server:
        connector = RestConnector({... "base_url": server.url ...}, session=plain_session())
        ...
        assert [r.path for r in server.seen] == [...]

An answer may stream its body (``Answer(stream=lambda: chunks)``): it is generated while it is written, never
held whole, and ``sent[path]`` counts the bytes that actually reached the socket (a client that stops reading
makes the writes fail, and the count stops there). Connections are HTTP/1.0 (no keep-alive): a body without a
Content-Length ends when the connection closes, as an old server's does.

``other_host_url`` is the same server under the name ``localhost``: another origin for the client (a different
host name), reachable on the same machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

STREAM_SEND_BUFFER = 128 * 1024
"""The send buffer of a streamed answer (the kernel doubles it): small and fixed, so what ``sent`` counts past the
client's last read is bounded by it and the client's receive buffer, however loaded the machine."""


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    """As received, looked up in any case (``headers["x-api-key"]``), as HTTP means them."""
    body: bytes

    @property
    def route(self) -> str:
        """The path without its query."""
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> dict[str, str]:
        """The query's parameters, the first value of each."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b""
    stream: Callable[[], Iterable[bytes]] | None = None
    """Chunks generated while they are written (no Content-Length unless ``headers`` give one)."""


class ScriptedServer:
    def __init__(self, answer: Callable[[Seen], Answer]) -> None:
        self.seen: list[Seen] = []
        self.sent: dict[str, int] = {}
        self._answer = answer
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Seen(self.command, self.path, CaseInsensitiveDict(self.headers.items()), body)
                with server._lock:
                    server.seen.append(request)
                server._write(self, request.route, server._answer(request))

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def _write(self, handler: BaseHTTPRequestHandler, route: str, reply: Answer) -> None:
        if reply.stream is not None:
            # a fixed send buffer: Linux grows an unlocked one up to tcp_wmem's maximum (4 MiB here) on a loaded
            # machine, and every byte it holds counts as sent, so ``sent`` would measure the kernel, not the client
            handler.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SEND_BUFFER)
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            if reply.stream is None and "Content-Length" not in reply.headers:
                handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            for chunk in reply.stream() if reply.stream is not None else (reply.body,):
                handler.wfile.write(chunk)
                with self._lock:
                    self.sent[route] = self.sent.get(route, 0) + len(chunk)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the client stopped reading: what the tests of size limits want to see

    def requests_to(self, route: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.seen if r.route == route]

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def other_host_url(self) -> str:
        """This server under another host name: another origin as far as the client can tell."""
        return f"http://localhost:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def plain_session() -> requests.Session:
    """A session that ignores the machine's proxy variables (the tests talk to 127.0.0.1 only)."""
    session = requests.Session()
    session.trust_env = False
    return session


def json_answer(body: bytes, **headers: str) -> Answer:
    return Answer(200, {"Content-Type": "application/json", **headers}, body)
