"""``tongban connector new NAME --wsdl FILE_OR_URL``: from a WSDL to three files to fill in.

1. ``config/connectors/NAME.yaml`` — a SOAP connector YAML: the WSDL (a local file as a path relative to this
   YAML), the chosen port, calls addressed to the systems file's endpoint (``address: "{base_url}/path"``), one
   read stream on the operation that best lists records, and every operation listed in comments with its
   parameters, result shape and what zeep loses. The text is validated with
   :func:`connectors.soap.config.parse_config` before anything is written;
2. ``mappings/NAME.yaml`` — a mapping skeleton: the canonical fields with the record's own field names
   listed beside them;
3. ``tests/connectors/test_NAME_acceptance.py`` — the acceptance kit against the live system, skipped until
   ``TONGBAN_<NAME>_URL`` and the secrets the YAML names (``TONGBAN_<NAME>_<SECRET>``) are set.

Which operation is read: of the operations whose answer repeats (a list, or a .NET DataSet), the one with a
change-time window, then paging, then a key and a change-time field among its record fields, the WSDL's order
breaking ties — never one that looks like a write (:func:`~connectors.common.guesses.looks_like_write`:
``receiveOaLoan``, ``SavePwd``, ``tjSqxx``). The check reads that stream; with no list query, the check is a
call of a harmless-looking read, and when every operation looks like a write, none: the YAML says so and
leaves the check to a person, since a check that submits to a live system is worse than none.

Parameters that carry credentials (``strUserName``/``strUserPwd``, ``token``, ``appKey``) are written as
secret references (``{secret: password}``, :mod:`connectors.common.secretrefs`). The report says which
operation was chosen and why, and every guess with its reason, as the REST scaffold's does.

Nothing is overwritten unless ``force`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from connectors.common.guesses import (
    FieldHint,
    PagingGuess,
    guess_cursor,
    guess_paging,
    guess_primary_key,
    guess_secret_params,
    looks_like_write,
    type_prefix,
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
from connectors.common.urls import origin, shown
from gateway.contract.errors import ConfigError
from gateway.contract.scaffold import ScaffoldResult, is_placeholder

from .client import declared_soap_headers
from .config import parse_config
from .inspector import OperationReport, WsdlReport, describe_fields, inspect_wsdl
from .wsdl_model import Field, Port

_PLACEHOLDER_BASE_URL = "http://scaffold.invalid"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
WINDOW_START = "2000-01-01 00:00:00"
WINDOW_END = "2099-12-31 23:59:59"
PAGE_SIZE = 100
_LOGIN_WORDS = ("login", "logon", "signin", "gettoken", "getaccesstoken", "accesstoken", "authenticate", "userauth",
                "认证", "登录", "登陆", "鉴权")


def looks_like_login(name: str) -> bool:
    """An operation that gives a session token (``Login``, ``GetToken``, ``UserLogin``, 认证): never a read stream;
    the YAML offers it as ``auth: {type: login}``."""
    flat = name.lower().replace("_", "").replace("-", "")
    return any(word in flat for word in _LOGIN_WORDS)


def declared_headers(report: WsdlReport, op: OperationReport) -> dict[str, list[str]]:
    """The SOAP header blocks an operation's binding declares (``soap:header``): name → its child elements."""
    model, port = report.loaded.model, report.port
    if port is None:
        return {}
    written = next((o for o in model.operations_of(port) if o.name == op.name and o.variant == op.variant), None)
    if written is None:
        return {}
    found = declared_soap_headers(model, port, written)
    out: dict[str, list[str]] = {}
    for name, qname in found.items():
        element = model.element_field(qname)
        out[name] = [f.name for f in element.children] if element is not None else []
    return out


def _header_hint(headers: dict[str, list[str]]) -> str:
    return ", ".join(f"{n}({', '.join(c)})" for n, c in headers.items())


def _header_value(headers: dict[str, list[str]]) -> dict[str, Any]:
    return {n: {c: {"secret": c.lower()} for c in children} or {"CHILD": {"secret": "NAME"}}
            for n, children in headers.items()}


_READ_WORDS = ("get", "query", "list", "find", "search", "select", "check", "hello", "ping", "test", "echo",
               "version", "cx", "hq")  # cx 查询, hq 获取


@dataclass(frozen=True)
class ReadCandidate:
    """An operation whose answer repeats (a list query), with what the scaffold guessed about it."""

    operation: OperationReport
    result_path: str
    record_fields: tuple[Field, ...]
    dataset: bool
    paging: PagingGuess = field(default_factory=lambda: PagingGuess(None, None, None, None))
    key: str | None = None
    cursor: str | None = None

    @property
    def rank(self) -> tuple[int, int, int, int]:
        """Better first: a change-time window, paging, a key field, a change-time field."""
        return (self.paging.since_param is not None, self.paging.kind is not None, self.key is not None,
                self.cursor is not None)

    @property
    def merits(self) -> str:
        """What the rank is made of, in words."""
        said = []
        if self.paging.since_param:
            window = self.paging.since_param + (f"…{self.paging.until_param}" if self.paging.until_param else "")
            said.append(f"a change-time window ({window})")
        if self.paging.kind:
            said.append(f"paging ({'/'.join(p for p in (self.paging.page_param or self.paging.offset_param, self.paging.size_param) if p)})")
        if self.key:
            said.append(f"a key field ({self.key})")
        if self.cursor:
            said.append(f"a change-time field ({self.cursor})")
        return ", ".join(said) or "no window, no paging: the whole answer at once"


