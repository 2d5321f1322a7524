"""The declarative SOAP connector's configuration: pydantic models for the connector YAML.

Same philosophy and vocabulary as the REST connector (timeouts, retries, rate limit, paging and incremental
windows are the shared models of :mod:`connectors.http.settings` and :mod:`connectors.common.settings`);
what is SOAP's own is the WSDL, the port, operations with parameter templates, where the records sit in the
answer, WS-Security, client-certificate TLS and fault rules. See ``connectors/soap/README.md``.

    config = parse_config(yaml.safe_load(text) | {"base_url": endpoint})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.common.secretrefs import literal_template_problems, rewritten_numbers
from connectors.common.settings import (
    PAGINATION_TAGS,
    FieldEquals,
    IncrementalConfig,
    NoPagination,
    OffsetPagination,
    PageNumberPagination,
    PaginationConfig,
    SuccessRule,
    validated,
)
from connectors.common.urls import shown
from connectors.http.settings import RateLimitConfig, RetryConfig, TimeoutConfig
from gateway.contract.errors import ConfigError

from .faults import FaultAction
from .hardening import LIBXML2_MAX_DEPTH, XmlLimits
from .outbound import codec_name, template_problem

_XML_LIMITS = XmlLimits()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WsseConfig(_Model):
    """WS-Security UsernameToken; ``digest`` sends SHA-1(nonce + created + password) instead of the password."""

    username_secret: str
    password_secret: str
    digest: bool = False
    nonce: bool = True
    created: bool = True
    timestamp_ttl_seconds: int | None = Field(300, ge=1)
    must_understand: bool = True


class HttpBasicConfig(_Model):
    username_secret: str
    password_secret: str


class TlsConfig(_Model):
    """Client-certificate TLS (mutual TLS), as many 政务外网 services require. Paths, or secret names for them."""

    client_cert: str | None = None
    client_key: str | None = None
    client_cert_secret: str | None = None
    client_key_secret: str | None = None
    ca_bundle: str | None = None
    verify: bool = True


class LimitsConfig(_Model):
    """The YAML form of :class:`~.hardening.XmlLimits` (its defaults are the defaults here)."""

    max_bytes: int = Field(_XML_LIMITS.max_bytes, ge=1024)
    max_depth: int = Field(_XML_LIMITS.max_depth, ge=4, le=LIBXML2_MAX_DEPTH)
    max_elements: int = Field(_XML_LIMITS.max_elements, ge=1000)
    """How many elements SOAP-encoded references (multiRef) may expand into (connectors/soap/multiref.py)."""


class FaultRuleConfig(_Model):
    match: str
    action: FaultAction


class EmbeddedConfig(_Model):
    """Records carried as text: the element at ``path`` holds a whole document (``format``) as its text.

    Chinese ASMX and Axis services very often declare every result ``xsd:string`` and put the real answer in it:
    escaped XML (``<QueryResult>&lt;Response&gt;…</QueryResult>``), a CDATA section, or JSON. The WSDL then says
    nothing about the records. With ``embedded``, ``result_path`` and ``status_path`` are read inside that
    document: for ``xml``, dotted local names from its root element (``Response.Items.Item``); for ``json``,
    dotted keys as a REST stream's ``record_selector`` (``data.list``; ``""`` for a top-level list). Without
    ``status_path``, ``success`` reads the document's root. See :mod:`connectors.soap.embedded`."""

    path: str = Field(min_length=1)
    """Dotted local names below ``soap:Body`` to the element holding the text
    (``QueryRegInfoOperResponse.QueryRegInfoOperResult``)."""
    format: Literal["xml", "json"] = "xml"


class LoginSendAsConfig(_Model):
    """Where the login's token goes on every other call: an operation parameter (``param: token``, on every
    operation that takes one of that name) or SOAP header blocks (``header: {AuthHeader: {Token: "{token}"}}``:
    ``"{token}"`` is the token, ``{secret: NAME}`` a secret; on every operation whose binding declares that
    soap:header, or on every operation when the WSDL declares none)."""

    param: str | None = None
    header: dict[str, Any] | None = None
    prefix: str = ""
    """Put before the token in a parameter (``"Bearer "``)."""

    @model_validator(mode="after")
    def _one_place(self) -> LoginSendAsConfig:
        if (self.param is None) == (self.header is None):
            raise ValueError("give exactly one of param (a parameter name) or header (SOAP header blocks)")
        if self.header is not None and "{token}" not in repr(self.header):
            raise ValueError('header: no value is "{token}" (where the token goes)')
        return self


