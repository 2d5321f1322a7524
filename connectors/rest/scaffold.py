"""``tongban connector new NAME --openapi FILE_OR_URL``: from an OpenAPI document to three files to fill in.

1. ``config/connectors/NAME.yaml`` — a REST connector YAML: one stream per GET operation whose 200 answer is
   (or wraps) an array of objects, each with its ``record_selector``, envelope ``success`` rule, primary key,
   change-time cursor, incremental parameter and paging worked out from the document, and a comment on every
   guess; the auth from ``securitySchemes``. The text is validated with :func:`connectors.rest.config.parse_config`
   before anything is written (a scaffold that writes an invalid YAML is a bug);
2. ``mappings/NAME.yaml`` — a mapping skeleton: the canonical fields with the record's own field paths beside
   them;
3. ``tests/connectors/test_NAME_acceptance.py`` — the acceptance kit against the live system, skipped until
   ``TONGBAN_<NAME>_URL`` (and the secrets the YAML's auth names, ``TONGBAN_<NAME>_<SECRET>``) are set.

OpenAPI 3.0 and 3.1 (JSON or YAML) are read, and Swagger 2.0 for what it shares with them. Only ``$ref``
inside the document is followed (``#/components/schemas/...``, ``#/definitions/...``); reference cycles are cut.

    result = scaffold("civil", "openapi.yaml", out=Path("."))   # ScaffoldResult(report, data, files)

Nothing is overwritten unless ``force`` is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import yaml

from connectors.common.cursors import CursorCodec
from connectors.common.guesses import (
    FieldHint,
    guess_cursor,
    guess_paging,
    guess_primary_key,
    guess_secret_params,
)
from connectors.common.scaffolding import (
    Guess,
    guess_case_no,
    guess_lines,
    mapping_field_lines,
    scaffold_files,
    write_files,
)
from connectors.common.secretrefs import secrets_of_files
from connectors.http.body import read_capped
from gateway.contract.errors import AuthenticationError, ConfigError, SourceUnavailableError, TongbanError
from gateway.contract.scaffold import ScaffoldResult, is_placeholder

from .config import parse_config

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
DEFAULT_SIZE = 100
TIMEZONE = "+08:00"
_TZ = timezone(timedelta(hours=8))
_PLACEHOLDER_BASE_URL = "http://scaffold.invalid"
PARAM_PLACEHOLDER = "CHOOSE_PARAM_VALUE"
"""A required query parameter's value the document does not give (refused at load: ``gateway.contract.scaffold``)."""
SUCCESS_PLACEHOLDER = "CHOOSE_SUCCESS_VALUE"
"""The success value of an envelope's status field the document does not give (in a commented ``success:``)."""
_QUERY_KEY = "query_key"  # _auth's word for an API key sent as a query parameter (becomes stream params)


# --- reading the document -----------------------------------------------------------------------------------


class _SpecLoader(yaml.SafeLoader):
    """Safe YAML without timestamp resolution: an unquoted ``example: 2024-03-05 10:31:00`` stays the text the
    author wrote (its spelling is what the cursor format is guessed from)."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_openapi(data: bytes | str, source: str = "<document>") -> dict[str, Any]:
    """The document as a mapping (JSON or YAML); ``ConfigError`` unless it is OpenAPI 3.x or Swagger 2.0."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_SpecLoader)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: neither JSON nor YAML: {' '.join(str(exc).split())[:300]}") from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{source}: not an OpenAPI document (the top level is not a mapping)")
    version = str(doc.get("openapi") or doc.get("swagger") or "")
    if not (version.startswith("3.") or version == "2.0"):
        raise ConfigError(f"{source}: not an OpenAPI 3.x or Swagger 2.0 document "
                          f"(openapi/swagger: {version or 'missing'})")
    if not isinstance(doc.get("paths"), Mapping):
        raise ConfigError(f"{source}: the document has no `paths`")
    return dict(doc)


def load_openapi(source: str, *, session: requests.Session | None = None, timeout: float = 30.0,
                 max_bytes: int = MAX_DOCUMENT_BYTES) -> dict[str, Any]:
    """Read an OpenAPI document from a path, ``file://`` or http(s) URL and parse it (:func:`parse_openapi`)."""
    if not source.startswith(("http://", "https://")):
        path = Path(source.removeprefix("file://"))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the OpenAPI document {path}: {exc.strerror or exc}") from None
        if len(data) > max_bytes:
            raise ConfigError(f"the OpenAPI document {path} has {len(data):,} bytes, over {max_bytes:,}")
        return parse_openapi(data, str(path))
    where = f"the OpenAPI document {source.split('?')[0]}"
    own = session is None
    session = session or requests.Session()
    try:
        data = _fetch(session, source, where, timeout, max_bytes)
    finally:
        if own:
            session.close()
    return parse_openapi(data, source.split("?")[0])


def _fetch(session: requests.Session, source: str, where: str, timeout: float, max_bytes: int) -> bytes:
    try:
        response = session.get(source, timeout=timeout, stream=True,
                               headers={"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"})
    except requests.RequestException as exc:
        raise SourceUnavailableError(f"cannot fetch {where}: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        response.close()
        raise AuthenticationError(f"{where} refused us (HTTP {response.status_code})")
    if not response.ok:
        response.close()
        raise SourceUnavailableError(f"{where} answered HTTP {response.status_code}")
    try:
        return read_capped(response, max_bytes, where=where, setting="max_bytes")
    except TongbanError as exc:
        raise SourceUnavailableError(str(exc)) from None


# --- schemas ------------------------------------------------------------------------------------------------


def _type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):  # 3.1: ["string", "null"]
        kind = next((k for k in kind if k != "null"), None)
    if kind:
        return str(kind)
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return ""


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").lower()


def _norm(name: str) -> str:
    return _words(name).replace("_", "")


def _doc(schema: Mapping[str, Any]) -> str:
    return " ".join(str(schema.get(k) or "") for k in ("title", "description")).strip()


def _example(schema: Mapping[str, Any]) -> Any:
    if "example" in schema:
        return schema["example"]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:  # 3.1 schema examples
        return examples[0]
    return schema.get("x-example")