def read_candidates(report: WsdlReport) -> tuple[list[ReadCandidate], list[tuple[str, str]]]:
    """Every operation whose answer holds a repeating element or a DataSet, in the WSDL's order, and the list
    queries left out with the reason (a write, a dropped operation)."""
    found: list[ReadCandidate] = []
    skipped: list[tuple[str, str]] = []
    for op in report.operations:
        wrapper = _response_wrapper(report, op)
        path = _repeating_path(op.result, [wrapper] if wrapper else [])
        if path is None:
            continue
        if not op.zeep_exposes and op.variants == 1 and op.flags and "does not exist" in op.flags[0]:
            skipped.append((op.name, "a message it names does not exist"))
            continue
        verb = looks_like_write(op.name)
        if verb is not None:
            skipped.append((op.name, f"looks like a write (`{verb}`): never read, never called by check"))
            continue
        if looks_like_login(op.name):
            skipped.append((op.name, "looks like a login (a session token): configure it as `auth: {type: login}`"))
            continue
        steps, repeating = path
        hints = [FieldHint(f.name, f.type, f.repeated) for f in repeating.children]
        found.append(ReadCandidate(op, ".".join(steps), repeating.children, repeating.dataset,
                                   guess_paging([p.name for p in op.params]), guess_primary_key(hints),
                                   guess_cursor(hints)))
    return found, skipped


def read_candidate(report: WsdlReport) -> ReadCandidate | None:
    """The operation to read: the best ranked list query (the WSDL's order breaks ties), or ``None``."""
    candidates, _ = read_candidates(report)
    return max(candidates, key=lambda c: c.rank, default=None)  # max keeps the first of equals


def _response_wrapper(report: WsdlReport, op: OperationReport) -> str | None:
    model = report.loaded.model
    variants = [o for o in model.operations_of(report.port) if o.name == op.name] if report.port else []
    variant = next((o for o in variants if o.variant == op.variant), None)
    part = next(iter(variant.output_parts or ()), None) if variant else None
    if part is not None and part.element is not None:
        return part.element.localname
    return f"{op.name}Response" if op.style == "rpc" else None


def _repeating_path(fields: list[Field] | tuple[Field, ...], prefix: list[str]) -> tuple[list[str], Field] | None:
    for f in fields:
        if f.dataset or (f.repeated and f.children):
            return prefix + [f.name], f
        found = _repeating_path(f.children, prefix + [f.name])
        if found is not None:
            return found
    return None


# --- the plan: every choice and guess, with its reason -----------------------------------------------------------


