"""The declarative REST connector's configuration: pydantic models for the connector YAML.

Everything a REST system needs (auth, paging, envelope, cursor format, writes) is said in YAML, so adding a
system is a configuration change, not code. The models are strict (``extra="forbid"``): a typo such as
``page_parm`` fails at construction with a :class:`ConfigError` naming the YAML path, instead of silently
paging the wrong way in production.

    config = parse_config(yaml.safe_load(text) | {"base_url": endpoint})

See ``connectors/rest/README.md`` for the full vocabulary and one example per sandbox system.
"""

from __future__ import annotations

import codecs
import string
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.common.charsets import normalise_encoding
from connectors.common.secretrefs import is_secret_ref, literal_template_problems
from connectors.common.settings import (
    PAGINATION_TAGS,
    SUCCESS_TAGS,
    CursorPagination,
    FieldEquals,
    IncrementalConfig,
    LinkHeaderPagination,
    NoPagination,
    OffsetPagination,
    PageNumberPagination,
    PaginationConfig,
    SuccessRules,
    discriminator_tags,
    validated,
)
from connectors.common.urls import shown
from connectors.http.body import DEFAULT_MAX_RESPONSE_BYTES
from connectors.http.settings import RateLimitConfig, RetryConfig, TimeoutConfig
from connectors.http.signing import SignatureConfig
from gateway.contract.errors import ConfigError

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- auth ---------------------------------------------------------------------------------------------------


class ApiKeyAuthConfig(_Model):
    type: Literal["api_key"]
    header: str = "X-Api-Key"
    secret: str
    prefix: str = ""


class BasicAuthConfig(_Model):
    type: Literal["basic"]
    username_secret: str
    password_secret: str


class BearerAuthConfig(_Model):
    type: Literal["bearer"]
    secret: str


class OAuth2ClientCredentialsConfig(_Model):
    type: Literal["oauth2_client_credentials"]
    token_url: str
    client_id_secret: str
    client_secret_secret: str
    scope: str | None = None
    client_auth: Literal["body", "basic"] = "body"
    """Send the client credentials in the form body (default) or as HTTP Basic on the token request."""
    expiry_margin_seconds: float = Field(30.0, ge=0)


