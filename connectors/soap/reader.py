"""Reading one SOAP stream: call the operation page by page and turn the answer into records.

The paging loop — page numbers, the inclusive change-time window, re-anchoring so that records updated
while we page are not skipped, checkpoints — is the REST connector's, shared in
:func:`connectors.common.reader.read_pages`; this module only says how one page is fetched: a SOAP call
whose parameters are the stream's ``params`` plus the paging and window parameters, the status check, and
the records found at ``result_path`` (fast path, DataSet rows, or zeep objects) — inside the XML or JSON document
the result carries as text when the stream says ``embedded`` (:mod:`.embedded`). A record whose text did not
decode becomes a reject carrying its XML, never a failed page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.common.jsontext import render_json
from connectors.common.paginators import PageRequest
from connectors.common.reader import read_pages
from connectors.common.records import (
    CredentialsExpired,
    check_envelope,
    check_success,
    dig,
    screen_items,
    select_items,
)
from gateway.contract.connector import Page, SyncMode
from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    RetriableSyncError,
    SkippableSyncError,
)

from .client import CallResult, SoapClient
from .config import StreamConfig
from .decode import (
    Shape,
    damaged_field,
    dataset_rows,
    element_text,
    element_to_dict,
    find_path,
    record_elements,
)
from .embedded import json_document, xml_document
from .wsdl_model import Operation
from .zeep_decode import zeep_records


def record_shape(client: SoapClient, op: Operation, stream: StreamConfig) -> Shape:
    """What repeats inside a record, from the schema of the operation's answer (plus ``list_fields``). A document
    carried as text (``embedded``) is not in the schema: only ``list_fields`` say what repeats in it."""
    if stream.embedded is not None:
        return Shape.from_paths(stream.list_fields)
    model = client.loaded.model
    steps = stream.result_path.split(".")
    fields = model.part_fields(op.output_parts, depth=len(steps) + 4)
    for step in steps[1:]:
        match = next((f for f in fields if f.name == step), None)
        if match is None:
            fields = []
            break
        fields = list(match.children)
    return Shape.from_fields(fields).merged(Shape.from_paths(stream.list_fields))


def page_items(client: SoapClient, result: CallResult, op: Operation, stream: StreamConfig, shape: Shape,
               *, where: str) -> tuple[dict[str, Any] | None, list[Any]]:
    """What the paginator reads of one answer (the count at ``pagination.total_path``, as a dict holding only it)
    and its records (dicts), or rejects for those whose bytes did not decode."""
    total_path = getattr(stream.pagination, "total_path", None)
    if stream.embedded is not None and stream.embedded.format == "json":
        return _json_items(result, stream, total_path, where=where)
    root, damaged = result.body, result.decoded.damaged
    if stream.embedded is not None:
        root, inner_damage = xml_document(result.body, stream.embedded, where=where, limits=client.limits)
        damaged += inner_damage
        where = f"{where} (inside {stream.embedded.path})"
    counted = None
    if total_path:
        found = find_path(root, total_path.split("."))
        counted = _holding(total_path, "".join(found.itertext()).strip() if found is not None else None)
    return counted, _xml_items(client, result, root, damaged, op, stream, shape, where=where)


def _holding(path: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": value}}`` for ``a.b``: the one value the paginator reads, where it looks for it."""
    *parents, last = path.split(".")
    out: dict[str, Any] = {last: value}
    for part in reversed(parents):
        out = {part: out}
    return out


def _xml_items(client: SoapClient, result: CallResult, root: Any, damaged: int, op: Operation,
               stream: StreamConfig, shape: Shape, *, where: str) -> list[Any]:
    if stream.success is not None:
        status = find_path(root, stream.status_path.split(".")) if stream.status_path else root[0]
        if status is None:
            raise FatalSyncError(f"{where}: status_path {stream.status_path!r} not found in the answer")
        if check_success(element_to_dict(status), stream.success, where=where) == "skip":
            return []  # the answer's own code says there is nothing for this request (e.g. 无数据)
    if stream.result == "dataset":
        container = find_path(root, stream.result_path.split("."))
        return dataset_rows(container, table=stream.dataset_table, where=where) if container is not None else []
    if stream.decoder == "zeep":
        envelope = result.body.getparent()
        assert envelope is not None
        return zeep_records(client.loaded, client.port, op, envelope, stream.result_path, where=where)
    elements = record_elements(root, stream.result_path, where=where)
    items: list[Any] = [element_to_dict(el, shape) for el in elements]
    if damaged:
        _reject_damaged(items, stream, result, where=where, raw=lambda k: element_text(elements[k]))
    return items