@dataclass
class SoapPlan:
    """What the scaffold chose for a WSDL, and why; the YAML, the report and ``--json`` are written from it."""

    port: Port | None
    candidates: list[ReadCandidate]
    skipped: list[tuple[str, str]]
    chosen: ReadCandidate | None = None
    params: dict[str, Any] = field(default_factory=dict)
    incremental: dict[str, Any] | None = None
    pagination: dict[str, Any] | None = None
    check: dict[str, Any] | None = None
    writes: list[tuple[str, str]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    guesses: list[Guess] = field(default_factory=list)
    text_reads: list[TextRead] = field(default_factory=list)
    logins: list[OperationReport] = field(default_factory=list)
    """Operations that look like a login (``Login``, ``GetToken``): offered as ``auth: {type: login}``."""
    """With no list query: the reads whose whole answer is one string (the records may be a document in it)."""

    def guess(self, what: str, value: Any, why: str, check: bool = False) -> None:
        self.guesses.append(Guess(what, value, why, check))

    def why(self, what: str) -> str:
        found = [g for g in self.guesses if g.what == what]
        return found[-1].why if found else ""

    def as_dict(self) -> dict[str, Any]:
        chosen = self.chosen
        return {
            "operation": chosen.operation.name if chosen else None,
            "result_path": chosen.result_path if chosen else None,
            "params": self.params, "incremental": self.incremental, "pagination": self.pagination,
            "check": self.check, "secrets": self.secrets,
            "candidates": [{"operation": c.operation.name, "merits": c.merits} for c in self.candidates],
            "skipped": [{"operation": op, "why": why} for op, why in self.skipped],
            "writes": [{"operation": op, "word": word} for op, word in self.writes],
            "guesses": [g.as_dict() for g in self.guesses],
            "text_reads": [{"operation": t.operation.name, "embedded_path": t.path} for t in self.text_reads],
        }


@dataclass(frozen=True)
class TextRead:
    """A read operation whose whole answer is one ``string``: .NET and Axis services often put the records in it
    as an XML or JSON document, which the WSDL cannot describe (a stream with ``embedded`` reads it)."""

    operation: OperationReport
    path: str
    """Below ``soap:Body`` to the string element: what ``embedded.path`` would be."""
    paging: PagingGuess

    @property
    def rank(self) -> tuple[bool, bool]:
        return self.paging.since_param is not None, self.paging.kind is not None


def text_reads(report: WsdlReport) -> list[TextRead]:
    """The operations (not writes) answering exactly one string, a change-time window or paging first."""
    found: list[TextRead] = []
    for op in report.operations:
        if looks_like_write(op.name) or looks_like_login(op.name) or len(op.result) != 1:
            continue
        result = op.result[0]
        if result.repeated or result.children or result.type.rpartition(":")[2].lower() != "string":
            continue
        wrapper = _response_wrapper(report, op)
        found.append(TextRead(op, ".".join(p for p in (wrapper, result.name) if p),
                              guess_paging([p.name for p in op.params])))
    return sorted(found, key=lambda t: t.rank, reverse=True)  # stable: the WSDL's order among equals


def plan(report: WsdlReport) -> SoapPlan:
    """Choose the operation to read and the check, and guess its parameters, paging, window, key and cursor."""
    candidates, skipped = read_candidates(report)
    result = SoapPlan(report.port, candidates, skipped)
    result.writes = [(op.name, verb) for op in report.operations if (verb := looks_like_write(op.name))]
    result.logins = [op for op in report.operations if looks_like_login(op.name) and not looks_like_write(op.name)]
    chosen = max(candidates, key=lambda c: c.rank, default=None)  # max keeps the first of equals
    result.chosen = chosen
    if chosen is None:
        _plan_check_call(result, report)
        result.text_reads = text_reads(report)
    else:
        _plan_stream(result, chosen)
    secrets = {s for v in result.params.values() if isinstance(v, dict) for s in v.values()}
    if result.check and "call" in result.check:
        secrets |= {s for v in result.check["call"]["params"].values() if isinstance(v, dict) for s in v.values()}
    result.secrets = sorted(secrets)
    return result


def _plan_stream(result: SoapPlan, chosen: ReadCandidate) -> None:
    op, paging = chosen.operation, chosen.paging
    others = sorted((c for c in result.candidates if c is not chosen), key=lambda c: c.rank, reverse=True)
    shape = "a .NET DataSet" if chosen.dataset else f"repeating {chosen.result_path.rsplit('.', 1)[-1]}"
    why = f"answers {shape} and takes {chosen.merits}"
    if others:
        listed = "; ".join(f"{c.operation.name} ({'the same: the first in the WSDL is taken' if c.rank == chosen.rank else c.merits})"
                           for c in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        why += f"; chosen over {listed}{more}"
    result.guess("operation", op.name, why, check=bool(others))
    result.guess("result_path", chosen.result_path,
                 "the DataSet element (rows are read from its diffgram)" if chosen.dataset
                 else "the repeating element of the answer's schema")
    credentials = guess_secret_params([p.name for p in op.params])
    windowed = {paging.page_param, paging.size_param, paging.offset_param} - {None}
    for p in op.params:
        if p.name in credentials:
            ref = {"secret": credentials[p.name]}
            result.params[p.name] = ref
            result.guess(f"params.{p.name}", ref, f"reads as a {credentials[p.name].replace('_', ' ')}: sent from "
                                                  f"the system's secret `{credentials[p.name]}`, never written here")
        elif p.name not in windowed and p.name not in (paging.since_param, paging.until_param):
            result.params[p.name] = None
            result.guess(f"params.{p.name}", None, "no guess: give a value, or drop it if the service allows",
                         check=True)
    _plan_window(result, chosen)
    _plan_paging(result, chosen)
    result.params = {p.name: result.params[p.name] for p in op.params if p.name in result.params}  # WSDL order
    if chosen.key:
        result.guess("primary_key", chosen.key, f"the name `{chosen.key}` reads as an identifier (not a code, type, "
                                                "status or time): check it is unique per record", check=True)
    else:
        result.guess("primary_key", None,
                     "the DataSet's columns are not in the WSDL: name the key column from a real answer"
                     if chosen.dataset else "no field looks like an identifier (a code, a type or a time never is): "
                                            "name the record's key by hand", check=True)
    case_no, why = guess_case_no(_hints(chosen), chosen.key)
    result.guess("mapping.case_no", case_no, why, check=is_placeholder(case_no))
    result.check = {"stream": "cases"}
    result.guess("check", result.check, f"reads the first page of `records` ({op.name}, a read)")


def _plan_window(result: SoapPlan, chosen: ReadCandidate) -> None:
    paging, cursor = chosen.paging, chosen.cursor
    since, until = paging.since_param, paging.until_param
    if since is None:
        result.guess("incremental", None, "no change-time parameter among the operation's: full refresh only",
                     check=True)
        return
    params = {p.name: p for p in chosen.operation.params}
    typed = params[since].type.lower() in ("datetime", "date")
    param_format = "iso8601" if typed else TIME_FORMAT
    fmt_why = (f"`{since}` is typed xs:{params[since].type}" if typed
               else f"`{since}` is a string: {TIME_FORMAT!r} assumed (check against the service)")
    if until is not None and cursor is None:
        result.params[until] = WINDOW_END
        result.guess(f"params.{until}", WINDOW_END, f"the window's end: a far-future {TIME_FORMAT!r} so that a read "
                                                    f"asks for everything since the watermark (check the service "
                                                    f"accepts such a window)", check=True)
    if cursor is None:
        result.params[since] = WINDOW_START
        what = ("the DataSet's columns are not in the WSDL" if chosen.dataset
                else "no record field looks like a change time")
        result.guess(f"params.{since}", WINDOW_START,
                     f"`{since}` starts a change-time window but {what}: a full refresh over a wide window; name the "
                     f"change-time column and turn on `incremental` (commented) to read only changes", check=True)
        result.guess("incremental", None, f"{what}: full refresh until the cursor column is named", check=True)
        return
    cursor_field = next(f for f in chosen.record_fields if f.name == cursor)
    cursor_format = "iso8601" if cursor_field.type.lower() == "datetime" else TIME_FORMAT
    result.incremental = {"cursor_field": cursor, "cursor_format": cursor_format, "timezone": "+08:00",
                          "param": since}
    if param_format != cursor_format:
        result.incremental["param_format"] = param_format
    if params[since].min_occurs >= 1:
        result.incremental["initial_value"] = "2000-01-01T00:00:00+08:00" if typed else WINDOW_START
    if until is not None:
        result.incremental["end_param"] = until
        result.guess("incremental.end_param", until, f"`{until}` closes the window: sent as the instant each read "
                                                      "begins, in the same format as the start")
    result.guess("incremental", result.incremental,
                 f"`{since}` filters by change time and `{cursor}` reads as one ({fmt_why}; cursor "
                 f"{'typed xs:dateTime' if cursor_format == 'iso8601' else f'format {TIME_FORMAT!r} assumed'})",
                 check=cursor_format != "iso8601" or not typed)


def _plan_paging(result: SoapPlan, chosen: ReadCandidate) -> None:
    paging = chosen.paging
    named = [p for p in (paging.page_param or paging.offset_param, paging.size_param) if p]
    prefixed = any(type_prefix(n) for n in named)
    spelled = f"parameters `{'`/`'.join(named)}`" + (" (a .NET type prefix read past)" if prefixed else "")
    if paging.kind == "page_number":
        result.pagination = {"type": "page_number", "page_param": paging.page_param, "size_param": paging.size_param,
                             "size": PAGE_SIZE, "start": 1}
        result.guess("pagination", result.pagination, f"{spelled}; pages assumed to start at 1, {PAGE_SIZE} a page "
                                                       "(check the service's own first page and maximum)", check=True)
    elif paging.kind == "offset":
        result.pagination = {"type": "offset", "offset_param": paging.offset_param, "limit_param": paging.size_param,
                             "size": PAGE_SIZE, "start": 0}
        result.guess("pagination", result.pagination, f"{spelled}; offsets start at 0", check=True)
    else:
        result.guess("pagination", None, "no paging parameter among the operation's: the answer comes whole")


def _plan_check_call(result: SoapPlan, report: WsdlReport) -> None:
    reads = [op for op in report.operations if looks_like_write(op.name) is None and not looks_like_login(op.name)]
    if not reads:
        listed = ", ".join(f"{op} (`{word}`)" for op, word in result.writes) or "none"
        result.check = {"call": {"operation": "CHOOSE_A_READ_OPERATION", "params": {}}}
        result.guess("check", None, f"every operation looks like a write ({listed}): calling one to check the "
                                    "connection would submit to the live system, so none is chosen; name a harmless "
                                    "read operation, or check by hand", check=True)
        return
    best = min(reads, key=lambda op: (bool(declared_headers(report, op)), not op.name.lower().startswith(_READ_WORDS),
                                      len(op.params)))
    credentials = guess_secret_params([p.name for p in best.params])
    params: dict[str, Any] = {p.name: {"secret": credentials[p.name]} if p.name in credentials else None
                              for p in best.params}
    result.check = {"call": {"operation": best.name, "params": params}}
    result.guess("check", result.check, f"no operation answers a list; `{best.name}` looks like a read "
                                        f"({len(best.params)} parameter(s)): check it has no side effects",
                 check=True)


# --- the files -----------------------------------------------------------------------------------------------------


def _flow(value: Any) -> str:
    """A value as one line of YAML flow style (``{secret: password}``, ``null``)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _line(text: str, comment: str, column: int = 44) -> str:
    if not comment:
        return text
    return f"{text.ljust(column)}   # {' '.join(comment.split())}"


def wsdl_reference(source: str, connector_dir: Path, service_address: str | None = None) -> tuple[str, str]:
    """How the YAML names the WSDL: a URL on the service's own host as ``{base_url}`` + its path (it follows the
    systems file's endpoint, as the calls do: scaffolded from a test instance, production fetches it from
    production), another URL as given; a local file relative to the connector YAML's directory (the systems
    loader resolves it against that directory, never the working directory). And a comment."""
    if source.startswith(("http://", "https://")):
        parts = urlsplit(source)
        if service_address and origin(source) == origin(service_address):
            relative = parts.path + (f"?{parts.query}" if parts.query else "")
            return "{base_url}" + relative, (f"fetched at run time (cached) from the systems file's endpoint, "
                                             f"as the calls are (scaffolded from {shown(source)})")
        return source, ("fetched at run time (cached) from another host than the service's; "
                        "`{base_url}/...?wsdl` would follow the systems file's endpoint")
    path = Path(source.removeprefix("file://")).resolve()
    try:
        relative = os.path.relpath(path, connector_dir.resolve())
    except ValueError:  # another drive (Windows)
        return str(path), "an absolute path: copy the WSDL next to this YAML and name it relatively"
    repository = connector_dir.resolve().parents[1]
    if path.is_relative_to(repository):
        return relative, "relative to this YAML's directory (resolved there at load, whatever the working directory)"
    return relative, ("relative to this YAML's directory, but outside the repository: copy the WSDL into it "
                      "(e.g. config/connectors/wsdl/) so that every worker has it")


def connector_yaml(name: str, wsdl: str, report: WsdlReport, *, connector_dir: Path | None = None,
                   chosen: SoapPlan | None = None) -> str:
    """The connector YAML for ``report``. ``connector_dir``: where it will be written (a local WSDL is named
    relative to it; default ``config/connectors`` under the working directory)."""
    port = report.port
    if port is None:
        raise ConfigError(f"{wsdl}: no SOAP 1.1/1.2 port; the SOAP connector cannot call this service")
    the_plan = chosen or plan(report)
    env = f"TONGBAN_{name.upper()}"
    reference, reference_why = wsdl_reference(wsdl, connector_dir or Path("config") / "connectors", port.address)
    lines = [
        f"# {name}: generated by `tongban connector new {name} --wsdl {wsdl}`.",
        ("# Every guess says why in a comment; review those marked (check), then run the acceptance test "
         f"({env}_URL)."),
        f"# Ports: {', '.join(f'{p.name} ({p.protocol})' for p in report.ports)}",
        "kind: soap",
        f"name: {name}",
        _line(f"wsdl: {_flow(reference)}", reference_why),
        _address_line(port),
        f"service: {port.service}",
        f"port: {port.name}",
        "timeout: {connect: 5, read: 60}",
        "retry: {max_attempts: 5, backoff_seconds: 0.5, max_backoff_seconds: 30}",
        *_wsse_lines(report, env),
        "# http_basic: {username_secret: username, password_secret: password}",
        "# tls: {client_cert: /path/client.pem, client_key: /path/client.key, ca_bundle: /path/ca.pem}",
        "",
        "# Operations as written in the WSDL (zeep's view in brackets):",
    ]
    for op in report.operations:
        mark = "" if op.zeep_exposes else "  [NOT exposed by zeep]"
        lines.append(f"#   {op.signature}{mark}")
        lines.extend(f"#       ! {flag}" for flag in op.flags)
        headers = declared_headers(report, op)
        if headers:
            lines.append(f"#       + SOAP header {_header_hint(headers)} (declared in the WSDL): set it with "
                         f"`soap_headers` (or a login's `send_as.header`)")
    if the_plan.writes:
        lines += ["", ("# Operations that look like writes (never read, never called by check; configure `write:` "
                       "by hand, see connectors/soap/README.md):")]
        lines += [f"#   {op} (`{word}`)" for op, word in the_plan.writes]
    lines += _login_lines(report, the_plan)
    lines.append("")
    if the_plan.secrets:
        lines.append(f"# Secrets named below ({', '.join(the_plan.secrets)}): map each to an environment variable in "
                     f"the systems file, e.g. secrets: {{{', '.join(f'{s}: {env}_{s.upper()}' for s in the_plan.secrets)}}}")
    candidate = the_plan.chosen
    if candidate is None:
        call = (the_plan.check or {}).get("call") or {}
        lines += ["# No operation answers a list (a repeating element or a DataSet): configure a stream by hand.",
                  f"# check: {the_plan.why('check')}",
                  "check:", "  call:", f"    operation: {call.get('operation')}",
                  f"    params: {_flow(call.get('params') or {})}", "streams: {}"]
        lines += _text_read_lines(the_plan.text_reads, report)
        return "\n".join(lines) + "\n"
    op = candidate.operation
    lines += [
        _line("check: {stream: cases}", the_plan.why("check"), 0),
        "streams:",  # named as the systems file's `stream` defaults: an entry needs no `stream:` line for it
        _line("  cases:", f"{op.name}: {the_plan.why('operation')}", 0),
        f"    operation: {op.name}",
    ]
    if op.variants > 1:
        lines.append(f"    overload: {op.variant}")
    said = [w for w, present in (("{secret: NAME}: from the system's secrets", bool(the_plan.secrets)),
                                 ("null: fill in", any(v is None for v in the_plan.params.values()))) if present]
    lines.append(_line(f"    params: {_flow(the_plan.params)}",
                       "; ".join([*said, "paging and window parameters are set below"])))
    headers = declared_headers(report, op)
    if headers:
        lines.append(_line(f"    soap_headers: {_flow(_header_value(headers))}",
                           f"the WSDL declares the SOAP header {_header_hint(headers)} for {op.name} (check): "
                           "a login's token goes there with `auth.send_as.header` instead"))
    if candidate.dataset:
        lines.append("    result: dataset")
        lines.append("    # dataset_table: Table     # the table of the records, when a real answer holds more than one")
    lines.append(f"    result_path: {candidate.result_path}")
    fields = ", ".join(f.name for f in candidate.record_fields)
    lines.append(f"    # record fields: {fields or '(DataSet columns: not in the WSDL; see a real answer)'}")
    key = candidate.key or "CHOOSE_KEY_FIELD"
    lines.append(_line(f"    primary_key: {key}", the_plan.why("primary_key")))
    if the_plan.incremental is not None:
        positional = the_plan.pagination is not None
        lines.append(_line("    ordered: true", "paging a change window needs answers sorted by (cursor, key): "
                                                "confirm it" if positional else "answers sorted by (cursor, key): "
                                                                                "confirm it"))
        lines.append(_line(f"    incremental: {_flow(the_plan.incremental)}", the_plan.why("incremental")))
    else:
        lines.append("    ordered: false")
        since = candidate.paging.since_param or "SINCE_PARAM"
        uncommented = " (uncommented: set ordered: true)" if the_plan.pagination is not None else ""
        lines.append(_line(f"    # incremental: {{cursor_field: {candidate.cursor or 'CHANGED_AT'}, cursor_format: "
                           f"\"{TIME_FORMAT}\", timezone: \"+08:00\", param: {since}}}",
                           the_plan.why("incremental") + uncommented))
    if the_plan.pagination is not None:
        lines.append(_line(f"    pagination: {_flow(the_plan.pagination)}", the_plan.why("pagination")))
    else:
        lines.append(f"    # pagination: none   # {the_plan.why('pagination')}")
    return "\n".join(lines) + "\n"


def _login_lines(report: WsdlReport, the_plan: SoapPlan) -> list[str]:
    """A commented ``auth: {type: login}`` for an operation that looks like a login (never a read stream)."""
    if not the_plan.logins:
        return []
    login = the_plan.logins[0]
    credentials = guess_secret_params([p.name for p in login.params])
    params = {p.name: {"secret": credentials.get(p.name, p.name.lower())} for p in login.params}
    result = login.result[0].name if len(login.result) == 1 else "RESULT"
    wrapper = _response_wrapper(report, login)
    token_path = ".".join(p for p in (wrapper, result) if p)
    headers = {n: c for op in report.operations for n, c in declared_headers(report, op).items()}
    takes_token = sorted({p.name for op in report.operations if op is not login for p in op.params
                          if "token" in p.name.lower() or "session" in p.name.lower()})
    ways = []
    if takes_token:
        ways.append({"param": takes_token[0]})
    if headers:
        name, children = next(iter(headers.items()))
        ways.append({"header": {name: {(children[0] if children else "Token"): "{token}"}}})
    ways = ways or [{"param": "token"}]
    return ["",
            f"# {login.name} looks like a login (a session token): not read, not called by check. If the other "
            f"operations want its token{' (' + ', '.join(takes_token) + ')' if takes_token else ''}:",
            "# auth:",
            "#   type: login",
            f"#   operation: {login.name}",
            f"#   params: {_flow(params)}",
            f"#   token_path: {token_path}   # inside a document carried as text: add embedded: "
            f"{{path: {token_path}, format: xml}}",
            f"#   send_as: {_flow(ways[0])}" + (f"   # or {_flow(ways[1])}" if len(ways) > 1 else ""),
            "#   refresh_after_calls: null   # log in again after N calls, if the service counts them"]


def _text_read_lines(reads: list[TextRead], report: WsdlReport | None = None) -> list[str]:
    """A commented stream for the best read whose answer is one string, to finish from one real answer."""
    if not reads:
        return []
    best = reads[0]
    others = ", ".join(t.operation.name for t in reads[1:6]) + (f" and {len(reads) - 6} more" if len(reads) > 6 else "")
    window = best.paging.since_param
    lines = ["", f"# {len(reads)} read operation(s) answer one string: {best.operation.name}"
                 + (f", {others}" if others else "") + ".",
             "# .NET/Axis services often put the records in that string as an XML or JSON document, which the WSDL",
             "# cannot describe. Look at one real answer; if it holds the records, a stream reads them inside it",
             "# (connectors/soap/README.md, \"Records inside a string\"):",
             "# streams:",
             "#   records:",
             f"#     operation: {best.operation.name}",
             *([f"#     soap_headers: {_flow(_header_value(h))}   # declared in the WSDL: {_header_hint(h)}"]
               if report is not None and (h := declared_headers(report, best.operation)) else []),
             f"#     embedded: {{path: {best.path}, format: xml}}   # or format: json",
             "#     result_path: ROOT.RECORDS.RECORD          # inside the document, from its root element (JSON: keys)",
             "#     status_path: ROOT                         # where the document's own result code is",
             "#     success: {field: CODE, equals: \"0\", message_field: MSG}",
             "#     primary_key: CHOOSE_THE_KEY"]
    if window:
        lines += [f"#     incremental: {{cursor_field: CHOOSE, cursor_format: \"{TIME_FORMAT}\", timezone: \"+08:00\", "
                  f"param: {window}}}"]
    return lines


def _address_line(port: Port) -> str:
    """``address: "{base_url}/path"``: the systems file's endpoint with the path of the WSDL's soap:address."""
    if not port.address:
        return 'address: "{base_url}"   # the WSDL\'s port names no soap:address: calls go to the systems file\'s endpoint'
    parts = urlsplit(port.address)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (f'address: "{{base_url}}{path}"   # the systems file\'s endpoint + the path of the WSDL\'s soap:address '
            f'({port.address} is not called)')


def requires_username_token(report: WsdlReport) -> tuple[bool, bool]:
    """(WS-Policy asks for a UsernameToken, it asks for a password digest), read from the WSDL's own bytes."""
    data = report.loaded.data
    if b"UsernameToken" not in data:
        return False, False
    return True, b"HashPassword" in data or b"PasswordDigest" in data


