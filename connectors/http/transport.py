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
a redirect to another origin            :class:`FatalSyncError` naming it, not followed (our credentials
                                        would go along); same-origin redirects are followed (at most 5)
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
from urllib.parse import urljoin

import requests
from requests.auth import AuthBase

from connectors.common.jsontext import JsonDocument, JsonTextError, find_problems, parse_json
from connectors.common.secretrefs import SecretParams
from connectors.common.urls import https_upgrade, same_origin, shown
from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    RetriableSyncError,
    SourceUnavailableError,
)

from .body import (
    DEFAULT_MAX_RESPONSE_BYTES,
    first_bytes,
    looks_like_html,
    mask_digits,
    peek,
    read_capped,
    undecodable,
)
from .deadline import HeadersTooSlow, answer_deadline, watch_session
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
MAX_REDIRECTS = 5
"""Same-origin redirects followed for one request (``/svc`` → ``/svc/`` → ``/svc/index``); more is a loop."""


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


_UNSENDABLE = ("a header value holds a line break or another character HTTP cannot carry (a secret copied with "
               "its line break?); the value is not shown")


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


class Attempts:
    """The attempt budget of one logical call (``retry.max_attempts``), shared by every layer that may retry it.

    A page read retries what :meth:`Transport.request` retries (connection errors, 5xx, 429) and more on top
    (an HTML page with HTTP 200, a body cut short, a "busy" envelope; a SOAP fault that means "try again").
    With a budget per layer, one page could cost ``max_attempts²`` requests and the backoff would restart at
    its shortest delay after each inner round; with one budget the call sends at most ``max_attempts``
    requests, and the delays between them are one growing sequence."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.made = 0

    def start(self) -> int:
        """Count one more attempt; its number (1-based)."""
        self.made += 1
        return self.made

    def give_back(self) -> None:
        """Uncount the last attempt (a retry with fresh credentials is not a failure of the system)."""
        self.made -= 1

    @property
    def spent(self) -> bool:
        return self.made >= self.limit


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
        charset: str | None = None,
    ) -> None:
        self.config = config
        self.max_response_bytes = max_response_bytes
        self.charset = charset
        """The charset of JSON bodies whose Content-Type names none (the connector's ``charset`` setting)."""
        self.session = session or requests.Session()
        watch_session(self.session)  # the wait for an answer's head is bounded by timeout.total (answer_deadline)
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
        attempts: Attempts | None = None,
    ) -> requests.Response:
        """Send with retries. Returns the final response unless it is a retried status, 401/403 or none.

        ``stream=True`` leaves the body unread, so that the caller can stop reading at a size limit
        (:meth:`read_body`); responses this method turns into errors are then read only as far as a message
        needs (:func:`~connectors.http.body.peek`). ``attempts``: the budget of a caller that retries the call
        itself for more reasons (:class:`Attempts`); by default the call has ``retry.max_attempts`` of its own."""
        url = self.url(path_or_url)
        label = self.config.label
        budget = attempts if attempts is not None else self.attempts()
        refreshed = False
        if self.secret_params is not None:
            params = self.secret_params.resolve(params) if params else params
            json = self.secret_params.resolve(json) if isinstance(json, Mapping) else json
            data = self.secret_params.resolve(data) if isinstance(data, Mapping) else data
        params = wire_text(params) if params else params
        data = wire_text(data) if isinstance(data, Mapping) else data
        while True:
            attempt = budget.start()
            if self._bucket is not None:
                self._bucket.acquire()
            self.requests_sent += 1
            try:
                response = self._send(method, url, params=params, json=json, data=data,
                                      headers=dict(headers) if headers else None,
                                      auth=self.auth if authenticate else auth, stream=stream)
            except _RETRIABLE_EXCEPTIONS as exc:
                reason = _reason(exc)
                if budget.spent:
                    raise SourceUnavailableError(
                        f"{label}: {method} {_path(url)} did not answer after {attempt} attempt(s): {reason}"
                    ) from None
                self.pause(attempt, None, f"{method} {_path(url)}: {reason}")
                continue
            except requests.exceptions.ContentDecodingError:  # a body read in full (no stream) that is not gzip
                error = undecodable(f"{label}: {method} {_path(url)}", None)
                if budget.spent:
                    raise error from None
                self.pause(attempt, None, str(error).removeprefix(f"{label}: "))
                continue
            except requests.exceptions.InvalidHeader:  # its message quotes the value (a secret, as often as not)
                raise FatalSyncError(f"{label}: {method} {_path(url)} cannot be sent: {_UNSENDABLE}") from None
            except requests.exceptions.RequestException as exc:
                raise FatalSyncError(
                    f"{label}: {method} {_path(url)} cannot be sent: {_reason(exc)}"
                ) from None
            except ValueError:  # http.client's word for the same (a header an auth added late): quoting the value
                raise FatalSyncError(f"{label}: {method} {_path(url)} cannot be sent: {_UNSENDABLE}") from None

            status = response.status_code
            if authenticate and status in (401, 403):
                if not refreshed and isinstance(self.auth, RefreshableAuth) and self.auth.refresh():
                    response.close()
                    refreshed = True
                    log.info("%s: HTTP %s, retrying once with fresh credentials", label, status)
                    budget.give_back()
                    continue
                self.peek(response)
                raise AuthenticationError(
                    f"{label}: {method} {_path(url)} refused our credentials (HTTP {status}): "
                    f"{describe_body(response)}"
                )
            if status in self.config.retry.retry_statuses:
                self.peek(response)
                if budget.spent:
                    raise RetriableSyncError(
                        f"{label}: {method} {_path(url)} answered HTTP {status} after {attempt} attempt(s): "
                        f"{describe_body(response)}",
                        retry_after=parse_retry_after(response.headers.get("Retry-After"), now=self._clock()),
                    )
                self.pause(attempt, response.headers, f"{method} {_path(url)}: HTTP {status}")
                continue
            return response

    def attempts(self) -> Attempts:
        """A fresh budget of ``retry.max_attempts`` for one logical call (see :class:`Attempts`)."""
        return Attempts(self.config.retry.max_attempts)

    def _send(self, method: str, url: str, *, params: Mapping[str, Any] | None, json: Any,
              data: Mapping[str, str] | bytes | None, headers: dict[str, str] | None, auth: AuthBase | None,
              stream: bool) -> requests.Response:
        """One request, following redirects within the system's origin only.

        requests would follow a redirect anywhere, and drops only ``Authorization`` on the way: an API key
        header, a request signature or a WS-Security envelope in the body would reach whichever host the
        ``Location`` names. So redirects are followed here: same origin (scheme, host, port), or the same host
        moved from ``http`` to ``https`` on the default ports (never back), up to :data:`MAX_REDIRECTS`. 307 and
        308 send the request again as it was (the auth recomputed for the new URL); 301, 302 and 303 after a POST
        (303 after anything but HEAD) turn it into a GET without a body, as browsers and requests do — a
        Post/Redirect/Get must not send the write twice. Another origin is a :class:`FatalSyncError` naming it."""
        for _ in range(MAX_REDIRECTS + 1):
            with answer_deadline(self.config.timeout.total):
                response = self.session.request(method, url, params=params, json=json, data=data, headers=headers,
                                                auth=auth, timeout=self._timeout, stream=stream,
                                                allow_redirects=False)
            if not response.is_redirect:
                return response
            target = urljoin(response.url, response.headers["Location"])
            status = response.status_code
            response.close()
            if not same_origin(target, response.url) and not https_upgrade(target, response.url):
                raise FatalSyncError(
                    f"{self.config.label}: {method} {_path(response.url)} was redirected (HTTP {status}) to "
                    f"{_path(target)}, another origin: not followed, our credentials would go with the request. "
                    f"If the system has moved, set its endpoint to the new address"
                )
            url, params = target, None  # the Location is the whole new URL, query included
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method, json, data = "GET", None, None
        raise FatalSyncError(f"{self.config.label}: {method} {_path(url)}: more than {MAX_REDIRECTS} redirects in "
                             f"a row: stopped")

    def refresh_credentials(self) -> bool:
        """Drop the connector's cached credentials (a token); ``True`` if a retry with fresh ones is worth it.
        For answers that say the token expired in their body (HTTP 200), where a 401 would say it in the status."""
        return isinstance(self.auth, RefreshableAuth) and self.auth.refresh()

    def _masked(self, text: str) -> str:
        return self.secret_params.redact(text) if self.secret_params is not None else text

    def request_token(self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                      json: Any = None, data: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None) -> tuple[requests.Response, Any]:
        """Send a platform's own token request (never with the connector's auth; ``{secret: NAME}`` resolved) and
        decode its answer as JSON (``None`` when it is none: the caller says what was missing)."""
        response = self.request(method, path_or_url, params=params, json=json, data=data, headers=headers,
                                authenticate=False, stream=True)
        # under the limits a page has (max_response_bytes, timeout.total): a token answer trickled for minutes or
        # of megabytes held the run (and its lease) as no page could
        self.read_body(response, f"{self.config.label}: token request {method} {_path(response.url)}")
        try:
            return response, self.decode_json(response)
        except FatalSyncError:
            return response, None

    def fetch_token(self, url: str, form: Mapping[str, str], auth: AuthBase | None) -> requests.Response:
        """POST a token request (OAuth2); uses retries and the rate limit, never the connector's own auth."""
        response = self.request("POST", url, data=form, authenticate=False, auth=auth, stream=True)
        self.read_body(response, f"{self.config.label}: token request POST {_path(response.url)}")  # as a page's
        return response

    def peek(self, response: requests.Response) -> bytes:
        """What an error answer needs to be described (:func:`~connectors.http.body.peek`), by ``timeout.total``."""
        return peek(response, deadline=self.config.timeout.total)

    def read_body(self, response: requests.Response, where: str) -> bytes:
        """The body of a ``stream=True`` response, at most ``max_response_bytes`` of it, by ``timeout.total``."""
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
        expired: Callable[[Any], str | None] | None = None,
    ) -> tuple[requests.Response, JsonDocument]:
        """GET (or, for query APIs that take their parameters in a body, POST ``json``/``data``) a JSON body,
        read under the size cap; values that cannot be represented come back marked (``document.screen``) for the
        caller to reject record by record.

        An HTML page with a 2xx status (a proxy's or gateway's error page) is retried like a 503; so is a body
        for which ``busy`` returns a reason (an envelope code that means "try again", HTTP 200 notwithstanding).
        A body for which ``expired`` returns a reason (an envelope code saying our token expired, HTTP 200
        notwithstanding) is sent once more with fresh credentials, as a 401 is (:meth:`refresh_credentials`);
        if that body says so again, it is returned for the caller's envelope check to refuse.
        Any other outcome that is not JSON is a :class:`FatalSyncError` a person can read."""
        label = self.config.label
        budget = self.attempts()  # one budget for the request's retries and these: at most max_attempts requests
        refreshed = False
        while True:
            response = self.request(method, path_or_url, params=params, json=json, data=data, headers=headers,
                                    stream=True, attempts=budget)
            attempt = budget.made
            where = f"{label}: {method} {_path(response.url)}"
            if not response.ok:
                self.peek(response)
                raise FatalSyncError(f"{where} answered HTTP {response.status_code}: {describe_body(response)}")
            try:
                content = self.read_body(response, where)
            except RetriableSyncError as exc:  # the connection broke mid-body: as retriable as a reset
                if budget.spent:
                    raise
                self.pause(attempt, None, str(exc).removeprefix(f"{label}: "))
                continue
            content_type = response.headers.get("Content-Type", "")
            if looks_like_html(content, content_type):
                what = (f"{where} answered HTTP {response.status_code} with {describe_body(response)} instead of "
                        f"JSON (a proxy's or gateway's page?); Content-Type {content_type or 'none'!r}, first bytes "
                        f"{first_bytes(content)}")
                if budget.spent:
                    raise RetriableSyncError(
                        f"{what}; {attempt} attempt(s)",
                        retry_after=parse_retry_after(response.headers.get("Retry-After"), now=self._clock()),
                    )
                self.pause(attempt, response.headers, f"{method} {_path(response.url)}: an HTML page instead of JSON")
                continue
            document = self._parse(response, content, where)
            stale = expired(document.value) if expired is not None else None
            if stale is not None and not refreshed and self.refresh_credentials():
                refreshed = True
                log.info("%s: %s %s: %s; retrying once with fresh credentials", label, method,
                         _path(response.url), self._masked(stale))
                budget.give_back()
                continue
            reason = busy(document.value) if busy is not None else None
            if reason is not None:
                if budget.spent:
                    return response, document  # the caller's envelope check raises RetriableSyncError
                self.pause(attempt, response.headers, f"{method} {_path(response.url)}: {reason}")
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
            return parse_json(content, charset=_charset(response.headers.get("Content-Type", "")) or self.charset)
        except JsonTextError as exc:
            raise FatalSyncError(
                f"{where} answered HTTP {response.status_code} with {describe_body(response)}, not JSON ({exc})"
            ) from None

    def close(self) -> None:
        self.session.close()

    def pause(self, attempt: int, headers: Mapping[str, str] | None, why: str) -> None:
        """Wait before the attempt after ``attempt`` (``why``: what failed, for the log and the error).

        A server whose ``Retry-After`` asks for more than ``retry.max_backoff_seconds`` is not called again
        after the cap: a gateway that throttles an app key for an hour and sees it back within minutes tends
        to block it. The call stops with :class:`RetriableSyncError` carrying the server's ``retry_after``, for
        the scheduler to honour. ``why`` is logged with the connector's secrets masked (it may quote a server's
        message, and a server may echo a credential)."""
        if self.secret_params is not None:
            why = self.secret_params.redact(why)
        now = self._clock()
        asked = parse_retry_after((headers or {}).get("Retry-After"), now=now)
        cap = self.config.retry.max_backoff_seconds
        if asked is not None and asked > cap:
            raise RetriableSyncError(
                f"{self.config.label}: {why}; the server asks us to wait {asked:.0f} s (Retry-After), more than "
                f"retry.max_backoff_seconds ({cap:g} s): not called again in this run",
                retry_after=asked,
            )
        delay = self._backoff.delay(attempt, headers, now=now)
        log.warning("%s: %s; retry %d in %.2fs", self.config.label, why, attempt, delay)
        self._sleep(delay)


