"""Writing one record to a REST system: templated URL, idempotency header, and what the answer means.

The push job retries and dead-letters by error type, and counts ``duplicate``/``superseded`` as delivered.
So a write ends in exactly one of:

- ``WriteResult("applied")``: 2xx, and the body (if the stream says how) does not call it a duplicate;
- ``WriteResult("duplicate")``: 2xx and ``duplicate.field == duplicate.equals`` (the key was seen before);
- ``WriteResult("superseded")``: a status in ``stale_statuses`` (the target holds a newer version);
- :class:`WriteRejectedError`: any other 4xx/5xx, or a 2xx envelope that says it failed — refused for good
  (without a ``success`` rule: an unmistakable failure envelope, see
  :func:`~connectors.common.records.failure_envelope`);
- :class:`RetriableSyncError` when the answer could not be read whole (over ``max_response_bytes``, slower
  than ``timeout.total``, cut off): the write's fate is unknown, so it is tried again, never counted;
- :class:`RetriableSyncError` / :class:`SourceUnavailableError` / :class:`AuthenticationError` from the
  transport, after its retries (a retry is safe: the idempotency key goes with every attempt).

Templates in ``path`` and ``params`` see ``{key}``, ``{idempotency_key}`` and every top-level scalar field of
the record (``{version}``); the keyword arguments win over record fields of the same name. Path values are
percent-encoded as one segment, so a key containing ``/`` cannot address another resource.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator, Mapping
from email.message import Message
from typing import Any
from urllib.parse import quote

from connectors.common.records import check_write_success, dig, expired_credentials
from connectors.common.urls import shown as _shown
from connectors.http.body import ResponseTooLargeError, looks_like_html
from connectors.http.transport import Transport, describe_body
from gateway.contract.connector import WriteOperation, WriteResult
from gateway.contract.errors import (
    FatalSyncError,
    RetriableSyncError,
    UnsupportedOperationError,
    WriteRejectedError,
)

from .config import WriteStreamConfig

_FORMATTER = string.Formatter()


def write_record(
    transport: Transport,
    stream: str,
    config: WriteStreamConfig,
    record: Mapping[str, Any],
    *,
    key: str,
    idempotency_key: str,
    operation: WriteOperation,
) -> WriteResult:
    op = config.upsert if operation == "upsert" else config.delete
    if op is None:
        raise UnsupportedOperationError(f"{transport.config.label}: write stream {stream!r} has no `{operation}` "
                                        "operation")
    where = f"{transport.config.label} write {stream!r} key {key!r}"
    values = {k: v for k, v in record.items() if isinstance(v, (str, int, float, bool))}
    values |= {"key": key, "idempotency_key": idempotency_key}
    path = _render(op.path, values, where, encode=True)
    params = {name: _render(template, values, where, encode=False) if isinstance(template, str) else template
              for name, template in op.params.items()}  # {secret: NAME} stays a reference until the wire
    headers = dict(config.headers)
    if config.idempotency_header:
        headers[config.idempotency_header] = idempotency_key

    body_bytes: bytes | None = None
    if op.sends_body:
        # UTF-8 rather than requests' \uXXXX escapes: half the size for Chinese text, and readable in logs.
        try:
            # no NaN or Infinity: not JSON, whatever json.dumps writes by default
            text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise WriteRejectedError(f"{where}: the record is not JSON: {exc}") from None
        charset = config.charset or "utf-8"
        body_bytes = _encoded(text, charset, record, where)
        headers = _content_type(headers, charset if config.charset else None)
    needs_body = config.success is not None or config.duplicate is not None or config.target_id_path
    expired = expired_credentials(config.success)
    refreshed = False
    while True:
        response = transport.request(op.method, path, params=params or None, data=body_bytes, headers=headers,
                                     stream=True)
        status = response.status_code
        if status in config.stale_statuses:
            transport.peek(response)
            return WriteResult(status="superseded")
        if not response.ok:
            transport.peek(response)
            raise WriteRejectedError(
                f"{where}: {op.method} answered HTTP {status}: {describe_body(response)}"
            )
        if not 200 <= status < 300:  # a redirect the transport does not follow (to a login page, another host)
            transport.peek(response)
            location = response.headers.get("Location")
            raise FatalSyncError(f"{where}: {op.method} answered HTTP {status}"
                                 + (f" (to {_shown(location)})" if location else "")
                                 + "; the write may or may not have been applied (not sent again)")
        _read_answer(transport, response, where)
        if looks_like_html(response.content or b"", response.headers.get("Content-Type", "")):
            # a proxy's or a firewall's page where the system's answer should be: not its word that it applied
            raise FatalSyncError(f"{where}: {op.method} answered HTTP {status} with an HTML page instead of the "
                                 f"system's answer: {describe_body(response)}; the write may or may not have been "
                                 "applied (not sent again)")
        body = _body(transport, response) if needs_body else _envelope_or_none(transport, response)
        if expired is not None and expired(body) is not None and not refreshed and transport.refresh_credentials():
            refreshed = True  # the token expired (said in the body): once more with a fresh one, as after a 401
            continue
        break
    check_write_success(body, config.success, where=where)
    target_id = None
    if config.target_id_path and isinstance(body, (Mapping, list)):
        found = dig(body, config.target_id_path, None)
        target_id = None if found is None else str(found)
    if config.duplicate is not None and isinstance(body, (Mapping, list)):
        if dig(body, config.duplicate.field, None) == config.duplicate.equals:
            return WriteResult(status="duplicate", target_id=target_id)
    return WriteResult(status="applied", target_id=target_id)


def _read_answer(transport: Transport, response: Any, where: str) -> None:
    """Read the answer under the limits reads have (``max_response_bytes``, ``timeout.total``).

    An answer that could not be read whole (over the cap, too slow, cut off) leaves the write's fate unknown:
    a :class:`RetriableSyncError`, so that the push tries again with the same idempotency key (the target
    answers a repeat as a duplicate) and never counts the record delivered."""
    try:
        transport.read_body(response, f"{transport.config.label}: {response.request.method} {_shown(response.url)}")
    except (ResponseTooLargeError, RetriableSyncError) as exc:
        raise RetriableSyncError(
            f"{where}: the answer could not be read ({exc}); "
            f"the write may or may not have been applied (tried again with the same idempotency key)"
        ) from None


def _envelope_or_none(transport: Transport, response: Any) -> Any:
    """The answer decoded for the failure-envelope check of a stream without a ``success`` rule; ``None``
    when it is empty or not JSON (such a stream never needed the body)."""
    if not response.content or not response.content.strip():
        return None
    try:
        return transport.decode_json(response)
    except FatalSyncError:
        return None


def _content_type(headers: dict[str, str], charset: str | None) -> dict[str, str]:
    """``headers`` with a ``Content-Type`` for a JSON body: the stream's own when it has one — its ``charset``
    parameter made the stream's ``charset`` when one is set (``application/json;charset=UTF-8`` copied into the
    headers labelled a GBK body UTF-8) — else ``application/json`` in the body's charset."""
    name = next((k for k in headers if k.lower() == "content-type"), None)
    if name is None:
        return {**headers, "Content-Type": f"application/json; charset={charset or 'utf-8'}"}
    if charset is None:
        return headers
    parsed = Message()  # the MIME grammar: quoted parameters holding ';' stay whole, only ``charset`` is replaced
    parsed["Content-Type"] = headers[name]
    parsed.set_param("charset", charset, requote=False)
    return {**headers, name: str(parsed["Content-Type"])}