def _wsse_lines(report: WsdlReport, env: str) -> list[str]:
    needed, digest = requires_username_token(report)
    if needed:
        return [(f"wsse: {{username_secret: username, password_secret: password, digest: {str(digest).lower()}}}"
                 "   # the WSDL's policy asks for a UsernameToken: secrets username/password")]
    return [("# wsse: {username_secret: username, password_secret: password, digest: true}   # the WSDL asks "
             "for no UsernameToken; uncomment if the service wants one (secrets username/password)")]


def mapping_yaml(name: str, report: WsdlReport, *, chosen: SoapPlan | None = None) -> str:
    candidate = (chosen or plan(report)).chosen
    source = [f.name for f in candidate.record_fields] if candidate else []
    lines = [
        f"# {name} ⇄ the canonical Case: generated skeleton. Replace every `null` and `CHOOSE_…` with a source path",
        "# or spec, and uncomment the optional fields the source has (docs/mapping-reference.md lists every",
        "# operation with an example; docs/canonical-model.md every field) and run `tongban mapping check`.",
        f"# Source record fields: {', '.join(source) or '(see the connector YAML)'}",
        f"system: {name}",
        'version: "1"',
        'timezone: "+08:00"',
        "normalize: [strip]",
        "code_tables: {}",
        "fields:",
    ]
    guessed: dict[str, tuple[str | None, str]] = {}
    hints = _hints(candidate)
    if candidate is not None:
        guessed["case_no"] = guess_case_no(hints, candidate.key)
        if candidate.cursor:
            guessed["updated_at"] = (candidate.cursor, "the operation's change-time field")
    lines += mapping_field_lines(hints, guessed)
    return "\n".join(lines) + "\n"


