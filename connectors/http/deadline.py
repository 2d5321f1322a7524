"""A wall-clock bound on waiting for an answer's status line and headers, which requests' timeouts do not give.

``timeout.read`` bounds each wait for the next bytes, not the whole wait: a server (a broken proxy, a slowloris)
that sends its status line and headers one byte every few seconds is never "timed out", and holds the run — and
the system's lease — for as long as it likes. :func:`~connectors.http.body.read_capped` bounds the body; this
module bounds what comes before it.

The session's connections are made of :class:`_WatchedHTTPConnection` / :class:`_WatchedHTTPSConnection`
(:func:`watch_session` installs them on the session's own adapters, whatever else they are configured with).
While a call runs under :func:`answer_deadline`, the connection that waits for the answer registers its socket
with the deadline; when the deadline passes first, a timer shuts the socket down — which wakes the blocked read
(closing would not) — and the call sees a :class:`HeadersTooSlow`, a ``requests`` timeout, retried like any.

    with answer_deadline(300.0) as deadline:
        response = session.request(...)          # ends by 300 s, however the status line trickles
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

from .body import shut_down_descriptor

_current = threading.local()


class HeadersTooSlow(requests.exceptions.ReadTimeout):
    """The status line and headers were still arriving at ``timeout.total``."""


class AnswerDeadline:
    """One call's deadline: the socket waiting for the answer, and whether the timer fired."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._cut: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut_down(sock)
                self._cut.append(sock)
            else:
                self._sockets.append(sock)

    def unwatch(self, sock: socket.socket | None) -> bool:
        """Stop watching ``sock``; whether the deadline cut it meanwhile (what it read then is no whole head: the
        end of the connection ends the header lines, and http.client returns what came as an answer)."""
        with self._lock:
            if sock in self._sockets:
                self._sockets.remove(sock)
            return any(cut is sock for cut in self._cut)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)
            self._cut.extend(self._sockets)
            self._sockets.clear()


def _shut_down(sock: socket.socket) -> None:
    """End a blocked read on ``sock`` from another thread (:func:`~connectors.http.body.shut_down_descriptor`)."""
    try:
        fd = sock.fileno()
    except (OSError, ValueError):  # closed already: the wait has ended on its own
        return
    if fd >= 0:
        shut_down_descriptor(fd)


@contextmanager
def answer_deadline(seconds: float) -> Iterator[AnswerDeadline]:
    """Bound the wait for the status line and headers of the calls made inside to ``seconds`` in all.

    A call that ran into it raises :class:`HeadersTooSlow` (a ``requests`` ``ReadTimeout``) where urllib3 would
    have raised the broken connection."""
    deadline = AnswerDeadline(seconds)
    timer = threading.Timer(seconds, deadline.expire)
    timer.daemon = True
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    timer.start()
    try:
        yield deadline
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        if deadline.expired:
            raise HeadersTooSlow(f"the status line and headers were still arriving after {seconds:g} s "
                                 "(timeout.total)") from exc
        raise
    finally:
        timer.cancel()
        _current.deadline = previous


class _Watched:
    """The part both connection classes add: the socket is watched while the answer's head is awaited."""

    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline: AnswerDeadline | None = getattr(_current, "deadline", None)
        if deadline is None:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        sock = self.sock
        deadline.watch(sock)
        try:
            response = super().getresponse(*args, **kwargs)  # type: ignore[misc]
        except BaseException:
            deadline.unwatch(sock)
            raise
        if deadline.unwatch(sock):  # cut after the status line: the headers read are a part, the body none
            response.close()
            raise TimeoutError(f"the status line and headers were still arriving after {deadline.seconds:g} s")
        return response


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections — direct, or through an HTTP proxy (an intranet's egress proxy,
    ``HTTP_PROXY``) — are watched by :func:`answer_deadline`. A SOCKS proxy's connections are its own kind: not
    watched (the read timeout alone bounds them, as before)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager and manager.pool_classes_by_scheme is not _POOLS:
            manager.clear()
            manager.pool_classes_by_scheme = _POOLS
        return manager


def watch_session(session: requests.Session) -> None:
    """Make the connections of ``session``'s HTTP adapters watchable by :func:`answer_deadline`: each plain
    ``HTTPAdapter`` is replaced by a :class:`WatchedAdapter` of the same pool sizes and retries. An adapter of
    another kind (a test's, a TLS client certificate's) is left alone: its calls are simply not watched."""
    for prefix, adapter in list(session.adapters.items()):
        if type(adapter) is HTTPAdapter:
            session.mount(prefix, WatchedAdapter(
                pool_connections=adapter._pool_connections, pool_maxsize=adapter._pool_maxsize,
                max_retries=adapter.max_retries, pool_block=adapter._pool_block))
            adapter.close()


__all__ = ["AnswerDeadline", "HeadersTooSlow", "WatchedAdapter", "answer_deadline", "watch_session"]
