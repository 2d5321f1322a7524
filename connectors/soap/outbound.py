"""What a write puts into a string parameter: the record as an XML or JSON document, and safe templates.

Chinese and .NET ASMX services very often take the whole case as a document in one ``xsd:string`` parameter
(``SubmitCase(string xmlData)``, ``tjSqxx(string jsonData)``). An operation's ``embedded: {param, format, root}``
(:class:`~.config.EmbeddedParamConfig`) sends the outbound-mapped record that way:

- ``xml``: built with lxml, so every value is escaped by construction (``张&三``, ``<``, ``]]>``, a forged
  ``</SQRXM>`` arrive as the text they are). The record's keys become child elements of ``root`` in the record's
  order and must be XML names (no prefix): a key that is not one rejects that record (nothing is sent). A mapping
  becomes nested elements; a list becomes the element repeated once per item (``{"Fee": [a, b]}`` →
  ``<Fee>a</Fee><Fee>b</Fee>``, an empty list → no element); ``None`` becomes an empty element ``<X/>``
  (``nulls: empty``, the default: services that look a node up fail on a missing one) or no element at all
  (``nulls: omit``). Scalars are written in their XML Schema form (``true``/``false``, ISO 8601 dates).
  ``declaration: true`` starts the text with ``<?xml version="1.0" encoding="…"?>`` naming ``encoding``; with an
  ``encoding`` other than UTF-8 every character that encoding cannot hold is written as a character reference
  (``镕`` → ``&#38229;`` for GB2312), so a service that turns the string back into those bytes loses nothing;
- ``json``: ``json.dumps`` with ``ensure_ascii=False`` (Chinese text as itself), ``None`` as ``null`` (or the key
  left out with ``nulls: omit``), dates in ISO 8601, ``Decimal`` as its exact text; NaN/Infinity reject the
  record. With ``root``, the record is the value of that one key (``{"Case": {...}}``).

The document is the *string value* of the parameter: the envelope builder (zeep or Tongban's own) escapes it
once more for the envelope, as for any string.

Templates (``params: {caseXml: "<Case><SQRXM>{SQRXM}</SQRXM></Case>"}``): a template whose literal text holds
markup (a ``<``) has every substituted value escaped for XML (``&``, ``<``, ``>``, both quotes), so a value can
never add or close an element. A field where escaping cannot protect — inside a tag name, an unquoted attribute,
a comment or a CDATA section — and a template that is not well-formed XML are refused at load, as are JSON
templates with fields (``'{{"name": "{SQRXM}"}}'``: a quote in a value would end the string) and ``{record}``
inside a longer text: ``embedded`` is the way to send those.
"""

from __future__ import annotations

import codecs
import json
import re
import string
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape as _escape

from lxml import etree

from .xmltext import lexical

RECORD = "{record}"
_FORMATTER = string.Formatter()
_XML_QUOTES = {'"': "&quot;", "'": "&apos;"}
_PLACEHOLDER = "x"
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_OPEN_ATTRIBUTE = re.compile(r"=\s*[\"']$")
_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*\?>")


class DocumentError(ValueError):
    """The record cannot be written as the document (a key that is no XML name, a control character, NaN)."""


# -- templates ---------------------------------------------------------------------------------------------------
def fields_of(template: str) -> list[str]:
    return [f for _, f, _, _ in _FORMATTER.parse(template) if f is not None]


def literal_text(template: str) -> str:
    return "".join(text for text, _, _, _ in _FORMATTER.parse(template))


def is_markup(template: str) -> bool:
    """Whether the template's own text (its fields left out) is XML markup: its values are then escaped."""
    return "<" in literal_text(template)


