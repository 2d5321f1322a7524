"""Turning the bytes a legacy SOAP server sends into bytes lxml parses correctly, without mangling any text.

Chinese government systems answer in UTF-8, GBK or GB18030, and say so inconsistently: the HTTP header may
be missing, or claim UTF-8 while the XML declaration says GB18030 (or the reverse). The decision, in order:

1. a byte-order mark wins;
2. bytes that are *valid UTF-8* and not plain ASCII are UTF-8, whatever the labels say: long GBK/GB18030
   text is practically never valid UTF-8, while a GB decoder accepts almost any byte string and would turn
   UTF-8 into plausible-looking mojibake — the one mistake that must never happen silently. Short GBK text
   can be valid UTF-8 by chance, though (``毛平 女`` reads ``ëƽ Ů``): when the document is labelled GB (its
   declaration, else the HTTP header) and GB18030 reads it too, the reading that looks like Chinese text wins
   (:func:`~connectors.common.charsets.prefers_gb`), the label on a tie;
3. otherwise the declared encodings (XML declaration, then the HTTP header) are tried strictly, GBK and
   GB2312 read as GB18030 (a superset, so nothing a GBK server sends is lost), then GB18030 itself;
4. if nothing decodes strictly, the bytes that do not decode become :data:`DAMAGE_MARK` so that only the
   records containing them are rejected (dead-lettered with the reason), never the whole page.

Old Java stacks write characters outside the Basic Multilingual Plane (𠮷, U+20BB7) as two numeric
references to UTF-16 surrogate halves (``&#xD842;&#xDFB7;``), which XML forbids and libxml2 rejects. A
well-formed pair is rewritten as the one reference it stands for (``&#x20BB7;``); a lone half is damage.
So is a character XML 1.0 does not allow at all, raw or as a reference — the control characters other than
tab, line feed and carriage return (.NET's XmlSerializer writes a clerk's stray Ctrl-A as ``&#x1;``), U+FFFE
and U+FFFF: libxml2 would refuse the whole document, and one record's typo would fail every page it is on.

The result is UTF-8 with a matching declaration (or the original bytes untouched, when they already are).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from connectors.common.charsets import normalise_encoding, prefers_gb

DAMAGE_MARK = "\ufdd0"
"""A Unicode noncharacter (valid in XML, never used in interchange) standing for bytes that did not decode."""

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_DECL_TEXT = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._-]+)([\"'])")
_NOT_XML_REF = r"&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45]));"
"""A character reference to what XML 1.0 forbids: C0 controls but tab, LF and CR; U+FFFE; U+FFFF."""
_NOT_XML_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|" + _NOT_XML_REF)
_NOT_XML_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]|" + _NOT_XML_REF.encode())
_CHAR_REF_BYTES = re.compile(rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*5[5-7][0-9]{3});")
_SURROGATE_REF = re.compile(
    r"&#(?:[xX](0*[dD][89a-fA-F][0-9a-fA-F]{2})"
    r"|(0*(?:5529[6-9]|55[3-9][0-9]{2}|56[0-9]{3}|57[0-2][0-9]{2}|573[0-3][0-9]|5734[0-3])));"
)


def _mark_errors(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return DAMAGE_MARK, error.end


codecs.register_error("tongban-mark", _mark_errors)


@dataclass(frozen=True, slots=True)
class DecodedXml:
    """``data``: UTF-8 bytes ready for lxml. ``damaged``: how many spots became :data:`DAMAGE_MARK`."""

    data: bytes
    encoding: str
    damaged: int = 0
    note: str | None = None


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def declared_encoding(content: bytes) -> str | None:
    match = _DECL.match(content[:256])
    return match.group(1).decode("ascii") if match else None


def decode_xml(content: bytes, header_charset: str | None = None) -> DecodedXml:
    """Decide the encoding (see the module docstring) and return UTF-8 bytes for lxml."""
    declared = declared_encoding(content)
    labels = f"declaration {declared or '(none)'}, HTTP header {header_charset or '(none)'}"
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return _finish(content.decode(codec), codec, 0, None)
    if content.isascii():
        if _CHAR_REF_BYTES.search(content) is None and _NOT_XML_BYTES.search(content) is None:
            return DecodedXml(content, "ascii")
        return _finish(content.decode("ascii"), "ascii", 0, None)
    gb_label = declared or header_charset  # the document's own label first, as for the candidates below
    text = None if prefers_gb(content, gb_label) else _utf8(content)  # GBK valid as UTF-8 only by chance: GB
    if text is not None:
        said = {normalise_encoding(declared), normalise_encoding(header_charset)} - {None}
        note = None if said <= {"utf-8"} else f"{labels}; the bytes are valid UTF-8, read as UTF-8"
        if note is None and _CHAR_REF_BYTES.search(content) is None and _NOT_XML_BYTES.search(content) is None:
            return DecodedXml(content, "utf-8")
        return _finish(text, "utf-8", 0, note)
    candidates: list[str] = []
    for label in (declared, header_charset, "gb18030"):
        found = normalise_encoding(label)
        if found and found not in candidates and found not in ("utf-8", "ascii"):
            candidates.append(found)
    for codec in candidates:
        try:
            text = content.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        note = None if codec == normalise_encoding(declared) else f"{labels}; read as {codec}"
        return _finish(text, codec, 0, note)
    codec = candidates[0]
    text = content.decode(codec, errors="tongban-mark")
    damaged = text.count(DAMAGE_MARK)
    return _finish(text, codec, damaged, f"{labels}; {damaged} undecodable byte sequence(s) as {codec}")


def decode_text(text: str) -> DecodedXml:
    """An XML document that is already characters (one carried as text inside an answer) as UTF-8 bytes for lxml,
    repaired as :func:`decode_xml` repairs bytes: surrogate-pair references joined, a lone half and what XML
    forbids made damage (so only the records holding them are rejected), its declaration saying UTF-8."""
    return _finish(text, "utf-8", 0, None)


def _utf8(content: bytes) -> str | None:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _finish(text: str, codec: str, damaged: int, note: str | None) -> DecodedXml:
    if "&#" in text:
        text, fixed_damage = _join_surrogate_refs(text)
        damaged += fixed_damage
    text, not_xml = _NOT_XML_TEXT.subn(DAMAGE_MARK, text)
    damaged += not_xml
    match = _DECL_TEXT.match(text)
    if match and match.group(2).lower() != "utf-8":
        text = text[: match.start(2)] + "utf-8" + text[match.end(2):]
    return DecodedXml(text.encode("utf-8"), codec, damaged, note)


def _join_surrogate_refs(text: str) -> tuple[str, int]:
    """Rewrite surrogate-pair references as one reference; a lone surrogate reference becomes damage."""
    out: list[str] = []
    damage = 0
    pos = 0
    matches = list(_SURROGATE_REF.finditer(text))
    k = 0
    while k < len(matches):
        m = matches[k]
        out.append(text[pos : m.start()])
        high = _value(m)
        nxt = matches[k + 1] if k + 1 < len(matches) else None
        if 0xD800 <= high <= 0xDBFF and nxt is not None and nxt.start() == m.end() and 0xDC00 <= _value(nxt) <= 0xDFFF:
            out.append(f"&#x{0x10000 + ((high - 0xD800) << 10) + (_value(nxt) - 0xDC00):X};")
            pos = nxt.end()
            k += 2
            continue
        out.append(DAMAGE_MARK)
        damage += 1
        pos = m.end()
        k += 1
    if not matches:
        return text, 0
    out.append(text[pos:])
    return "".join(out), damage


def _value(match: re.Match[str]) -> int:
    return int(match.group(1), 16) if match.group(1) is not None else int(match.group(2))


def lexical(value: Any) -> str:
    """The XML Schema lexical form of a Python value written as XML text: ``True`` → ``true``, dates and times in
    ISO 8601, anything else as its ``str`` (a request's parameters, a SOAP header's values, a record sent as a
    document)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


__all__ = ["DAMAGE_MARK", "DecodedXml", "charset_of", "decode_text", "decode_xml", "declared_encoding", "lexical",
           "normalise_encoding"]
