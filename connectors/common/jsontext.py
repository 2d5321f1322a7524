"""JSON bodies from servers we do not control, decoded so that one bad value costs one record, not the page.

Python's ``json`` accepts ``NaN`` and ``Infinity`` (not JSON), turns ``1e400`` into ``inf``, raises on an
integer of more than 4,300 digits (failing the whole page), lets lone surrogates (``"\\ud800"``) through, and
keeps the last of two equal keys without a word. Each of those would either abort a page or reach the ledger as
something it cannot store faithfully (orjson writes ``nan`` as ``null``, refuses integers outside 64 bits and
surrogates). :func:`parse_json` never does either:

- values that cannot be represented become :class:`Unrepresentable` markers holding the text as written and a
  rule (``number.not_finite``, ``number.too_large``); an object with a repeated key becomes
  :class:`DuplicateKeys` (every pair kept); nothing raises for them;
- :func:`find_problems` lists the markers, repeated keys and broken text (``text.invalid_surrogate``,
  ``text.invalid_encoding``) under one value with their dotted paths; :mod:`connectors.common.records` turns
  a record that has any into a rejection and an envelope that has any into a failed page;
- :func:`render_json` writes a value back as JSON text with every marker and repeated key as it came, for the
  dead-letter store.

Speed: the common page is clean, so it is parsed once by orjson (faster than ``json``, and it already refuses
``NaN``, overflowing numbers, surrogates and bad UTF-8). Two things orjson accepts silently are detected without
a Python-level walk: a repeated key (re-serialising the result drops it, so the colon count shrinks) and an
integer beyond 64 bits (orjson makes it a float, which re-serialises with ``e+``). Only a page that trips a
detector or fails the fast parse is parsed again by ``json`` with hooks (``object_pairs_hook`` alone costs
about 40% on a 1,000-record page) and marked ``screen`` so that its records are checked one by one.

    document = parse_json(response_bytes, charset="utf-8")
    document.value, document.screen
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from .charsets import normalise_encoding, prefers_gb

_INT64_MIN = -(2**63)
_UINT64_END = 2**64
_SAFE_DIGITS = 18  # every integer literal of at most 18 digits fits in 64 bits
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_DIGIT_TABLE = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_RUN = b"0" * 19
_MAX_PROBLEMS = 20
MAX_DEPTH = 200
"""The deepest nesting a record may have (``json.too_deep`` beyond): no case record comes near, and the ledger's
JSON writer stops at 255."""


class JsonTextError(ValueError):
    """The body is not JSON text at all (syntax, a UTF-16/32 byte-order mark, nesting beyond the parser)."""


class Unrepresentable:
    """A JSON value that the ledger cannot hold faithfully, kept as written. Never equal to a number, never a
    float: code that would have seen ``nan`` sees this marker (and a record holding one is rejected)."""

    __slots__ = ("rule", "text")

    def __init__(self, text: str, rule: str) -> None:
        self.text = text
        self.rule = rule

    def __repr__(self) -> str:
        return _shorten(self.text)

    def describe(self) -> str:
        if self.rule == "number.not_finite":
            return f"{self.text} is not a number JSON or the ledger can carry"
        digits = len(self.text.lstrip("-"))
        if "." in self.text or "e" in self.text.lower():
            return f"{_shorten(self.text)} overflows a 64-bit float"
        return f"an integer of {digits:,} digits ({_shorten(self.text)}) is outside the 64-bit range the ledger stores"


class DuplicateKeys(dict[str, Any]):
    """An object in which a key appears more than once. As a dict it holds the last value (as ``json`` does);
    ``pairs`` keeps every pair in order, ``duplicates`` the repeated keys."""

    __slots__ = ("duplicates", "pairs")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs
        seen: set[str] = set()
        repeated: dict[str, None] = {}
        for key, _ in pairs:
            if key in seen:
                repeated[key] = None
            seen.add(key)
        self.duplicates = list(repeated)


@dataclass(frozen=True, slots=True)
class JsonDocument:
    """A decoded body. ``screen``: the value may hold markers, repeated keys or broken text — run
    :func:`find_problems` over what you use. ``damaged``: some bytes did not decode as ``encoding``."""

    value: Any
    screen: bool = False
    encoding: str = "utf-8"
    damaged: bool = False
    charset_hint: str | None = None
    """What to configure when the damage is ours: bytes that are not UTF-8, sent without a charset (no
    ``Content-Type`` charset, no ``charset`` setting), that read cleanly as GB18030 — a GBK system sending bare
    ``application/json``, fixed by a setting, not by the system."""


GB_CHARSET_HINT = "the body looks like GBK/GB18030: set `charset: gb18030` on the connector"


def _charset_hint(data: bytes, charset: str | None) -> str | None:
    if charset is not None:  # a charset was declared (header or setting): the bytes break it
        return None
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return GB_CHARSET_HINT


@dataclass(frozen=True, slots=True)
class Problem:
    """One unusable spot: ``path`` is dotted (``applicant.mobile``, ``steps.0.end``; ``""`` is the value itself)."""

    path: str
    rule: str
    message: str


def parse_json(data: bytes, *, charset: str | None = None) -> JsonDocument:
    """Decode a JSON body (see the module docstring). Raises :class:`JsonTextError` for text that is not JSON.

    A UTF-8 byte-order mark is skipped (RFC 8259 §8.1 lets parsers ignore it); a UTF-16 or UTF-32 one is refused:
    JSON exchanged between systems is UTF-8. Bytes that are not UTF-8 are read in the declared ``charset``
    (GBK/GB2312 as GB18030), and so are GB-labelled bytes that are valid UTF-8 only by chance (``毛平`` in GBK);
    bytes that decode in neither are kept as escapes and only the values holding them are reported
    (``text.invalid_encoding``)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise JsonTextError("the body starts with a UTF-32 byte-order mark; JSON between systems must be UTF-8 "
                            "(RFC 8259 §8.1)")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise JsonTextError("the body starts with a UTF-16 byte-order mark; JSON between systems must be UTF-8 "
                            "(RFC 8259 §8.1)")
    if charset is not None and prefers_gb(data, charset):  # GBK that happens to be valid UTF-8
        return _careful(data, charset)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _careful(data, charset)
    if _suspicious(data, value):
        return _careful(data, charset)
    return JsonDocument(value)


