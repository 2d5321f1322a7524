"""HTTP for one connector: a session, timeouts, retries, rate limiting, and errors the engine understands.

Shared by every HTTP-based connector kind (REST, SOAP): each passes its own parsed config, which only needs
the attributes of :class:`TransportSettings`.

The engine decides what to do from the error type alone, so this module is where ``requests`` exceptions and
HTTP statuses become :mod:`gateway.contract.errors`:

=====================================  ==========================================================
what happened                           raised after the retries are spent
=====================================  ==========================================================
connection refused / reset, timeout     :class:`SourceUnavailableError` (names the system URL)
status in ``retry.retry_statuses``      :class:`RetriableSyncError` (``retry_after`` if sent)
401 / 403                               :class:`AuthenticationError` (OAuth2: after one refresh)
an HTML page where JSON was asked for   retried like a 503, then :class:`RetriableSyncError` saying what
(HTTP 2xx: a proxy's or gateway's page)  arrived (first bytes, digit runs masked)
a body over ``max_response_bytes``      :class:`~connectors.http.body.ResponseTooLargeError` (fatal); the
                                        cap holds while streaming, memory stays bounded
body that is not the JSON we expect     :class:`FatalSyncError` with a readable excerpt
=====================================  ==========================================================

JSON is decoded by :func:`connectors.common.jsontext.parse_json`: values that cannot be represented (``NaN``,
``1e400``, lone surrogates, repeated keys) never raise here; :meth:`Transport.get_document` hands them on,
marked, for the reader to reject record by record (:func:`connectors.common.records.screen_items`).

Other statuses are returned to the caller (a reader makes them fatal; a writer decides between
``superseded`` and :class:`WriteRejectedError`). ``sleep``, ``clock`` and ``random`` are injectable so that
retry tests run instantly and can assert the delays.
"""

from __future__ import annotations

import html
import logging
import random as _random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests
from requests.auth import AuthBase

from connectors.common.jsontext import JsonDocument, JsonTextError, find_problems, parse_json
from connectors.common.secretrefs import SecretParams
from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    RetriableSyncError,
    SourceUnavailableError,
)

from .body import DEFAULT_MAX_RESPONSE_BYTES, first_bytes, looks_like_html, mask_digits, peek, read_capped
from .ratelimit import TokenBucket
from .retry import BackoffPolicy, parse_retry_after
from .settings import RateLimitConfig, RetryConfig, TimeoutConfig

log = logging.getLogger("connectors.http")

_RETRIABLE_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_EXCERPT_CHARS = 300


def describe_body(response: requests.Response) -> str:
    """A short, human-readable account of a response body for error messages (HTML pages by their title);
    runs of six or more digits are masked (an error page may echo an ID number)."""
    return mask_digits(_describe(response))