class TokenRequestConfig(_Model):
    """How a platform's own token endpoint is asked (``POST /auth/getToken {"appId": …, "appSecret": …}``)."""

    path: str
    """Relative to ``base_url`` (or an absolute URL)."""
    method: Literal["GET", "POST"] = "POST"
    send: Literal["json", "form", "query"] = "json"
    """Where ``fields`` go: a JSON object body, a form body, or the query string."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """Literal values or ``{secret: NAME}`` references (resolved when the request is sent, never logged)."""
    headers: dict[str, str] = Field(default_factory=dict)


class TokenPlacementConfig(_Model):
    """Where the token goes on every request: a header (``X-Access-Token``, or ``Authorization`` with a
    ``prefix: "Bearer "``) or a query parameter (``access_token``)."""

    header: str | None = None
    query: str | None = None
    prefix: str = ""

    @model_validator(mode="after")
    def _one_place(self) -> TokenPlacementConfig:
        if (self.header is None) == (self.query is None):
            raise ValueError("give exactly one of header (a header name) or query (a parameter name)")
        return self


class TokenAuthConfig(_Model):
    """A token from the platform's own endpoint (not OAuth2's form and field names), cached until it expires or the
    system says it expired (HTTP 401/403, or a ``reauth`` code of the ``success`` rule in an HTTP 200 body), put
    on every request; optionally the request is then signed as well (``sign``: the token with a signature, as many
    government platforms want both)."""

    type: Literal["token"]
    request: TokenRequestConfig
    token_path: str
    """Where the answer holds the token (``data.accessToken``)."""
    expires_in_path: str | None = None
    """Where it says how many seconds the token lives (``data.expiresIn``); without it, until refused."""
    expiry_margin_seconds: float = Field(60.0, ge=0)
    send_as: TokenPlacementConfig
    sign: SignatureConfig | None = None
    """A signature over each request, token included (its header or query parameter is set first)."""


_SIGN_FIELDS = {"method", "path_qs", "timestamp", "nonce", "body_sha256", "key_id"}


class HmacAuthConfig(_Model):
    type: Literal["hmac"]
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    secret: str
    key_id_header: str | None = None
    key_id_secret: str | None = None
    key_id: str | None = None
    """A literal key id (app id) when it is not kept among the secrets."""
    timestamp_header: str = "X-Timestamp"
    nonce_header: str | None = "X-Nonce"
    signature_header: str = "X-Signature"
    signature_encoding: Literal["hex", "base64"] = "hex"
    string_to_sign: str = "{method}\n{path_qs}\n{timestamp}\n{nonce}\n{body_sha256}"

    @field_validator("string_to_sign")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        used = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = used - _SIGN_FIELDS
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; use {sorted(_SIGN_FIELDS)}")
        return value

    @model_validator(mode="after")
    def _key_id_source(self) -> HmacAuthConfig:
        if self.key_id_header and not (self.key_id_secret or self.key_id):
            raise ValueError("key_id_header needs key_id_secret (a secret name) or key_id (a literal)")
        return self


AuthConfig = Annotated[
    ApiKeyAuthConfig | BasicAuthConfig | BearerAuthConfig | OAuth2ClientCredentialsConfig | HmacAuthConfig
    | SignatureConfig | TokenAuthConfig,
    Field(discriminator="type"),
]
"""``signature`` is the general form (any string-to-sign, algorithm and placement: :mod:`connectors.http.signing`);
``hmac`` the older fixed-shape one, kept for the YAML that uses it."""
_AUTH_TAGS = discriminator_tags(AuthConfig)

# --- pagination --------------------------------------------------------------------------------------------


# --- streams ------------------------------------------------------------------------------------------------


class StreamConfig(_Model):
    path: str
    method: Literal["GET", "POST"] = "GET"
    """How a page is asked for. Query APIs that take their parameters in a POST body say ``POST``."""
    params_in: Literal["query", "json", "form"] = "query"
    """Where the stream's parameters go — ``params``, the paging parameters and the change-time window: the query
    string, a JSON object body or a form body (``json``/``form`` need ``method: POST``)."""
    params_as_text: bool = False
    """Send every parameter value as text (``{"pageNum": "2"}``), for APIs whose request fields are all strings;
    in a query string every value is text anyway."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Constant parameters; ``{secret: NAME}`` sends the system's secret ``NAME`` (``access_token: {secret: token}``:
    :mod:`connectors.common.secretrefs`)."""
    headers: dict[str, str] = Field(default_factory=dict)
    record_selector: str = ""
    success: SuccessRules | None = None
    """One rule, or a list checked in order (an API gateway's envelope, then the business one): see
    :func:`connectors.common.records.envelope_outcome`."""
    primary_key: str | list[str]
    ordered: bool = True
    incremental: IncrementalConfig | None = None
    pagination: PaginationConfig = Field(default_factory=lambda: NoPagination(type="none"))

    @model_validator(mode="after")
    def _parameters_have_a_place(self) -> StreamConfig:
        problems = literal_template_problems(self.params, "params")
        if problems:
            raise ValueError("; ".join(problems))
        if self.params_in != "query" and self.method == "GET":
            raise ValueError(f"params_in: {self.params_in} sends the parameters in the body: needs method: POST")
        if self.params_in != "query" and isinstance(self.pagination, LinkHeaderPagination):
            raise ValueError("link_header paging follows the next URL as given (its query holds every parameter): "
                             "use params_in: query")
        return self

    @model_validator(mode="after")
    def _positional_paging_needs_order(self) -> StreamConfig:
        positional = isinstance(self.pagination, PageNumberPagination | OffsetPagination)
        if positional and self.incremental is not None and not self.ordered:
            raise ValueError(
                "page_number/offset paging of an incremental stream needs ordered: true (the server sorts by "
                "the cursor field), otherwise records updated while paging are lost; use cursor or "
                "link_header paging, or drop `incremental`"
            )
        return self


class CheckConfig(_Model):
    stream: str | None = None
    path: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> CheckConfig:
        if (self.stream is None) == (self.path is None):
            raise ValueError("give exactly one of `stream` or `path`")
        problems = literal_template_problems(self.params, "params")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- writes ------------------------------------------------------------------------------------------------


class WriteOperationConfig(_Model):
    """One HTTP call. ``path`` and ``params`` values are templates: ``{key}``, ``{idempotency_key}`` and any
    top-level scalar field of the record (``{version}``); a ``params`` value ``{secret: NAME}`` is the system's
    secret ``NAME``."""

    method: HttpMethod
    path: str
    params: dict[str, Any] = Field(default_factory=dict)
    send_body: bool | None = None
    """Send the record as the JSON body; by default yes except for DELETE."""

    @field_validator("params")
    @classmethod
    def _templates_or_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, item in value.items():
            if not (isinstance(item, str) or (is_secret_ref(item) and isinstance(item["secret"], str))):
                raise ValueError(f"{name}: a template string or {{secret: NAME}}, got {item!r}")
        return value

    @property
    def sends_body(self) -> bool:
        return self.send_body if self.send_body is not None else self.method != "DELETE"


class WriteStreamConfig(_Model):
    upsert: WriteOperationConfig | None = None
    delete: WriteOperationConfig | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    idempotency_header: str | None = "Idempotency-Key"
    success: SuccessRules | None = None
    duplicate: FieldEquals | None = None
    stale_statuses: frozenset[int] = frozenset({409})
    target_id_path: str | None = None
    charset: str | None = None
    """The charset the JSON body is written in, for a system that reads no UTF-8 (``gbk``, ``gb2312``,
    ``gb18030``); default UTF-8. It is named in the ``Content-Type``. A record holding a character the charset
    lacks (a rare name character outside GBK) is refused, naming the field and the character: sent as ``?`` it
    would be another name."""

    @field_validator("charset")
    @classmethod
    def _writable_charset(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            codec = codecs.lookup(value.strip().lower())
        except LookupError:
            codec = None
        if codec is None or not codec._is_text_encoding:  # base64, rot13, hex: codecs, not charsets
            raise ValueError(f"unknown charset {value!r} (e.g. gbk, gb18030, utf-8)")
        return value.strip().lower()

    @model_validator(mode="after")
    def _some_operation(self) -> WriteStreamConfig:
        if self.upsert is None and self.delete is None:
            raise ValueError("configure `upsert`, `delete` or both")
        return self


# --- the whole file ----------------------------------------------------------------------------------------


class RestConfig(_Model):
    kind: Literal["rest"] = "rest"
    name: str | None = None
    """Used in error messages; defaults to the base URL."""
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: TimeoutConfig = Field(default_factory=TimeoutConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    rate_limit: RateLimitConfig | None = None
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, ge=1024)
    """Largest response body read, in bytes (default 64 MiB); enforced while streaming, so a larger answer fails
    its page with an error naming this key and memory stays bounded."""
    charset: str | None = None
    """The charset of JSON bodies whose ``Content-Type`` names none (``gbk`` for systems that send GBK as bare
    ``application/json``; GBK and GB2312 are read as GB18030). A charset in the header still wins. Without
    it such bodies are read as UTF-8, and a record whose text is not UTF-8 is rejected (dead-lettered)."""
    auth: AuthConfig | None = None
    check: CheckConfig | None = None
    streams: dict[str, StreamConfig] = Field(default_factory=dict)
    write: dict[str, WriteStreamConfig] = Field(default_factory=dict)

    @field_validator("charset")
    @classmethod
    def _known_charset(cls, value: str | None) -> str | None:
        if value is not None and normalise_encoding(value) is None:
            raise ValueError(f"unknown charset {value!r} (e.g. gbk, gb18030, utf-8)")
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_target(self) -> RestConfig:
        if self.check is not None and self.check.stream is not None and self.check.stream not in self.streams:
            raise ValueError(
                f"check.stream {self.check.stream!r} is not one of streams {sorted(self.streams)}"
            )
        if self.check is None and not self.streams:
            raise ValueError("no streams to check: add `check: {path: ...}`")
        sign = self.auth if isinstance(self.auth, SignatureConfig) else getattr(self.auth, "sign", None)
        reads_body_text = sign is not None and (
            "{body}" in sign.model_dump_json() or bool(sign.body_fields) or sign.canonical_query.include_json)
        for name, write in self.write.items():
            if reads_body_text and write.charset and codecs.lookup(write.charset).name != "utf-8":
                raise ValueError(f"write.{name}.charset {write.charset!r}: the signature reads the body's text or "
                                 "fields ({body}, body_fields, include_json), which are signed as UTF-8; a body "
                                 "written in another charset would be signed as something else than is sent")
        return self

    @property
    def label(self) -> str:
        return self.name or shown(self.base_url)  # never ``user:password@`` of an endpoint in a message

    def parameter_sets(self) -> list[tuple[str, dict[str, Any]]]:
        """Every ``params`` of the file with its YAML path (streams, check, writes): where secrets may be
        referenced."""
        found: list[tuple[str, dict[str, Any]]] = [(f"streams.{n}.params", s.params) for n, s in self.streams.items()]
        if self.check is not None:
            found.append(("check.params", self.check.params))
        for name, write in self.write.items():
            found += [(f"write.{name}.{op}.params", call.params)
                      for op, call in (("upsert", write.upsert), ("delete", write.delete)) if call is not None]
        if isinstance(self.auth, TokenAuthConfig):
            found.append(("auth.request.fields", self.auth.request.fields))
        return found


def parse_config(raw: Mapping[str, Any] | RestConfig) -> RestConfig:
    """Validate a connector YAML mapping; raise :class:`ConfigError` listing every problem by YAML path."""
    if isinstance(raw, RestConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"rest connector config must be a mapping, got {type(raw).__name__}")
    data = dict(raw)
    if not data.get("base_url"):
        raise ConfigError("rest connector config: base_url: missing (set it, or the system's `endpoint`)")
    return validated(RestConfig, data, kind="rest", name=data.get("name") or data.get("base_url"),
                     union_tags={"pagination": PAGINATION_TAGS, "auth": _AUTH_TAGS, "success": SUCCESS_TAGS})


__all__ = [
    "ApiKeyAuthConfig",
    "AuthConfig",
    "BasicAuthConfig",
    "BearerAuthConfig",
    "CheckConfig",
    "CursorPagination",
    "FieldEquals",
    "HmacAuthConfig",
    "TokenAuthConfig",
    "IncrementalConfig",
    "LinkHeaderPagination",
    "NoPagination",
    "OAuth2ClientCredentialsConfig",
    "OffsetPagination",
    "PageNumberPagination",
    "PaginationConfig",
    "RateLimitConfig",
    "RestConfig",
    "RetryConfig",
    "StreamConfig",
    "TimeoutConfig",
    "WriteOperationConfig",
    "WriteStreamConfig",
    "parse_config",
]