class _Spec:
    """The document with ``$ref`` following (cycle-safe) and Swagger 2.0 read as its 3.x equivalent."""

    def __init__(self, doc: Mapping[str, Any], source: str) -> None:
        self.doc = doc
        self.source = source
        self.swagger = "openapi" not in doc
        self.version = str(doc.get("openapi") or doc.get("swagger"))
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            self.note(f"$ref {ref} points outside the document: not followed")
            return None
        node: Any = self.doc
        for raw in [p for p in ref[1:].split("/") if p]:
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                self.note(f"$ref {ref} names nothing in the document")
                return None
        return node

    def deref(self, node: Any, seen: frozenset[str] = frozenset()) -> tuple[dict[str, Any], frozenset[str]]:
        """``node`` with its ``$ref`` chain followed; ``{"x-cycle": ref}`` when a reference comes round again."""
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                return {"x-cycle": ref}, seen
            seen = seen | {ref}
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            target = self.resolve(ref)
            if not isinstance(target, Mapping):
                return {}, seen
            node = {**target, **siblings, "x-ref": ref.rsplit("/", 1)[-1]}
        return (dict(node) if isinstance(node, Mapping) else {}), seen

    def schema(self, node: Any, seen: frozenset[str] = frozenset(),
               depth: int = 0) -> tuple[dict[str, Any], frozenset[str]]:
        """A schema with ``$ref`` followed and ``allOf`` (and ``oneOf``/``anyOf`` members) merged into one."""
        s, seen = self.deref(node, seen)
        members = list(s.get("allOf") or [])
        alternatives = s.get("oneOf") or s.get("anyOf") or []
        if (not members and not alternatives) or "x-cycle" in s or depth > 8:
            return s, seen
        members += [a for a in alternatives if self.deref(a, seen)[0].get("type") != "null"]
        merged = {k: v for k, v in s.items() if k not in ("allOf", "oneOf", "anyOf")}
        properties = dict(merged.get("properties") or {})
        required = list(merged.get("required") or [])
        for member in members:
            m, _ = self.schema(member, seen, depth + 1)
            if "x-cycle" in m:
                continue
            for name, prop in (m.get("properties") or {}).items():
                properties.setdefault(name, prop)
            required += [r for r in m.get("required") or [] if r not in required]
            for key, value in m.items():
                if key not in ("properties", "required", "x-ref"):
                    merged.setdefault(key, value)
            if m.get("x-ref"):
                merged.setdefault("x-ref", m["x-ref"])
        if properties:
            merged["properties"] = properties
            merged.setdefault("type", "object")
        if required:
            merged["required"] = required
        return merged, seen

    # -- the document's parts, 2.0 and 3.x alike --

    def server(self) -> tuple[str | None, str, str | None]:
        """(origin ``https://host`` or None, path prefix ``/api`` or "", the server URL as written)."""
        if self.swagger:
            host, base = self.doc.get("host"), str(self.doc.get("basePath") or "")
            schemes = self.doc.get("schemes") or ["https"]
            url = f"{schemes[0]}://{host}{base}" if host else (base or None)
        else:
            servers = self.doc.get("servers") or []
            first = servers[0] if servers and isinstance(servers[0], Mapping) else {}
            url = str(first.get("url") or "") or None
            for var, spec in (first.get("variables") or {}).items():
                if url and isinstance(spec, Mapping) and "default" in spec:
                    url = url.replace("{" + str(var) + "}", str(spec["default"]))
        if not url:
            return None, "", None
        parts = urlsplit(url)
        prefix = parts.path.rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}", prefix, url
        return None, prefix, url

    def security_schemes(self) -> dict[str, dict[str, Any]]:
        raw = self.doc.get("securityDefinitions") if self.swagger else (self.doc.get("components") or {}).get(
            "securitySchemes")
        return {str(k): self.deref(v)[0] for k, v in (raw or {}).items()}

    def query_params(self, path_item: Mapping[str, Any], op: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The query parameters (path-level ones overridden by the operation's), each flattened to one mapping:
        name, required, description, and the schema's type/format/maximum/minimum/default/enum/example."""
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in list(path_item.get("parameters") or []) + list(op.get("parameters") or []):
            p, _ = self.deref(raw)
            if p.get("name"):
                merged[(str(p.get("in")), str(p["name"]))] = p
        out = []
        for (where, name), p in merged.items():
            if where != "query":
                continue
            schema = self.schema(p["schema"])[0] if "schema" in p else {}
            out.append({**schema, **{k: v for k, v in p.items() if k != "schema"}, "name": name})
        return out

    def ok_response(self, op: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        responses = {str(k): v for k, v in (op.get("responses") or {}).items()}
        code = next((c for c in ("200", "2XX", "2xx") if c in responses), None) or next(
            (c for c in responses if re.fullmatch(r"2\d\d", c) and c != "204"), None)
        return (code, self.deref(responses[code])[0]) if code else None

    def response_body(self, response: Mapping[str, Any]) -> tuple[Any, Any, str | None]:
        """(schema, example body or None, media type) of a response object."""
        if self.swagger:
            examples = response.get("examples") or {}
            example = next((v for k, v in examples.items() if "json" in str(k)), None)
            return response.get("schema"), example, "application/json" if "schema" in response else None
        content = response.get("content") or {}
        media_type = next((m for m in content if str(m).split(";")[0].strip() == "application/json"), None) or next(
            (m for m in content if "json" in str(m)), None) or next(iter(content), None)
        if media_type is None:
            return None, None, None
        media = self.deref(content[media_type])[0]
        example = media.get("example")
        if example is None and isinstance(media.get("examples"), Mapping):
            first = next(iter(media["examples"].values()), None)
            example = self.deref(first)[0].get("value") if first is not None else None
        if example is None:
            example = _example(self.schema(media.get("schema"))[0]) if media.get("schema") else None
        return media.get("schema"), example, str(media_type)


# --- what the scaffold found -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeFormat:
    """A cursor format guess: the connector's vocabulary, why, and whether the document said so (``sure``)."""

    format: str
    why: str
    sure: bool


@dataclass
class FieldInfo:
    name: str
    schema: dict[str, Any]
    type: str
    repeated: bool
    doc: str
    example: Any = None

    @property
    def hint(self) -> FieldHint:
        return FieldHint(self.name, self.type, self.repeated, self.doc)


@dataclass
class StreamReport:
    name: str
    path: str
    spec_path: str
    operation_id: str | None
    summary: str
    record_selector: str
    record_schema: str | None
    fields: list[FieldInfo]
    field_paths: list[str]
    primary_key: str | None = None
    case_no: str | None = None
    """The field (or the placeholder) the mapping skeleton maps to the canonical ``case_no`` (办件编号), when one reads as it."""
    cursor: str | None = None
    cursor_format: TimeFormat | None = None
    since_param: str | None = None
    param_format: str | None = None
    initial_value: str | None = None
    pagination: dict[str, Any] | None = None
    success: dict[str, Any] | None = None
    success_template: dict[str, Any] | None = None
    other_codes: list[Any] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    other_params: list[str] = field(default_factory=list)
    guesses: list[Guess] = field(default_factory=list)
    signature: QuerySignature | None = None
    """The query signature its parameters describe (appKey, timestamp, nonce, sign), if any."""

    @property
    def incremental(self) -> bool:
        return self.cursor is not None and self.since_param is not None

    def guess(self, what: str, value: Any, why: str, check: bool = False) -> None:
        self.guesses.append(Guess(what, value, why, check))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "method": "GET", "path": self.path, "spec_path": self.spec_path,
            "operation_id": self.operation_id, "summary": self.summary, "record_selector": self.record_selector,
            "record_schema": self.record_schema, "fields": [f.name for f in self.fields],
            "field_paths": self.field_paths, "primary_key": self.primary_key, "cursor": self.cursor,
            "cursor_format": self.cursor_format.format if self.cursor_format else None,
            "incremental_param": self.since_param, "param_format": self.param_format,
            "pagination": self.pagination, "success": self.success, "params": self.params,
            "other_params": self.other_params, "guesses": [g.as_dict() for g in self.guesses],
        }


@dataclass
class OpenApiReport:
    source: str
    version: str
    title: str
    origin: str | None
    path_prefix: str
    server: str | None
    auth: dict[str, Any] | None
    auth_why: str
    auth_comments: list[str]
    streams: list[StreamReport]
    skipped: list[tuple[str, str]]
    writes: list[str]
    notes: list[str]
    query_params: dict[str, Any] = field(default_factory=dict)
    """Parameters every request carries (an API key in the query string, as ``{secret: api_key}``)."""

    @property
    def main(self) -> StreamReport | None:
        """The stream ``check:``, the mapping and the acceptance test use: the first incremental one with a key,
        else the first."""
        return next((s for s in self.streams if s.incremental and s.primary_key), None) or next(
            iter(self.streams), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "openapi": self.version, "title": self.title, "server": self.server,
            "base_url": self.origin, "path_prefix": self.path_prefix, "auth": self.auth, "auth_why": self.auth_why,
            "query_params": self.query_params,
            "streams": [s.as_dict() for s in self.streams], "main_stream": self.main.name if self.main else None,
            "skipped": [{"operation": op, "why": why} for op, why in self.skipped], "writes": self.writes,
            "notes": self.notes,
        }


# --- guesses ------------------------------------------------------------------------------------------------

_RECORD_NAMES = ("rows", "list", "items", "records", "data", "results", "result", "content", "datas", "datalist",
                 "recordlist", "entries", "elements", "values", "hits", "docs", "body", "page", "payload")
_NOT_RECORDS = ("errors", "error", "warnings", "messages", "links", "details")
_CODE_NAMES = ("code", "retcode", "errcode", "errorcode", "resultcode", "rescode", "returncode", "rtncode", "ret",
               "errno", "statuscode", "status", "success")
_MESSAGE_NAMES = ("msg", "message", "retmsg", "errmsg", "errormsg", "errormessage", "resultmsg", "returnmsg",
                  "rtnmsg", "error", "errordescription", "desc")
_SUCCESS_VALUES = (0, "0", "00", "000", "0000", "000000", 200, "200", "success", "SUCCESS", "ok", "OK", True)
_NEXT_CURSOR = ("nextcursor", "nextpagetoken", "nexttoken", "nextpagecursor", "nextmarker", "continuationtoken",
                "scrollid", "endcursor", "cursor", "pagetoken", "marker")
_CURSOR_PARAMS = ("cursor", "pagetoken", "nextcursor", "nextpagetoken", "continuationtoken", "pagecursor",
                  "scrollid", "token", "after", "startingafter", "marker", "continuation", "nexttoken")
_KEY_DOC = ("流水号", "编号", "唯一标识", "主键", "业务号", "办件号")
_CURSOR_DOC = ("更新时间", "修改时间", "变更时间", "同步时间", "最后")

_EXAMPLE_FORMATS = (
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})", "iso8601"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?", "iso8601"),
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "%Y-%m-%d %H:%M:%S"),
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{1,6}", "%Y-%m-%d %H:%M:%S.%f"),
    (r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", "%Y/%m/%d %H:%M:%S"),
    (r"\d{14}", "%Y%m%d%H%M%S"),
    (r"\d{13}", "epoch_ms"),
    (r"\d{10}", "epoch_s"),
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{8}", "%Y%m%d"),
)
_PATTERN = re.compile(r"[yY]{4}(?:[-/.]?MM(?:[-/.]?[dD]{2}(?:(?:[ T]|'T')?[hH]{2}(?::?mm(?::?ss(?:\.S{1,6})?)?)?)?)?)?")
_PATTERN_TOKENS = {"yyyy": "%Y", "YYYY": "%Y", "MM": "%m", "dd": "%d", "DD": "%d", "HH": "%H", "hh": "%H",
                   "mm": "%M", "ss": "%S", "'T'": "T"}


