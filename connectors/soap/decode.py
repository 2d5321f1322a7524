"""Response bodies to plain dicts — the mapper's input — without building a zeep object per record.

The fast path walks the lxml tree once and turns each record element into a dict by *local* name (servers
disagree about namespaces; field names do not): text stays text (the mapping converts types), a nil element
(``xsi:nil="true"``) is ``None``, an empty element is ``""`` — different values that stay different — and an
element the schema declares repeatable (``maxOccurs > 1``) is always a list, even with one item. Attributes are
fields (a service that writes its rows as attributes lost them all): an element read as a dict (a record, a
container) has its own as its first keys, ``@name``; a leaf — text, empty or blank — keeps its value (a field never
changes type because one record's element carries an attribute) and its attributes sit beside it in the parent,
``name@attr`` (a repeated leaf's as a list lined up with its values, ``None`` where an item has none). Attributes in :data:`UNREAD_ATTRIBUTE_NAMESPACES`
describe the encoding and are never read. The schema
knowledge comes from the WSDL once, as a :class:`Shape`; nothing about it is decided per record.

Two walkers apply these rules: :func:`element_to_dict_py` (Python, the reference) and its compiled twin in
``_fastdict.pyx`` (Cython over lxml's C-API, about four times faster: the pure-Python walk was two thirds of the
fast path's time). ``element_to_dict`` is the compiled one when it is built for the running lxml, else the
reference; ``tests/connectors/test_soap_fastdict.py`` holds the two to identical output.

.NET DataSets (``<s:element ref="s:schema"/><s:any/>``) arrive as an inline schema plus a diffgram;
:func:`dataset_rows` turns the diffgram's rows into dicts and fills the columns the schema declares but a row
omits (DataSets leave out null columns) with ``None``.

Records containing :data:`~connectors.soap.xmltext.DAMAGE_MARK` (bytes that did not decode) are reported by
:func:`damaged_field`, so the reader rejects only them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from gateway.contract.errors import FatalSyncError

from .wsdl_model import XSD, Field
from .xmltext import DAMAGE_MARK

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
UNREAD_ATTRIBUTE_NAMESPACES = frozenset({
    "http://www.w3.org/2001/XMLSchema-instance",  # xsi:type, xsi:nil (read as None), xsi:schemaLocation
    "http://www.w3.org/XML/1998/namespace",  # xml:lang, xml:space
    "http://schemas.xmlsoap.org/soap/encoding/", "http://www.w3.org/2003/05/soap-encoding",  # arrayType, root, ids
    "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope",  # encodingStyle
    "urn:schemas-microsoft-com:xml-diffgram-v1", "urn:schemas-microsoft-com:xml-msdata",  # DataSet row ids, order
})
"""Attributes in these namespaces say how the XML is encoded, not what the record holds: never read as fields."""
_NIL_VALUES = ("true", "1")
_SPACE = " \t\r\n"
_LOCAL: dict[str, str] = {}


@dataclass(frozen=True)
class Shape:
    """Which children of an element repeat (always lists) and the shapes of complex children, by local name."""

    lists: frozenset[str] = frozenset()
    children: Mapping[str, Shape] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: tuple[Field, ...] | list[Field], extra_lists: frozenset[str] = frozenset()) -> Shape:
        lists = {f.name for f in fields if f.repeated} | set(extra_lists)
        children = {f.name: cls.from_fields(f.children) for f in fields if f.children}
        return cls(frozenset(lists), children)

    @classmethod
    def from_paths(cls, paths: list[str]) -> Shape:
        """From ``list_fields`` in the YAML (``HJLIST.HJ``: HJ under HJLIST repeats), for schema-less answers."""
        shape = cls()
        for path in paths:
            shape = shape.with_list(path.split("."))
        return shape

    def with_list(self, steps: list[str]) -> Shape:
        if len(steps) == 1:
            return Shape(self.lists | {steps[0]}, self.children)
        child = self.children.get(steps[0], Shape()).with_list(steps[1:])
        return Shape(self.lists, {**self.children, steps[0]: child})

    def merged(self, other: Shape) -> Shape:
        children = dict(self.children)
        for name, shape in other.children.items():
            children[name] = children[name].merged(shape) if name in children else shape
        return Shape(self.lists | other.lists, children)


EMPTY = Shape()


def local_name(tag: str) -> str:
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(_LOCAL) < 10_000:
            _LOCAL[tag] = name
    return name


def element_to_dict_py(element: etree._Element, shape: Shape = EMPTY) -> dict[str, Any]:
    """One element's children as a dict (see the module docstring for the rules).

    The reference implementation, and the fallback where the compiled twin (``_fastdict.pyx``, the same rules
    in C, about four times faster) is not built or was built for another lxml: :func:`element_to_dict` is
    whichever of the two this process uses. The common child — a leaf with text that does not start with
    whitespace and that the shape does not declare complex — costs one tag read, one text read, one look at its
    attributes and two dict lookups; every other case (nil, empty, nested, pretty-printed container) takes the
    branch below it."""
    own = element.items()
    out: dict[str, Any] = _attributes(own, "@") if own else {}
    lists = shape.lists
    kids = shape.children
    name_of = _LOCAL.get
    placed: dict[str, list[tuple[int, dict[str, Any]]]] | None = None
    for child in element:
        tag = child.tag
        name = name_of(tag) or local_name(tag)
        value: Any = child.text
        if not value or name in kids or value[0] in _SPACE:  # not: None, or '' (an empty CDATA section)
            sub = kids.get(name)
            if sub is not None:
                if len(child) or child.get(XSI_NIL) not in _NIL_VALUES:
                    value = element_to_dict_py(child, sub)  # no children: its lists empty, its attributes
                else:
                    value = None
            elif value is None:
                if len(child):
                    value = element_to_dict_py(child, EMPTY)
                elif child.get(XSI_NIL) in _NIL_VALUES:
                    value = None
                else:
                    value = ""
            elif len(child):
                value = element_to_dict_py(child, EMPTY)
        listed = name in lists
        _add(out, name, value, listed)
        if value.__class__ is str and child.items():  # a leaf (text, or empty): its attributes beside it, name@attr
            attributes = _attributes(child.items(), name + "@")
            for key, attribute in attributes.items():
                _add(out, key, attribute, listed)
            if attributes:
                held = out[name]
                if placed is None:
                    placed = {}
                placed.setdefault(name, []).append((len(held) - 1 if held.__class__ is list else 0, attributes))
    if placed is not None:
        align_attributes(out, placed)
    for name in lists:
        if name not in out:
            out[name] = []
    return out


def align_attributes(out: dict[str, Any], placed: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
    """A repeated leaf's attributes line up with its values: ``name@attr[i]`` is the attribute of ``name[i]``,
    ``None`` where that item carries none. (Appended as they came, ``<phone type="home">1</phone><phone>2</phone>
    <phone type="work">3</phone>`` put "work" beside "2".) ``placed``: by leaf name, each leaf's position among
    the name's values and its attributes. Shared with the compiled walker."""
    for name, entries in placed.items():
        held = out[name]
        if held.__class__ is not list:
            continue
        for key in dict.fromkeys(key for _, attributes in entries for key in attributes):
            column: list[Any] = [None] * len(held)
            for position, attributes in entries:
                if key in attributes:
                    column[position] = attributes[key]
            out[key] = column