class LoginAuthConfig(_Model):
    """A session token from the service's own login operation (``Login(userName, password)`` → token), as many
    ASMX/CXF services want: called when a token is first needed, the token cached and put into every other call
    (``send_as``), fetched again once when the service says it expired (a ``reauth`` code of a stream's
    ``success`` rule, or HTTP 401/403) — a second refusal is an :class:`AuthenticationError` — and after
    ``refresh_after_calls`` calls when the service counts them (:class:`~.client.SoapClient`)."""

    type: Literal["login"]
    operation: str
    overload: int | str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    """The login's parameters; ``{secret: NAME}`` for the user name and password (never written in the YAML)."""
    token_path: str = Field(min_length=1)
    """Dotted local names below ``soap:Body`` to the token (``LoginResponse.LoginResult``); with ``embedded``,
    inside that document (XML: from its root element, ``Result.Token``; JSON: dotted keys, ``data.token``)."""
    embedded: EmbeddedConfig | None = None
    """The login's answer is a document carried as text (a ``string`` result holding XML or JSON)."""
    refresh_after_calls: int | None = Field(None, ge=1)
    """Log in again after this many calls with one token (services whose tokens last N calls)."""
    send_as: LoginSendAsConfig

    @model_validator(mode="after")
    def _checks(self) -> LoginAuthConfig:
        problems = literal_template_problems(self.params, "params") + _zeep_internals(self.params, "params")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _zeep_internals(params: Mapping[str, Any], path: str) -> list[str]:
    """``_soapheaders`` (zeep's own keyword) in a YAML's parameters: it worked by accident, unchecked against the
    WSDL and unmasked; the YAML says ``soap_headers``."""
    return [f"{path}._soapheaders: zeep's internal keyword, not a parameter: write the header blocks as "
            f"`soap_headers: {{Block: {{Child: value}}}}` (on the connector or the stream; checked against the WSDL, "
            f"`{{secret: NAME}}` values masked)"] if "_soapheaders" in params else []


class EmbeddedParamConfig(_Model):
    """A write sends the record as a document (``format``) in the string parameter ``param``: the outbound-mapped
    record serialised safely (:mod:`connectors.soap.outbound`) — ``SubmitCase(string xmlData)``.

        upsert: {operation: submitCase, params: {requestId: "{idempotency_key}"},
                 embedded: {param: caseXml, format: xml, root: Case}}"""

    param: str = Field(min_length=1)
    """The operation's parameter that takes the document (an ``xsd:string``)."""
    format: Literal["xml", "json"] = "xml"
    root: str | None = None
    """xml: the document's root element (required); json: optional key the record is put under."""
    declaration: bool = False
    """xml: start the text with ``<?xml version="1.0" encoding="<encoding>"?>``."""
    encoding: str = "utf-8"
    """xml: the declaration's label; characters this encoding lacks are written as character references."""
    nulls: Literal["empty", "omit"] = "empty"
    """``None`` values: an empty element ``<X/>`` / JSON ``null`` (``empty``), or no element / key (``omit``)."""

    @model_validator(mode="after")
    def _checks(self) -> EmbeddedParamConfig:
        if self.format == "xml":
            if not self.root:
                raise ValueError("`format: xml` needs `root` (the document's root element, e.g. `root: Case`)")
            if not re.fullmatch(r"[^\W\d][\w.\-]*", self.root) or self.root.lower().startswith("xml"):
                raise ValueError(f"root {self.root!r} is not an XML element name (no prefix, no spaces)")
            try:
                codec_name(self.encoding)
            except LookupError:
                raise ValueError(f"encoding {self.encoding!r} is not a known encoding") from None
        elif self.declaration or self.encoding != "utf-8":
            raise ValueError("`declaration` and `encoding` are for `format: xml` (JSON text is characters)")
        return self