def _strftime_from_pattern(pattern: str) -> str:
    pattern = re.sub(r"\.S{1,6}$", ".%f", pattern)
    return re.sub(r"yyyy|YYYY|MM|dd|DD|HH|hh|mm|ss|'T'", lambda m: _PATTERN_TOKENS[m.group(0)], pattern)


def _says_millis(name: str, doc: str) -> bool:
    parts = set(_words(name).split("_"))
    return bool(parts & {"ms", "millis", "milliseconds", "msec"}) or bool(
        re.search(r"\bms\b|millis|毫秒", doc, re.IGNORECASE))


def _says_seconds(name: str, doc: str) -> bool:
    parts = set(_words(name).split("_"))
    return bool(parts & {"sec", "seconds", "unix", "epoch"}) or bool(
        re.search(r"(?<!毫)秒|\bseconds?\b|\bunix\b", doc, re.IGNORECASE))


def guess_time_format(name: str, schema: Mapping[str, Any], example: Any = None) -> TimeFormat:
    """The connector's cursor format for one field or parameter: from an example's spelling, the schema's
    ``format``, a pattern in its description (``yyyy-MM-dd HH:mm:ss``), or a number's unit."""
    kind = _type(schema)
    fmt = str(schema.get("format") or "")
    doc = _doc(schema)
    if example is None:
        example = _example(schema)
    number_example = isinstance(example, int) and not isinstance(example, bool)
    if kind in ("integer", "number") or number_example:
        if _says_millis(name, doc):
            return TimeFormat("epoch_ms", "a number whose name or description says milliseconds", True)
        if _says_seconds(name, doc):
            return TimeFormat("epoch_s", "a number whose name or description says seconds", True)
        if number_example:
            digits = len(str(abs(example)))
            if 12 <= digits <= 13:
                return TimeFormat("epoch_ms", f"a number; the example {example} has {digits} digits", True)
            if 9 <= digits <= 10:
                return TimeFormat("epoch_s", f"a number; the example {example} has {digits} digits", True)
        return TimeFormat("epoch_ms", "a number with no unit documented: epoch milliseconds assumed (check)", False)
    if isinstance(example, str) and example.strip():
        for rx, found in _EXAMPLE_FORMATS:
            if re.fullmatch(rx, example.strip()):
                why = f"the example {example!r}"
                if fmt == "date-time" and found != "iso8601":
                    why += " (the schema says format: date-time, the example is not RFC 3339)"
                return TimeFormat(found, why, True)
    if fmt == "date-time":
        return TimeFormat("iso8601", "format: date-time (RFC 3339)", True)
    patterns = sorted(_PATTERN.findall(doc), key=len, reverse=True)
    if patterns and len(patterns[0]) >= 8:
        return TimeFormat(_strftime_from_pattern(patterns[0]), f"the description says {patterns[0]!r}", True)
    if fmt == "date":
        return TimeFormat("%Y-%m-%d", "format: date", True)
    return TimeFormat("%Y-%m-%d %H:%M:%S", "no format, example or pattern documented: a common government "
                                           "spelling assumed (check against a real record)", False)


_AUTH_WORDS = ("签名", "验签", "鉴权", "认证", "授权", "token", "令牌", "appkey", "appid", "密钥", "未登录", "登录失效",
               "登录超时", "凭证", "unauthori", "forbidden", "signature")
_CODE_TEXT = re.compile(r"(?<![\w.])(-?\d{1,8})\s*[:：=＝、\-—]?\s*([^；;，,。\n|]+)")


def _auth_codes(doc: str, success: Any) -> dict[str, str]:
    """Business codes a status field's description gives to refused credentials (``1001 签名验证失败``,
    ``40001 token失效``, ``1002 appKey不存在``): code → its text, in the order documented."""
    found: dict[str, str] = {}
    for code, text in _CODE_TEXT.findall(doc):
        text = text.strip()
        if code != str(success) and any(w in text.lower().replace(" ", "") for w in _AUTH_WORDS):
            found.setdefault(code, text)
    return found


def _example_parses(fmt: str, example: Any) -> bool | None:
    if example is None or example == "":
        return None
    try:
        CursorCodec(fmt, _TZ).parse(example)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _hint_type(name: str, schema: Mapping[str, Any]) -> str:
    kind, fmt = _type(schema), str(schema.get("format") or "")
    if kind == "string":
        return {"date-time": "dateTime", "date": "date"}.get(fmt, "string")
    if kind == "integer":
        return "long" if fmt == "int64" or _says_millis(name, _doc(schema)) else "int"
    if kind == "number":
        return "decimal"
    return kind or "string"


def _typed(value: Any, schema: Mapping[str, Any]) -> Any:
    """A success value from text (a description, an enum) in the type the schema declares."""
    kind = _type(schema)
    if kind == "integer" and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if kind == "string" and not isinstance(value, str) and value is not None:
        return str(value).lower() if isinstance(value, bool) else str(value)
    if kind == "boolean" and isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return value


def _at(body: Any, path: Sequence[str]) -> Any:
    for step in path:
        if not isinstance(body, Mapping):
            return None
        body = body.get(step)
    return body