def _hints(candidate: ReadCandidate | None) -> list[FieldHint]:
    return [FieldHint(f.name, f.type, f.repeated) for f in candidate.record_fields] if candidate else []


def acceptance_test(name: str) -> str:
    env = name.upper()
    return f'''"""Acceptance of the `{name}` SOAP connector against the live system (generated by `tongban connector new`).

Set TONGBAN_{env}_URL and, for each secret the YAML names (wsse, http_basic, {{secret: NAME}} parameters),
TONGBAN_{env}_<NAME> (e.g. TONGBAN_{env}_PASSWORD) to run it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.soap import SoapConnector
from connectors.testing import assert_connector_acceptance, connector_config, secret_names
from gateway.mapping.mapper import Mapper

REPO = Path(__file__).resolve().parents[2]
URL = os.environ.get("TONGBAN_{env}_URL")
pytestmark = pytest.mark.skipif(not URL, reason="TONGBAN_{env}_URL is not set: no live {name} system to test")

# as the systems file loads it: the WSDL path relative to the YAML, the URL as the endpoint
CONFIG = connector_config(REPO / "config" / "connectors" / "{name}.yaml", kind="soap", base_url=URL)
SECRETS = secret_names(CONFIG)


def _connector(*, wrong: bool = False) -> SoapConnector:
    secrets = {{s: "deliberately-wrong" if wrong else os.environ.get(f"TONGBAN_{env}_{{s.upper()}}", "")
               for s in SECRETS}}
    return SoapConnector(CONFIG, secrets=secrets)


def test_{name}_acceptance() -> None:
    report = assert_connector_acceptance(
        connector=_connector(),
        # wrong secrets must fail check() cleanly; a system without secrets has no wrong ones
        broken_connector=_connector(wrong=True) if SECRETS else None,
        stream="cases",
        mapper=Mapper.from_file(REPO / "mappings" / "{name}.yaml"),
    )
    assert report.records > 0
'''


