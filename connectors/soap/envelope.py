"""Building request envelopes: zeep where it is right, Tongban's own builder where zeep is wrong or blind.

- document/literal operations zeep exposes: zeep serialises the parameters against the schema;
- rpc/encoded operations (Axis 1.x, Kingdee EAS): zeep sends them as literal, without ``xsi:type`` and without
  ``encodingStyle``, and Axis 1.x servers answer with a deserialisation fault. :func:`rpc_envelope` writes
  what they expect::

      <ns:login soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
        <userName xsi:type="xsd:string">kd</userName> <dbType xsi:type="xsd:int">0</dbType> ...

- operations zeep dropped (an output message ``ns:null``; every overload but the last): built from the
  WSDL as written (:func:`literal_envelope` or :func:`rpc_envelope`), so each of them can still be called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import zeep.exceptions
from lxml import etree

from gateway.contract.errors import ConfigError

from .loader import LoadedWsdl
from .wsdl_model import XSD, Field, Operation, Port
from .wsse import SOAP11_ENV, SOAP12_ENV
from .xmltext import lexical


class ParameterError(ConfigError):
    """A parameter *value* that cannot go into the envelope: the schema refuses it (a required element missing,
    a list where text belongs, an unknown element inside a complex value) or XML cannot hold it (a control
    character, a key that is no element name). In a read the values come from the YAML, so it is the YAML's
    to fix (a :class:`ConfigError`); in a write they come from the record, and the writer turns it into a
    :class:`~gateway.contract.errors.WriteRejectedError` for that record alone (dead-lettered, the push goes
    on). Unknown *top-level* parameters are always the YAML's: plain :class:`ConfigError`."""


XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAPENC = "http://schemas.xmlsoap.org/soap/encoding/"


def _envelope(soap12: bool, extra_ns: Mapping[str, str] | None = None) -> tuple[etree._Element, etree._Element]:
    env = SOAP12_ENV if soap12 else SOAP11_ENV
    nsmap = {"soapenv": env, "xsd": XSD, "xsi": XSI, **(extra_ns or {})}
    root = etree.Element(f"{{{env}}}Envelope", nsmap=nsmap)
    etree.SubElement(root, f"{{{env}}}Header")
    body = etree.SubElement(root, f"{{{env}}}Body")
    return root, body


def _fill(parent: etree._Element, name: str, value: Any, namespace: str | None, *, where: str) -> etree._Element:
    """One child element for a value: None -> xsi:nil, mapping -> children, list -> repeated elements.
    lxml's refusals (a key that is no element name, text XML cannot hold) are :class:`ParameterError`."""
    try:
        return _element(parent, name, value, namespace)
    except ValueError as exc:
        raise ParameterError(f"{where}: parameter {name!r} cannot be written as XML: {exc}") from None


def _element(parent: etree._Element, name: str, value: Any, namespace: str | None) -> etree._Element:
    tag = f"{{{namespace}}}{name}" if namespace else name
    element = etree.SubElement(parent, tag)
    if value is None:
        element.set(f"{{{XSI}}}nil", "true")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, list):
                for entry in item:
                    _element(element, str(key), entry, namespace)
            else:
                _element(element, str(key), item, namespace)
    else:
        element.text = lexical(value)
    return element


def refuse_unknown_parameters(params: Iterable[Any], takes: Sequence[str], *, where: str) -> None:
    """A ConfigError naming the parameters an operation does not take: the builders raise it at the call, and
    ``connector check`` (:mod:`connectors.soap.wsdl_check`) at configuration time, in the same words."""
    unknown = sorted(str(p) for p in set(params) - set(takes))
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {unknown}; the operation takes {list(takes)}")