class _Inspector:
    def __init__(self, spec: _Spec) -> None:
        self.spec = spec

    # -- records --

    def find_records(self, node: Any, path: list[str], seen: frozenset[str] = frozenset(),
                     depth: int = 0) -> tuple[list[str], dict[str, Any], frozenset[str]] | None:
        """(path to the record array, record schema, refs on the way): the array of objects in an answer."""
        s, seen = self.spec.schema(node, seen)
        if depth > 6 or "x-cycle" in s:
            return None
        kind = _type(s)
        if kind == "array":
            items, item_seen = self.spec.schema(s.get("items") or {}, seen)
            return (path, items, item_seen) if _type(items) == "object" and "x-cycle" not in items else None
        if kind != "object":
            return None
        props = s.get("properties") or {}

        def rank(name: str) -> int:
            word = _norm(name)
            return _RECORD_NAMES.index(word) if word in _RECORD_NAMES else len(_RECORD_NAMES)

        names = sorted((n for n in props if _norm(n) not in _NOT_RECORDS), key=rank)
        subs = {n: self.spec.schema(props[n], seen)[0] for n in names}
        for wanted in ("array", "object"):
            for name in names:
                if _type(subs[name]) == wanted:
                    found = self.find_records(props[name], path + [str(name)], seen, depth + 1)
                    if found is not None:
                        return found
        return None

    def fields(self, record: Mapping[str, Any], seen: frozenset[str], example: Any) -> tuple[list[FieldInfo],
                                                                                             list[str]]:
        """The record's properties (top level) and every dotted path one object level down, for the mapping."""
        infos: list[FieldInfo] = []
        paths: list[str] = []
        example = example if isinstance(example, Mapping) else {}
        for name, raw in (record.get("properties") or {}).items():
            name = str(name)
            s, sub_seen = self.spec.schema(raw, seen)
            kind = _type(s)
            repeated = kind == "array"
            item = self.spec.schema(s.get("items") or {}, sub_seen)[0] if repeated else s
            value = _example(s)
            if value is None:
                value = example.get(name)
            infos.append(FieldInfo(name, s, "object" if kind == "object" else _hint_type(name, item), repeated,
                                   _doc(s), value))
            if kind == "object" and "x-cycle" not in s and s.get("properties"):
                paths += [f"{name}.{child}" for child in s["properties"]]
            else:
                paths.append(name)
        return infos, paths

    # -- envelope --

    def success(self, stream: StreamReport, answer: Mapping[str, Any], example: Any) -> None:
        if _type(answer) != "object":
            return
        props = answer.get("properties") or {}
        by_norm = {_norm(str(n)): str(n) for n in props}
        code = next((by_norm[c] for c in _CODE_NAMES if c in by_norm), None)
        if code is None:
            return
        schema = self.spec.schema(props[code])[0]
        message = next((by_norm[m] for m in _MESSAGE_NAMES if m in by_norm and by_norm[m] != code), None)
        value, why = self._success_value(code, schema, example)
        rule: dict[str, Any] = {"field": code}
        if value is not _MISSING:
            rule["equals"] = _typed(value, schema)
            if message:
                rule["message_field"] = message
            auth_codes = _auth_codes(_doc(schema), rule["equals"])
            if auth_codes:
                rule["codes"] = {c: "auth" for c in auth_codes}
                why += "; " + ", ".join(f"{c} {t!r}" for c, t in auth_codes.items()) + " mean(s) our credentials " \
                       "were refused: `auth` (an operator must act), not a failed read"
            stream.success = rule
            enum = [v for v in schema.get("enum") or [] if _typed(v, schema) != rule["equals"]
                    and str(v) not in auth_codes]
            stream.other_codes = enum
            stream.guess("success", rule, f"the answer's `{code}` {why}")
        else:
            stream.success_template = {"field": code, "equals": SUCCESS_PLACEHOLDER,
                                       **({"message_field": message} if message else {})}
            stream.guess("success", None, f"the answer has a status field `{code}` but the document gives no "
                                          f"success value: a commented template", check=True)

    def _success_value(self, code: str, schema: Mapping[str, Any], example: Any) -> tuple[Any, str]:
        if _type(schema) == "boolean":
            return True, "is a boolean: true taken as success"
        enum = list(schema.get("enum") or [])
        if len(enum) == 1:
            return enum[0], f"has the single documented value {enum[0]!r}"
        doc = _doc(schema)
        for said in re.finditer(r"([-A-Za-z0-9.]+)\s*(?:[:：=＝]|表示|为|代表|[-—])?\s*(?:成功|正常|success\b|ok\b)",
                                doc, re.IGNORECASE):
            if said.group(1).lower() not in ("is", "means", "on", "if", "when", "for", "a", "the"):
                return said.group(1), f"is documented as {said.group(0).strip()!r}"
        known = [v for v in enum if v in _SUCCESS_VALUES or str(v) in {str(s) for s in _SUCCESS_VALUES}]
        if known:
            return known[0], f"lists {enum} and {known[0]!r} reads as success"
        if _example(schema) is not None:
            return _example(schema), f"has the example {_example(schema)!r} (an example answer is a success)"
        if isinstance(example, Mapping) and code in example:
            return example[code], f"is {example[code]!r} in the example answer"
        return _MISSING, ""

    # -- paging --

    def total_path(self, answer: Mapping[str, Any], records_path: Sequence[str]) -> str | None:
        """Where the answer counts the query's records (``data.total`` beside ``data.list``), if it does."""
        schema, path = answer, []
        levels: list[tuple[Mapping[str, Any], list[str]]] = [(schema, [])]
        for part in records_path[:-1]:
            schema = self.spec.schema((schema.get("properties") or {}).get(part) or {})[0]
            path = path + [part]
            levels.append((schema, path))
        for schema, path in reversed(levels):  # the records' own object first
            for name, raw in (schema.get("properties") or {}).items():
                if _norm(str(name)) in _TOTAL_NAMES and _type(self.spec.schema(raw)[0]) in ("integer", "number",
                                                                                             "string"):
                    return ".".join([*path, str(name)])
        return None

    def next_cursor_path(self, answer: Mapping[str, Any], records_path: Sequence[str]) -> str | None:
        found: list[tuple[int, str]] = []

        def look(schema: Mapping[str, Any], path: list[str], depth: int) -> None:
            for name, raw in (schema.get("properties") or {}).items():
                s = self.spec.schema(raw)[0]
                here = path + [str(name)]
                if here == list(records_path):
                    continue
                kind = _type(s)
                word = _norm(str(name))
                if kind in ("string", "integer", "") and word in _NEXT_CURSOR:
                    found.append((_NEXT_CURSOR.index(word) + 100 * depth, ".".join(here)))
                elif kind == "object" and depth < 2 and "x-cycle" not in s:
                    look(s, here, depth + 1)

        if _type(answer) == "object":
            look(answer, [], 0)
        return min(found)[1] if found else None

    @staticmethod
    def _size(param: Mapping[str, Any]) -> tuple[int, str, bool]:
        maximum, default = param.get("maximum"), param.get("default")
        if isinstance(maximum, int | float) and not isinstance(maximum, bool) and maximum >= 1:
            size = min(DEFAULT_SIZE, int(maximum))
            return size, f"size {size} within the documented maximum {maximum}", False
        if isinstance(default, int) and not isinstance(default, bool) and default >= 1:
            return default, f"size {default}: the documented default (no maximum documented)", True
        return DEFAULT_SIZE, (f"size {DEFAULT_SIZE}: no maximum documented (check the server's cap: a size above it "
                              "ends positional paging after the first page)"), True

    def paging(self, stream: StreamReport, params: list[dict[str, Any]], answer: Mapping[str, Any],
               response: Mapping[str, Any], op: Mapping[str, Any], records_path: Sequence[str]) -> set[str]:
        """Set ``stream.pagination`` (and the incremental parameter); the parameter names it used."""
        names = [p["name"] for p in params]
        by_name = {p["name"]: p for p in params}
        guess = guess_paging(names)
        used: set[str] = set()
        next_path = self.next_cursor_path(answer, records_path)
        leaf = next_path.rsplit(".", 1)[-1] if next_path else None
        cursor_param = leaf if leaf in by_name else next(
            (n for want in _CURSOR_PARAMS for n in names if _norm(n) == want and n != guess.since_param), None)
        headers = {str(h).lower() for h in (response.get("headers") or {})}
        text = " ".join(str(x or "") for x in (op.get("description"), op.get("summary"), response.get("description")))
        link = "link" in headers or bool(re.search(r"\bLink\b.{0,80}rel\s*=\s*\W?next", text, re.IGNORECASE))
        size_param = guess.size_param
        sizing: dict[str, Any] = {}
        size_why = ""
        size_check = False
        if size_param:
            size, size_why, size_check = self._size(by_name[size_param])
            sizing = {"size_param": size_param, "size": size}
        if next_path and cursor_param:
            stream.pagination = {"type": "cursor", "cursor_param": cursor_param, "next_cursor_path": next_path,
                                 **sizing}
            stream.guess("pagination", "cursor", f"the answer carries `{next_path}` and the request takes "
                                                 f"`{cursor_param}`: keyset paging" + (f"; {size_why}" if sizing else ""))
            used |= {cursor_param, size_param or ""}
        elif link:
            stream.pagination = {"type": "link_header", **sizing}
            why = ("the 200 answer documents a `Link` header" if "link" in headers
                   else "the description mentions a Link header with rel=next")
            stream.guess("pagination", "link_header", f"{why}: the rel=\"next\" URL is followed"
                                                      + (f"; {size_why}" if sizing else ""))
            used |= {size_param or ""}
            if cursor_param:
                used.add(cursor_param)  # the next URL carries it
        elif guess.kind == "page_number" and guess.page_param:
            page = by_name[guess.page_param]
            start, start_why, start_check = 1, "pages assumed to start at 1", True
            for key in ("minimum", "default"):
                if page.get(key) in (0, 1) and not isinstance(page.get(key), bool):
                    start, start_why, start_check = int(page[key]), f"`{guess.page_param}` has {key} {page[key]}", False
                    break
            stream.pagination = {"type": "page_number", "page_param": guess.page_param,
                                 "size_param": size_param, "size": sizing.get("size", DEFAULT_SIZE), "start": start}
            total = self.total_path(answer, records_path)
            if total is not None:
                stream.pagination["total_path"] = total
            stream.guess("pagination", "page_number",
                         f"query parameters `{guess.page_param}`" + (f"/`{size_param}`" if size_param else "")
                         + f"; {start_why}; " + (size_why or "no size parameter: the server's own page size must be "
                                                             "written as size (check)")
                         + (f"; the answer counts its records at `{total}` (a read ending short of it is stopped)"
                            if total else ""),
                         check=start_check or size_check or not size_param)
            used |= {guess.page_param, size_param or ""}
        elif guess.kind == "offset" and guess.offset_param:
            stream.pagination = {"type": "offset", "offset_param": guess.offset_param, "limit_param": size_param,
                                 "size": sizing.get("size", DEFAULT_SIZE), "start": 0}
            total = self.total_path(answer, records_path)
            if total is not None:
                stream.pagination["total_path"] = total
            stream.guess("pagination", "offset",
                         f"query parameters `{guess.offset_param}`" + (f"/`{size_param}`" if size_param else "")
                         + "; offsets start at 0; " + (size_why or "no limit parameter: the server's own page size "
                                                                   "must be written as size (check)")
                         + (f"; the answer counts its records at `{total}` (a read ending short of it is stopped)"
                            if total else ""),
                         check=size_check or not size_param)
            used |= {guess.offset_param, size_param or ""}
        else:
            why = "no paging parameter, next-cursor field or Link header documented: the answer comes whole"
            if next_path and not cursor_param:
                why = (f"the answer carries `{next_path}` but no query parameter sends it back: configure cursor "
                       f"paging by hand")
            stream.guess("pagination", "none", why, check=bool(next_path))
        if guess.since_param:
            stream.since_param = guess.since_param
            used.add(guess.since_param)
        return used - {""}


_MISSING = object()


