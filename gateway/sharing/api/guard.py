"""The request guard: what no route should have to check for itself, checked once before any route runs.

* **One credential, one consent.** A request giving ``Authorization`` or ``Tongban-Consent`` more than once is
  refused with 400 naming the header, before authentication: which credential or whose consent the caller meant
  is ambiguous, and each reader took one of them (the first) without a word.
* **Size.** A body larger than ``max_request_bytes`` is refused with 413 as soon as its ``Content-Length`` says
  so, or as soon as the bytes received pass the limit (a chunked upload): an anonymous caller cannot make the
  server buffer a 100 MB body before it learns the credential is missing.
* **NUL characters.** PostgreSQL's text type cannot hold U+0000, and no field of this API has a use for it; a
  NUL in the path, a query parameter or any string of a JSON body is refused with 422 naming where it was, instead
  of reaching the database and failing there (a 500, or worse: an audit entry that cannot be written).
* **UTF-8 only.** JSON between systems is UTF-8 without a byte-order mark (RFC 8259 §8.1). A body in UTF-16 or
  UTF-32, or behind a BOM, is refused with 415: the NUL check reads UTF-8, and the routes' parsers would each
  guess the encoding their own way (one accepted UTF-16 and stored a NUL the check never saw). A UTF-8 JSON text
  never holds a 0x00 byte (control characters are escaped), so a raw one marks the wider encodings.

A pure ASGI middleware (no per-request task or copy beyond the body it must hold anyway), answered as RFC 9457
problems like every other error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem_response

__all__ = ["SINGLE_HEADERS", "RequestGuard", "find_nul", "repeated_header"]

_NUL = "\x00"
_JSON_NUL = b"\\u0000"  # the only way a NUL can appear in well-formed JSON
_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")  # UTF-8's, then UTF-16's and UTF-32's (FF FE 00 00)
SINGLE_HEADERS = {b"authorization": "Authorization", b"tongban-consent": "Tongban-Consent"}
"""Headers a request gives at most once (by their ASGI name, lower case), each with the name a refusal gives it."""


def find_nul(value: Any, where: list[str]) -> list[str] | None:
    """The location (keys and indexes) of the first string in ``value`` holding a NUL, in document order, or None.

    Walked with a stack of its own — orjson reads 1024 levels of nesting, past Python's recursion limit (a
    recursive walk answered such a body with a 500 before authentication) — holding one frame per *open* container
    (the container, a dict's keys, the next position, the key it was entered by): memory grows with the depth, time
    with the body, and the path is built only for the NUL found. (Frames of every child, each with its path copied, were depth × siblings: a 1 MB
    body took 1.3 GB and six seconds of the event loop.)"""
    if isinstance(value, str):
        return where if _NUL in value else None
    if not isinstance(value, dict | list):
        return None
    # a frame: [the container, its keys (a dict's, as a list; None for a list), the next position, the key it was
    # entered by] — a list is read by position, never copied
    frames: list[list[Any]] = [[value, list(value) if value.__class__ is dict else None, 0, None]]
    while frames:
        frame = frames[-1]
        container, keys, position = frame[0], frame[1], frame[2]
        size = len(container)
        while position < size:
            if keys is None:
                key, child = position, container[position]
            else:
                key = keys[position]
                child = container[key]
                if _NUL in key:
                    return [*where, *(f[3] for f in frames[1:]), key]
            position += 1
            if child.__class__ is str:
                if _NUL in child:
                    return [*where, *(f[3] for f in frames[1:]), str(key)]
            elif child.__class__ is dict or child.__class__ is list:
                frame[2] = position
                frames.append([child, list(child) if child.__class__ is dict else None, 0, str(key)])
                break
        else:
            frames.pop()
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        repeated = repeated_header(scope)
        if repeated is not None:
            await _repeated_problem(path, repeated)(scope, receive, send)
            return
        refused = self._check_target(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            await self._too_large(path)(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS") and not length:
            await self.app(scope, receive, send)  # nothing to read: no buffering on the read routes
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nobody to answer
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._too_large(path)(scope, receive, send)
                return
        if body and (b"\x00" in body or body.startswith(_BOMS)):
            await _not_utf8(path)(scope, receive, send)
            return
        if _JSON_NUL in body:
            try:
                found = find_nul(orjson.loads(bytes(body)), ["body"])
            except orjson.JSONDecodeError:
                found = None  # not JSON: the route's own parsing answers
            if found is not None:
                await _nul_problem(path, found)(scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _check_target(self, scope: Scope) -> Any:
        path = scope["path"]
        if _NUL in path:
            return _nul_problem(path.replace(_NUL, "%00"), ["path"])
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if _NUL in key or _NUL in value:
                    return _nul_problem(path, ["query", key.replace(_NUL, "%00")])
        return None

    def _too_large(self, path: str) -> Any:
        return problem_response(413, "too-large", f"the request body is larger than {self.max_body_bytes} bytes",
                                path, headers={"Connection": "close"})


def repeated_header(scope: Scope) -> str | None:
    """The first of :data:`SINGLE_HEADERS` the request gives more than once, or None."""
    seen: set[bytes] = set()
    for name, _ in scope.get("headers", ()):
        name = name.lower()  # ASGI servers give names in lower case; one that did not must not slip past
        if name in SINGLE_HEADERS:
            if name in seen:
                return SINGLE_HEADERS[name]
            seen.add(name)
    return None


def _repeated_problem(path: str, header: str) -> Any:
    what = "credential" if header == "Authorization" else "consent"
    return problem_response(400, "repeated-header", f"the {header} header is given more than once: which {what} "
                            f"is meant is ambiguous; send it once", path, header=header)


def _nul_problem(path: str, loc: list[str]) -> Any:
    return problem_response(422, "invalid-request", "the request does not match the schema", path, errors=[
        {"loc": loc, "msg": "must not contain the NUL character (U+0000)", "type": "string_nul"}])


def _not_utf8(path: str) -> Any:
    return problem_response(415, "encoding", "the request body must be JSON in UTF-8, without a byte-order mark "
                            "(RFC 8259 §8.1)", path)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the buffered body once, then whatever the connection says next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
