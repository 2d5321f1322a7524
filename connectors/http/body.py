"""Reading response bodies from servers we do not control: a size cap enforced while streaming, and telling
an HTML page (a proxy's or gateway's error page) apart from the JSON or XML we asked for.

A body is read with ``stream=True`` and :func:`read_capped`: a ``Content-Length`` over the cap is refused before
a byte of the body is read, and a body without one (chunked, or read until the connection closes) is read in
chunks and dropped as soon as it passes the cap, so memory stays bounded by the cap however much the server
sends. The cap counts decoded bytes (after ``Content-Encoding: gzip``), so a compressed bomb stops there too.

    content = read_capped(response, 64 * 1024 * 1024, where="civil: GET /api/cases", setting="max_response_bytes")

Bodies quoted in error messages pass through :func:`mask_digits` first: an error page may echo the request,
and a run of six or more digits is as likely an ID or phone number as anything useful.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from gateway.contract.errors import FatalSyncError, RetriableSyncError

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""64 MiB: a page of a thousand case records is about 2 MB; anything near the cap is a mistake or an attack."""
DEFAULT_BODY_SECONDS = 300.0
"""How long a whole answer may take to arrive (``timeout.total``), however steadily its bytes trickle in."""
MIN_BODY_SECONDS = 1.0
"""The least a body is given once its headers came in just before the deadline: a body sent with its headers is
read, not lost to a deadline they used up."""
PEEK_BYTES = 64 * 1024
"""How much of an error response is read to describe it (an error page needs no more)."""
_CHUNK = 256 * 1024
_DIGITS = re.compile(r"\d{6,}")
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL
)
_BOM = b"\xef\xbb\xbf"


class ResponseTooLargeError(FatalSyncError):
    """A response over the connector's size cap. The same request would get the same answer: ask for smaller
    pages, or raise the cap in the connector YAML if the size is legitimate."""


def read_capped(response: requests.Response, limit: int, *, where: str, setting: str,
                deadline: float = DEFAULT_BODY_SECONDS) -> bytes:
    """The body of a ``stream=True`` response, refusing to hold more than ``limit`` bytes of it, or to wait more
    than ``deadline`` seconds for all of it.

    ``where`` names the call (label, method, URL without the query string); ``setting`` is the YAML key of the
    cap, quoted in the error so that an operator knows what to change. The response is closed either way, and
    its ``content`` is set so that :func:`~connectors.http.transport.describe_body` can read it again.

    The read timeout bounds each wait for the next bytes, not the whole answer: a server sending one byte every
    few seconds (a broken proxy, or a slowloris) would hold the run — and the system's lease — forever. A timer
    shuts the connection down at the deadline, which ends the blocked read. ``deadline`` is the whole answer's:
    the wait for its status line and headers (``response.elapsed``, bounded by
    :func:`~connectors.http.deadline.answer_deadline`) is taken from it, leaving the body at least
    :data:`MIN_BODY_SECONDS`.
    """
    with _reading_by(response, deadline) as aborted:
        return _read_capped(response, limit, where=where, setting=setting, aborted=aborted, deadline=deadline)


@contextmanager
def _reading_by(response: requests.Response, deadline: float) -> Iterator[threading.Event]:
    """While the body of ``response`` is read: a timer that shuts its connection down once ``deadline`` (the whole
    answer's, less the wait for its head: ``response.elapsed``) has passed; the event says whether it did."""
    aborted = threading.Event()
    waited = response.elapsed.total_seconds() if getattr(response, "elapsed", None) is not None else 0.0

    def abort() -> None:
        aborted.set()
        _shut_down(response)

    timer = threading.Timer(max(deadline - waited, MIN_BODY_SECONDS), abort)
    timer.daemon = True
    timer.start()
    try:
        yield aborted
    finally:
        timer.cancel()


def _shut_down(response: requests.Response) -> None:
    """End a blocked read of ``response`` from another thread. Closing would not wake the reader; shutting the
    connection down does (the blocked ``recv`` returns). The reader holds the socket only through its file's
    descriptor (``http.client`` reads from ``sock.makefile()``), so the shutdown goes through a duplicate of it."""
    try:
        fd = response.raw._fp.fp.fileno()  # urllib3 → http.client.HTTPResponse → the socket's buffered file
    except (AttributeError, OSError, ValueError):  # already read and closed: the read has ended on its own
        return
    shut_down_descriptor(fd)


def shut_down_descriptor(fd: int) -> None:
    """Shut down the socket behind ``fd`` through a duplicate of it (whoever holds the original — a blocked
    ``recv`` in another thread, a buffered file — sees the connection end); nothing if it is closed already."""
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):  # closed already: the read has ended on its own
        pass


