"""A real HTTP server on 127.0.0.1 whose every answer is computed by a test's function, with a log of what it
received (method, path with query, headers, body) — for tests that must see what actually went over the wire
(which host got our credentials, how many requests one page cost).

    def answer(request: Seen) -> Answer:
        return Answer(200, {"Content-Type": "application/json"}, b'{"data": []}')

    with ScriptedServer(answer) as server:
        connector = RestConnector({... "base_url": server.url ...}, session=plain_session())
        ...
        assert [r.path for r in server.seen] == [...]

``other_host_url`` is the same server under the name ``localhost``: another origin for the client (a different
host name), reachable on the same machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import requests


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b""


class ScriptedServer:
    def __init__(self, answer: Callable[[Seen], Answer]) -> None:
        self.seen: list[Seen] = []
        self._answer = answer
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Seen(self.command, self.path, dict(self.headers), body)
                server.seen.append(request)
                reply = server._answer(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

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

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def plain_session() -> requests.Session:
    """A session that ignores the machine's proxy variables (the tests talk to 127.0.0.1 only)."""
    session = requests.Session()
    session.trust_env = False
    return session


def json_answer(body: bytes, **headers: str) -> Answer:
    return Answer(200, {"Content-Type": "application/json", **headers}, body)