def _stream_name(path: str, operation_id: str | None, taken: set[str]) -> str:
    segments = [s for s in path.split("/") if s and not s.startswith("{")]

    def clean(text: str) -> str:
        return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", _words(text))).strip("_")

    candidates = []
    for n in range(1, len(segments) + 1):
        candidates.append("_".join(clean(s) for s in segments[-n:] if clean(s)))
    if operation_id:
        candidates.append(clean(operation_id))
    for name in candidates + ["records"]:
        if name and name[0].isalpha() and name not in taken:
            return name
    base = next((c for c in candidates if c and c[0].isalpha()), "records")
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def _auth(spec: _Spec, origin: str | None, first_op: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None,
                                                                                          str, list[str]]:
    """(auth config or None, why, comment lines for the YAML)."""
    schemes = spec.security_schemes()
    if first_op is not None and "security" in first_op:  # an operation's own requirement overrides the document's
        requirement, where = first_op.get("security") or [], "the operation's `security`"
    elif "security" in spec.doc:
        requirement, where = spec.doc.get("security") or [], "the document's `security`"
    elif schemes:
        first = next(iter(schemes))
        which = "the only scheme defined" if len(schemes) == 1 else "the first scheme defined"
        requirement, where = [{first: []}], f"no `security` requirement: {which}"
    else:
        return None, "no securitySchemes: no auth", []
    alternatives = [r for r in requirement if isinstance(r, Mapping)]
    if not alternatives or all(not r for r in alternatives):
        return None, f"{where} is empty: no auth", []
    comments: list[str] = []
    notes: list[str] = []
    for alternative in alternatives:
        if not alternative:
            notes.append("an anonymous alternative is allowed")
            continue
        names = list(alternative)
        defined = [schemes.get(str(n)) for n in names]
        if any(d is None for d in defined):
            notes.append(f"{where} names undefined scheme(s) {names}")
            continue
        headers = [d.get("name") for d in defined if d and str(d.get("type")).lower() == "apikey"
                   and d.get("in") == "header"]
        if any("sign" in str(h).lower() for h in headers):
            comments += [
                f"# signed requests ({', '.join(map(str, headers))}): describe the convention by hand, e.g.",
                "# auth: {type: signature, algorithm: hmac-sha256, secret: secret, app_key_secret: app_id,",
                "#        string_to_sign: \"{method}\\n{path_qs}\\n{timestamp}\\n{nonce}\\n{body_digest}\",",
                ("#        headers: {X-App-Id: \"{app_key}\", X-Timestamp: \"{timestamp}\", X-Nonce: \"{nonce}\", "
                 "X-Signature: \"{signature}\"}}"),
                "# (connectors/http/signing.py lists the placeholders and worked examples)",
            ]
            return None, f"{where}: {names} are a request signature: no auth written, a template in comments", comments
        name = str(names[0])
        scheme = defined[0] or {}
        kind = str(scheme.get("type") or "").lower()
        if len(names) > 1:
            notes.append(f"{names[1:]} are required alongside {name}: add them by hand")
        if kind == "apikey":
            where_key = scheme.get("in")
            header = str(scheme.get("name") or "X-Api-Key")
            if where_key == "header" and header.lower() == "authorization" and "bearer" in _doc(scheme).lower():
                return ({"type": "bearer", "secret": "token"},
                        f"securitySchemes.{name}: an Authorization header documented as Bearer ({where})", comments)
            if where_key == "header":
                return ({"type": "api_key", "header": str(scheme.get("name") or "X-Api-Key"), "secret": "api_key"},
                        f"securitySchemes.{name}: apiKey in header {scheme.get('name')} ({where})", comments)
            if where_key == "query" and scheme.get("name"):
                param = str(scheme["name"])
                return ({"type": _QUERY_KEY, "param": param, "secret": "api_key"},
                        f"securitySchemes.{name}: apiKey in the query parameter `{param}` ({where}): sent from the "
                        f"secret `api_key` by every stream's params ({param}: {{secret: api_key}})", comments)
            notes.append(f"securitySchemes.{name}: apiKey in {where_key} `{scheme.get('name')}`: the REST "
                         "connector sends keys in headers or query parameters only")
            continue
        if kind == "basic" or (kind == "http" and str(scheme.get("scheme")).lower() == "basic"):
            return ({"type": "basic", "username_secret": "username", "password_secret": "password"},
                    f"securitySchemes.{name}: HTTP basic ({where})", comments)
        if kind == "http" and str(scheme.get("scheme")).lower() == "bearer":
            return ({"type": "bearer", "secret": "token"},
                    f"securitySchemes.{name}: HTTP bearer ({where}); a long-lived token in the secret `token`", comments)
        if kind == "oauth2":
            flows = scheme.get("flows") or {}
            flow = flows.get("clientCredentials") if not spec.swagger else (
                scheme if scheme.get("flow") == "application" else None)
            if isinstance(flow, Mapping) and flow.get("tokenUrl"):
                token_url = str(flow["tokenUrl"])
                if origin and token_url.startswith(origin + "/"):
                    token_url = token_url[len(origin):]  # follows the injected endpoint
                config: dict[str, Any] = {"type": "oauth2_client_credentials", "token_url": token_url,
                                          "client_id_secret": "client_id", "client_secret_secret": "client_secret"}
                scopes = [str(s) for s in alternative[names[0]] or []]
                if scopes:
                    config["scope"] = " ".join(scopes)
                why = f"securitySchemes.{name}: OAuth2 client credentials, token at {flow['tokenUrl']} ({where})"
                return config, why, comments
            notes.append(f"securitySchemes.{name}: OAuth2 without a client-credentials flow (needs a user): not "
                         "for an unattended sync")
            continue
        notes.append(f"securitySchemes.{name}: {kind} {scheme.get('scheme') or ''} is not supported: configure "
                     "auth by hand".replace("  ", " "))
    why = "; ".join(notes) or f"{where}: nothing usable"
    return None, f"no auth written: {why}", [f"# auth: none written: {why}"]


_TOTAL_NAMES = ("total", "totalcount", "totalnum", "totalrecords", "totalrecord", "recordcount", "totalsize",
                "totalelements", "totalrows", "zs", "zts")
_SIGN_PARAMS = ("sign", "signature", "sig", "signstr", "signdata", "signvalue", "signcode")
_APP_KEY_PARAMS = ("appkey", "appid", "accesskey", "accesskeyid", "clientid", "partnerid", "appcode")
_TIMESTAMP_PARAMS = ("timestamp", "ts", "timestr", "reqtime", "requesttime", "signtime", "time")
_NONCE_PARAMS = ("nonce", "noncestr", "rand", "random", "randomstr", "randstr")


@dataclass(frozen=True)
class QuerySignature:
    """The common Chinese signed query: ``appKey``/``appId`` + ``timestamp`` (+ ``nonce``) + ``sign`` over the
    sorted parameters, as the ``auth: {type: signature}`` block that sends and signs them."""

    auth: dict[str, Any]
    params: frozenset[str]
    why: str