class CallConfig(_Model):
    """One operation call. ``params`` are templates: a string ``"{record}"`` is the whole record (a complex
    parameter); other strings may use ``{key}``, ``{idempotency_key}`` and top-level scalar record fields (a
    template that is XML markup gets its values escaped, :mod:`connectors.soap.outbound`);
    ``{secret: NAME}`` is the system's secret ``NAME`` (:mod:`connectors.common.secretrefs`)."""

    operation: str
    overload: int | str | None = None
    """Which of several operations sharing this name: its 0-based position in the portType, or its input
    message name (``loginRequest1``). Needed only for overloaded operations."""
    params: dict[str, Any] = Field(default_factory=dict)
    result_path: str | None = None
    """Writes: where this call's result element is (overrides the write stream's ``result_path``)."""
    embedded: EmbeddedParamConfig | None = None
    """Writes: send the record as an XML or JSON document in one string parameter."""

    @model_validator(mode="after")
    def _safe_templates(self) -> CallConfig:
        problems = [p for name, value in self.params.items() if isinstance(value, str)
                    for p in [template_problem(name, value)] if p] + _zeep_internals(self.params, "params")
        problems += rewritten_numbers(self.params, "params")
        if self.embedded is not None and self.embedded.param in self.params:
            problems.append(f"parameter {self.embedded.param!r} is both in `params` and `embedded.param`: the "
                            f"document is its value, remove it from `params`")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class StreamConfig(_Model):
    operation: str
    overload: int | str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    """Fixed parameters; ``{secret: NAME}`` sends the system's secret ``NAME`` (``strUserPwd: {secret: password}``)."""
    result: Literal["records", "dataset"] = "records"
    result_path: str
    """Dotted local names below ``soap:Body`` to the repeating record element
    (``GetBusinessListResponse.GetBusinessListResult.RECORDS.YWXX``); for ``dataset``, to the DataSet element.
    With ``embedded``: inside the embedded document (its root element first; JSON: dotted keys)."""
    embedded: EmbeddedConfig | None = None
    """The records are in a document carried as text (a ``string`` result holding XML or JSON)."""
    dataset_table: str | None = None
    """For ``dataset``: the table whose rows are the records — required when the DataSet declares several."""
    status_path: str | None = None
    """Dotted local names below ``soap:Body`` to the element whose children ``success`` reads."""
    success: SuccessRule | None = None
    list_fields: list[str] = Field(default_factory=list)
    """Extra repeating elements (``HJLIST.HJ``) when the schema does not say so."""
    decoder: Literal["fast", "zeep"] = "fast"
    primary_key: str | list[str]
    ordered: bool = True
    incremental: IncrementalConfig | None = None
    pagination: PaginationConfig = Field(default_factory=lambda: NoPagination(type="none"))
    soap_headers: dict[str, Any] = Field(default_factory=dict)
    """SOAP header blocks for this stream's calls, over the connection's ``soap_headers``
    (``{AuthHeader: {Token: {secret: token}}}``); checked against the operation's declared soap:header parts."""

    @model_validator(mode="after")
    def _checks(self) -> StreamConfig:
        if self.pagination.type not in ("none", "page_number", "offset"):
            raise ValueError("SOAP streams page with `page_number`, `offset` or `none`")
        positional = isinstance(self.pagination, PageNumberPagination | OffsetPagination)
        if positional and self.incremental is not None and not self.ordered:
            raise ValueError("page_number/offset paging of an incremental stream needs ordered: true")
        if self.success is not None and self.status_path is None and self.embedded is None:
            raise ValueError("`success` needs `status_path` (where the status fields are)")
        if self.embedded is not None and self.decoder == "zeep":
            raise ValueError("`embedded` documents are read by the fast decoder (zeep knows only the WSDL's types: "
                             "for it the result is a string); remove `decoder: zeep`")
        if self.embedded is not None and self.embedded.format == "json" and self.result == "dataset":
            raise ValueError("`result: dataset` reads XML; an `embedded` JSON document has records, not a DataSet")
        problems = literal_template_problems(self.params, "params") + _zeep_internals(self.params, "params")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class WriteStreamConfig(_Model):
    upsert: CallConfig | None = None
    delete: CallConfig | None = None
    result_path: str | None = None
    """Dotted local names below ``soap:Body`` to the result element the checks below read."""
    success: SuccessRule | None = None
    duplicate: FieldEquals | None = None
    stale: FieldEquals | None = None
    target_id_path: str | None = None
    embedded: EmbeddedConfig | None = None
    """The result is a document carried as text (a ``string`` result holding XML or JSON): ``result_path`` is
    then read inside it (its root element first; JSON: dotted keys) and may be left out for the root."""

    @model_validator(mode="after")
    def _some_operation(self) -> WriteStreamConfig:
        if self.upsert is None and self.delete is None:
            raise ValueError("configure `upsert`, `delete` or both")
        checks = self.success or self.duplicate or self.stale or self.target_id_path
        calls = [c for c in (self.upsert, self.delete) if c is not None]
        if checks and not self.result_path and not all(c.result_path for c in calls) and self.embedded is None:
            raise ValueError("`success`/`duplicate`/`stale`/`target_id_path` need `result_path`")
        return self


