"""HTTP clients of the three foreign systems, each speaking that system's protocol and nothing more.

What a failure means is said by the error type, as everywhere in Tongban: :class:`RetriableSyncError` (HTTP
429/5xx, a timeout, a busy SOAP server: try again later), :class:`AuthenticationError` (fix the secret),
:class:`WriteRejectedError` (the system refused this item for good: dead-letter it, naming the field it named).
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

import httpx
import orjson

from gateway.contract.errors import (
    AuthenticationError,
    ConfigError,
    FatalSyncError,
    RetriableSyncError,
    WriteRejectedError,
)
from gateway.models.text import codec_for_label

from .settings import Endpoint

__all__ = ["EvaluatorClient", "HotlineClient", "ProvincialClient"]

_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
PJ_NS = "http://hcp.sd.gov.cn/pj"
PJ_PATH = "/hcp/services/PjService"
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CALL_SECONDS = 60.0
"""The longest one call may take, its answer read whole (each read also times out after 10 s)."""
MAX_ANSWER = 16 * 1024 * 1024
"""The largest answer read (a page of ratings or orders is kilobytes)."""
REFUSALS = frozenset({"2001"})
"""The provincial ``fhdm`` codes that refuse an item for good (2001: a field missing or out of range, named)."""
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str) -> str:
    """``value`` as XML 1.0 character data, escaped. Characters XML 1.0 cannot carry at all — C0 controls other
    than tab, LF and CR, lone surrogates, U+FFFE/U+FFFF; not even as ``&#1;`` — are replaced by U+FFFD, not
    dropped: JSON and the ledger carry ``很好\\x01`` as it came, the receiver gets ``很好\\ufffd`` and can see that
    something stood there (dropping would silently join the text around it). Sent raw, one such character makes
    the whole request unparseable for the receiver."""
    return escape(_NOT_XML.sub("\ufffd", value))


def _key(record: Any, time_field: str, id_field: str, kind: type) -> Any:
    """(change time, id) of a raw record, or None when it lacks them or they are not of the system's types (the
    record is passed on all the same: the parser rejects it by name)."""
    if not isinstance(record, dict):
        return None
    t, i = record.get(time_field), record.get(id_field)
    if isinstance(t, bool) or not isinstance(t, kind) or not isinstance(i, str):
        return None
    return (t, i)


def _shown(url: str) -> str:
    """``url`` as an error may quote it: without ``user:password@`` and without its query (either may hold a
    secret, and errors go to the outbox's ``last_error`` and to dead letters)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _send(client: httpx.Client, method: str, url: str, *, deadline: float | None = None,
          **kwargs: Any) -> httpx.Response:
    """One call, its whole answer read within ``deadline`` seconds (:data:`CALL_SECONDS`) and :data:`MAX_ANSWER`
    bytes as decoded (a small gzip body may inflate to gigabytes): httpx's timeout is per read, and a server
    dripping a byte a second held a call (and the queue behind it) for as long as it liked. (Headers dripped a byte
    at a time are bounded only by the per-read timeout and their size limit: the deadline is checked once they
    are in.)"""
    where = _shown(url)
    limit = CALL_SECONDS if deadline is None else deadline
    started = time.monotonic()

    def in_time() -> None:
        if time.monotonic() - started > limit:
            raise RetriableSyncError(f"{where}: no whole answer within {limit:.0f} s")

    try:
        with client.stream(method, url, **kwargs) as streamed:
            in_time()
            body = bytearray()
            for chunk in ([streamed.content] if streamed.is_stream_consumed else streamed.iter_bytes()):
                body += chunk
                in_time()
                if len(body) > MAX_ANSWER:
                    raise FatalSyncError(f"{where}: an answer larger than {MAX_ANSWER} bytes")
            headers = [(k, v) for k, v in streamed.headers.multi_items()
                       if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
            response = httpx.Response(streamed.status_code, headers=headers, content=bytes(body),
                                      request=streamed.request)  # decoded already: its encoding headers dropped
    except httpx.TimeoutException as exc:
        raise RetriableSyncError(f"{where}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise RetriableSyncError(f"{where}: {type(exc).__name__}: {str(exc).replace(url, where)}") from None
    except httpx.DecodingError as exc:  # a body its Content-Encoding does not describe (bad gzip)
        raise FatalSyncError(f"{where}: the answer could not be decoded: {exc}") from None
    if response.status_code == 429 or response.status_code >= 502:
        after = response.headers.get("Retry-After")
        raise RetriableSyncError(f"{where}: HTTP {response.status_code}",
                                 retry_after=float(after) if after and after.isdigit() else None)
    return response


def _header_secret(endpoint: Endpoint, key: str) -> str:
    """A secret that travels in an HTTP header, which carries ASCII only: a non-ASCII one failed every call with a
    bare UnicodeEncodeError (the queue stopped on it) instead of saying which setting to fix."""
    value = endpoint.secret(key)
    if not value.isascii():
        raise ConfigError(f"citizen settings: {endpoint.name}.secrets.{key}: the value is not ASCII, and it is sent "
                          "in an HTTP header, which carries ASCII only")
    return value


def _json(response: httpx.Response) -> Any:
    """The answer's JSON: read as GB18030 when its ``Content-Type`` names a GB charset (``charset=GBK``), else as
    the standard library reads JSON bytes (UTF-8 with or without a BOM, big integers kept whole) — a Latin-1 label
    on a UTF-8 body (a server default) is not believed. ValueError when it is not JSON."""
    charset = (response.charset_encoding or "").strip().lower()
    try:
        if charset and codec_for_label(charset) == "gb18030":
            return json.loads(response.content.decode("gb18030"))
        return json.loads(response.content)
    except (UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested past the parser's depth
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


_XML_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["'][^>]*\?>""")


def _xml_root(content: bytes) -> ET.Element:
    """The answer's root element; a body declared in a multi-byte charset the standard parser refuses (GBK) is
    decoded first. ``ET.ParseError`` when it is not XML."""
    try:
        return ET.fromstring(content)
    except (ValueError, LookupError) as exc:  # "multi-byte encodings are not supported", "unknown encoding: x-gbk"
        if isinstance(exc, ET.ParseError):
            raise
        declared = _XML_DECLARED.match(content)
        if declared is None:
            raise ET.ParseError(str(exc)) from None
        label = declared.group(1).decode("ascii").lower()
        try:
            text = content[declared.end():].decode(codec_for_label(label) or label)
        except (LookupError, UnicodeDecodeError) as decode_error:
            raise ET.ParseError(f"declared {label}, which does not read it: {decode_error}") from None
        return ET.fromstring(text)


class EvaluatorClient:
    """The district's 好差评 collection point: ``X-Api-Key``, offset pages of ratings by ``updateTime`` (ms)."""

    PATH = "/pj/api/v1/ratings"

    def __init__(self, endpoint: Endpoint, *, page_size: int = 200) -> None:
        self.url = endpoint.url + self.PATH
        self.page_size = page_size
        self._client = httpx.Client(timeout=_TIMEOUT, headers={"X-Api-Key": _header_secret(endpoint, "api_key")})

    def pages(self, since_ms: int | None) -> Iterator[list[Any]]:
        """Pages of raw ratings changed at or after ``since_ms``, in (updateTime, ratingId) order.

        Keyset paging over the collection point's inclusive time filter: each request starts at the last change
        time seen (``offset`` only steps over ratings sharing that time), so a rating that changes while we page
        moves behind us and is read again, and none is skipped (bare offsets over a changing list skip some)."""
        cursor, offset = since_ms, 0
        seen: tuple[int, str] | None = None
        while True:
            params: dict[str, Any] = {"offset": offset, "limit": self.page_size}
            if cursor is not None:
                params["updatedFrom"] = cursor
            response = _send(self._client, "GET", self.url, params=params)
            if response.status_code == 401:
                raise AuthenticationError(f"evaluator refused the API key: {response.text[:200]}")
            try:
                body = _json(response)
            except ValueError:
                raise FatalSyncError(f"evaluator: HTTP {response.status_code}, not JSON: {response.text[:200]}") from None
            if response.status_code != 200 or not isinstance(body, dict) or body.get("ok") is not True:
                raise FatalSyncError(f"evaluator: HTTP {response.status_code}: {str(body)[:300]}")
            items = body.get("items") or []
            keys = [_key(r, "updateTime", "ratingId", int) for r in items]
            yield [r for r, k in zip(items, keys) if seen is None or k is None or k > seen]
            if len(items) < self.page_size:
                return
            last = keys[-1]
            if last is None or last[0] == cursor:
                offset += len(items)  # a page of one change time: step over it
            else:
                cursor, offset = last[0], 0
            seen = max((k for k in keys if k is not None), default=seen)

    def close(self) -> None:
        self._client.close()


class ProvincialClient:
    """The provincial 好差评 system: SOAP 1.1, an ``auth`` header, answers with ``fhdm``.

    ``fhdm`` 0000 (accepted) and 1001 (already received: the first answer stands) both mean delivered, which is
    what makes a resend after a crash harmless; 2001 names a field and is a refusal for good. Any other code, or
    none (9999 系统繁忙), is an answer the client cannot place (:class:`FatalSyncError`): the item is tried again
    and dies only after the outbox's attempts — taken for a refusal, a busy province cost the rating for good, and
    its callback and appeal with it.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.url = endpoint.url + PJ_PATH
        self._auth = (endpoint.secret("app_id"), endpoint.secret("app_key"))
        self._client = httpx.Client(timeout=_TIMEOUT)

    def envelope(self, op: str, fields: dict[str, str]) -> bytes:
        inner = "".join(f"<pj:{k}>{_xml_text(v)}</pj:{k}>" for k, v in fields.items())
        app_id, app_key = (_xml_text(x).replace('"', "&quot;") for x in self._auth)
        return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{_SOAP11}" '
                f'xmlns:pj="{PJ_NS}"><soapenv:Header><pj:auth appId="{app_id}" appKey="{app_key}"/>'
                f"</soapenv:Header><soapenv:Body><pj:{op}>{inner}</pj:{op}></soapenv:Body>"
                f"</soapenv:Envelope>").encode("utf-8")

    def call(self, op: str, fields: dict[str, str]) -> dict[str, str]:
        """Call ``op``; returns the answer's fields when ``fhdm`` is 0000 or 1001."""
        response = _send(self._client, "POST", self.url, content=self.envelope(op, fields),
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{op}"'})
        try:
            root = _xml_root(response.content)
        except ET.ParseError:
            if response.status_code >= 500:
                raise RetriableSyncError(f"provincial_pj: HTTP {response.status_code}, not XML") from None
            raise FatalSyncError(f"provincial_pj: HTTP {response.status_code}, not XML: {response.text[:200]}") from None
        body = root.find(f"{{{_SOAP11}}}Body")
        answer = body[0] if body is not None and len(body) else None
        if answer is None:
            raise FatalSyncError(f"provincial_pj: {op}: an answer without a body")
        if answer.tag == f"{{{_SOAP11}}}Fault":
            code = (answer.findtext("faultcode") or "").split(":")[-1]
            message = answer.findtext("faultstring") or ""
            if code.startswith("Client.Auth"):
                raise AuthenticationError(f"provincial_pj refused the credentials: {message}")
            if code.startswith("Server"):
                raise RetriableSyncError(f"provincial_pj: {op}: {code}: {message}")
            if code.startswith("Client") and response.status_code not in (404, 405):
                # the receiver refuses this message (unparseable, a field missing): this item, for good — sent
                # again unchanged it is refused again, and it must not hold up the items behind it
                raise WriteRejectedError(f"provincial_pj refused {op} {fields.get('pjbh')}: {code}: {message}")
            raise FatalSyncError(f"provincial_pj: {op}: HTTP {response.status_code}: {code}: {message}")
        fields_out = {child.tag.split("}")[-1]: (child.text or "") for child in answer}
        code = fields_out.get("fhdm")
        if code in ("0000", "1001"):
            return fields_out
        said = f"{op} {fields.get('pjbh')}: {code} {fields_out.get('fhxx')}"
        if code in REFUSALS:
            raise WriteRejectedError(f"provincial_pj refused {said}")
        raise FatalSyncError(f"provincial_pj answered {said}: not a code this client knows (tried again)")

    def close(self) -> None:
        self._client.close()


class HotlineClient:
    """The 12345 platform: signed POSTs, answers ``{"code": "0", "data": …}`` with HTTP 200 even for refusals."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.base = endpoint.url
        self.appid, self._secret = _header_secret(endpoint, "appid"), endpoint.secret("secret")
        self._client = httpx.Client(timeout=_TIMEOUT)

    def call(self, path: str, data: dict[str, Any]) -> Any:
        import hashlib

        body = orjson.dumps(data)
        stamp = str(int(time.time() * 1000))
        sign = hashlib.md5(self.appid.encode() + stamp.encode() + self._secret.encode() + body).hexdigest()
        response = _send(self._client, "POST", self.base + path, content=body,
                         headers={"Content-Type": "application/json; charset=utf-8", "X-Appid": self.appid,
                                  "X-Timestamp": stamp, "X-Sign": sign})
        try:
            answer = _json(response)
        except ValueError:
            raise FatalSyncError(f"hotline: HTTP {response.status_code}, not JSON: {response.text[:200]}") from None
        code = str(answer.get("code")) if isinstance(answer, dict) else None
        if code == "0":
            return answer.get("data")
        message = answer.get("msg") if isinstance(answer, dict) else answer
        if code == "E001":
            raise AuthenticationError(f"hotline refused the signature: {message}")
        if code in ("E002", "E003"):
            raise WriteRejectedError(f"hotline refused {path} {data.get('gdbh')}: {code} {message}")
        raise FatalSyncError(f"hotline: {path}: HTTP {response.status_code} code {code}: {message}")

    def orders(self, since: str | None, *, page_size: int = 100) -> Iterator[list[Any]]:
        """Pages of raw work orders changed at or after ``since`` (``yyyy-MM-dd HH:mm:ss``), keyset-paged as
        :meth:`EvaluatorClient.pages` is: each query starts at the last ``gxsj`` seen, ``pageNo`` only steps over
        orders sharing that second."""
        cursor, page = since or "", 1
        seen: tuple[str, str] | None = None
        while True:
            data = self.call("/gd/api/query", {"gxsjStart": cursor, "pageNo": page, "pageSize": page_size})
            rows = (data or {}).get("list") or []
            keys = [_key(r, "gxsj", "gdbh", str) for r in rows]
            yield [r for r, k in zip(rows, keys) if seen is None or k is None or k > seen]
            if len(rows) < page_size:
                return
            last = keys[-1]
            if last is None or last[0] == cursor:
                page += 1
            else:
                cursor, page = last[0], 1
            seen = max((k for k in keys if k is not None), default=seen)

    def close(self) -> None:
        self._client.close()