def _add(out: dict[str, Any], name: str, value: Any, listed: bool) -> None:
    """Put one child's value under its name: a list when the schema says it repeats (or it turns out to)."""
    if listed:
        bucket = out.get(name)
        if bucket is None:
            out[name] = [value]
        else:
            bucket.append(value)
    elif name in out:  # repeated although the schema did not say so: keep every value
        previous = out[name]
        if isinstance(previous, list):  # a list this function made: values themselves are never lists
            previous.append(value)
        else:
            out[name] = [previous, value]
    else:
        out[name] = value


def _attributes(items: list[tuple[str, str]], prefix: str) -> dict[str, Any]:
    """An element's attributes (lxml's ``items()``) as ``{prefix + local name: value}``, leaving out those that
    describe the XML rather than the record (:data:`UNREAD_ATTRIBUTE_NAMESPACES`)."""
    out: dict[str, Any] = {}
    for qualified, value in items:
        if qualified[0] == "{":
            namespace, _, local = qualified[1:].partition("}")
            if namespace in UNREAD_ATTRIBUTE_NAMESPACES:
                continue
        else:
            local = qualified
        _add(out, prefix + local, value, False)
    return out


def _compiled_walker() -> tuple[Any, str]:  # (function or None, reason)
    """The compiled ``element_to_dict`` if it is built for the lxml running here, else ``None``; and why."""
    try:
        from . import _fastdict  # type: ignore[attr-defined]
    except ImportError as exc:
        return None, f"the compiled walker is not built ({exc}); `pip install -e .` builds it"
    if _fastdict.BUILT_WITH_LXML != etree.__version__:
        return None, (f"the compiled walker was built for lxml {_fastdict.BUILT_WITH_LXML}, this is lxml "
                      f"{etree.__version__}: reinstall Tongban to rebuild it")
    return _fastdict.element_to_dict, "compiled (connectors/soap/_fastdict.pyx)"