def template_problem(name: str, template: str) -> str | None:
    """Why a parameter template cannot be sent safely (None: it can), pointing to ``embedded``."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        return f"parameter {name!r}: template {template!r} is not a valid template ({exc})"
    fields = [f for _, f, _, _ in parsed if f is not None]
    if not fields:
        return None
    if template != RECORD and "record" in fields:
        return (f"parameter {name!r}: {RECORD} must be the whole value (the record as a complex parameter); to "
                f"send the record as a document in a string use `embedded: {{param: {name}, format: xml, root: "
                f"...}}` on the operation")
    text = literal_text(template).strip()
    if text.startswith("{") or (text.startswith("[") and '"' in text):
        return (f"parameter {name!r}: a JSON template with fields cannot escape the values (a quote in a value "
                f"ends the string): use `embedded: {{param: {name}, format: json}}` on the operation")
    if "<" not in text:
        return None
    prefix = ""
    for literal, field, _, _ in parsed:
        prefix += literal
        if field is None:
            continue
        where = _unsafe_context(prefix)
        if where:
            return (f"parameter {name!r}: field {{{field}}} is {where} of the XML template, where escaping cannot "
                    f"protect it: use `embedded: {{param: {name}, format: xml, root: ...}}` on the operation")
        prefix += _PLACEHOLDER
    body = _DECLARATION.sub("", prefix, count=1)
    try:
        etree.fromstring(f"<t>{body}</t>", etree.XMLParser(resolve_entities=False, no_network=True,
                                                            load_dtd=False))
    except etree.XMLSyntaxError as exc:
        return (f"parameter {name!r}: the XML template is not well-formed ({exc}): use `embedded: {{param: "
                f"{name}, format: xml, root: ...}}` on the operation")
    return None


def _unsafe_context(prefix: str) -> str | None:
    if prefix.rfind("<!--") > prefix.rfind("-->"):
        return "inside a comment"
    if prefix.rfind("<![CDATA[") > prefix.rfind("]]>"):
        return "inside a CDATA section"
    start = prefix.rfind("<")
    if start > prefix.rfind(">"):
        tag = _QUOTED.sub("", prefix[start:])
        if not _OPEN_ATTRIBUTE.search(tag):
            return "inside a tag (its name or an unquoted attribute)"
    return None


class _XmlFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return _escape(super().format_field(value, format_spec), _XML_QUOTES)


_XML_FORMATTER = _XmlFormatter()


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """The template with the values put in: escaped for XML when the template is markup."""
    if is_markup(template):
        return _XML_FORMATTER.vformat(template, (), values)
    return template.format_map(values)


# -- documents ---------------------------------------------------------------------------------------------------
def codec_name(encoding: str) -> str:
    return codecs.lookup(encoding).name


def _lexical(value: Any) -> str:
    if isinstance(value, (bool, datetime, date, time, str, int, float, Decimal)):
        return lexical(value)
    raise DocumentError(f"a {type(value).__name__} value cannot be written as XML text")


def _fill(parent: etree._Element, key: Any, value: Any, path: str, omit_nulls: bool) -> None:
    here = f"{path}.{key}" if path else str(key)
    if isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (list, tuple)):
                raise DocumentError(f"field {here!r}: a list inside a list has no XML form")
            _fill(parent, key, item, path, omit_nulls)
        return
    if value is None and omit_nulls:
        return
    try:
        element = etree.SubElement(parent, str(key))
    except ValueError:
        raise DocumentError(f"field {here!r}: {str(key)!r} is not an XML element name") from None
    if value is None:
        return
    if isinstance(value, Mapping):
        for child, item in value.items():
            _fill(element, child, item, here, omit_nulls)
        return
    try:
        element.text = _lexical(value)
    except ValueError as exc:
        raise DocumentError(f"field {here!r}: {exc}") from None


def xml_string(record: Mapping[str, Any], *, root: str, declaration: bool = False, encoding: str = "utf-8",
               nulls: str = "empty") -> str:
    """The record as an XML document under ``root`` (see the module's rules); :class:`DocumentError` if it
    cannot be one."""
    top = etree.Element(root)
    for key, value in record.items():
        _fill(top, key, value, "", nulls == "omit")
    if codec_name(encoding) == "utf-8":
        text = etree.tostring(top, encoding="unicode")
    else:  # characters the encoding lacks as references: the service may turn the string into those bytes
        text = etree.tostring(top, encoding=encoding, xml_declaration=False).decode(encoding)
    return f'<?xml version="1.0" encoding="{encoding}"?>{text}' if declaration else text


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"a {type(value).__name__} value has no JSON form")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_nulls(v) for v in value]
    return value


def json_string(record: Mapping[str, Any], *, root: str | None = None, nulls: str = "empty") -> str:
    """The record as a JSON text (``ensure_ascii=False``); :class:`DocumentError` if it cannot be one."""
    value: Any = _without_nulls(record) if nulls == "omit" else dict(record)
    if root:
        value = {root: value}
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise DocumentError(str(exc)) from None


__all__ = ["RECORD", "DocumentError", "codec_name", "fields_of", "is_markup", "json_string", "literal_text",
           "render_template", "template_problem", "xml_string"]
