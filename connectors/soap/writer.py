"""Writing one record to a SOAP system: an operation call with templated parameters, idempotently.

Outcomes match the REST writer's, so the push job treats both kinds alike:

- ``WriteResult("applied")``: the call succeeded and the result does not call it a duplicate;
- ``WriteResult("duplicate")``: ``duplicate.field == duplicate.equals`` (the idempotency key was seen before);
- ``WriteResult("superseded")``: ``stale.field == stale.equals`` (the target holds a newer version);
- :class:`WriteRejectedError`: a Client/Sender fault, or a result whose ``success`` check fails, or a record
  the envelope cannot hold (the schema refuses a value, a required element is missing: nothing is sent);
- retriable / fatal errors from the client (the idempotency key goes with every attempt, so a retry is safe).

Parameter templates: a value that is exactly ``"{record}"`` is the record itself (a complex parameter such
as ``business: YWXX``); other strings may use ``{key}``, ``{idempotency_key}`` and every top-level scalar field
of the record — escaped for XML when the template is markup (:func:`~.outbound.render_template`); non-string
values are sent as they are. An operation's ``embedded: {param, format, root}`` sends the record as an XML or
JSON document, the string value of ``param`` (:mod:`connectors.soap.outbound`).

Before the first record goes to an operation, its parameters are checked against the WSDL: ``"{record}"``
aimed at a simple string parameter (zeep would refuse every record: "The String type doesn't accept
collections"), or an ``embedded.param`` the operation does not take or that is not a string, is a
:class:`ConfigError` naming the parameter — the target stops, its records stay pending, none is dead-lettered.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lxml import etree

from connectors.common.records import check_write_success, dig
from gateway.contract.connector import WriteOperation, WriteResult
from gateway.contract.errors import ConfigError, FatalSyncError, UnsupportedOperationError, WriteRejectedError

from .client import SoapClient
from .config import CallConfig, EmbeddedParamConfig, WriteStreamConfig
from .decode import element_to_dict, find_path
from .embedded import json_document, xml_document
from .envelope import SOAPENC, ParameterError
from .outbound import RECORD, DocumentError, fields_of, json_string, render_template, xml_string
from .wsdl_model import XSD, Operation

_CHECKED: weakref.WeakKeyDictionary[SoapClient, set[int]] = weakref.WeakKeyDictionary()
"""The calls (by identity: a call's config lives as long as its connector) whose parameters were checked."""


def template_text(value: Any) -> str:
    """A record value as a template writes it, in XML Schema's lexical forms: true/false (``str(False)`` is "False",
    which zeep's xsd:boolean sends as *true*), a decimal or a float in plain digits (``1e-05`` is no xsd:decimal),
    whole floats without ``.0``."""
    if value.__class__ is bool:
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)  # refused by the schema's own type check, named there
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def render_params(params: Mapping[str, Any], record: Mapping[str, Any], values: Mapping[str, Any],
                  where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, template in params.items():
        if template == RECORD:
            out[name] = dict(record)
        elif isinstance(template, str):
            missing = [f for f in fields_of(template) if f not in values]
            if missing:
                raise WriteRejectedError(f"{where}: the record has no field {missing[0]!r} needed by {template!r}")
            out[name] = render_template(template, {k: template_text(v) for k, v in values.items()})
        else:
            out[name] = template
    return out


def write_record(client: SoapClient, stream: str, config: WriteStreamConfig, record: Mapping[str, Any], *,
                 key: str, idempotency_key: str, operation: WriteOperation) -> WriteResult:
    call = config.upsert if operation == "upsert" else config.delete
    if call is None:
        raise UnsupportedOperationError(f"{client.config.label}: write stream {stream!r} has no `{operation}` "
                                        "operation")
    where = f"{client.config.label} write {stream!r} key {key!r}"
    check_parameters(client, stream, operation, call)
    values = {k: v for k, v in record.items() if isinstance(v, (str, int, float, bool, Decimal))}
    values |= {"key": key, "idempotency_key": idempotency_key}
    # the YAML's {secret: NAME} references resolved before the record goes in: data is never taken for one
    params = render_params(client.secret_params.resolve(dict(call.params)), record, values, where)
    if call.embedded is not None:
        params[call.embedded.param] = document(record, call.embedded, where=where)
    try:
        result = client.call(call.operation, params, overload=call.overload, writing=True, secrets_resolved=True)
    except ParameterError as exc:  # the record's data does not fit the schema: this record is refused, not the push
        raise WriteRejectedError(f"{where}: the record cannot be sent: {exc}") from None
    body = _result_body(client, result.body, config, call.result_path or config.result_path, where=where)
    if config.stale is not None and dig(body, config.stale.field, None) == config.stale.equals:
        return WriteResult(status="superseded")
    check_write_success(body, config.success, where=where)
    target = dig(body, config.target_id_path, None) if config.target_id_path else None
    target_id = None if target in (None, "") else str(target)
    if config.duplicate is not None and dig(body, config.duplicate.field, None) == config.duplicate.equals:
        return WriteResult(status="duplicate", target_id=target_id)
    return WriteResult(status="applied", target_id=target_id)


def document(record: Mapping[str, Any], embedded: EmbeddedParamConfig, *, where: str) -> str:
    """The record as the text of ``embedded.param``; a record that cannot be one is refused (nothing sent)."""
    try:
        if embedded.format == "json":
            return json_string(record, root=embedded.root, nulls=embedded.nulls)
        assert embedded.root is not None  # the config insists
        return xml_string(record, root=embedded.root, declaration=embedded.declaration, encoding=embedded.encoding,
                          nulls=embedded.nulls)
    except DocumentError as exc:
        raise WriteRejectedError(f"{where}: the record cannot be written as the {embedded.format} document of "
                                 f"parameter {embedded.param!r}: {exc}") from None


def check_parameters(client: SoapClient, stream: str, operation: WriteOperation, call: CallConfig) -> None:
    """The call's ``"{record}"`` and ``embedded.param`` against the operation's parameters in the WSDL, once per
    client and call: a :class:`ConfigError` (the target's configuration) instead of one dead letter per record."""
    done = _CHECKED.setdefault(client, set())
    if id(call) in done:  # every write asks: the check is once per call, its marker cheap (no repr of the config)
        return
    op = client.operation(call.operation, call.overload)
    label = f"{client.config.label} write {stream!r} {operation} ({call.operation})"
    kinds = input_parameters(client, op)
    for name, template in call.params.items():
        if template == RECORD and kinds.get(name) == "string":
            raise ConfigError(
                f"{label}: parameter {name!r} is a string (xsd:string) but gets \"{{record}}\", the record as a "
                f"mapping; to send the record as an XML or JSON document in that string, write `embedded: "
                f"{{param: {name}, format: xml, root: ...}}` (or `format: json`) on the operation instead")
    embedded = call.embedded
    if embedded is not None:
        if embedded.param not in kinds:
            raise ConfigError(f"{label}: embedded.param {embedded.param!r} is not a parameter of the operation "
                              f"(it takes {list(kinds)})")
        if kinds[embedded.param] == "complex":
            raise ConfigError(f"{label}: embedded.param {embedded.param!r} is a complex parameter, not a string: "
                              f"send the record as its value with `{embedded.param}: \"{{record}}\"` in `params`")
    done.add(id(call))


def input_parameters(client: SoapClient, op: Operation) -> dict[str, str]:
    """The operation's parameters as the envelope builders take them — an rpc call's parts, a document call's
    fields — each with its kind: ``string``, another built-in's name, ``complex``, or ``?``."""
    if op.style == "rpc" or op.encoded:
        return {p.name: _part_kind(client, p.type) for p in op.input_parts or ()}
    return {f.name: ("complex" if f.children or f.dataset else "string" if f.type == "string" else f.type)
            for f in client.loaded.model.part_fields(op.input_parts)}


def _part_kind(client: SoapClient, type_name: Any) -> str:
    """An rpc part's type: ``string``, another built-in's name, ``complex``, or ``?`` (a simple type of its own)."""
    if type_name is None:
        return "?"
    if type_name.namespace in (XSD, SOAPENC):
        return type_name.localname
    node = client.loaded.model.types.get(type_name)
    return "complex" if node is not None and etree.QName(node).localname == "complexType" else "?"


def _result_body(client: SoapClient, answer: etree._Element, config: WriteStreamConfig, result_path: str | None, *,
                 where: str) -> Any:
    """What the write's checks read: the element at ``result_path`` as a dict — inside the XML or JSON document
    the result carries as text when the write stream says ``embedded`` (the document's root without a path)."""
    embedded = config.embedded
    if embedded is not None and embedded.format == "json":
        value = json_document(answer, embedded, where=where).value
        found = dig(value, result_path, None) if result_path else value
        if found is None:
            raise FatalSyncError(f"{where}: result_path {result_path!r} not in the JSON inside {embedded.path}; the "
                                 f"write may or may not have been applied")
        return found
    start = answer if embedded is None else xml_document(answer, embedded, where=where, limits=client.limits)[0]
    if not result_path:
        return element_to_dict(start[0]) if embedded is not None else {}
    element = find_path(start, result_path.split("."))
    if element is None:
        inside = f" (inside {embedded.path})" if embedded is not None else ""
        raise FatalSyncError(f"{where}: result_path {result_path!r} not in the answer{inside}; the write may "
                             f"or may not have been applied")
    return element_to_dict(element)


__all__ = ["check_parameters", "document", "input_parameters", "render_params", "write_record"]