class CheckConfig(_Model):
    stream: str | None = None
    call: CallConfig | None = None

    @model_validator(mode="after")
    def _one_target(self) -> CheckConfig:
        if (self.stream is None) == (self.call is None):
            raise ValueError("give exactly one of `stream` or `call`")
        problems = literal_template_problems(self.call.params, "call.params") if self.call is not None else []
        if self.call is not None and self.call.embedded is not None:
            problems.append("call.embedded: a check call has no record to send")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SoapConfig(_Model):
    kind: Literal["soap"] = "soap"
    name: str | None = None
    base_url: str | None = None
    """Injected from the systems config ``endpoint``; usable as ``{base_url}`` in ``wsdl`` and ``address``."""
    wsdl: str
    """A path, ``file://`` or ``http(s)://`` URL; may contain ``{base_url}``."""
    wsdl_cache_dir: str | None = None
    offline: bool = False
    """Never fetch schema imports from the network (standard schemas ship with Tongban)."""
    schema_locations: dict[str, str] = Field(default_factory=dict)
    """Imported URL → local file, for imports from another host than the WSDL's (which are refused otherwise)."""
    service: str | None = None
    port: str | None = None
    soap_version: Literal["1.1", "1.2"] = "1.1"
    address: str | None = None
    """Where calls go; may contain ``{base_url}`` (the systems file's ``endpoint``). Without it, calls go to the
    endpoint plus the path of the WSDL's ``soap:address`` (WSDLs often name an internal or public host that is
    not the one configured), and only when no endpoint is given either, to the ``soap:address`` itself."""
    request_encoding: Literal["utf-8", "gb18030", "gbk"] = "utf-8"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: TimeoutConfig = Field(default_factory=TimeoutConfig)
    retry: RetryConfig = Field(default_factory=lambda: RetryConfig(retry_statuses=frozenset({429, 502, 503, 504})))
    rate_limit: RateLimitConfig | None = None
    wsse: WsseConfig | None = None
    auth: LoginAuthConfig | None = None
    """``type: login``: a session token from the service's own login operation (:class:`LoginAuthConfig`)."""
    soap_headers: dict[str, Any] = Field(default_factory=dict)
    """SOAP header blocks declared in the WSDL (``soap:header``), not HTTP headers (those are ``headers``):
    ``{AuthHeader: {Token: {secret: token}}}``. Put on every operation whose binding declares the block, or on
    every operation when the WSDL declares no soap:header at all; ``"{token}"`` is the login's token."""
    http_basic: HttpBasicConfig | None = None
    tls: TlsConfig | None = None
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    faults: list[FaultRuleConfig] = Field(default_factory=list)
    check: CheckConfig | None = None
    streams: dict[str, StreamConfig] = Field(default_factory=dict)
    write: dict[str, WriteStreamConfig] = Field(default_factory=dict)

    @field_validator("retry")
    @classmethod
    def _faults_are_not_http_retries(cls, value: RetryConfig) -> RetryConfig:
        """SOAP 1.1 answers every Fault with HTTP 500, so the HTTP layer must not retry 500 blindly (it would
        retry refused credentials); the SOAP client retries 500s that are server faults or error pages."""
        if 500 in value.retry_statuses:
            return value.model_copy(update={"retry_statuses": value.retry_statuses - {500}})
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _templates(self) -> SoapConfig:
        for name in ("wsdl", "address"):
            value = getattr(self, name)
            if value and "{base_url}" in value and not self.base_url:
                raise ValueError(f"{name} uses {{base_url}} but no base_url/endpoint is given")
        if self.check is not None and self.check.stream is not None and self.check.stream not in self.streams:
            raise ValueError(f"check.stream {self.check.stream!r} is not one of streams {sorted(self.streams)}")
        if self.check is None and not self.streams:
            raise ValueError("no streams to check: add `check: {call: {operation: ...}}`")
        self._login_checks()
        return self

    def _login_checks(self) -> None:
        """``reauth`` means "log in again": only with a login to do it; ``"{token}"`` only with a login."""
        if self.auth is None:
            rules = [(f"streams.{n}.success", s.success) for n, s in self.streams.items()]
            rules += [(f"write.{n}.success", w.success) for n, w in self.write.items()]
            for path, rule in rules:
                codes = getattr(rule, "codes", None) or {}
                if "reauth" in codes.values() or getattr(rule, "otherwise", None) == "reauth":
                    raise ValueError(f"{path}: `reauth` (log in again and resend) needs `auth: {{type: login, ...}}` "
                                     f"(a login operation to get a new token from); without one, say `auth`")
        headers = [("soap_headers", self.soap_headers)]
        headers += [(f"streams.{n}.soap_headers", s.soap_headers) for n, s in self.streams.items()]
        for path, value in headers:
            if not isinstance(value, dict) or any(not isinstance(v, dict) for v in value.values()):
                raise ValueError(f"{path}: each header block is a mapping of its child elements "
                                 f"(`AuthHeader: {{Token: ...}}`)")
            if self.auth is None and "{token}" in repr(value):
                raise ValueError(f'{path}: "{{token}}" is the login\'s token, but no `auth: {{type: login}}` '
                                 f"is configured")

    @property
    def label(self) -> str:
        return self.name or (shown(self.base_url) if self.base_url else self.wsdl)  # never user:password@

    def parameter_sets(self) -> list[tuple[str, dict[str, Any]]]:
        """Every ``params`` of the file with its YAML path (streams, check call, writes): where secrets may be
        referenced."""
        found: list[tuple[str, dict[str, Any]]] = [(f"streams.{n}.params", s.params) for n, s in self.streams.items()]
        found += [(f"streams.{n}.soap_headers", s.soap_headers) for n, s in self.streams.items() if s.soap_headers]
        if self.soap_headers:
            found.append(("soap_headers", self.soap_headers))
        if self.auth is not None:
            found.append(("auth.params", self.auth.params))
            if self.auth.send_as.header:
                found.append(("auth.send_as.header", self.auth.send_as.header))
        if self.check is not None and self.check.call is not None:
            found.append(("check.call.params", self.check.call.params))
        for name, write in self.write.items():
            found += [(f"write.{name}.{op}.params", call.params)
                      for op, call in (("upsert", write.upsert), ("delete", write.delete)) if call is not None]
        return found

    @property
    def wsdl_location(self) -> str:
        return self.wsdl.replace("{base_url}", self.base_url or "")

    def resolve_address(self, wsdl_address: str | None) -> tuple[str, str]:
        """Where calls go, and why (for ``connector check`` and error messages)::

            address: "{base_url}/ws/x"  + endpoint http://10.1.2.3:8080        -> http://10.1.2.3:8080/ws/x
            no address + endpoint http://10.1.2.3:8080 + soap:address http://59.110.236.229/oa/loan
                                                                           -> http://10.1.2.3:8080/oa/loan
            no address, no endpoint                                         -> the soap:address as written

        An endpoint with a path that the ``soap:address`` path starts with (``http://gw/axis`` and
        ``/axis/services/X``) is not doubled. Raises :class:`ConfigError` when there is nowhere to call."""
        if self.address:
            return self.address.replace("{base_url}", self.base_url or ""), "the connector's `address`"
        if self.base_url:
            if not wsdl_address:
                return self.base_url, "the systems file's endpoint (the WSDL's port names no soap:address)"
            joined = endpoint_address(self.base_url, wsdl_address)
            path = urlsplit(joined).path or "/"
            return joined, (f"the systems file's endpoint with the path {path} of the WSDL's soap:address "
                            f"({_origin(wsdl_address)} in the WSDL is not called)")
        if wsdl_address:
            return wsdl_address, ("the WSDL's own soap:address: neither `address` nor an endpoint is configured "
                                  "(set the system's `endpoint` to call another host)")
        raise ConfigError(f"{self.label}: the WSDL's port has no soap:address and no endpoint or `address` is "
                          f"configured: set the system's `endpoint`")