def query_signature(params: Sequence[Mapping[str, Any]]) -> QuerySignature | None:
    """The ``signature`` auth block for an operation whose query parameters are a signed query — an app key, a
    timestamp and a ``sign``/``signature`` (a nonce if there is one) — or ``None``. The algorithm, encoding,
    string-to-sign and timestamp format come from the descriptions (``MD5``, ``大写``, ``&key=密钥``,
    ``yyyyMMddHHmmss``); what is not documented is a common default, said in ``why``."""
    def find(names: Sequence[str]) -> Mapping[str, Any] | None:
        by_name = {re.sub(r"[^a-z0-9]", "", str(p["name"]).lower()): p for p in params}
        return next((by_name[n] for n in names if n in by_name), None)

    sign, app_key, stamp, nonce = (find(_SIGN_PARAMS), find(_APP_KEY_PARAMS), find(_TIMESTAMP_PARAMS),
                                   find(_NONCE_PARAMS))
    if sign is None or app_key is None or stamp is None:
        return None
    doc = " ".join(_doc(p) for p in (sign, app_key, stamp, nonce) if p is not None)
    low = doc.lower().replace("-", "").replace("_", "")
    assumed: list[str] = []
    if "hmac" in low:
        algorithm = next((a for k, a in (("sm3", "hmac-sm3"), ("sha256", "hmac-sha256"), ("sha1", "hmac-sha1"))
                          if k in low), "hmac-sha256")
    else:
        algorithm = next((a for k, a in (("sm3", "sm3"), ("sha256", "sha256"), ("sha1", "sha1"), ("md5", "md5"))
                          if k in low), "")
        if not algorithm:
            algorithm = "md5"
            assumed.append("MD5 (the algorithm is not documented)")
    if "base64" in low:
        encoding = "base64"
    elif "大写" in doc or "upper" in low:
        encoding = "hex_upper"
    else:
        encoding = "hex"
        if "小写" not in doc and "lower" not in low:
            assumed.append("lower-case hex")
    if algorithm.startswith("hmac"):
        string_to_sign = "{query}"
    else:  # a plain digest must contain the secret: where the description puts it
        said = re.search(r"&?\s*(key|secret|appsecret|secretkey)\s*=", doc, re.IGNORECASE)
        if said:
            string_to_sign = "{query}&" + said.group(1) + "={secret}"
        elif re.search(r"(密钥|secret)\S{0,6}(\+|拼接|加)", doc, re.IGNORECASE) and not re.search(
                r"(\+|拼接|加)\S{0,6}(密钥|secret)", doc, re.IGNORECASE):
            string_to_sign = "{secret}{query}"
        else:
            string_to_sign = "{query}&key={secret}"
            assumed.append("the secret appended as `&key=SECRET`")
    fmt = guess_time_format(str(stamp["name"]), stamp, stamp.get("example"))
    stamp_doc = _doc(stamp)
    in_seconds = "毫秒" not in stamp_doc and re.search(r"10\s*位|秒|seconds", stamp_doc, re.IGNORECASE) is not None
    if fmt.format.startswith("%") and fmt.sure:
        timestamp: dict[str, Any] = {"format": fmt.format, "tz": TIMEZONE}
    elif fmt.format == "epoch_s" or in_seconds:
        timestamp = {"format": "seconds"}
    else:
        timestamp = {"format": "milliseconds"}
        if fmt.format != "epoch_ms" and "毫秒" not in stamp_doc and "13" not in stamp_doc:
            assumed.append("a timestamp in epoch milliseconds")
    names = [str(p["name"]) for p in (app_key, stamp, nonce) if p is not None]
    query_params = {str(app_key["name"]): "{app_key}", str(stamp["name"]): "{timestamp}"}
    if nonce is not None:
        query_params[str(nonce["name"])] = "{nonce}"
    query_params[str(sign["name"])] = "{signature}"
    auth: dict[str, Any] = {"type": "signature", "algorithm": algorithm, "secret": "secret",
                            "app_key_secret": "app_key", "encoding": encoding, "timestamp": timestamp}
    if nonce is not None:
        auth["nonce"] = {"kind": "digits", "length": 10}
    auth |= {"canonical_query": {"encoding": "raw", "exclude": [str(sign["name"])]},
             "string_to_sign": string_to_sign, "query_params": query_params}
    why = (f"the query parameters {', '.join(f'`{n}`' for n in names)} and `{sign['name']}` are a signed query: "
           f"{algorithm} ({encoding}) over the sorted parameters, secrets `app_key` and `secret`")
    if assumed:
        why += "; assumed: " + ", ".join(assumed) + " (check)"
    return QuerySignature(auth, frozenset([*names, str(sign["name"])]), why)


def inspect_openapi(source: str, document: Mapping[str, Any] | None = None) -> OpenApiReport:
    """Read ``source`` (or the already parsed ``document``) and work out every stream, guess and reason."""
    spec = _Spec(document if document is not None else load_openapi(source), source)
    inspector = _Inspector(spec)
    origin, prefix, server = spec.server()
    info = spec.doc.get("info") or {}
    streams: list[StreamReport] = []
    skipped: list[tuple[str, str]] = []
    writes: list[str] = []
    taken: set[str] = set()
    first_op: Mapping[str, Any] | None = None
    for raw_path, raw_item in (spec.doc.get("paths") or {}).items():
        path = str(raw_path)
        if path.startswith("x-"):
            continue
        item, _ = spec.deref(raw_item)
        for method in ("put", "post", "patch", "delete"):
            if isinstance(item.get(method), Mapping):
                writes.append(f"{method.upper()} {prefix}{path}")
        op = item.get("get")
        if not isinstance(op, Mapping):
            continue
        label = f"GET {path}"
        templated = re.findall(r"\{([^}]+)\}", path)
        if templated:
            why = f"path parameter(s) {', '.join(templated)}: one record (or one parent's records) per call"
            skipped.append((label, why + ", not a stream"))
            continue
        try:
            stream = _read_operation(spec, inspector, path, item, op, prefix, taken)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:  # a malformed description
            stream = f"its description could not be read ({type(exc).__name__}: {exc})"
        if isinstance(stream, str):
            skipped.append((label, stream))
            continue
        taken.add(stream.name)
        if first_op is None:
            first_op = op
        streams.append(stream)
    auth, auth_why, auth_comments = _auth(spec, origin, first_op)
    signed = next((s.signature for s in streams if s.signature is not None), None)
    if signed is not None and (auth is None or (auth["type"] == _QUERY_KEY and auth["param"] in signed.params)):
        auth, auth_why, auth_comments = signed.auth, signed.why, [
            ("# (a query signature: connectors/rest/README.md, “A signed query”; check algorithm, encoding, "
             "string_to_sign and the timestamp against the system's documentation or a request it accepts)")]
    query_params: dict[str, Any] = {}
    if auth is not None and auth["type"] == _QUERY_KEY:  # not an `auth:` block: a parameter of every request
        ref, param = {"secret": auth["secret"]}, auth["param"]
        auth, auth_comments = None, auth_comments + [
            f"# auth: none; the key goes in the query string: `{param}: {{secret: api_key}}` in each stream's params "
            "(the systems file maps api_key to an environment variable)"]
        query_params = {param: ref}
        for stream in streams:
            stream.params = {param: ref, **stream.params}
            stream.guess(f"params.{param}", ref, "the API key goes in the query string (securitySchemes): the "
                                                 "secret `api_key`, never its value in the file")
    return OpenApiReport(source=source, version=spec.version, title=str(info.get("title") or ""), origin=origin,
                         path_prefix=prefix, server=server, auth=auth, auth_why=auth_why,
                         auth_comments=auth_comments, streams=streams, skipped=skipped, writes=writes,
                         notes=spec.notes, query_params=query_params)


def _read_operation(spec: _Spec, inspector: _Inspector, path: str, item: Mapping[str, Any], op: Mapping[str, Any],
                    prefix: str, taken: set[str]) -> StreamReport | str:
    """One GET operation as a stream, with every guess; or why it is not one."""
    ok = spec.ok_response(op)
    if ok is None:
        return "no 2xx response documented"
    code, response = ok
    schema, example, media = spec.response_body(response)
    if schema is None:
        return f"the {code} answer has no {'JSON ' if media is None else ''}schema"
    if media and "json" not in media and not media.startswith("*/*"):
        return f"the {code} answer is {media}, not JSON"
    found = inspector.find_records(schema, [])
    if found is None:
        return f"the {code} answer ({media}) holds no array of objects"
    records_path, record, record_seen = found
    answer = spec.schema(schema)[0]
    first_record = _at(example, records_path) if records_path else example
    first_record = first_record[0] if isinstance(first_record, list) and first_record else None
    fields, paths = inspector.fields(record, record_seen, first_record)
    summary = " ".join(str(op.get("summary") or op.get("description") or "").split())[:80]
    stream = StreamReport(name=_stream_name(path, op.get("operationId"), taken), path=prefix + path, spec_path=path,
                          operation_id=op.get("operationId"), summary=summary,
                          record_selector=".".join(records_path), record_schema=record.get("x-ref"), fields=fields,
                          field_paths=paths)
    where = f"the {code} answer" + (f" ({answer['x-ref']})" if answer.get("x-ref") else "")
    shape = f"{record.get('x-ref') or 'object'}[]"
    stream.guess("record_selector", stream.record_selector,
                 f"{where} holds {shape} at {'.'.join(records_path)}" if records_path else f"{where} is {shape}")
    if prefix:
        stream.guess("path", stream.path, f"servers[0] puts the API under {prefix}: the prefix is part of the "
                                          "path, the systems file's endpoint is the origin")
    _key_and_cursor(stream)
    params = spec.query_params(item, op)
    stream.signature = query_signature(params)
    if stream.signature is not None:  # the signer sends these: neither paging nor constant parameters
        params = [p for p in params if p["name"] not in stream.signature.params]
    used = inspector.paging(stream, params, answer, response, op, records_path)
    _incremental(stream, params)
    inspector.success(stream, answer, example)
    # a credential goes as {secret: NAME}: never its documented default or example, nor a placeholder whose advice
    # invites pasting the token into a file that is committed (as the SOAP scaffold does)
    credentials = guess_secret_params([p["name"] for p in params if p["name"] not in used])
    for p in params:
        if p["name"] in used:
            continue
        if p["name"] in credentials:
            reference = {"secret": credentials[p["name"]]}
            stream.params[p["name"]] = reference
            stream.guess(f"params.{p['name']}", reference, f"a credential: sent from the system's secret "
                                                           f"{credentials[p['name']]!r} (name its environment "
                                                           "variable in the systems file's `secrets`)", check=True)
            continue
        if p.get("required"):
            value = p.get("default", (p.get("enum") or [None])[0])
            value = value if value is not None else p.get("example", PARAM_PLACEHOLDER)
            stream.params[p["name"]] = value
            stream.guess(f"params.{p['name']}", value, "required by the document: its default, first enum value "
                                                       "or example (check)" if value != PARAM_PLACEHOLDER else
                         "required by the document, which gives no default, enum or example: choose the value "
                         "(the connector refuses to load until you do)", check=True)
        else:
            stream.other_params.append(p["name"])
    return stream


