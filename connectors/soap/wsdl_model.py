"""The WSDL as written, read with lxml: every portType operation (overloads included), messages, bindings, ports.

zeep builds its own model and silently drops what it cannot represent: an operation whose output message does
not exist (Axis2 writes ``message="ns:null"`` for void methods) disappears from every binding, and of several
operations sharing one name (Kingdee EAS has three ``login``s) only the last survives. This module keeps the
document's own view, so the inspector can report the difference and the envelope builder can still call
each variant:

    model = WsdlModel.parse(wsdl_bytes, where="EASLogin.wsdl")
    [op.signature() for op in model.operations_of(model.soap_ports()[0])]

Only what a client needs is modelled (WSDL 1.1 with SOAP 1.1/1.2 and HTTP bindings, XSD inline or imported).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin

from lxml import etree
from lxml.etree import QName

from gateway.contract.errors import ConfigError

from .hardening import XmlLimits, parse_document

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP11_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING = "http://schemas.xmlsoap.org/wsdl/soap12/"
HTTP_BINDING = "http://schemas.xmlsoap.org/wsdl/http/"
XSD = "http://www.w3.org/2001/XMLSchema"
Protocol = Literal["soap11", "soap12", "http", "other"]



def _q(element: etree._Element, value: str | None) -> QName | None:
    """Resolve ``prefix:local`` against the element's namespace map (unprefixed: the default namespace)."""
    if not value:
        return None
    prefix, _, local = value.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    return QName(namespace, local) if namespace else QName(local)


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    element: QName | None
    type: QName | None


