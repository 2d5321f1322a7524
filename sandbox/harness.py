"""The HTTP plumbing: one ``ThreadingHTTPServer`` per listening port, handing requests to a ``SystemApp``.

Each system listens on two ports: the API port (the "foreign" API plus ``/_sandbox/``) and an admin port
(``/_sandbox/`` only). The fault ``outage: "refuse"`` closes the API port's socket, so clients see
"connection refused"; the admin port stays up, which is how the fault is switched off again (or call
``Listener.start()`` from Python).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .app import Request, Response, SystemApp

__all__ = ["Listener"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], app: SystemApp, admin_only: bool, listener: Listener) -> None:
        self.app = app
        self.admin_only = admin_only
        self.listener = listener
        super().__init__(addr, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """TCP_NODELAY: the headers and the body leave in two writes; with Nagle's algorithm on, the body waited for
    the client's delayed ACK of the headers — 40 ms added to every request, most of the test suite's time."""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    def _serve(self) -> None:
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not srv.admin_only and srv.listener.refusing:
            self.close_connection = True  # a kept-alive connection to a port that "stopped listening"
            return
        parts = urlsplit(self.path)
        path = parts.path
        host = self.headers.get("Host") or f"{srv.server_address[0]}:{srv.server_address[1]}"
        req = Request(self.command, path, self.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                      self.headers, body, f"http://{host}")
        if srv.admin_only and not path.startswith("/_sandbox/"):
            resp = Response(404, b'{"error":"admin port: only /_sandbox/ routes"}')
        else:
            try:
                resp = srv.app.handle(req)
            except Exception as e:  # a bug in the simulator must not look like a network failure
                resp = Response(500, ('{"error":"internal error: %s"}' % type(e).__name__).encode())
        self._send(resp)

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if isinstance(resp.body, bytes):
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in resp.body:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


class Listener:
    """One port of one system; can stop and resume listening on the same port (the "refuse" outage)."""

    def __init__(self, app: SystemApp, host: str, port: int, admin_only: bool = False) -> None:
        self.app, self.host, self.port, self.admin_only = app, host, port, admin_only
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.refusing = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Listen (again); port 0 picks a free port the first time, and the same port afterwards."""
        with self._lock:
            if self._server is not None:
                return
            self.refusing = False
            srv = _Server((self.host, self.port), self.app, self.admin_only, self)
            self.port = srv.server_address[1]
            self._server = srv
            self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"sandbox-{self.app.name}-{self.port}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop listening and close the socket: new connections are refused."""
        with self._lock:
            srv, self._server = self._server, None
            self.refusing = True
        if srv is not None:
            srv.shutdown()
            srv.server_close()