def validate_connector_yaml(text: str) -> None:
    """Parse the generated YAML as the connector would (an endpoint injected); a failure is a scaffold bug."""
    try:
        parse_config({**yaml.safe_load(text), "base_url": _PLACEHOLDER_BASE_URL})
    except (yaml.YAMLError, ConfigError, TypeError) as exc:
        raise RuntimeError(f"bug in the SOAP scaffold: the generated connector YAML does not validate: {exc}\n"
                           f"{text}") from exc


def write_scaffold(name: str, wsdl: str, report: WsdlReport, root: Path, *, force: bool = False,
                   dry_run: bool = False) -> list[Path]:
    """Render, validate and (unless ``dry_run``) write the three files under ``root`` (the repository); never
    overwrite unless ``force``."""
    chosen = plan(report)
    connector = connector_yaml(name, wsdl, report, connector_dir=root / "config" / "connectors", chosen=chosen)
    validate_connector_yaml(connector)
    files = scaffold_files(root, name, connector=connector, mapping=mapping_yaml(name, report, chosen=chosen),
                           test=acceptance_test(name))
    return [] if dry_run else write_files(files, force=force)


def render_report(report: WsdlReport, chosen: SoapPlan | None = None, name: str | None = None) -> list[str]:
    """The human-readable listing ``tongban connector new`` prints: the operations as written (and what zeep
    loses), then the operation chosen to read and every guess, each with its reason."""
    port = report.port
    lines = [f"WSDL {report.source}", f"  target namespace {report.target_namespace}"]
    lines += [f"  port {p.service}/{p.name} ({p.protocol}) at {p.address}" for p in report.ports]
    if port is None:
        return lines + ["  no SOAP port: nothing the SOAP connector can call"]
    lines.append(f"operations of {port.name} as written ({len(report.operations)} incl. overloads, "
                 f"{len(report.written)} names; zeep exposes {len(report.zeep_operations)}):")
    for op in report.operations:
        lines.append(f"  {'  ' if op.zeep_exposes else '! '}{op.signature}   [{op.style}/{op.use}]")
        lines.extend(f"      {flag}" for flag in op.flags)
        headers = declared_headers(report, op)
        if headers:
            lines.append(f"      requires the SOAP header {_header_hint(headers)} (soap_headers)")
    losses = report.losses
    lines.append(f"zeep loses silently: {len(losses)}" + ("" if losses else " (nothing)"))
    lines.extend(f"  - {loss}" for loss in losses)
    for warning in report.zeep_warnings:
        lines.append(f"  zeep warned: {warning}")
    the_plan = chosen or plan(report)
    target = urlsplit(port.address or "")
    lines.append(f"calls go to: the systems file's endpoint + {target.path or '/'}"
                 f"{'?' + target.query if target.query else ''} "
                 f"(address: \"{{base_url}}...\"; the WSDL's {port.address} is not called)")
    if the_plan.chosen is None:
        lines.append("stream: none — no operation answers a list (a repeating element or a DataSet)")
        if the_plan.text_reads:
            names = ", ".join(t.operation.name for t in the_plan.text_reads[:5])
            lines.append(f"  {len(the_plan.text_reads)} read(s) answer one string ({names}"
                         f"{', …' if len(the_plan.text_reads) > 5 else ''}): if it carries the records as XML or "
                         f"JSON, a stream with `embedded` reads them (a commented one is in the YAML)")
    else:
        c = the_plan.chosen
        fields = f"{len(c.record_fields)} fields" if c.record_fields else "columns not in the WSDL"
        lines.append(f"stream cases: {c.operation.name} → {'a DataSet' if c.dataset else 'records'} at "
                     f"{c.result_path} ({fields}); {len(the_plan.candidates)} operation(s) answer a list")
    lines += guess_lines(the_plan.guesses, _flow)
    if the_plan.skipped:
        lines.append(f"list queries not read: {len(the_plan.skipped)}")
        lines += [f"  {op}: {why}" for op, why in the_plan.skipped]
    if the_plan.logins:
        lines.append("operations that look like a login (never read; a commented `auth: {type: login}` is in the "
                     "YAML): " + ", ".join(op.name for op in the_plan.logins))
    if the_plan.writes:
        lines.append("operations that look like writes (never called by check; configure `write:` by hand): "
                     + ", ".join(f"{op} (`{word}`)" for op, word in the_plan.writes))
    if the_plan.secrets:
        env = f"TONGBAN_{name.upper() if name else '<SYSTEM>'}"
        lines.append(f"secrets named: {', '.join(the_plan.secrets)} — map each to an environment variable in the "
                     f"systems file (secrets: {{{', '.join(f'{s}: {env}_{s.upper()}' for s in the_plan.secrets)}}}); "
                     "never write a value into the YAML")
    return lines


def scaffold(name: str, source: str, *, out: Path, force: bool = False, dry_run: bool = False) -> ScaffoldResult:
    """The SOAP kind's :class:`~gateway.contract.scaffold.Scaffolder` (entry point ``tongban.scaffolds: soap``)."""
    report = inspect_wsdl(source, offline=False)
    chosen = plan(report)
    written = write_scaffold(name, source, report, Path(out), force=force, dry_run=dry_run)
    return ScaffoldResult(report=render_report(report, chosen, name),
                          data={**report.as_dict(), "plan": chosen.as_dict()}, files=written,
                          secrets=secrets_of_files(written, name))


__all__ = ["ReadCandidate", "SoapPlan", "acceptance_test", "connector_yaml", "describe_fields", "mapping_yaml",
           "plan", "read_candidate", "read_candidates", "render_report", "scaffold", "validate_connector_yaml",
           "write_scaffold", "wsdl_reference"]