_COMPILED, WALKER = _compiled_walker()
"""``WALKER`` says which walker this process uses, and why (bench/soap_decode.py prints it)."""
element_to_dict = _COMPILED if _COMPILED is not None else element_to_dict_py


def soap_body(root: etree._Element, *, where: str) -> etree._Element:
    if local_name(root.tag) != "Envelope":
        raise FatalSyncError(f"{where}: the response is XML but not a SOAP envelope (root <{local_name(root.tag)}>)")
    body = next((c for c in root if local_name(c.tag) == "Body"), None)
    if body is None:
        raise FatalSyncError(f"{where}: the SOAP envelope has no Body")
    return body


def find_path(start: etree._Element, steps: list[str]) -> etree._Element | None:
    """Follow local names down from ``start`` (first match at each step)."""
    current = start
    for step in steps:
        nxt = next((c for c in current if local_name(c.tag) == step), None)
        if nxt is None:
            return None
        current = nxt
    return current


def record_elements(body: etree._Element, path: str, *, where: str) -> list[etree._Element]:
    """The repeating record elements at ``path`` (dotted local names below ``soap:Body``; the last step is the
    record element). A missing container means no records; a missing first step means the wrong answer.

    An answer whose records are there but not where ``path`` says — the record element renamed or its case
    changed (``<ywxx>``), a wrapper added (``RECORDS`` inside a new ``<DATA>``) — must not read as "no records":
    the read would end without a word and the records would never arrive. So when ``path`` finds no record, the
    container is looked at: records elsewhere below it (:func:`_misplaced_records`) or child elements shaped like
    records under another name (:func:`_unmatched_records`) are a :class:`FatalSyncError` naming what was found.
    """
    steps = path.split(".")
    if not steps or not steps[0]:
        raise FatalSyncError(f"{where}: result_path is empty")
    first = next((c for c in body if local_name(c.tag) == steps[0]), None)
    if first is None:
        got = [local_name(c.tag) for c in body]
        raise FatalSyncError(f"{where}: result_path {path!r}: no <{steps[0]}> in the SOAP Body (found {got})")
    last = steps[-1]
    parent = find_path(first, steps[1:-1])
    if parent is None:
        _misplaced_records(first, steps[0], last, path, where=where)
        return []
    records = [c for c in parent if local_name(c.tag) == last]
    if not records:
        _unmatched_records(parent, last, path, where=where)
    return records