def _read_capped(response: requests.Response, limit: int, *, where: str, setting: str,
                 aborted: threading.Event, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise ResponseTooLargeError(
            f"{where}: the response announces {int(declared):,} bytes (Content-Length), over the limit of "
            f"{limit:,} bytes ({setting}); not read"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK):
            size += len(chunk)
            if size > limit:
                chunks.clear()
                raise ResponseTooLargeError(
                    f"{where}: the response exceeds the limit of {limit:,} bytes ({setting}); stopped reading "
                    f"after {size:,} bytes"
                )
            chunks.append(chunk)
    except requests.exceptions.ContentDecodingError:
        raise undecodable(where, response.headers.get("Content-Encoding")) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
        if aborted.is_set():
            raise _too_slow(where, size, deadline) from None
        raise RetriableSyncError(
            f"{where}: the connection broke while reading the answer ({size:,} bytes received): "
            f"{type(exc).__name__}"
        ) from None
    finally:
        response.close()
    if aborted.is_set():  # a body read to its end by the shutdown: not the whole answer
        raise _too_slow(where, size, deadline)
    content = b"".join(chunks)
    response._content = content  # lets describe_body() and .text read it again
    return content


def undecodable(where: str, encoding: str | None) -> RetriableSyncError:
    """A body its ``Content-Encoding`` does not describe (a proxy gzips twice, or labels plain text gzip):
    retriable, as a proxy's hiccup usually is; the error names the call and the encoding claimed."""
    claimed = f"Content-Encoding: {encoding}" if encoding else "its Content-Encoding"
    return RetriableSyncError(f"{where}: the answer's body does not decode as {claimed} (a proxy's mistake?)")


def _too_slow(where: str, size: int, deadline: float) -> RetriableSyncError:
    return RetriableSyncError(f"{where}: the answer was still arriving after {deadline:g} s ({size:,} bytes "
                              f"received; timeout.total); stopped reading")


def peek(response: requests.Response, limit: int = PEEK_BYTES, *, deadline: float = DEFAULT_BODY_SECONDS) -> bytes:
    """At most ``limit`` bytes of a ``stream=True`` response, kept as its ``content``; then close it.

    Error responses are only read to be described, so a hostile 503 of a gigabyte costs 64 KiB — and, read by
    ``deadline`` (``timeout.total``), a 503 trickling its body one byte under the read timeout costs no more
    time than an answer may take. A body that is already read (not streamed) is returned as it is."""
    if response._content_consumed:  # requests' own "already read" flag
        return response.content or b""
    chunks: list[bytes] = []
    size = 0
    try:
        with _reading_by(response, deadline):
            for chunk in response.iter_content(chunk_size=min(limit, _CHUNK)):
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
    except requests.exceptions.RequestException:
        pass  # a description of what arrived needs no more than what arrived (the deadline's cut included)
    finally:
        response.close()
    content = b"".join(chunks)[:limit]
    response._content = content
    response._content_consumed = True
    return content


def looks_like_html(content: bytes, content_type: str) -> bool:
    """An HTML page: the body opens like one (``<!DOCTYPE html``, ``<html``, after an optional XML declaration
    and comments), or the server calls it ``text/html`` and it starts with ``<``. JSON mislabelled as
    ``text/html`` (it happens) starts with ``{`` or ``[`` and is not HTML."""
    head = content[:2048].removeprefix(_BOM)
    if _HTML_START.match(head):
        return True
    return "html" in content_type.lower() and head.lstrip()[:1] == b"<"


def mask_digits(text: str) -> str:
    """Runs of six or more digits become ``#`` (ID numbers, phone numbers, account numbers in quoted bodies)."""
    return _DIGITS.sub(lambda m: "#" * len(m.group()), text)


def first_bytes(content: bytes, chars: int = 160) -> str:
    """The start of a body as one line of text for a message, digits masked."""
    head = content[: chars * 4].removeprefix(_BOM)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the slice
            text = head[: exc.start].decode("utf-8", errors="replace")
        else:
            text = head.decode("gb18030", errors="replace")
    text = " ".join(text.split())
    shown = text[:chars] + ("…" if len(text) > chars or len(content) > len(head) else "")
    return repr(mask_digits(shown))


__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "PEEK_BYTES",
    "ResponseTooLargeError",
    "first_bytes",
    "looks_like_html",
    "mask_digits",
    "peek",
    "read_capped",
    "undecodable",
]