def _key_and_cursor(stream: StreamReport) -> None:
    hints = [f.hint for f in stream.fields if f.type != "object"]
    key = guess_primary_key(hints)
    if key is not None:
        info = next(f for f in stream.fields if f.name == key)
        doc = next((k for k in _KEY_DOC if k in info.doc), None)
        why = (f"documented as “{' '.join(info.doc.split())[:40]}”" if doc
               else f"the name `{key}` reads as an identifier (not a code, type, status or time)")
        stream.primary_key = key
        stream.guess("primary_key", key, why + ": check it is unique per record", check=True)
    else:
        stream.guess("primary_key", None, "no property looks like an identifier: name the key by hand", check=True)
    stream.case_no, why = guess_case_no(hints, stream.primary_key)
    stream.guess("mapping.case_no", stream.case_no, why, check=is_placeholder(stream.case_no))
    cursor = guess_cursor(hints)
    if cursor is None:
        stream.guess("cursor", None, "no property looks like a change time: full refresh only", check=True)
        return
    info = next(f for f in stream.fields if f.name == cursor)
    word = _norm(cursor)
    if any(k in info.doc for k in _CURSOR_DOC):
        why, check = f"documented as “{' '.join(info.doc.split())[:40]}”", False
    elif any(n in word for n in ("create", "cjsj", "insert", "sbsj", "slsj")):
        why, check = ("only a creation time was found: changes after creation would be missed (look for an "
                      "update time)"), True
    else:
        why, check = f"the name `{cursor}` reads as a change time", False
    stream.cursor = cursor
    stream.guess("cursor", cursor, why, check=check)
    fmt = guess_time_format(cursor, info.schema, info.example)
    parses = _example_parses(fmt.format, info.example)
    why = fmt.why + {True: "; the example parses", False: "; the example does NOT parse: check",
                     None: ""}[parses]
    stream.cursor_format = fmt
    stream.guess("cursor_format", fmt.format, why, check=not fmt.sure or parses is False)


def _incremental(stream: StreamReport, params: list[dict[str, Any]]) -> None:
    if stream.since_param is None:
        if stream.cursor is not None:
            stream.guess("incremental", None, "no changed-since query parameter found: full refresh only (check the "
                                              "document for one)", check=True)
        return
    param = next(p for p in params if p["name"] == stream.since_param)
    if stream.cursor is None:
        stream.guess("incremental", None, f"`{stream.since_param}` filters by change time, but no record property "
                                          "looks like one: name cursor_field by hand", check=True)
        return
    stream.guess("incremental.param", stream.since_param,
                 f"the query parameter `{stream.since_param}` reads as \"changed since\" (assumed inclusive: check)")
    cursor_format = stream.cursor_format.format if stream.cursor_format else "iso8601"
    own = guess_time_format(stream.since_param, param, param.get("example"))
    if own.sure and own.format != cursor_format:
        stream.param_format = own.format
        stream.guess("incremental.param_format", own.format, f"`{stream.since_param}`: {own.why}")
    if param.get("required"):
        fmt = stream.param_format or cursor_format
        stream.initial_value = "0" if fmt.startswith("epoch") else CursorCodec(fmt, _TZ).format(
            datetime(1970, 1, 1, tzinfo=_TZ))
        stream.guess("incremental.initial_value", stream.initial_value,
                     f"the document marks `{stream.since_param}` required: sent on a first sync", check=True)


# --- writing -------------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./\-]*")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text):
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _comment(text: str, width: int = 150) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _line(yaml_text: str, comment: str = "", column: int = 44) -> str:
    if not comment:
        return yaml_text
    return f"{yaml_text.ljust(column)}   # {_comment(comment)}"


def _wrapped(head: str, names: Sequence[str], width: int = 116) -> list[str]:
    """``# record fields: a, b, c`` over as many comment lines as it takes."""
    indent = head[: len(head) - len(head.lstrip())] + "#   "
    lines, current = [], head
    for i, name in enumerate(names):
        piece = name + ("," if i < len(names) - 1 else "")
        if len(current) + len(piece) > width and current.strip() not in ("#", head.strip()):
            lines.append(current.rstrip())
            current = indent
        current += piece + " "
    lines.append(current.rstrip())
    return lines


def _why(stream: StreamReport, what: str) -> str:
    found = [g for g in stream.guesses if g.what == what]
    return found[-1].why if found else ""


def connector_yaml(name: str, source: str, report: OpenApiReport) -> str:
    env = f"TONGBAN_{name.upper()}_URL"
    title = f" ({report.title})" if report.title else ""
    lines = [
        f"# {name}: generated by `tongban connector new {name} --openapi {source}` from OpenAPI {report.version}{title}.",
        f"# Every guess says why in a comment; review those marked (check), then run the acceptance test ({env}).",
        "kind: rest",
        f"name: {name}",
    ]
    if report.origin:
        lines.append(f"# base_url: {report.origin}   # servers[0]; the systems file's `endpoint` is injected here")
    else:
        lines.append("# base_url: injected from the systems file's `endpoint` (the document names no absolute server)")
    lines += [
        "timeout: {connect: 5, read: 30}",
        "retry: {max_attempts: 5, backoff_seconds: 0.5, max_backoff_seconds: 30}",
        "# charset: gbk   # only if the system sends GBK JSON without a charset in its Content-Type",
    ]
    if report.auth is not None and report.auth.get("type") == "signature":  # long: one key a line
        lines.append(f"auth:   # {_comment(report.auth_why, 200)}")
        lines += [f"  {key}: {_flow(value)}" for key, value in report.auth.items()]
    elif report.auth is not None:
        lines.append(_line(f"auth: {_flow(report.auth)}", report.auth_why, 0))
    lines += report.auth_comments
    main = report.main
    if main is None:
        check = next((op.split(" ", 1)[1] for op, _ in report.skipped if "{" not in op), None)
        check = report.path_prefix + check if check else "/"
        lines += ["", "# No GET operation answers with an array of objects: configure a stream by hand.",
                  _line(f"check: {_flow({'path': check, 'params': report.query_params} if report.query_params else {'path': check})}",
                        "point this at a cheap authenticated GET"),
                  "streams: {}"]
    else:
        lines += ["", f"check: {{stream: {main.name}}}", "streams:"]
        for stream in report.streams:
            lines += _stream_lines(stream)
    if report.writes:
        lines += ["", "# Writes the document describes (configure `write:` by hand, see connectors/rest/README.md):"]
        lines += [f"#   {w}" for w in report.writes]
    if report.skipped:
        lines += ["", "# GET operations not read as streams:"]
        lines += [f"#   {op}: {_comment(why, 120)}" for op, why in report.skipped]
    return "\n".join(lines) + "\n"


def _stream_lines(stream: StreamReport) -> list[str]:
    op = f"GET {stream.spec_path}" + (f" ({stream.operation_id})" if stream.operation_id else "")
    lines = [_line(f"  {stream.name}:", f"{op}{': ' + stream.summary if stream.summary else ''}"),
             _line(f"    path: {_scalar(stream.path)}", _why(stream, "path"))]
    if stream.params:
        lines.append(_line(f"    params: {_flow(stream.params)}", "required by the document: check the values"))
    lines.append(_line(f"    record_selector: {_scalar(stream.record_selector)}", _why(stream, "record_selector")))
    if stream.success is not None:
        lines.append(_line(f"    success: {_flow(stream.success)}", _why(stream, "success")))
        if stream.other_codes:
            lines.append(f"    # other documented codes {_flow(stream.other_codes)}: map them with "
                         "`codes: {CODE: ok|auth|retry|skip|fatal}` if some mean busy or no data")
    elif stream.success_template is not None:
        lines.append(_line(f"    # success: {_flow(stream.success_template)}", _why(stream, "success")))
    lines += _wrapped("    # record fields: ", [f.name for f in stream.fields])
    if stream.primary_key is not None:
        lines.append(_line(f"    primary_key: {_scalar(stream.primary_key)}", _why(stream, "primary_key")))
    else:
        lines.append(_line("    primary_key: CHOOSE_KEY_FIELD", _why(stream, "primary_key")))
    pagination = stream.pagination or {"type": "none"}
    if stream.incremental:
        positional = pagination["type"] in ("page_number", "offset")
        lines.append(_line("    ordered: true", "paging a change window needs answers sorted by (cursor, key): "
                                                "confirm it" if positional else
                                                "answers sorted by (cursor, key): confirm it"))
        fmt = stream.cursor_format.format if stream.cursor_format else "iso8601"
        incremental: dict[str, Any] = {"cursor_field": stream.cursor, "cursor_format": fmt, "timezone": TIMEZONE,
                                       "param": stream.since_param}
        if stream.param_format:
            incremental["param_format"] = stream.param_format
        if stream.initial_value is not None:
            incremental["initial_value"] = stream.initial_value
        lines.append(_line(f"    incremental: {_flow(incremental)}",
                           f"cursor_format: {_why(stream, 'cursor_format')}"))
    else:
        lines.append("    ordered: false")
        found = stream.cursor_format.format if stream.cursor_format else "%Y-%m-%d %H:%M:%S"
        lines.append(f"    # incremental: {_flow({'cursor_field': stream.cursor or 'CHANGED_AT', 'cursor_format': found, 'timezone': TIMEZONE, 'param': stream.since_param or 'SINCE_PARAM'})}"
                     f"   # {_comment(_why(stream, 'incremental') or _why(stream, 'cursor'))} (uncommented: set ordered: true)")
    if pagination["type"] == "none":
        lines.append(f"    # pagination: none   # {_comment(_why(stream, 'pagination'))}")
    else:
        lines.append(_line(f"    pagination: {_flow(pagination)}", _why(stream, "pagination")))
    if stream.other_params:
        lines.append(f"    # other query parameters: {', '.join(stream.other_params)} (constant ones go under params)")
    return lines