@dataclass(frozen=True, slots=True)
class Field:
    """One child element of a schema type, for listing parameters and result shapes."""

    name: str
    type: str
    min_occurs: int
    max_occurs: int | None  # None = unbounded
    namespace: str | None = None
    children: tuple[Field, ...] = ()
    dataset: bool = False

    @property
    def repeated(self) -> bool:
        return self.max_occurs is None or self.max_occurs > 1


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation as written in a portType, joined with its binding and messages."""

    name: str
    variant: int  # 0-based position among the portType's operations of this name
    variants: int
    input_name: str | None
    input_message: QName | None
    output_message: QName | None
    input_parts: tuple[Part, ...] | None  # None: the message does not exist
    output_parts: tuple[Part, ...] | None
    parameter_order: tuple[str, ...]
    soap_action: str
    style: str
    use: str
    namespace: str | None
    documentation: str = ""

    @property
    def encoded(self) -> bool:
        return self.use == "encoded"

    @property
    def missing_messages(self) -> list[str]:
        out = []
        if self.input_message is not None and self.input_parts is None:
            out.append(f"input {self.input_message.text}")
        if self.output_message is not None and self.output_parts is None:
            out.append(f"output {self.output_message.text}")
        return out


@dataclass(frozen=True, slots=True)
class Port:
    service: str
    name: str
    binding: QName
    protocol: Protocol
    address: str | None


@dataclass
class _Binding:
    name: QName
    port_type: QName | None
    protocol: Protocol
    style: str
    operations: dict[tuple[str, str | None], etree._Element] = field(default_factory=dict)


@dataclass
class WsdlModel:
    """A parsed WSDL document. Build with :meth:`parse`."""

    target_namespace: str | None
    messages: dict[QName, tuple[Part, ...]]
    port_types: dict[QName, list[etree._Element]]
    bindings: dict[QName, _Binding]
    ports: list[Port]
    elements: dict[QName, etree._Element]
    types: dict[QName, etree._Element]
    qualified: dict[str, bool]
    groups: dict[QName, etree._Element] = field(default_factory=dict)
    """Named model groups (``<xs:group name="…">``): the elements a ``<xs:group ref="…"/>`` puts in a type."""

    @classmethod
    def parse(cls, data: bytes, *, where: str, limits: XmlLimits | None = None, base: str | None = None,
              fetch: Fetch | None = None) -> WsdlModel:
        """Model a WSDL and, when ``fetch`` is given, every document it imports (``wsdl:import``, ``xsd:import``
        and ``xsd:include`` with a location, resolved against ``base``): CXF, Axis2 and .NET split services into
        a service WSDL, an interface WSDL and schemas, and the operations of the first are written in the others.
        """
        roots = imported_documents(parse_document(data, where=where, limits=limits), base, fetch, where=where,
                                   limits=limits)
        messages: dict[QName, tuple[Part, ...]] = {}
        port_types: dict[QName, list[etree._Element]] = {}
        bindings: dict[QName, _Binding] = {}
        ports: list[Port] = []
        elements: dict[QName, etree._Element] = {}
        types: dict[QName, etree._Element] = {}
        qualified: dict[str, bool] = {}
        groups: dict[QName, etree._Element] = {}
        for root in roots:
            _read_definitions(root, messages, port_types, bindings)
        for root in roots:  # ports after every binding is known (a service WSDL names an imported binding)
            _read_services(root, bindings, ports)
        for root in roots:
            _read_schemas(root, elements, types, qualified, groups)
        return cls(roots[0].get("targetNamespace"), messages, port_types, bindings, ports, elements, types,
                   qualified, groups)

    # -- ports and operations ---------------------------------------------------------------------------------
    def soap_ports(self) -> list[Port]:
        return [p for p in self.ports if p.protocol in ("soap11", "soap12")]

    def operations_of(self, port: Port) -> list[Operation]:
        """Every portType operation as written, joined with this port's binding (overloads kept apart)."""
        binding = self.bindings.get(port.binding)
        if binding is None or binding.port_type not in self.port_types:
            return []
        written = self.port_types[binding.port_type]
        counts: dict[str, int] = defaultdict(int)
        for op in written:
            counts[op.get("name", "")] += 1
        seen: dict[str, int] = defaultdict(int)
        out = []
        for op in written:
            name = op.get("name", "")
            variant = seen[name]
            seen[name] += 1
            inp, outp = op.find(f"{{{WSDL}}}input"), op.find(f"{{{WSDL}}}output")
            in_msg = _q(inp, inp.get("message")) if inp is not None else None
            out_msg = _q(outp, outp.get("message")) if outp is not None else None
            input_name = inp.get("name") if inp is not None else None
            bop = binding.operations.get((name, input_name))
            if bop is None:
                bop = binding.operations.get((name, None))
            if bop is None:
                bop = next((v for (n, _), v in binding.operations.items() if n == name), None)
            action, style, use, namespace = "", binding.style, "literal", None
            if bop is not None:
                for child in bop:
                    if isinstance(child.tag, str) and etree.QName(child).localname == "operation":
                        action = child.get("soapAction") or child.get("location") or ""
                        style = child.get("style") or style
                body = bop.find(f"{{{WSDL}}}input")
                if body is not None:
                    for child in body:
                        if isinstance(child.tag, str) and etree.QName(child).localname == "body":
                            use = child.get("use") or "literal"
                            namespace = child.get("namespace")
            doc = op.findtext(f"{{{WSDL}}}documentation") or ""
            out.append(Operation(
                name, variant, counts[name], input_name, in_msg, out_msg,
                self.messages.get(in_msg) if in_msg is not None else (),
                self.messages.get(out_msg) if out_msg is not None else (),
                tuple((op.get("parameterOrder") or "").split()), action, style, use, namespace, " ".join(doc.split()),
            ))
        return out

    # -- schema shapes ------------------------------------------------------------------------------------------
    def part_fields(self, parts: tuple[Part, ...] | None, *, depth: int = 3) -> list[Field]:
        """Parameters or results of a message: the wrapper element's children (document style), or the parts."""
        if not parts:
            return []
        out: list[Field] = []
        for part in parts:
            if part.element is not None:
                node = self.elements.get(part.element)
                if node is None:
                    out.append(Field(part.name, f"element {part.element.text} (not in the schema)", 1, 1))
                    continue
                out.extend(self._children(node, depth))
            else:
                type_name = part.type.localname if part.type is not None else "?"
                children = self._type_children(part.type, depth - 1) if part.type is not None else ()
                out.append(Field(part.name, type_name, 1, 1, None, tuple(children)))
        return out

    def element_field(self, name: QName, depth: int = 3) -> Field | None:
        node = self.elements.get(name)
        return self._field(node, name.namespace, depth) if node is not None else None

    def _children(self, node: etree._Element, depth: int) -> list[Field]:
        """The element children of an element declaration (inline complexType or named type)."""
        type_ref = _q(node, node.get("type"))
        if type_ref is not None:
            return self._type_children(type_ref, depth)
        inline = node.find(f"{{{XSD}}}complexType")
        return self._content(inline, self._ns_of(node), depth) if inline is not None else []

    def _type_children(self, type_ref: QName | None, depth: int) -> list[Field]:
        if type_ref is None or depth < 0:
            return []
        node = self.types.get(type_ref)
        if node is None or node.tag != f"{{{XSD}}}complexType":
            return []
        return self._content(node, type_ref.namespace, depth)

    def _content(self, complex_type: etree._Element, namespace: str | None, depth: int,
                 expanding: frozenset[QName] = frozenset()) -> list[Field]:
        """The fields of a complex type (or of a named model group: ``complex_type`` is then the group), in
        document order; ``expanding``: the groups being expanded around this one (a group that refers to itself
        is read once)."""
        out: list[Field] = []
        for node in complex_type.iter(f"{{{XSD}}}element", f"{{{XSD}}}any", f"{{{XSD}}}extension",
                                      f"{{{XSD}}}group"):
            if node is complex_type or _nearest_complex_type(node) is not complex_type:
                continue  # inside a nested anonymous type: listed by its own parent
            if node.tag == f"{{{XSD}}}group":
                out.extend(self._group_fields(node, complex_type, depth, expanding))
                continue
            if node.tag == f"{{{XSD}}}extension":
                out.extend(self._type_children(_q(node, node.get("base")), depth))
                continue
            if node.tag == f"{{{XSD}}}any":
                if out and out[-1].type == "xs:schema":
                    out[-1] = Field(out[-1].name, "DataSet", out[-1].min_occurs, 1, namespace, (), True)
                else:
                    out.append(Field("(any)", "any", _occurs(node.get("minOccurs"), 1) or 0, None))
                continue
            ref = _q(node, node.get("ref"))
            if ref is not None and ref.namespace == XSD and ref.localname == "schema":
                out.append(Field("schema", "xs:schema", 1, 1, XSD))
                continue
            repeats = _repeated_by_group(node, complex_type)
            if ref is not None:
                target = self.elements.get(ref)
                if target is not None:
                    out.append(self._field(target, ref.namespace, depth - 1, node, repeats=repeats))
                continue
            out.append(self._field(node, namespace, depth - 1, repeats=repeats))
        return out

    def _group_fields(self, ref_node: etree._Element, container: etree._Element, depth: int,
                      expanding: frozenset[QName]) -> list[Field]:
        """The fields a ``<xs:group ref="…"/>`` puts in a type (hand-written and Axis schemas share a set of
        elements between types this way): they were missing, and ``connector check`` called a parameter written
        in a group one the operation does not take. A group that may repeat, or sits in a repeating sequence,
        makes each of its elements repeat; an optional one makes them optional."""
        ref = _q(ref_node, ref_node.get("ref"))
        group = self.groups.get(ref) if ref is not None else None
        if group is None or ref in expanding:
            return []
        fields = self._content(group, self._ns_of(group), depth, expanding | {ref})
        try:
            repeats = _occurs(ref_node.get("maxOccurs"), 1) != 1 or _repeated_by_group(ref_node, container)
            optional = _occurs(ref_node.get("minOccurs"), 1) == 0
        except ValueError:  # occurs that are no number: as written, once
            repeats, optional = False, False
        return [replace(f, max_occurs=None if repeats else f.max_occurs, min_occurs=0 if optional else f.min_occurs)
                for f in fields]

    def _field(self, node: etree._Element, namespace: str | None, depth: int,
               occurs_from: etree._Element | None = None, *, repeats: bool = False) -> Field:
        """``repeats``: a sequence or choice around the element repeats — the element may come many times, whatever
        its own maxOccurs says."""
        occurs = occurs_from if occurs_from is not None else node
        type_ref = _q(node, node.get("type"))
        children: list[Field] = []
        if depth >= 0:
            children = self._children(node, depth)
        dataset = any(c.dataset for c in children) and len(children) == 1
        type_name = type_ref.localname if type_ref is not None else ("DataSet" if dataset else "complex")
        if type_ref is None and not children and node.find(f"{{{XSD}}}complexType") is None:
            type_name = "string"
        qualified = self.qualified.get(namespace or "", False)
        return Field(
            node.get("name", "?"), type_name, _occurs(occurs.get("minOccurs"), 1) or 0,
            None if repeats else _occurs(occurs.get("maxOccurs"), 1), namespace if qualified else None,
            () if dataset else tuple(children), dataset,
        )

    def _ns_of(self, node: etree._Element) -> str | None:
        schema = next((a for a in node.iterancestors(f"{{{XSD}}}schema")), None)
        return schema.get("targetNamespace") if schema is not None else None