def _describe(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type", "")
    text = _text(response, content_type)
    if "html" in content_type.lower() or text.lstrip()[:1] == "<":
        match = _TITLE.search(text)
        if match:
            title = " ".join(html.unescape(match.group(1)).split())
        else:
            title = " ".join(html.unescape(_TAGS.sub(" ", text)).split())[:80]
        return f"an HTML page ({title!r})" if title else "an HTML page"
    if not text.strip():
        return "an empty body"
    excerpt = " ".join(text.split())
    if len(excerpt) > _EXCERPT_CHARS:
        excerpt = excerpt[:_EXCERPT_CHARS] + "…"
    return repr(excerpt)


def _text(response: requests.Response, content_type: str) -> str:
    """The body as text. Without a declared charset requests assumes ISO-8859-1 for ``text/*``, which garbles
    the UTF-8 or GBK error pages of Chinese systems, so try UTF-8 first and GB18030 (a GBK superset) next."""
    if "charset=" in content_type.lower():
        return response.text or ""
    content = response.content or b""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("gb18030", errors="replace")


class TransportSettings(Protocol):
    """What the transport reads from a connector's config (``RestConfig`` and ``SoapConfig`` both fit)."""

    @property
    def label(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def timeout(self) -> TimeoutConfig: ...
    @property
    def retry(self) -> RetryConfig: ...
    @property
    def rate_limit(self) -> RateLimitConfig | None: ...


class RefreshableAuth(AuthBase):
    """Auth that may hold cached credentials; ``refresh`` lets the transport retry once after a 401/403."""

    def refresh(self) -> bool:
        """Drop cached credentials; ``True`` if a retry with fresh ones is worth it."""
        return False


class Transport:
    """One ``requests.Session`` per connector, shared by reads, writes and token requests."""

    def __init__(
        self,
        config: TransportSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        accept: str = "application/json",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.config = config
        self.max_response_bytes = max_response_bytes
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": accept, **config.headers})
        self.auth: AuthBase | None = None
        self.secret_params: SecretParams | None = None
        """Set by a connector whose parameters may reference secrets (``{secret: NAME}``): resolved here, on
        the way out, so that nothing before the wire (paging state, messages, logs) holds a secret's value."""
        self._sleep = sleep
        self._clock = clock
        self._backoff = BackoffPolicy(config.retry, random)
        self._timeout = (config.timeout.connect, config.timeout.read)
        self._bucket = (
            TokenBucket(
                config.rate_limit.requests_per_second, config.rate_limit.burst, clock=clock, sleep=sleep
            )
            if config.rate_limit
            else None
        )
        self.requests_sent = 0

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.config.base_url + ("" if path_or_url.startswith("/") else "/") + path_or_url

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        auth: AuthBase | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send with retries. Returns the final response unless it is a retried status, 401/403 or none.

        ``stream=True`` leaves the body unread, so that the caller can stop reading at a size limit
        (:meth:`read_body`); responses this method turns into errors are then read only as far as a message
        needs (:func:`~connectors.http.body.peek`)."""
        url = self.url(path_or_url)
        label = self.config.label
        attempts = self.config.retry.max_attempts
        attempt = 0
        refreshed = False
        if self.secret_params is not None:
            params = self.secret_params.resolve(params) if params else params
            json = self.secret_params.resolve(json) if isinstance(json, Mapping) else json
            data = self.secret_params.resolve(data) if isinstance(data, Mapping) else data
        while True:
            attempt += 1
            if self._bucket is not None:
                self._bucket.acquire()
            self.requests_sent += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=dict(headers) if headers else None,
                    auth=self.auth if authenticate else auth,
                    timeout=self._timeout,
                    stream=stream,
                )
            except _RETRIABLE_EXCEPTIONS as exc:
                reason = _reason(exc)
                if attempt >= attempts:
                    raise SourceUnavailableError(
                        f"{label}: {method} {_path(url)} did not answer after {attempt} attempt(s): {reason}"
                    ) from None
                self._wait(attempt, None, f"{method} {_path(url)}: {reason}")
                continue
            except requests.exceptions.RequestException as exc:
                raise FatalSyncError(
                    f"{label}: {method} {_path(url)} cannot be sent: {_reason(exc)}"
                ) from None

            status = response.status_code
            if authenticate and status in (401, 403):
                if not refreshed and isinstance(self.auth, RefreshableAuth) and self.auth.refresh():
                    response.close()
                    refreshed = True
                    log.info("%s: HTTP %s, retrying once with fresh credentials", label, status)
                    attempt -= 1
                    continue
                peek(response)
                raise AuthenticationError(
                    f"{label}: {method} {_path(url)} refused our credentials (HTTP {status}): "
                    f"{describe_body(response)}"
                )
            if status in self.config.retry.retry_statuses:
                peek(response)
                if attempt >= attempts:
                    raise RetriableSyncError(
                        f"{label}: {method} {_path(url)} answered HTTP {status} after {attempt} attempt(s): "
                        f"{describe_body(response)}",
                        retry_after=parse_retry_after(response.headers.get("Retry-After"), now=self._clock()),
                    )
                self._wait(attempt, response.headers, f"{method} {_path(url)}: HTTP {status}")
                continue
            return response

    def fetch_token(self, url: str, form: Mapping[str, str], auth: AuthBase | None) -> requests.Response:
        """POST a token request (OAuth2); uses retries and the rate limit, never the connector's own auth."""
        return self.request("POST", url, data=form, authenticate=False, auth=auth)

    def read_body(self, response: requests.Response, where: str) -> bytes:
        """The body of a ``stream=True`` response, at most ``max_response_bytes`` of it."""
        return read_capped(response, self.max_response_bytes, where=where, setting="max_response_bytes",
                           deadline=self.config.timeout.total)

    def get_document(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        busy: Callable[[Any], str | None] | None = None,
        method: str = "GET",
        json: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> tuple[requests.Response, JsonDocument]:
        """GET (or, for query APIs that take their parameters in a body, POST ``json``/``data``) a JSON body,
        read under the size cap; values that cannot be represented come back marked (``document.screen``) for the
        caller to reject record by record.

        An HTML page with a 2xx status (a proxy's or gateway's error page) is retried like a 503; so is a body
        for which ``busy`` returns a reason (an envelope code that means "try again", HTTP 200 notwithstanding).
        Any other outcome that is not JSON is a :class:`FatalSyncError` a person can read."""
        label = self.config.label
        attempts = self.config.retry.max_attempts
        attempt = 0
        while True:
            attempt += 1
            response = self.request(method, path_or_url, params=params, json=json, data=data, headers=headers,
                                    stream=True)
            where = f"{label}: {method} {_path(response.url)}"
            if not response.ok:
                peek(response)
                raise FatalSyncError(f"{where} answered HTTP {response.status_code}: {describe_body(response)}")
            try:
                content = self.read_body(response, where)
            except RetriableSyncError as exc:  # the connection broke mid-body: as retriable as a reset
                if attempt >= attempts:
                    raise
                self._wait(attempt, None, str(exc))
                continue
            content_type = response.headers.get("Content-Type", "")
            if looks_like_html(content, content_type):
                what = (f"{where} answered HTTP {response.status_code} with {describe_body(response)} instead of "
                        f"JSON (a proxy's or gateway's page?); Content-Type {content_type or 'none'!r}, first bytes "
                        f"{first_bytes(content)}")
                if attempt >= attempts:
                    raise RetriableSyncError(
                        f"{what}; {attempt} attempt(s)",
                        retry_after=parse_retry_after(response.headers.get("Retry-After"), now=self._clock()),
                    )
                self._wait(attempt, response.headers, f"{method} {_path(response.url)}: an HTML page instead of JSON")
                continue
            document = self._parse(response, content, where)
            reason = busy(document.value) if busy is not None else None
            if reason is not None:
                if attempt >= attempts:
                    return response, document  # the caller's envelope check raises RetriableSyncError
                self._wait(attempt, response.headers, f"{method} {_path(response.url)}: {reason}")
                continue
            return response, document

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[requests.Response, Any]:
        """Like :meth:`get_document`, for callers without records to reject: a value anywhere in the body that
        cannot be represented is a :class:`FatalSyncError` naming its path and rule."""
        response, document = self.get_document(path_or_url, params=params, headers=headers)
        return response, _strict(document, f"{self.config.label}: GET {_path(response.url)}")

    def decode_json(self, response: requests.Response) -> Any:
        """Decode an already read (not streamed) response as strictly as :meth:`get_json`."""
        where = f"{self.config.label}: {response.request.method} {_path(response.url)}"
        return _strict(self._parse(response, response.content or b"", where), where)

    def _parse(self, response: requests.Response, content: bytes, where: str) -> JsonDocument:
        try:
            return parse_json(content, charset=_charset(response.headers.get("Content-Type", "")))
        except JsonTextError as exc:
            raise FatalSyncError(
                f"{where} answered HTTP {response.status_code} with {describe_body(response)}, not JSON ({exc})"
            ) from None

    def close(self) -> None:
        self.session.close()

    def _wait(self, attempt: int, headers: Mapping[str, str] | None, why: str) -> None:
        delay = self._backoff.delay(attempt, headers, now=self._clock())
        log.warning("%s: %s; retry %d in %.2fs", self.config.label, why, attempt, delay)
        self._sleep(delay)


_QUERY_IN_TEXT = re.compile(r"\?[^\s'\"()]*")
"""A query string inside an exception's text (``Max retries exceeded with url: /api?access_token=…``)."""


def _reason(exc: Exception) -> str:
    """The innermost useful text of a requests exception (they nest urllib3 errors several levels deep)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timeout"
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    text = _QUERY_IN_TEXT.sub("?…", text)  # urllib3 quotes the URL, query and all: a token or sign would be logged
    known = ("Connection refused", "Name or service not known", "Connection reset", "Remote end closed")
    for pattern in known:
        if pattern in text:
            return pattern.lower()
    return f"{type(exc).__name__}: {text[:200]}"


def _strict(document: JsonDocument, where: str) -> Any:
    if document.screen:
        problems = find_problems(document.value, damaged=document.damaged, limit=3)
        if problems:
            shown = "; ".join(f"{p.path or '$'}: {p.message} [{p.rule}]" for p in problems)
            raise FatalSyncError(f"{where}: the response holds values that cannot be used: {shown}")
    return document.value


def _charset(content_type: str) -> str | None:
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def _path(url: str) -> str:
    """URLs in messages without the query string: queries may carry personal data or tokens."""
    return url.split("?", 1)[0]


__all__ = ["RefreshableAuth", "Transport", "TransportSettings", "describe_body"]