def _encoded(text: str, charset: str, record: Mapping[str, Any], where: str) -> bytes:
    """The body in ``charset``; a character it lacks refuses the write (a dead letter naming the field and the
    character), never a ``?`` in a citizen's name."""
    try:
        return text.encode(charset)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start]
        field = next((path for path, value in _texts(record) if bad in value), "?")
        raise WriteRejectedError(f"{where}: field {field!r} holds {bad!r} (U+{ord(bad):04X}), which the system's "
                                 f"charset {charset} cannot write [text.charset]") from None


def _texts(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _texts(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _texts(value, f"{path}.{n}" if path else str(n))


def _body(transport: Transport, response: Any) -> Any:
    """The decoded answer; an empty body (204) is fine, an HTML page on 2xx (a proxy's login page) is not.

    Decoded as reads are (:meth:`Transport.decode_json`): the charset the ``Content-Type`` names, else the
    connector's ``charset`` setting (a GBK answer sent as bare ``application/json``), UTF-8 otherwise."""
    if not response.content or not response.content.strip():
        return None
    try:
        return transport.decode_json(response)
    except FatalSyncError as exc:
        raise FatalSyncError(f"{exc}; the write may or may not have been applied") from None


def _render(template: str, values: Mapping[str, Any], where: str, *, encode: bool) -> str:
    missing = [
        name for _, name, _, _ in _FORMATTER.parse(template) if name is not None and name not in values
    ]
    if missing:
        raise WriteRejectedError(f"{where}: the record has no field {missing[0]!r} needed by {template!r}")
    if encode:
        return template.format_map({k: quote(str(v), safe="") for k, v in values.items()})
    return template.format_map({k: str(v) for k, v in values.items()})


__all__ = ["write_record"]