def _misplaced_records(start: etree._Element, start_name: str, last: str, path: str, *, where: str) -> None:
    """Raise if an element named like the record (any case) is somewhere below ``start`` although ``path``'s
    container is missing (a wrapper was added or a step renamed)."""
    wanted = last.lower()
    for element in start.iter():
        if isinstance(element.tag, str) and local_name(element.tag).lower() == wanted and element is not start:
            found = ".".join([start_name, *_steps_below(start, element)])
            raise FatalSyncError(
                f"{where}: result_path {path!r} finds no container, but the answer holds <{local_name(element.tag)}> "
                f"at {found!r}: its shape has changed (a wrapper added, a step renamed?); fix result_path, "
                f"records are not read as none"
            )


def _unmatched_records(parent: etree._Element, last: str, path: str, *, where: str) -> None:
    """Raise if ``parent`` holds children that look like records under another name: one named like the record
    in another case (``<YWXX>`` for ``ywxx``), or two or more siblings of one name (a repeated, record-shaped
    element) other than the record tag. A single compound child — a status ``<head>``, a ``<pageInfo>`` block —
    is not a record: a container holding only such blocks is an empty page."""
    children = [c for c in parent if isinstance(c.tag, str)]
    names = [local_name(c.tag) for c in children]
    same_but_case = any(name.lower() == last.lower() for name in names)
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    repeated = [name for name, n in counts.items() if n >= 2 and name != last]
    if same_but_case or repeated:
        shown = sorted(set(names))
        raise FatalSyncError(
            f"{where}: result_path {path!r}: <{local_name(parent.tag)}> holds {len(children)} child element(s) "
            f"({', '.join(f'<{n}>' for n in shown)}) but none is <{last}>: the record element was renamed or its "
            f"case changed? Fix result_path; the answer is not read as no records"
        )


def _steps_below(top: etree._Element, element: etree._Element) -> list[str]:
    steps: list[str] = []
    current: etree._Element | None = element
    while current is not None and current is not top:
        steps.append(local_name(current.tag))
        current = current.getparent()
    return steps[::-1]


@dataclass(frozen=True)
class _DataTable:
    """One table of a DataSet's inline schema: its columns in order, and the :class:`Shape` its rows are read with
    (a nested table — a DataRelation with ``Nested="true"`` — is a list in its parent row, one item or many)."""

    columns: tuple[str, ...]
    shape: Shape
    nested: Mapping[str, _DataTable]


def dataset_rows(result: etree._Element, *, table: str | None = None, where: str = "DataSet") -> list[dict[str, Any]]:
    """Rows of a .NET DataSet result element (inline ``xs:schema`` + ``diffgr:diffgram``), as dicts.

    A DataSet often holds more than one table — the records, and beside them a count for paging (``Table1``
    with ``TOTAL``) or a status: without ``table`` the rows of every table would be read as records (the count
    a record without a key, every page). So ``table`` must name one when the DataSet holds several, and a
    ``table`` its schema does not declare is an error (a renamed table is not an empty page; without a schema, a
    table with no rows on the page is simply absent). Columns the schema
    declares but a row leaves out (DataSets omit null columns) are ``None``; a nested table's rows are always a
    list, and only its own columns belong to it."""
    tables = _dataset_tables(result)
    diffgram = next((c for c in result if local_name(c.tag) == "diffgram"), None)
    dataset = None if diffgram is None else next(
        (c for c in diffgram if isinstance(c.tag, str) and local_name(c.tag) not in ("before", "errors")), None)
    elements = [] if dataset is None else [row for row in dataset if isinstance(row.tag, str)]
    held = list(tables) or list(dict.fromkeys(local_name(row.tag) for row in elements))
    if table is None and len(held) > 1:
        raise FatalSyncError(f"{where}: the DataSet holds {len(held)} tables ({_described(held, elements)}): set "
                             "dataset_table to the one whose rows are the records")
    if table is not None and tables and table not in tables:  # only a schema says which tables there are: without
        # one, a table with no rows on this page (the last page, nothing changed) is simply absent
        raise FatalSyncError(f"{where}: dataset_table {table!r} is not among the DataSet's tables "
                             f"({_described(held, elements)}): renamed, or its case changed? The answer is not read "
                             "as no records")
    rows = []
    for row in elements:
        name = local_name(row.tag)
        if table is not None and name != table:
            continue
        described = tables.get(name)
        rows.append(_filled(element_to_dict(row, described.shape), described) if described else element_to_dict(row))
    return rows