def _suspicious(data: bytes | str, value: Any) -> bool:
    """Whether orjson's clean result may hide a repeated key or an integer it turned into a float.

    Re-serialised, a repeated key is gone (fewer colons than the body, whose strings keep theirs); an integer
    beyond 64 bits is a float of at least 9.2e18, which orjson writes with ``e+``. Only an escaped colon
    (``\\u003a``, which no common serialiser writes) could hide a repeated key, so it sends the page to the
    careful parse too. A body that orjson writes back byte for byte lost nothing, and is done after one compare."""
    try:
        dumped = orjson.dumps(value)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (it reads deeper): look at it carefully
        return True
    if len(dumped) == len(data) and dumped == data:  # compact UTF-8 (most Java stacks): nothing was lost
        return False
    if b"+" in dumped and b"e+" in dumped and _long_number(data):  # one-byte searches first: memchr-fast
        return True
    if isinstance(data, str):
        return dumped.count(b":") != data.count(":") or "\\u003a" in data.lower()
    if dumped.count(b":") != data.count(b":"):
        return True
    return b"\\" in data and b"\\u003" in data and (b"\\u003a" in data or b"\\u003A" in data)


def _long_number(data: bytes | str) -> bool:
    """A run of 19 or more digits not closed by a quote: possibly an integer beyond 64 bits."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    digits = raw.translate(_DIGIT_TABLE)
    position = digits.find(_LONG_RUN)
    while position != -1:
        end = position + len(_LONG_RUN)
        while digits[end:end + 1] == b"0":
            end += 1
        if raw[end:end + 1] != b'"':
            return True
        position = digits.find(_LONG_RUN, end)
    return False


def _careful(data: bytes, charset: str | None) -> JsonDocument:
    text, encoding, damaged = _decode(data, charset)
    if encoding != "utf-8" and not damaged:  # a legacy charset the server declared (GBK): fast parse of the text
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            if not _suspicious(text, value):
                return JsonDocument(value, encoding=encoding)
    found: list[str] = []

    def constant(token: str) -> Unrepresentable:
        found.append(token)
        return Unrepresentable(token, "number.not_finite")

    def number(token: str) -> float | Unrepresentable:
        value = float(token)
        if math.isinf(value):
            found.append(token)
            return Unrepresentable(token, "number.too_large")
        return value

    def integer(token: str) -> int | Unrepresentable:
        if len(token) - (token[0] == "-") <= _SAFE_DIGITS:
            return int(token)
        if len(token) <= 21:
            value = int(token)
            if _INT64_MIN <= value < _UINT64_END:
                return value
        found.append(token)
        return Unrepresentable(token, "number.too_large")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        found.append("duplicate key")
        return DuplicateKeys(items)

    def parse(document: str) -> Any:
        return json.loads(document, parse_constant=constant, parse_float=number, parse_int=integer,
                          object_pairs_hook=pairs)

    try:
        try:
            value = parse(text)
        except RecursionError:
            # one record nested thousands deep failed the whole page, and every later run at the same page: what
            # lies deeper than any record may go is cut to an empty array there — still too deep, so that record
            # alone is rejected (json.too_deep), as one nested 500 deep always was
            found.clear()
            value = parse(_pruned(text, MAX_DEPTH + _ENVELOPE_DEPTH))
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise JsonTextError("the JSON nests deeper than the parser allows") from None
    screen = bool(found) or damaged or _ESCAPED_SURROGATE.search(text) is not None or _deeper_than(value, MAX_DEPTH)
    return JsonDocument(value, screen=screen, encoding=encoding, damaged=damaged,
                        charset_hint=_charset_hint(data, charset) if damaged else None)


_ENVELOPE_DEPTH = 50
"""How deep below the document's root records may sit (an envelope's ``data.list`` is 3): a record's own depth is
counted from it, so a cut at ``MAX_DEPTH`` + this is still too deep for any record (:func:`_pruned`)."""
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
"""A JSON string (skipped whole: brackets in it are text) or a bracket."""


def _pruned(text: str, limit: int) -> str:
    """``text`` with each array or object that opens deeper than ``limit`` levels replaced by ``[]`` (still at
    that depth): parseable however deep the original went, and still too deep where it was."""
    parts: list[str] = []
    depth, kept_to, cut_from = 0, 0, -1
    for token in _TOKENS.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth == limit + 1:
                cut_from = token.start()
        elif mark in "]}":
            if depth == limit + 1 and cut_from >= 0:
                parts += [text[kept_to:cut_from], "[]"]
                kept_to, cut_from = token.end(), -1
            depth -= 1
    parts.append(text[kept_to:])
    return "".join(parts)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels somewhere (iterative; only the careful path pays)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False


def _decode(data: bytes, charset: str | None) -> tuple[str, str, bool]:
    """Text from bytes: UTF-8 when they are UTF-8 (whatever the label says, unless a GB label is declared and
    the UTF-8 reading looks less like text than the GB one: :func:`~connectors.common.charsets.prefers_gb`),
    else the declared charset; what decodes in neither keeps its bytes as surrogate escapes (``damaged``)."""
    if not prefers_gb(data, charset):
        try:
            return data.decode("utf-8"), "utf-8", False
        except UnicodeDecodeError:
            pass
    declared = normalise_encoding(charset)
    if declared is not None and declared != "utf-8":
        try:
            return data.decode(declared), declared, False
        except UnicodeDecodeError:
            pass
    encoding = declared or "utf-8"
    return data.decode(encoding, "surrogateescape"), encoding, True


def find_problems(value: Any, *, damaged: bool = False, skip: str | None = None,
                  limit: int = _MAX_PROBLEMS) -> list[Problem]:
    """The unusable spots under ``value`` in document order (at most ``limit``); ``skip`` is a dotted path
    whose subtree is not looked at (the records, when checking an envelope). Iterative: depth costs no stack."""
    problems: list[Problem] = []
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack and len(problems) < limit:
        path, node, depth = stack.pop()
        if skip is not None and path == skip:
            continue
        if depth > MAX_DEPTH and isinstance(node, dict | list):
            problems.append(Problem(path, "json.too_deep", f"nested more than {MAX_DEPTH} levels deep"))
            continue
        if isinstance(node, dict):
            if isinstance(node, DuplicateKeys):
                for key in node.duplicates:
                    count = sum(1 for k, _ in node.pairs if k == key)
                    problems.append(Problem(_join(path, key), "json.duplicate_key",
                                            f"key {_show_key(key)} appears {count} times in one object"))
                entries: Any = node.pairs
            else:
                entries = node.items()
            children = []
            for key, child in entries:
                child_path = _join(path, key)
                if _SURROGATE.search(key):
                    problems.append(_text_problem(child_path, key, damaged, what="the key"))
                children.append((child_path, child, depth + 1))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([(_join(path, str(k)), child, depth + 1) for k, child in enumerate(node)]))
        elif isinstance(node, str):
            if _SURROGATE.search(node):
                problems.append(_text_problem(path, node, damaged, what="the text"))
        elif isinstance(node, Unrepresentable):
            problems.append(Problem(path, node.rule, node.describe()))
        elif isinstance(node, float) and not math.isfinite(node):  # only if someone built the value by hand
            problems.append(Problem(path, "number.not_finite", f"{node!r} is not a number JSON can carry"))
    return problems[:limit]


def _text_problem(path: str, text: str, damaged: bool, *, what: str) -> Problem:
    spots = _SURROGATE.findall(text)
    if damaged and all("\udc80" <= s <= "\udcff" for s in spots):
        raw = bytes(ord(s) - 0xDC00 for s in spots[:8])
        return Problem(path, "text.invalid_encoding",
                       f"{what} holds bytes that are not valid text in the body's encoding ({raw.hex(' ')})")
    shown = ", ".join(f"\\u{ord(s):04x}" for s in spots[:4])
    return Problem(path, "text.invalid_surrogate",
                   f"{what} holds a lone UTF-16 surrogate ({shown}), which is not a Unicode character")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show_key(key: str) -> str:
    return json.dumps(key) if not _SURROGATE.search(key) else json.dumps(key, ensure_ascii=True)


def _shorten(text: str, keep: int = 24) -> str:
    if len(text) <= keep + 8:
        return text
    return f"{text[:keep]}…({len(text):,} characters)"


def render_json(value: Any) -> str:
    """``value`` as JSON text with markers and repeated keys exactly as they came (for the dead-letter store).

    Text with lone surrogates is written with ``\\u`` escapes, so the result is always storable as UTF-8."""
    try:
        return "".join(_render(value))
    except RecursionError:
        return json.dumps({"unrenderable": "the value nests too deeply to be written back"})


def _render(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield _string(value)
    elif isinstance(value, dict):
        entries = value.pairs if isinstance(value, DuplicateKeys) else value.items()
        yield "{"
        for n, (key, child) in enumerate(entries):
            if n:
                yield ","
            yield _string(key)
            yield ":"
            yield from _render(child)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for n, child in enumerate(value):
            if n:
                yield ","
            yield from _render(child)
        yield "]"
    elif isinstance(value, Unrepresentable):
        yield value.text
    else:
        yield json.dumps(value)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=_SURROGATE.search(text) is not None)


__all__ = [
    "DuplicateKeys",
    "JsonDocument",
    "JsonTextError",
    "Problem",
    "Unrepresentable",
    "find_problems",
    "parse_json",
    "render_json",
]