def endpoint_address(endpoint: str, wsdl_address: str) -> str:
    """The endpoint's scheme, host and port (and path prefix) with the path and query of the WSDL's address."""
    base, wsdl = urlsplit(endpoint.rstrip("/")), urlsplit(wsdl_address)
    path = wsdl.path or "/"
    prefix = base.path.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        prefix = ""
    return urlunsplit((base.scheme, base.netloc, prefix + path, wsdl.query, ""))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else url


def parse_config(raw: Mapping[str, Any] | SoapConfig) -> SoapConfig:
    """Validate a connector YAML mapping; raise :class:`ConfigError` listing every problem by YAML path."""
    if isinstance(raw, SoapConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"soap connector config must be a mapping, got {type(raw).__name__}")
    return validated(SoapConfig, raw, kind="soap", name=raw.get("name") or raw.get("wsdl"),
                     union_tags={"pagination": PAGINATION_TAGS})


__all__ = [
    "CallConfig",
    "CheckConfig",
    "EmbeddedParamConfig",
    "FaultRuleConfig",
    "HttpBasicConfig",
    "LimitsConfig",
    "LoginAuthConfig",
    "LoginSendAsConfig",
    "SoapConfig",
    "StreamConfig",
    "TlsConfig",
    "WriteStreamConfig",
    "WsseConfig",
    "endpoint_address",
    "parse_config",
]