def rpc_envelope(operation: Operation, params: Mapping[str, Any], *, soap12: bool, namespace: str | None,
                 where: str) -> etree._Element:
    """An rpc-style call; with ``use="encoded"`` every parameter carries ``xsi:type`` and the call
    ``encodingStyle``, as SOAP-encoding servers (Axis 1.x) require."""
    parts = list(operation.input_parts or ())
    order = operation.parameter_order or tuple(p.name for p in parts)
    by_name = {p.name: p for p in parts}
    names = [n for n in order if n in by_name] + [p.name for p in parts if p.name not in order]
    refuse_unknown_parameters(params, names, where=where)
    call_ns = operation.namespace or namespace
    prefixes: dict[str, str] = {XSD: "xsd"}
    for part in parts:
        ns = part.type.namespace if part.type is not None else None
        if ns and ns not in prefixes:
            prefixes[ns] = f"ns{len(prefixes)}"
    call_nsmap = {prefix: ns for ns, prefix in prefixes.items() if prefix != "xsd"}
    if call_ns:
        call_nsmap["ns"] = call_ns
    root, body = _envelope(soap12)
    env = SOAP12_ENV if soap12 else SOAP11_ENV
    call = etree.SubElement(body, f"{{{call_ns}}}{operation.name}" if call_ns else operation.name, nsmap=call_nsmap)
    if operation.encoded:
        call.set(f"{{{env}}}encodingStyle", SOAPENC)
    for name in names:
        part = by_name[name]
        element = _fill(call, name, params.get(name), None, where=where)
        if operation.encoded and part.type is not None:
            prefix = prefixes[part.type.namespace or XSD] if part.type.namespace else "xsd"
            element.set(f"{{{XSI}}}type", f"{prefix}:{part.type.localname}")
    return root


def literal_envelope(operation: Operation, fields: list[Field], wrapper: etree.QName | None,
                     params: Mapping[str, Any], *, soap12: bool, where: str) -> etree._Element:
    """A document/literal call built from the WSDL as written (for operations zeep dropped)."""
    known = {f.name: f for f in fields}
    refuse_unknown_parameters(params, list(known), where=where)
    root, body = _envelope(soap12)
    parent = body
    if wrapper is not None:
        parent = etree.SubElement(body, wrapper.text)
    for name, field in known.items():
        if name in params:
            _fill(parent, name, params[name], field.namespace, where=where)
    return root


def zeep_envelope(loaded: LoadedWsdl, port: Port, operation: Operation, params: Mapping[str, Any],
                  *, where: str) -> etree._Element:
    """zeep's own serialisation of a document/literal call (schema-aware: types, order, namespaces)."""
    service = loaded.client.bind(port.service, port.name)
    try:
        envelope: etree._Element = loaded.client.create_message(service, operation.name, **dict(params))
    except TypeError as exc:
        if f"{operation.name}()" in str(exc):  # the operation's own signature: a top-level parameter (the YAML)
            raise ConfigError(f"{where}: the parameters do not fit the operation: {exc}") from None
        raise ParameterError(f"{where}: a parameter value does not fit the schema: {exc}") from None
    except (ValueError, AttributeError, zeep.exceptions.Error) as exc:  # ValidationError: a required element...
        raise ParameterError(f"{where}: zeep cannot serialise the parameters: {type(exc).__name__}: {exc}") from None
    except RecursionError:  # a model group that contains itself (invalid XSD, which zeep loads and then recurses on)
        raise ConfigError(f"{where}: zeep cannot build the call: the operation's schema refers to itself without end "
                          "(a group or type that contains itself); the WSDL needs fixing at the source") from None
    return envelope


def add_header(envelope: etree._Element, header: etree._Element) -> None:
    """Put a header block into ``soap:Header`` (creating it if the builder left it out)."""
    env = etree.QName(envelope).namespace
    existing = envelope.find(f"{{{env}}}Header")
    if existing is None:
        existing = etree.Element(f"{{{env}}}Header")
        envelope.insert(0, existing)
    existing.append(header)


__all__ = ["SOAPENC", "XSI", "ParameterError", "add_header", "lexical", "literal_envelope", "refuse_unknown_parameters", "rpc_envelope", "zeep_envelope"]