def _described(names: list[str], rows: list[etree._Element]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[local_name(row.tag)] = counts.get(local_name(row.tag), 0) + 1
    return ", ".join(f"<{name}> {counts.get(name, 0)} row(s)" for name in names)


def _filled(values: dict[str, Any], table: _DataTable) -> dict[str, Any]:
    for column in table.columns:
        values.setdefault(column, None)
    for name, nested in table.nested.items():
        for item in values.get(name) or ():
            if isinstance(item, dict):
                _filled(item, nested)
    return values


def _dataset_tables(result: etree._Element) -> dict[str, _DataTable]:
    """The tables the inline schema declares, in order, by name: the elements of the DataSet element's
    choice/sequence (``msdata:IsDataSet``, else the schema's first element), each with its columns."""
    schema = next((c for c in result if c.tag == f"{{{XSD}}}schema"), None)
    if schema is None:
        return {}
    top = schema.findall(f"{{{XSD}}}element")
    marked = [e for e in top if (e.get(_IS_DATASET) or "").lower() == "true"]
    root = (marked or top or [None])[0]
    if root is None:
        return {}
    group = root.find(f"{{{XSD}}}complexType/{{{XSD}}}choice")
    if group is None:
        group = root.find(f"{{{XSD}}}complexType/{{{XSD}}}sequence")
    if group is None:
        return {}
    return {e.get("name", ""): _data_table(e) for e in group.findall(f"{{{XSD}}}element")}


def _data_table(element: etree._Element) -> _DataTable:
    sequence = element.find(f"{{{XSD}}}complexType/{{{XSD}}}sequence")
    columns: list[str] = []
    lists: set[str] = set()
    nested: dict[str, _DataTable] = {}
    for column in [] if sequence is None else sequence.findall(f"{{{XSD}}}element"):
        name = column.get("name", "")
        columns.append(name)
        if column.find(f"{{{XSD}}}complexType") is not None:
            nested[name] = _data_table(column)
            lists.add(name)
        elif column.get("maxOccurs", "1") != "1":
            lists.add(name)
    return _DataTable(tuple(columns), Shape(frozenset(lists), {k: v.shape for k, v in nested.items()}), nested)


_IS_DATASET = "{urn:schemas-microsoft-com:xml-msdata}IsDataSet"


def damaged_field(record: Mapping[str, Any], prefix: str = "") -> str | None:
    """The dotted path of the first value holding undecodable bytes, or ``None``."""
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, str):
            if DAMAGE_MARK in value:
                return path
        elif isinstance(value, Mapping):
            found = damaged_field(value, path + ".")
            if found:
                return found
        elif isinstance(value, list):
            for k, item in enumerate(value):
                if isinstance(item, str) and DAMAGE_MARK in item:
                    return f"{path}.{k}"
                if isinstance(item, Mapping):
                    found = damaged_field(item, f"{path}.{k}.")
                    if found:
                        return found
    return None


def element_text(element: etree._Element) -> str:
    """An element as XML text (for dead letters: the raw record as it came, minus the bytes that broke it)."""
    return etree.tostring(element, encoding="unicode")


__all__ = [
    "EMPTY",
    "UNREAD_ATTRIBUTE_NAMESPACES",
    "Shape",
    "damaged_field",
    "dataset_rows",
    "element_text",
    "WALKER",
    "element_to_dict",
    "element_to_dict_py",
    "find_path",
    "local_name",
    "record_elements",
    "soap_body",
]