def _json_items(result: CallResult, stream: StreamConfig, total_path: str | None, *, where: str
                ) -> tuple[dict[str, Any] | None, list[Any]]:
    """The records of a JSON document carried as text, read as a REST body is: the envelope checked, ``success``
    applied (at ``status_path``, else the document itself), records at ``result_path``, each screened."""
    assert stream.embedded is not None
    document = json_document(result.body, stream.embedded, where=where)
    where = f"{where} (inside {stream.embedded.path})"
    body = document.value
    counted = _holding(total_path, dig(body, total_path, None)) if total_path else None
    if document.screen:
        check_envelope(body, stream.result_path, where=where, damaged=document.damaged)
    if stream.success is not None:
        status = dig(body, stream.status_path, None) if stream.status_path else body
        if status is None:
            raise FatalSyncError(f"{where}: status_path {stream.status_path!r} not found in the answer")
        if check_success(status, stream.success, where=where) == "skip":
            return counted, []
    items = select_items(body, stream.result_path, where=where, checked=stream.success is not None)
    if document.screen:
        items = screen_items(items, stream.primary_key, where=where, damaged=document.damaged)
    if result.decoded.damaged:
        _reject_damaged(items, stream, result, where=where, raw=lambda k: render_json(items[k]))
    return counted, items


def _reject_damaged(items: list[Any], stream: StreamConfig, result: CallResult, *, where: str,
                    raw: Callable[[int], str]) -> None:
    """Replace, in place, each record holding a damage mark — bytes the answer's encoding could not decode, half a
    UTF-16 surrogate pair, a character XML forbids — by a reject carrying its raw text (its XML, or its JSON)."""
    read_as = f"read as {result.decoded.encoding}" + (f"; {result.decoded.note}" if result.decoded.note else "")
    for k, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        path = damaged_field(item)
        if path is not None:
            source_id = _source_id(item, stream.primary_key)
            items[k] = SkippableSyncError(
                f"{where}: record {source_id or '?'}: field {path} holds text that could not be read (bytes not "
                f"valid in the answer's encoding, half a UTF-16 surrogate pair, or a character XML forbids; "
                f"{read_as}); the raw text is kept",
                source_id=source_id,
                raw=raw(k),
            )


def _source_id(item: Mapping[str, Any], key: str | list[str]) -> str | None:
    keys = [key] if isinstance(key, str) else key
    values = [dig(item, k, None) for k in keys]
    if any(v in (None, "") or not isinstance(v, str) for v in values):
        return None
    return ":".join(values)


def read_stream(
    client: SoapClient,
    name: str,
    stream: StreamConfig,
    *,
    since: datetime | None = None,
    mode: SyncMode = "incremental",
    checkpoint: Mapping[str, Any] | None = None,
) -> Iterator[Page]:
    """Yield one :class:`Page` per SOAP call."""
    where = f"{client.config.label} stream {name!r}"
    op = client.operation(stream.operation, stream.overload)
    shape = record_shape(client, op, stream)

    def fetch(request: PageRequest) -> tuple[Any, Any, list[Any]]:
        # A "busy" code inside the answer (``success.codes: {"5": retry}``, HTTP 200 and no fault) is retried like a
        # fault that means "try again": within the call's one budget of attempts, with the transport's back-off.
        budget = client.transport.attempts()
        logins, relogged = client.logins, False
        while True:
            result = client.call(stream.operation, request.params, overload=stream.overload, attempts=budget,
                                 soap_headers=stream.soap_headers)
            try:
                counted, items = page_items(client, result, op, stream, shape, where=where)
            except CredentialsExpired as exc:  # a `reauth` code: the login's token expired
                # the token was cached before this page (not just fetched for it): log in again, send once more
                if client.login is None or relogged or client.logins != logins:
                    raise AuthenticationError(
                        f"{exc.where}: the system refused our login's token: {exc.said} ("
                        + ("a token just fetched by logging in again; the login works but its tokens are refused"
                           if client.login is not None else "no login is configured to get a new one") + ")"
                    ) from None
                relogged = True
                client.drop_token()
                budget.give_back()
                continue
            except RetriableSyncError as exc:
                if budget.spent:
                    raise
                client.transport.pause(budget.made, None, str(exc))
                continue
            return result, counted, items

    return read_pages(
        fetch,
        where=where,
        base=PageRequest(stream.operation, dict(stream.params)),
        primary_key=stream.primary_key,
        ordered=stream.ordered,
        incremental=stream.incremental,
        pagination=stream.pagination,
        since=since,
        mode=mode,
        checkpoint=checkpoint,
    )


__all__ = ["page_items", "read_stream", "record_shape"]