_QUERY_IN_TEXT = re.compile(r"\?[^\s'\"()]*")
"""A query string inside an exception's text (``Max retries exceeded with url: /api?access_token=…``)."""


def _reason(exc: Exception) -> str:
    """The innermost useful text of a requests exception (they nest urllib3 errors several levels deep)."""
    if isinstance(exc, HeadersTooSlow):
        return str(exc)
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
    if isinstance(exc, requests.exceptions.SSLError) and "WRONG_VERSION_NUMBER" in text:
        # the usual cause: a system serving plain HTTP called over https (an endpoint or connection host written
        # without its scheme is taken as https)
        return ("TLS handshake failed (WRONG_VERSION_NUMBER): the system answers plain HTTP? give the endpoint "
                "with http:// (a host without a scheme is called over https)")
    return f"{type(exc).__name__}: {text[:200]}"


def wire_text(values: Mapping[str, Any]) -> dict[str, Any]:
    """Query or form parameters with YAML booleans as JSON writes them (``true``/``false``): requests would send
    Python's ``True``, which no Java or .NET system reads as a boolean (``params: {valid: true}``)."""
    return {k: _bool_text(v) for k, v in values.items()}


def _bool_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_bool_text(v) for v in value]
    return value


def _strict(document: JsonDocument, where: str) -> Any:
    if document.screen:
        problems = find_problems(document.value, damaged=document.damaged, limit=3)
        if problems:
            shown = "; ".join(f"{p.path or '$'}: {p.message} [{p.rule}]" for p in problems)
            hint = f"; {document.charset_hint}" if document.charset_hint and any(
                p.rule == "text.invalid_encoding" for p in problems) else ""
            raise FatalSyncError(f"{where}: the response holds values that cannot be used: {shown}{hint}")
    return document.value


def _charset(content_type: str) -> str | None:
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def _path(url: str) -> str:
    """URLs in messages without the query string (queries may carry personal data or tokens) and without
    ``user:password@``."""
    return shown(url)


__all__ = ["Attempts", "RefreshableAuth", "Transport", "TransportSettings", "describe_body", "wire_text"]
