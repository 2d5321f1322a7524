"""Reading one REST stream: GET a page, check the envelope, select the records; the paging loop (and its
re-anchoring, which keeps records that change while we page) is :func:`connectors.common.reader.read_pages`.

A page whose body holds values that cannot be represented (``NaN``, ``1e400``, a 10,000-digit integer, a lone
surrogate, a repeated key) is screened: a record holding one becomes a rejection naming its source key, the
field and the rule, the others are delivered; such a value in the envelope fails the page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.common.paginators import PageRequest
from connectors.common.reader import read_pages
from connectors.common.records import (
    check_envelope,
    check_success,
    envelope_outcome,
    expired_credentials,
    refuse_failure_envelope,
    screen_items,
    select_items,
)
from connectors.http.transport import Transport
from gateway.contract.connector import Page, SyncMode

from .config import StreamConfig


def page_call(stream: StreamConfig, params: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of one page request for :meth:`Transport.get_document`: the method, and the stream's
    parameters where ``params_in`` puts them (query string, JSON body, form body), as text if asked."""
    values = {k: _as_text(v) for k, v in params.items()} if stream.params_as_text else dict(params)
    if stream.params_in == "json":
        return {"method": stream.method, "json": values}
    if stream.params_in == "form":  # (the transport writes a boolean as true/false in a query or form)
        return {"method": stream.method, "data": values}
    return {"method": stream.method, "params": values}


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_stream(
    transport: Transport,
    name: str,
    stream: StreamConfig,
    *,
    since: datetime | None = None,
    mode: SyncMode = "incremental",
    checkpoint: Mapping[str, Any] | None = None,
) -> Iterator[Page]:
    """Yield one :class:`Page` per HTTP response (see :mod:`connectors.common.reader` for the guarantees)."""
    where = f"{transport.config.label} stream {name!r}"

    def busy(body: Any) -> str | None:
        outcome, said = envelope_outcome(body, stream.success)
        return said if outcome == "retry" else None

    def fetch(request: PageRequest) -> tuple[Any, Any, list[Any]]:
        response, document = transport.get_document(request.url, headers=stream.headers or None,
                                                    busy=busy if stream.success is not None else None,
                                                    expired=expired_credentials(stream.success),
                                                    **page_call(stream, request.params))
        body = document.value
        if document.screen:
            check_envelope(body, stream.record_selector, where=where, damaged=document.damaged,
                           charset_hint=document.charset_hint)
        if stream.success is None:
            refuse_failure_envelope(body, where=where)
        if check_success(body, stream.success, where=where) == "skip":
            return response, body, []  # e.g. 查询无数据: this request has no records
        items = select_items(body, stream.record_selector, where=where, checked=stream.success is not None)
        if document.screen:
            items = screen_items(items, stream.primary_key, where=where, damaged=document.damaged,
                                 charset_hint=document.charset_hint)
        return response, body, items

    return read_pages(
        fetch,
        where=where,
        base=PageRequest(stream.path, dict(stream.params)),
        primary_key=stream.primary_key,
        ordered=stream.ordered,
        incremental=stream.incremental,
        pagination=stream.pagination,
        since=since,
        mode=mode,
        checkpoint=checkpoint,
    )


__all__ = ["page_call", "read_stream"]