def _nearest_complex_type(node: etree._Element) -> etree._Element | None:
    """The complex type — or the named model group (``<xs:group name="…">``) — whose content ``node`` is."""
    for ancestor in node.iterancestors(f"{{{XSD}}}complexType", f"{{{XSD}}}group"):
        if ancestor.tag == f"{{{XSD}}}complexType" or ancestor.get("name"):
            return ancestor
    return None


def _repeated_by_group(node: etree._Element, complex_type: etree._Element) -> bool:
    """Whether a sequence or choice between the element and its type repeats (``<xs:choice maxOccurs="unbounded">``,
    how JAXB and .NET write a list of mixed items): then each of its elements may come many times — read by its own
    maxOccurs alone, one item was a dict and two a list, the same field changing type with its count."""
    for ancestor in node.iterancestors():
        if ancestor is complex_type:
            return False
        if ancestor.tag in (f"{{{XSD}}}sequence", f"{{{XSD}}}choice"):
            try:
                if _occurs(ancestor.get("maxOccurs"), 1) != 1:
                    return True
            except ValueError:  # a maxOccurs that is no number: as written, the group is read once
                continue
    return False


def _occurs(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    return None if value == "unbounded" else int(value)




Fetch = Callable[[str], "bytes | None"]
"""Reads an imported document by absolute location (path or URL); ``None``: do not follow it (a schema that
ships with Tongban, say)."""
MAX_IMPORTED_DOCUMENTS = 64


def imported_documents(root: etree._Element, base: str | None, fetch: Fetch | None, *, where: str,
                       limits: XmlLimits | None) -> list[etree._Element]:
    """``root`` and every document reachable from it by located imports/includes, each read once."""
    documents = [root]
    if fetch is None:
        return documents
    seen = {base} if base else set()
    queue = [(root, base)]
    while queue:
        document, document_base = queue.pop(0)
        for location in _locations(document):
            resolved = _resolve(document_base, location)
            if resolved is None or resolved in seen:
                continue
            seen.add(resolved)
            if len(seen) > MAX_IMPORTED_DOCUMENTS:
                raise ConfigError(f"{where}: more than {MAX_IMPORTED_DOCUMENTS} imported documents; refused")
            data = fetch(resolved)
            if data is None:
                continue
            imported = parse_document(data, where=f"{where}, imported {resolved}", limits=limits)
            documents.append(imported)
            queue.append((imported, resolved))
    return documents


def _locations(document: etree._Element) -> list[str]:
    found = [el.get("location", "") for el in document.iter(f"{{{WSDL}}}import")]
    found += [el.get("schemaLocation", "") for el in document.iter(f"{{{XSD}}}import", f"{{{XSD}}}include")]
    return [location.strip() for location in found if location and location.strip()]


def _resolve(base: str | None, location: str) -> str | None:
    """An import's absolute location: URLs as they are or joined to a URL base, paths beside the importer."""
    if location.startswith(("http://", "https://")):
        return location
    if base is None:
        return None
    if base.startswith(("http://", "https://")):
        return urljoin(base, location)
    path = location[7:] if location.startswith("file://") else location
    return str((Path(base[7:] if base.startswith("file://") else base).parent / path).resolve())


def _read_definitions(root: etree._Element, messages: dict[QName, tuple[Part, ...]],
                      port_types: dict[QName, list[etree._Element]], bindings: dict[QName, _Binding]) -> None:
    tns = root.get("targetNamespace")
    for message in root.iterfind(f"{{{WSDL}}}message"):
        parts = tuple(
            Part(p.get("name", ""), _q(p, p.get("element")), _q(p, p.get("type")))
            for p in message.iterfind(f"{{{WSDL}}}part")
        )
        messages[QName(tns, message.get("name", ""))] = parts
    for pt in root.iterfind(f"{{{WSDL}}}portType"):
        port_types[QName(tns, pt.get("name", ""))] = list(pt.iterfind(f"{{{WSDL}}}operation"))
    for b in root.iterfind(f"{{{WSDL}}}binding"):
        protocol: Protocol = "other"
        style = "document"
        for ns, proto in ((SOAP11_BINDING, "soap11"), (SOAP12_BINDING, "soap12"), (HTTP_BINDING, "http")):
            marker = b.find(f"{{{ns}}}binding")
            if marker is not None:
                protocol = proto  # type: ignore[assignment]
                style = marker.get("style") or "document"
                break
        binding = _Binding(QName(tns, b.get("name", "")), _q(b, b.get("type")), protocol, style)
        for op in b.iterfind(f"{{{WSDL}}}operation"):
            inp = op.find(f"{{{WSDL}}}input")
            binding.operations[(op.get("name", ""), inp.get("name") if inp is not None else None)] = op
        bindings[binding.name] = binding


def _read_services(root: etree._Element, bindings: dict[QName, _Binding], ports: list[Port]) -> None:
    for service in root.iterfind(f"{{{WSDL}}}service"):
        for port in service.iterfind(f"{{{WSDL}}}port"):
            ref = _q(port, port.get("binding"))
            address = next((a.get("location") for a in port if etree.QName(a).localname == "address"), None)
            proto = bindings[ref].protocol if ref in bindings else "other"
            ports.append(Port(service.get("name", ""), port.get("name", ""), ref or QName("?"), proto, address))


def _read_schemas(root: etree._Element, elements: dict[QName, etree._Element], types: dict[QName, etree._Element],
                  qualified: dict[str, bool], groups: dict[QName, etree._Element]) -> None:
    for schema in root.iter(f"{{{XSD}}}schema"):
        ns = schema.get("targetNamespace")
        qualified[ns or ""] = schema.get("elementFormDefault") == "qualified"
        for child in schema:
            if not isinstance(child.tag, str):
                continue
            name = child.get("name")
            if name and child.tag == f"{{{XSD}}}element":
                elements[QName(ns, name)] = child
            elif name and child.tag in (f"{{{XSD}}}complexType", f"{{{XSD}}}simpleType"):
                types[QName(ns, name)] = child
            elif name and child.tag == f"{{{XSD}}}group":
                groups[QName(ns, name)] = child


__all__ = ["Fetch", "Field", "Operation", "Part", "Port", "WsdlModel", "imported_documents"]