_STRFTIME_TO_PATTERN = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss"}


def mapping_date_format(cursor_format: str) -> str | None:
    """A connector ``cursor_format`` as a mapping's ``date:`` (``%Y%m%d%H%M%S`` → ``yyyyMMddHHmmss``; ``epoch_ms``,
    ``epoch_s`` and ``iso8601`` as they are); None for one it cannot say (the field is then written bare)."""
    if cursor_format in ("epoch_ms", "epoch_s", "iso8601"):
        return cursor_format
    pattern, rest = "", cursor_format
    while rest:
        token = rest[:2]
        if token in _STRFTIME_TO_PATTERN:
            pattern, rest = pattern + _STRFTIME_TO_PATTERN[token], rest[2:]
        elif rest[0] == "%" or rest[0].isalpha():
            return None  # %f, %z, a letter the pattern would read as a field
        else:
            pattern, rest = pattern + rest[0], rest[1:]
    return pattern


def mapping_yaml(name: str, report: OpenApiReport) -> str:
    main = report.main
    source = main.field_paths if main else []
    lines = [
        f"# {name} ⇄ the canonical Case: generated skeleton. Replace every `null` and `CHOOSE_…` with a source path",
        "# or spec, and uncomment the optional fields the source has (docs/mapping-reference.md lists every",
        "# operation with an example; docs/canonical-model.md every field) and run `tongban mapping check`.",
        "# The fields are the canonical Case's (gateway.models): the required ones written, the optional commented.",
        *_wrapped(f"# Source record fields ({main.name if main else 'no stream'}): ", source or ["(none found)"]),
        f"system: {name}",
        'version: "1"',
        f'timezone: "{TIMEZONE}"',
        "normalize: [strip]",
        "code_tables: {}",
        "fields:",
    ]
    guessed: dict[str, tuple[str | None, str]] = {}
    if main is not None:
        guessed["case_no"] = (main.case_no, _why(main, "mapping.case_no"))
        if main.cursor:
            date = mapping_date_format(main.cursor_format.format) if main.cursor_format else None
            # the format the scaffold found, in the mapping's words: without it every record was rejected
            # (an epoch number "is a number, not a time") at the first mapping check
            guessed["updated_at"] = ((f"{{path: {_flow(main.cursor)}, date: {_flow(date)}}}" if date else main.cursor),
                                     f"the stream's cursor field{f', read as {date}' if date else ''}")
    lines += mapping_field_lines([f.hint for f in main.fields] if main else [], guessed)
    return "\n".join(lines) + "\n"


def acceptance_test(name: str) -> str:
    env = name.upper()
    return f'''"""Acceptance of the `{name}` REST connector against the live system (generated by `tongban connector new`).

Set TONGBAN_{env}_URL and, for each secret the YAML names (its auth, {{secret: NAME}} parameters),
TONGBAN_{env}_<NAME> (e.g. TONGBAN_{env}_API_KEY).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from connectors.rest import RestConnector
from connectors.testing import assert_connector_acceptance, secret_names
from gateway.mapping.mapper import Mapper

REPO = Path(__file__).resolve().parents[2]
URL = os.environ.get("TONGBAN_{env}_URL")
pytestmark = pytest.mark.skipif(not URL, reason="TONGBAN_{env}_URL is not set: no live {name} system to test")

CONFIG = yaml.safe_load((REPO / "config" / "connectors" / "{name}.yaml").read_text(encoding="utf-8"))
SECRETS = secret_names(CONFIG)
STREAM = (CONFIG.get("check") or {{}}).get("stream") or next(iter(CONFIG.get("streams") or {{"records": None}}))


def _connector(*, wrong: bool = False) -> RestConnector:
    secrets = {{s: "deliberately-wrong" if wrong else os.environ.get(f"TONGBAN_{env}_{{s.upper()}}", "")
               for s in SECRETS}}
    return RestConnector(CONFIG | {{"base_url": URL}}, secrets=secrets)


def test_{name}_acceptance() -> None:
    with _connector() as good, _connector(wrong=True) as broken:
        report = assert_connector_acceptance(
            connector=good,
            # a wrong secret must fail check() cleanly; a system without auth has no wrong secret
            broken_connector=broken if SECRETS else None,
            stream=STREAM,
            mapper=Mapper.from_file(REPO / "mappings" / "{name}.yaml"),
        )
    assert report.records > 0
'''


def validate_connector_yaml(text: str) -> None:
    """Parse the generated YAML as the connector would (base_url injected); a failure is a scaffold bug."""
    try:
        raw = yaml.safe_load(text)
        parse_config({"base_url": _PLACEHOLDER_BASE_URL, **raw})
    except (yaml.YAMLError, ConfigError, TypeError) as exc:
        raise RuntimeError(f"bug in the REST scaffold: the generated connector YAML does not validate: {exc}\n"
                           f"{text}") from exc


def write_scaffold(name: str, source: str, report: OpenApiReport, root: Path, *,
                   force: bool = False, dry_run: bool = False) -> list[Path]:
    """Render, validate and (unless ``dry_run``) write the three files under ``root``; never overwrite unless
    ``force``."""
    if not name or not name.replace("_", "").isalnum() or not name[0].isalpha() or not name.isascii():
        raise ConfigError(f"connector name {name!r}: use letters, digits and underscores, starting with a letter")
    connector = connector_yaml(name, source, report)
    validate_connector_yaml(connector)
    mapping = mapping_yaml(name, report)
    yaml.safe_load(mapping)
    test = acceptance_test(name)
    compile(test, f"test_{name}_acceptance.py", "exec")
    files = scaffold_files(root, name, connector=connector, mapping=mapping, test=test)
    if dry_run:
        return []
    return write_files(files, force=force)


def render_report(report: OpenApiReport) -> list[str]:
    """The human-readable listing ``tongban connector new --openapi`` prints: each stream and each guess, why."""
    lines = [f"OpenAPI {report.version} {report.title!r} from {report.source}"]
    if report.server:
        lines.append(f"  servers[0] {report.server}" + (f" (base_url {report.origin}, injected from the systems "
                                                        f"file)" if report.origin else ""))
    lines.append(f"  auth: {_flow(report.auth) if report.auth else 'none'} — {report.auth_why}")
    lines.append(f"streams found: {len(report.streams)}" + (f" (check: {report.main.name})" if report.main else ""))
    for s in report.streams:
        lines.append(f"  {s.name}: GET {s.path} → {s.record_schema or 'object'}[] at "
                     f"{s.record_selector or '(the body)'} ({len(s.fields)} fields)")
        lines += guess_lines(s.guesses, _flow)
    if report.skipped:
        lines.append(f"GET operations skipped: {len(report.skipped)}")
        lines += [f"  {op}: {why}" for op, why in report.skipped]
    if report.writes:
        lines.append(f"writes documented (configure by hand): {', '.join(report.writes)}")
    lines += [f"note: {n}" for n in report.notes]
    return lines


def scaffold(name: str, source: str, *, out: Path, force: bool = False, dry_run: bool = False) -> ScaffoldResult:
    """The REST kind's :class:`~gateway.contract.scaffold.Scaffolder` (entry point ``tongban.scaffolds: rest``):
    ``source`` is an OpenAPI 3.x / Swagger 2.0 document (JSON or YAML), a path or an http(s) URL."""
    report = inspect_openapi(source)
    written = write_scaffold(name, source, report, Path(out), force=force, dry_run=dry_run)
    return ScaffoldResult(report=render_report(report), data=report.as_dict(), files=written,
                          secrets=secrets_of_files(written, name))


__all__ = ["OpenApiReport", "StreamReport", "TimeFormat", "acceptance_test", "connector_yaml", "guess_time_format",
           "inspect_openapi", "load_openapi", "mapping_yaml", "parse_openapi", "render_report", "scaffold",
           "validate_connector_yaml", "write_scaffold"]
