"""Request signing as configuration: the string-to-sign, the algorithm and where the results go, said in YAML.

Chinese cloud and government API gateways each sign requests a little differently (which parts of the request,
in which order, joined how, hashed with what, sent where), and a connector should not need Python to match one.
:class:`SignatureConfig` describes a convention; :class:`TemplateSigner` is the ``requests`` auth object that
applies it to the *prepared* request, so what is signed is exactly what goes on the wire (path and query as
encoded by ``requests``, the body bytes as sent, the ``Accept`` header the session adds). Secret values come from
the ``secrets`` mapping by name; the YAML holds names only. A fresh timestamp and nonce are made every time the
auth is applied, i.e. per attempt, so retries are not refused as replays.

Templates
---------
``string_to_sign``, the ``parts`` and every ``headers``/``query_params`` value are templates: literal text with
``{placeholders}`` (``{{`` and ``}}`` for literal braces; in YAML write ``"\\n"`` inside double quotes for a line
feed). Placeholders, some taking an argument after a colon:

=========================  ==========================================================================================
``{method}``               HTTP method, upper case
``{path}``                 path as sent, without the query; ``{path:trailing_slash}`` ensures a final ``/``,
                           ``{path:percent}`` re-encodes each segment per RFC 3986 (combine: ``{path:percent,trailing_slash}``)
``{path_qs}``              path and query exactly as sent (after the query parameters added before signing)
``{query}``                canonical query: see ``canonical_query`` (sorted, raw or percent-encoded values, the
                           form body with ``include_form``, a JSON object body's fields with ``include_json``, ...)
``{path_query}``           ``{path}`` plus ``?{query}`` when the canonical query is not empty ("PathAndParameters")
``{body}``                 the body as text (UTF-8)
``{body_digest}``          digest of the body bytes per ``body_digest``; ``{body_digest:sha256}`` or
                           ``{body_digest:md5:base64}`` override algorithm / encoding for this use
``{timestamp}``            the attempt's time per ``timestamp``; ``{timestamp:FORMAT}`` with FORMAT ``seconds``,
                           ``milliseconds``, ``http_date`` or a strftime pattern (same instant, same time zone)
``{nonce}``                the attempt's nonce per ``nonce``
``{app_key}``              the app key / access key id (``app_key`` literal or ``app_key_secret``)
``{secret}``               the secret itself; only in ``string_to_sign``/``parts`` of plain-digest algorithms
                           (``md5(appKey+secret+timestamp)`` conventions), never in headers or query parameters
``{header:Name}``          a request header as it will be sent ('' if absent); ``Host`` comes from the URL
``{content_type}``         shortcuts for ``{header:Content-Type}``, ``{header:Accept}``, ``{header:Date}``,
``{accept}`` ``{date}``    ``{header:Content-MD5}``
``{content_md5}``
``{canonical_headers}``    ``name:value\\n`` for each of ``signed_headers``, sorted by name (case per
                           ``header_name_case``); a signed header that is absent signs as ``name:\\n``
``{signed_headers}``       the names of ``signed_headers``, sorted, joined by ``signed_headers_separator``
``{part:NAME}``            the named part (a sub-template, optionally hashed: e.g. Huawei's hashed canonical request)
``{signature}``            the result; only in ``headers`` / ``query_params`` values
=========================  ==========================================================================================

Order of work per attempt: the JSON ``body_fields``, then the query parameters and headers, whose templates do not use
``{signature}`` are put on the request first (so they can be signed: ``X-Ca-Timestamp``, ``Content-MD5``, an ``appKey`` query parameter...),
(the body's fields first: a header may be its digest) then the string-to-sign is rendered and signed, then the ``{signature}``-bearing ones are added (so a ``sign``
query parameter is never part of the query it signs). A header or parameter that renders empty is not sent.

Algorithms: ``hmac-sha256``, ``hmac-sha1``, ``hmac-sm3`` (keyed with the secret); ``md5``, ``sha1``, ``sha256``,
``sm3`` (plain digest of the string, which must then contain ``{secret}``); ``sm2-sm3`` (SM2 signature with SM3
and the user-id Z value; the secret is the private key in hex). Output ``encoding``: ``hex`` (the default, lower
case), ``hex_upper``, ``base64`` (for SM2, of the raw ``r||s`` bytes or of the DER bytes with ``sm2.asn1: true``).

Worked examples (connector YAML)
--------------------------------
Alibaba Cloud API Gateway, digest (AppKey/AppSecret) authentication::

    auth:
      type: signature
      algorithm: hmac-sha256
      secret: aliyun_app_secret            # names in the system's secrets
      app_key_secret: aliyun_app_key
      encoding: base64
      timestamp: {format: milliseconds}
      nonce: {kind: uuid4}
      body_digest: {algorithm: md5, encoding: base64, empty: blank, skip_form: true}
      canonical_query: {encoding: raw, empty_value: key_only, include_form: true, duplicates: one}
      signed_headers: [X-Ca-Key, X-Ca-Nonce, X-Ca-Signature-Method, X-Ca-Timestamp]
      header_name_case: lower
      signed_headers_separator: ","
      string_to_sign: "{method}\\n{accept}\\n{content_md5}\\n{content_type}\\n{date}\\n{canonical_headers}{path_query}"
      headers:
        Content-MD5: "{body_digest}"
        X-Ca-Key: "{app_key}"
        X-Ca-Timestamp: "{timestamp}"
        X-Ca-Nonce: "{nonce}"
        X-Ca-Signature-Method: HmacSHA256
        X-Ca-Signature-Headers: "{signed_headers}"
        X-Ca-Signature: "{signature}"

Huawei Cloud APIG, app authentication ``SDK-HMAC-SHA256``::

    auth:
      type: signature
      algorithm: hmac-sha256
      secret: huawei_app_secret
      app_key_secret: huawei_app_key
      encoding: hex
      timestamp: {format: "%Y%m%dT%H%M%SZ", tz: UTC}
      body_digest: {algorithm: sha256, encoding: hex, empty: digest}
      canonical_query: {encoding: percent, empty_value: key_equals}
      signed_headers: [Content-Type, Host, X-Sdk-Date]
      header_name_case: lower
      signed_headers_separator: ";"
      parts:
        canonical_request:
          template: "{method}\\n{path:percent,trailing_slash}\\n{query}\\n{canonical_headers}\\n{signed_headers}\\n{body_digest}"
          digest: sha256
      string_to_sign: "SDK-HMAC-SHA256\\n{timestamp}\\n{part:canonical_request}"
      headers:
        X-Sdk-Date: "{timestamp}"
        Authorization: "SDK-HMAC-SHA256 Access={app_key}, SignedHeaders={signed_headers}, Signature={signature}"

A Chinese government data gateway (Zhejiang public-data sharing style): ``sign = md5(appKey + secret +
requestTime)``, all three in the query string::

    auth:
      type: signature
      algorithm: md5
      secret: zj_request_secret
      app_key_secret: zj_app_key
      encoding: hex
      timestamp: {format: milliseconds}
      string_to_sign: "{app_key}{secret}{timestamp}"
      query_params:
        appKey: "{app_key}"
        requestTime: "{timestamp}"
        sign: "{signature}"

and its HMAC-SM3 cousin signing the sorted query (``appKey``, ``timestamp``, ``nonce`` and the business
parameters, without ``sign``), the ``sign`` appended after::

    auth:
      type: signature
      algorithm: hmac-sm3
      secret: gov_app_secret
      app_key_secret: gov_app_key
      timestamp: {format: milliseconds, tz: Asia/Shanghai}
      nonce: {kind: digits, length: 10}
      canonical_query: {encoding: raw, exclude: [sign]}
      string_to_sign: "{query}"
      query_params: {appKey: "{app_key}", timestamp: "{timestamp}", nonce: "{nonce}", sign: "{signature}"}

A POST query API whose parameters travel in a JSON body (``params_in: json``) and which signs all of them,
sorted, with ``appKey``, ``timestamp`` and ``sign`` inside the body — ``sign = upper(md5(k1=v1&k2=v2…&key=SECRET))``
over every body field but ``sign``::

    auth:
      type: signature
      algorithm: md5
      secret: json_gateway_secret
      app_key_secret: json_gateway_app_key
      encoding: hex_upper
      timestamp: {format: "%Y%m%d%H%M%S", tz: Asia/Shanghai}
      canonical_query: {encoding: raw, include_json: true, exclude: [sign]}
      string_to_sign: "{query}&key={secret}"
      body_fields: {appKey: "{app_key}", timestamp: "{timestamp}", sign: "{signature}"}

A plain partner convention, HMAC-SHA256 over method, path without query and a millisecond timestamp::

    auth:
      type: signature
      algorithm: hmac-sha256
      secret: partner_secret
      app_key_secret: partner_app_key
      timestamp: {format: milliseconds}
      string_to_sign: "{method}\\n{path}\\n{timestamp}"
      headers: {X-App-Key: "{app_key}", X-Timestamp: "{timestamp}", X-Signature: "{signature}"}

Usage::

    signer = TemplateSigner(config.auth, secrets)   # a SignatureConfig or the YAML mapping
    session.auth = signer
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import json
import re
import secrets as _secrets
import string
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from cryptography.hazmat.primitives import hashes as _crypto_hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from requests.auth import AuthBase

from connectors.common.timeformats import SIGNATURE_NAMES, check_time_format


class SigningConfigError(ValueError):
    """The signing configuration or its secrets cannot work (raised at construction, never mid-sync)."""


class SigningError(ValueError):
    """This request cannot be signed as configured (e.g. a streamed body whose digest is needed)."""


Algorithm = Literal["hmac-sha256", "hmac-sha1", "hmac-sm3", "md5", "sha1", "sha256", "sm3", "sm2-sm3"]
DigestName = Literal["md5", "sha1", "sha256", "sm3"]
Encoding = Literal["hex", "hex_upper", "base64"]

_HMAC_ALGORITHMS = {"hmac-sha256": "sha256", "hmac-sha1": "sha1", "hmac-sm3": "sm3"}
_DIGEST_ALGORITHMS = {"md5", "sha1", "sha256", "sm3"}
_ENCODINGS = {"hex", "hex_upper", "base64"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the configuration -------------------------------------------------------------------------------------


class TimestampConfig(_Model):
    """How ``{timestamp}`` is written: ``seconds``, ``milliseconds``, ``http_date`` (RFC 7231, always GMT) or a
    strftime pattern such as ``"%Y%m%dT%H%M%SZ"`` (Huawei) or ``"%Y%m%d%H%M%S"`` with ``tz: Asia/Shanghai``."""

    format: str = "milliseconds"
    tz: str = "UTC"
    """``UTC``, a fixed offset such as ``+08:00`` (needs no tz database), or an IANA name such as ``Asia/Shanghai``."""

    @model_validator(mode="after")
    def _zulu_is_utc(self) -> TimestampConfig:
        """A pattern ending in a literal ``Z`` says UTC: written in Beijing time it was eight hours off."""
        if (self.format.endswith("Z") and not self.format.endswith("%Z")
                and _parse_tz(self.tz).utcoffset(datetime(2000, 1, 1)) != timedelta(0)):
            raise ValueError(f"timestamp format {self.format!r} ends in Z (UTC) but tz is {self.tz!r}: the time would "
                             "be marked UTC and written in another zone; set tz: UTC or drop the Z")
        return self

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        _check_time_format(value)
        return value

    @field_validator("tz")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        _parse_tz(value)
        return value


class NonceConfig(_Model):
    """``uuid4`` (with dashes, as Alibaba's samples), ``uuid4_hex``, ``digits`` or ``alnum`` of ``length``."""

    kind: Literal["uuid4", "uuid4_hex", "digits", "alnum"] = "uuid4_hex"
    length: int = Field(default=16, ge=4, le=128)


class BodyDigestConfig(_Model):
    algorithm: DigestName = "sha256"
    encoding: Encoding = "hex"
    empty: Literal["digest", "blank"] = "digest"
    """An empty body: the digest of no bytes (Huawei), or an empty string (Alibaba's Content-MD5 is then left out)."""
    skip_form: bool = False
    """A form-encoded body digests as '' (Alibaba: form parameters are signed in the query part instead)."""


class CanonicalQueryConfig(_Model):
    """How ``{query}`` is built from the query as sent (plus the form body with ``include_form``)."""

    encoding: Literal["raw", "percent"] = "raw"
    """``raw``: decoded keys and values as they are; ``percent``: RFC 3986 (only ``A-Za-z0-9-_.~`` unescaped)."""
    empty_value: Literal["key_only", "key_equals", "skip"] = "key_equals"
    """A parameter without value signs as ``k`` (Alibaba) or ``k=`` (Huawei), or is left out of the string to sign
    (``skip``: "值为空的参数不参与签名"; it is still sent). Applies to the query, the form (``include_form``) and the
    JSON body's fields (``include_json``, where ``null`` and ``""`` are the empty values)."""
    sort: bool = True
    """Sort the pairs by their decoded keys and values (as the Huawei SDK does: sorted after encoding, a Chinese
    value's ``%E5…`` went before ``Li``)."""
    duplicates: Literal["all", "one"] = "all"
    """``all``: a key repeated in the query is signed once per value; ``one``: one value per key (Alibaba's gateway
    reads the parameters into a map): a form (or JSON) value over a query value, else the first query value."""
    include_form: bool = False
    include_json: bool = False
    """The top-level fields of a JSON object body join the parameters (POST query APIs that sign "all parameters,
    sorted"): strings as they are, numbers and booleans as JSON writes them, objects and lists as compact JSON,
    null as an empty value. Fields the signer itself puts in the body (``body_fields``) are included like any."""
    exclude: frozenset[str] = frozenset()
    """Parameter names never signed, e.g. ``sign`` if the caller already puts one on the URL."""
    pair_separator: str = "="
    separator: str = "&"


class SM2Config(_Model):
    user_id: str = "1234567812345678"
    """Enters the Z value; GM/T 0009's default, which gateways assume unless they say otherwise."""
    asn1: bool = False
    """DER-encode the signature (``SEQUENCE {r, s}``) instead of the raw 64-byte ``r||s``."""
    public_key_secret: str | None = None
    """Name of the secret holding the public key (hex ``x||y``, optionally ``04``-prefixed); derived if absent."""


class PartConfig(_Model):
    """A named sub-template for ``{part:NAME}``; hashed when ``digest`` is set (Huawei's HashedCanonicalRequest)."""

    template: str
    digest: DigestName | None = None
    encoding: Encoding = "hex"


class SignatureConfig(_Model):
    """A request-signing convention (``auth: {type: signature, ...}``); see the module docstring for examples."""

    type: Literal["signature"] = "signature"
    algorithm: Algorithm
    secret: str
    """Name of the secret: the HMAC key, the ``{secret}`` of a digest convention, or the SM2 private key (hex)."""
    secret_encoding: Literal["utf8", "base64", "hex"] = "utf8"
    """How the HMAC key's text becomes bytes (a few gateways hand out base64 keys to be decoded)."""
    app_key: str | None = None
    """A literal app key / access key id, when it is not kept among the secrets."""
    app_key_secret: str | None = None
    string_to_sign: str
    parts: dict[str, PartConfig] = Field(default_factory=dict)
    encoding: Encoding = "hex"
    timestamp: TimestampConfig = Field(default_factory=TimestampConfig)
    nonce: NonceConfig = Field(default_factory=NonceConfig)
    body_digest: BodyDigestConfig = Field(default_factory=BodyDigestConfig)
    canonical_query: CanonicalQueryConfig = Field(default_factory=CanonicalQueryConfig)
    signed_headers: list[str] = Field(default_factory=list)
    header_name_case: Literal["lower", "as_is"] = "lower"
    signed_headers_separator: str = ";"
    headers: dict[str, str] = Field(default_factory=dict)
    """Header name -> value template, e.g. ``X-Signature: "{signature}"``."""
    query_params: dict[str, str] = Field(default_factory=dict)
    """Query parameter name -> value template; used instead of (or as well as) headers."""
    body_fields: dict[str, str] = Field(default_factory=dict)
    """JSON body field name -> value template, for gateways that want ``appKey``/``timestamp``/``sign`` inside a
    JSON object body: put in before signing (so ``include_json`` signs them), ``{signature}``-bearing ones after."""
    sm2: SM2Config = Field(default_factory=SM2Config)

    @model_validator(mode="after")
    def _coherent(self) -> SignatureConfig:
        digest_algorithm = self.algorithm in _DIGEST_ALGORITHMS
        sign_context = _Context(signature=False, secret=digest_algorithm, parts=set(self.parts))
        send_context = _Context(signature=True, secret=False, parts=set(self.parts))
        used: set[str] = set()
        string_uses = _compile(self.string_to_sign, sign_context, "string_to_sign").names
        used |= string_uses
        part_refs: dict[str, set[str]] = {}
        part_secret: dict[str, bool] = {}
        for name, part in self.parts.items():
            compiled = _compile(part.template, sign_context, f"parts.{name}.template")
            used |= compiled.names
            part_refs[name] = compiled.parts
            part_secret[name] = "secret" in compiled.names
        _check_acyclic(part_refs)
        secret_in_parts = any(part_secret.values())
        in_clear = _parts_holding_the_secret_in_clear(self.parts, part_refs, part_secret)
        emitted_signature = False
        post_sign_headers: set[str] = set()
        for where, templates in (("headers", self.headers), ("query_params", self.query_params),
                                 ("body_fields", self.body_fields)):
            for key, template in templates.items():
                compiled = _compile(template, send_context, f"{where}.{key}")
                used |= compiled.names
                leaking = sorted(compiled.parts & in_clear)
                if leaking:  # {secret} itself is refused here; through a part it went out as it is
                    raise ValueError(f"{where}.{key}: part {leaking[0]!r} holds {{secret}} without a digest: it "
                                     "would be sent in clear; give the part a `digest`, or keep it in the "
                                     "string_to_sign only")
                if "signature" in compiled.names:
                    emitted_signature = True
                    if where == "headers":
                        post_sign_headers.add(key.lower())
        tz_offset = _parse_tz(self.timestamp.tz).utcoffset(datetime(2000, 1, 1))
        overrides = [arg for template in (self.string_to_sign, *(p.template for p in self.parts.values()),
                                          *self.headers.values(), *self.query_params.values(),
                                          *self.body_fields.values())
                     for arg in _TIMESTAMP_ARG.findall(template)]
        zulu = next((a for a in overrides if a.endswith("Z") and not a.endswith("%Z")), None)
        if zulu is not None and tz_offset != timedelta(0):  # as TimestampConfig checks its own format
            raise ValueError(f"{{timestamp:{zulu}}} ends in Z (UTC) but timestamp.tz is {self.timestamp.tz!r}: the "
                             "time would be marked UTC and written in another zone; set tz: UTC or drop the Z")
        if not emitted_signature:
            raise ValueError(
                'the signature goes nowhere: put "{signature}" in a `headers`, `query_params` or `body_fields` value'
            )
        if digest_algorithm and "secret" not in string_uses and not secret_in_parts:
            raise ValueError(
                f"algorithm {self.algorithm!r} is a plain digest: the string_to_sign must contain {{secret}}, "
                "otherwise anyone can compute the signature"
            )
        circular = sorted(h for h in self.signed_headers if h.lower() in post_sign_headers)
        if circular:
            raise ValueError(f"signed_headers {circular} carry the signature itself; they cannot be signed")
        if self.app_key is not None and self.app_key_secret is not None:
            raise ValueError("give `app_key` (a literal) or `app_key_secret` (a secret name), not both")
        if "app_key" in used and self.app_key is None and self.app_key_secret is None:
            raise ValueError(
                "{app_key} is used: set `app_key_secret` (a secret name) or `app_key` (a literal)"
            )
        if self.algorithm != "sm2-sm3" and self.sm2.public_key_secret is not None:
            raise ValueError("`sm2` settings apply only to algorithm sm2-sm3")
        return self


# --- templates ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\{\{|\}\}|\{([a-z_][a-z0-9_]*)(?::([^{}]*))?\}|[{}]")
_NO_ARG = {
    "method",
    "path_qs",
    "query",
    "path_query",
    "body",
    "nonce",
    "app_key",
    "secret",
    "content_type",
    "accept",
    "date",
    "content_md5",
    "canonical_headers",
    "signed_headers",
    "signature",
}
_WITH_ARG = {"path", "body_digest", "timestamp", "header", "part"}
_PATH_FLAGS = {"trailing_slash", "percent"}
_SHORTCUT_HEADERS = {
    "content_type": "Content-Type",
    "accept": "Accept",
    "date": "Date",
    "content_md5": "Content-MD5",
}


@dataclass(frozen=True)
class _Context:
    signature: bool
    secret: bool
    parts: set[str]


@dataclass(frozen=True)
class _Template:
    tokens: tuple[str | tuple[str, str | None], ...]

    @property
    def names(self) -> set[str]:
        return {t[0] for t in self.tokens if isinstance(t, tuple)}

    @property
    def parts(self) -> set[str]:
        return {t[1] or "" for t in self.tokens if isinstance(t, tuple) and t[0] == "part"}

    @property
    def uses_signature(self) -> bool:
        return "signature" in self.names


def _compile(text: str, context: _Context, where: str) -> _Template:
    tokens: list[str | tuple[str, str | None]] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() > pos:
            tokens.append(text[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            tokens.append(token[0])
            continue
        if token in ("{", "}"):
            raise ValueError(
                f"{where}: unbalanced {token!r} at {match.start()} (write {token * 2} for a literal)"
            )
        name, arg = match.group(1), match.group(2)
        _check_placeholder(name, arg, context, where)
        tokens.append((name, arg))
    if pos < len(text):
        tokens.append(text[pos:])
    return _Template(tuple(tokens))


def _check_placeholder(name: str, arg: str | None, context: _Context, where: str) -> None:
    if name not in _NO_ARG and name not in _WITH_ARG:
        known = ", ".join(sorted(_NO_ARG | _WITH_ARG))
        raise ValueError(f"{where}: unknown placeholder {{{name}}}; use one of {known}")
    if name in _NO_ARG and arg is not None:
        raise ValueError(f"{where}: {{{name}}} takes no argument (got {arg!r})")
    if name == "signature" and not context.signature:
        raise ValueError(f"{where}: {{signature}} only belongs in `headers` or `query_params` values")
    if name == "secret" and not context.secret:
        raise ValueError(
            f"{where}: {{secret}} is only allowed in the string_to_sign of a plain-digest algorithm "
            "(md5/sha1/sha256/sm3), never in what is sent"
        )
    if name == "path" and arg is not None:
        flags = {flag.strip() for flag in arg.split(",")}
        if not flags <= _PATH_FLAGS:
            raise ValueError(f"{where}: {{path:...}} flags are {sorted(_PATH_FLAGS)}, got {arg!r}")
    elif name == "body_digest" and arg is not None:
        pieces = arg.split(":")
        if (
            len(pieces) > 2
            or pieces[0] not in _DIGEST_ALGORITHMS
            or (len(pieces) == 2 and pieces[1] not in _ENCODINGS)
        ):
            raise ValueError(
                f"{where}: write {{body_digest:ALGORITHM}} or {{body_digest:ALGORITHM:ENCODING}} with ALGORITHM in "
                f"{sorted(_DIGEST_ALGORITHMS)} and ENCODING in {sorted(_ENCODINGS)}, got {arg!r}"
            )
    elif name == "timestamp" and arg is not None:
        try:
            _check_time_format(arg)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    elif name == "header" and not (arg or "").strip():
        raise ValueError(f"{where}: {{header:Name}} needs a header name")
    elif name == "part" and (not arg or arg not in context.parts):
        raise ValueError(f"{where}: {{part:{arg or ''}}} names no entry of `parts` ({sorted(context.parts)})")


def _parts_holding_the_secret_in_clear(parts: Mapping[str, Any], refs: Mapping[str, set[str]],
                                      direct: Mapping[str, bool]) -> set[str]:
    """The parts whose rendered text holds the secret as it is: ``{secret}`` in the template, or a part that holds
    it, and no ``digest`` to hash it away."""
    memo: dict[str, bool] = {}

    def holds(name: str) -> bool:
        if name not in memo:
            memo[name] = False  # acyclic (checked), but never loop on a slip
            memo[name] = not parts[name].digest and (direct[name] or any(holds(r) for r in refs[name] if r in parts))
        return memo[name]

    return {name for name in parts if holds(name)}


def _check_acyclic(refs: Mapping[str, set[str]]) -> None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ValueError(f"parts refer to each other in a circle: {' -> '.join([*trail, name])}")
        state[name] = 1
        for ref in refs.get(name, ()):
            visit(ref, [*trail, name])
        state[name] = 2

    for name in refs:
        visit(name, [])


def _check_time_format(value: str) -> None:
    check_time_format(value, names=SIGNATURE_NAMES)


_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_TIMESTAMP_ARG = re.compile(r"\{timestamp:([^}]*)\}")


def _parse_tz(value: str) -> tzinfo:
    if value.upper() in ("UTC", "Z", "GMT"):
        return UTC
    offset = _OFFSET.match(value)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use UTC, a fixed offset such as +08:00, or an IANA name (Asia/Shanghai)"
        ) from None


# --- hashing and encoding ----------------------------------------------------------------------------------


def _digest(algorithm: str, data: bytes) -> bytes:
    if algorithm == "sm3":
        # hashlib has SM3 only when OpenSSL was built with it; cryptography always has it.
        h = _crypto_hashes.Hash(_crypto_hashes.SM3())
        h.update(data)
        return h.finalize()
    return hashlib.new(algorithm, data).digest()


def _hmac(algorithm: str, key: bytes, data: bytes) -> bytes:
    if algorithm == "sm3":
        mac = _crypto_hmac.HMAC(key, _crypto_hashes.SM3())
        mac.update(data)
        return mac.finalize()
    return hmac.new(key, data, algorithm).digest()


def _encode(raw: bytes, encoding: str) -> str:
    if encoding == "base64":
        return base64.b64encode(raw).decode("ascii")
    return raw.hex().upper() if encoding == "hex_upper" else raw.hex()


def _rfc3986(text: str) -> str:
    return quote(text, safe="-_.~")


# --- SM2 ---------------------------------------------------------------------------------------------------


class _SM2Signer:
    """SM2 with SM3 over ``Z || message`` (GM/T 0003.2, GM/T 0009), on top of gmssl's curve arithmetic.

    The Z value is computed here so that the user id is configurable (gmssl hard-codes the default), and the
    per-signature random ``k`` comes from :mod:`secrets`: gmssl's own default draws it from :mod:`random`, and a
    predictable ``k`` gives away the private key.
    """

    def __init__(self, private_key_hex: str, public_key_hex: str | None, user_id: str, asn1: bool) -> None:
        from gmssl import sm2  # imported here: only SM2 conventions need gmssl

        self._table = sm2.default_ecc_table
        self._n = int(self._table["n"], 16)
        d = int(private_key_hex, 16)
        if not 0 < d < self._n - 1:
            raise SigningConfigError("the SM2 private key is out of range for the SM2 curve")
        probe = sm2.CryptSM2(private_key=private_key_hex, public_key="")
        derived = probe._kg(d, self._table["g"]).rjust(128, "0")  # d*G, gmssl's own point multiplication
        if public_key_hex is None:
            public_key_hex = derived
        elif public_key_hex.lower().rjust(128, "0") != derived.lower():  # it enters the Z value: a wrong one made
            # every signature fail at the gateway (401s mid-sync), never an error when the file was read
            raise SigningConfigError("the SM2 public key is not the private key's (d·G): give the key pair's own "
                                     "public key, or leave sm2.public_key_secret out to derive it")
        self._crypt = sm2.CryptSM2(private_key=private_key_hex, public_key=public_key_hex, asn1=asn1)
        self._public_key = public_key_hex
        self._z = self._z_value(user_id.encode("utf-8"))

    def _z_value(self, user_id: bytes) -> bytes:
        entl = (len(user_id) * 8).to_bytes(2, "big")
        t = self._table
        material = entl + user_id + bytes.fromhex(t["a"] + t["b"] + t["g"] + self._public_key)
        return _digest("sm3", material)

    def sign(self, message: bytes) -> bytes:
        e = _digest("sm3", self._z + message)
        while True:
            k = _secrets.randbelow(self._n - 1) + 1
            signature = self._crypt.sign(e, f"{k:064x}")
            if signature:
                return bytes.fromhex(signature)


# --- the auth object ---------------------------------------------------------------------------------------


def _secret(secrets: Mapping[str, str], name: str, where: str) -> str:
    value = secrets.get(name)
    if value is None or value == "":
        raise SigningConfigError(f"{where}: secret {name!r} is not set (give it in the system's secrets)")
    return value


def _hex_key(value: str, name: str, strip_prefix: bool = False) -> str:
    text = value.strip().lower()
    text = text.removeprefix("0x")
    if strip_prefix and len(text) == 130 and text.startswith("04"):
        text = text[2:]
    expected = 128 if strip_prefix else 64
    if len(text) != expected or any(c not in string.hexdigits for c in text):
        raise SigningConfigError(f"secret {name!r} must be {expected} hex digits for SM2")
    return text


class TemplateSigner(AuthBase):
    """Applies a :class:`SignatureConfig` to each prepared request (a fresh timestamp and nonce per call).

    ``clock`` returns epoch seconds; ``nonce`` (if given) replaces the configured nonce generator. Both exist for
    tests and for gateways that hand out their own nonces. A missing secret is a :class:`SigningConfigError` here,
    at construction, naming the secret.
    """

    def __init__(
        self,
        config: SignatureConfig | Mapping[str, Any],
        secrets: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        if not isinstance(config, SignatureConfig):
            try:
                config = SignatureConfig.model_validate(dict(config))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'auth'}: {e['msg']}" for e in exc.errors()
                )
                raise SigningConfigError(f"auth (type signature): {problems}") from None
        self.config = config
        self._clock = clock
        self._nonce = nonce
        self._tz = _parse_tz(config.timestamp.tz)
        self._secret_text = _secret(secrets, config.secret, "auth.secret")
        self._app_key = config.app_key
        if config.app_key_secret:
            self._app_key = _secret(secrets, config.app_key_secret, "auth.app_key_secret")
        # Already validated by the model; compiled once here with the most permissive context.
        anything = _Context(signature=True, secret=True, parts=set(config.parts))
        self._string_to_sign = _compile(config.string_to_sign, anything, "string_to_sign")
        self._parts = {
            name: _compile(p.template, anything, f"parts.{name}") for name, p in config.parts.items()
        }
        self._pre_headers: list[tuple[str, _Template]] = []
        self._post_headers: list[tuple[str, _Template]] = []
        for key, text in config.headers.items():
            compiled = _compile(text, anything, f"headers.{key}")
            (self._post_headers if compiled.uses_signature else self._pre_headers).append((key, compiled))
        self._pre_query: list[tuple[str, _Template]] = []
        self._post_query: list[tuple[str, _Template]] = []
        for key, text in config.query_params.items():
            compiled = _compile(text, anything, f"query_params.{key}")
            (self._post_query if compiled.uses_signature else self._pre_query).append((key, compiled))
        self._pre_body: list[tuple[str, _Template]] = []
        self._post_body: list[tuple[str, _Template]] = []
        for key, text in config.body_fields.items():
            compiled = _compile(text, anything, f"body_fields.{key}")
            (self._post_body if compiled.uses_signature else self._pre_body).append((key, compiled))
        self._hmac_key: bytes | None = None
        self._sm2: _SM2Signer | None = None
        if config.algorithm in _HMAC_ALGORITHMS:
            self._hmac_key = self._key_bytes(self._secret_text)
        elif config.algorithm == "sm2-sm3":
            public = None
            if config.sm2.public_key_secret:
                name = config.sm2.public_key_secret
                public = _hex_key(
                    _secret(secrets, name, "auth.sm2.public_key_secret"), name, strip_prefix=True
                )
            private = _hex_key(self._secret_text, config.secret)
            self._sm2 = _SM2Signer(private, public, config.sm2.user_id, config.sm2.asn1)
        self.last_string_to_sign: str | None = None
        """The most recent string-to-sign (the secret masked): compare with what a gateway's 401 echoes back."""

    def _key_bytes(self, text: str) -> bytes:
        encoding = self.config.secret_encoding
        try:
            if encoding == "base64":
                return base64.b64decode(text, validate=True)
            if encoding == "hex":
                return bytes.fromhex(text)
        except (binascii.Error, ValueError):
            raise SigningConfigError(f"secret {self.config.secret!r} is not valid {encoding}") from None
        return text.encode("utf-8")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        attempt = _Attempt(self, r, self._clock(), self._make_nonce())
        own_params = set(self.config.query_params)
        if own_params:
            _set_query(r, _drop_params(_query_of(r), own_params))
        # the body's own fields first: a header or a parameter may be its digest (Content-MD5: {body_digest}), which
        # described the body without them when they came after (the body sent was not the one signed for)
        if self._pre_body:
            _put_body_fields(r, [(key, attempt.render(template)) for key, template in self._pre_body])
        for key, template in self._pre_headers:
            _put_header(r, key, attempt.render(template))
        _add_params(r, [(key, attempt.render(template)) for key, template in self._pre_query])
        message = attempt.render(self._string_to_sign)
        digest_algorithm = self.config.algorithm in _DIGEST_ALGORITHMS
        self.last_string_to_sign = message.replace(self._secret_text, "***") if digest_algorithm else message
        attempt.signature = self._sign(message.encode("utf-8"))
        for key, template in self._post_headers:
            _put_header(r, key, attempt.render(template))
        _add_params(r, [(key, attempt.render(template)) for key, template in self._post_query])
        if self._post_body:
            _put_body_fields(r, [(key, attempt.render(template)) for key, template in self._post_body])
        return r

    def _make_nonce(self) -> str:
        if self._nonce is not None:
            return self._nonce()
        spec = self.config.nonce
        if spec.kind == "uuid4":
            return str(uuid.uuid4())
        if spec.kind == "uuid4_hex":
            return uuid.uuid4().hex
        alphabet = string.digits if spec.kind == "digits" else string.ascii_letters + string.digits
        return "".join(_secrets.choice(alphabet) for _ in range(spec.length))

    def _sign(self, message: bytes) -> str:
        algorithm = self.config.algorithm
        if self._hmac_key is not None:
            raw = _hmac(_HMAC_ALGORITHMS[algorithm], self._hmac_key, message)
        elif self._sm2 is not None:
            raw = self._sm2.sign(message)
        else:
            raw = _digest(algorithm, message)
        return _encode(raw, self.config.encoding)


class _Attempt:
    """The values of one application of the signer: one instant, one nonce, values computed on first use."""

    def __init__(
        self, signer: TemplateSigner, request: requests.PreparedRequest, now: float, nonce: str
    ) -> None:
        self.signer = signer
        self.config = signer.config
        self.request = request
        self.now = now
        self.nonce = nonce
        self.signature: str | None = None
        self._parts: dict[str, str] = {}

    def render(self, template: _Template) -> str:
        out: list[str] = []
        for token in template.tokens:
            out.append(token if isinstance(token, str) else self.value(*token))
        return "".join(out)

    def value(self, name: str, arg: str | None) -> str:
        r = self.request
        if name == "method":
            return (r.method or "GET").upper()
        if name == "path":
            return self.path(arg)
        if name == "path_qs":
            split = urlsplit(r.url or "")
            return (split.path or "/") + (f"?{split.query}" if split.query else "")
        if name == "query":
            return self.canonical_query()
        if name == "path_query":
            query = self.canonical_query()
            return self.path(None) + (f"?{query}" if query else "")
        if name == "body":
            return self.body().decode("utf-8", errors="replace")
        if name == "body_digest":
            return self.body_digest(arg)
        if name == "timestamp":
            return self.timestamp(arg or self.config.timestamp.format)
        if name == "nonce":
            return self.nonce
        if name == "app_key":
            return self.signer._app_key or ""
        if name == "secret":
            return self.signer._secret_text
        if name == "header":
            return self.header(arg or "")
        if name in _SHORTCUT_HEADERS:
            return self.header(_SHORTCUT_HEADERS[name])
        if name == "canonical_headers":
            return "".join(f"{n}:{v}\n" for n, v in self.signed_header_items())
        if name == "signed_headers":
            return self.config.signed_headers_separator.join(n for n, _ in self.signed_header_items())
        if name == "part":
            return self.part(arg or "")
        if name == "signature":
            return self.signature or ""
        raise SigningError(f"unknown placeholder {{{name}}}")  # the config validation prevents this

    def path(self, arg: str | None) -> str:
        flags = {f.strip() for f in arg.split(",")} if arg else set()
        path = urlsplit(self.request.url or "").path or "/"
        if "percent" in flags:  # decoded whole, then split (as the Huawei SDK does): a %2F is a separator there
            path = "/".join(_rfc3986(segment) for segment in unquote(path).split("/"))
        if "trailing_slash" in flags and not path.endswith("/"):
            path += "/"
        return path

    def body(self) -> bytes:
        body = self.request.body
        if body is None:
            return b""
        if isinstance(body, str):
            return body.encode("utf-8")
        if isinstance(body, (bytes, bytearray, memoryview)):
            return bytes(body)
        raise SigningError("the request body is a stream; a signature over it needs the body as bytes")

    def is_form(self) -> bool:
        content_type = self.header("Content-Type").lower()
        return content_type.startswith("application/x-www-form-urlencoded")

    def body_digest(self, arg: str | None) -> str:
        spec = self.config.body_digest
        algorithm: str = spec.algorithm
        encoding: str = spec.encoding
        if arg:
            pieces = arg.split(":")
            algorithm = pieces[0]
            if len(pieces) == 2:
                encoding = pieces[1]
        if spec.skip_form and self.is_form():
            return ""
        body = self.body()
        if not body and spec.empty == "blank":
            return ""
        return _encode(_digest(algorithm, body), encoding)

    def timestamp(self, fmt: str) -> str:
        if fmt == "seconds":
            return str(int(self.now))
        if fmt == "milliseconds":
            return str(int(self.now * 1000))
        if fmt == "http_date":
            return email.utils.formatdate(self.now, usegmt=True)
        return datetime.fromtimestamp(self.now, self.signer._tz).strftime(fmt)

    def header(self, name: str) -> str:
        value = self.request.headers.get(name)
        if value is None and name.lower() == "host":
            return _host(self.request.url or "")
        if value is None:
            return ""
        return (value.decode("latin-1") if isinstance(value, bytes) else str(value)).strip()

    def signed_header_items(self) -> list[tuple[str, str]]:
        lower = self.config.header_name_case == "lower"
        items = [(n.lower() if lower else n, self.header(n)) for n in self.config.signed_headers]
        return sorted(items)

    def canonical_query(self) -> str:
        spec = self.config.canonical_query
        pairs = parse_qsl(urlsplit(self.request.url or "").query, keep_blank_values=True)
        body: list[tuple[str, str]] = []
        if spec.include_form and self.is_form():
            body += parse_qsl(self.body().decode("utf-8"), keep_blank_values=True)
        if spec.include_json:
            body += [(str(k), _json_param(v)) for k, v in _json_object(self.request).items()]
        if spec.duplicates == "one":
            chosen: dict[str, str] = {}
            for key, value in pairs:
                chosen.setdefault(key, value)
            chosen.update(body)
            pairs = list(chosen.items())
        else:
            pairs += body
        pairs = [(k, v) for k, v in pairs if k not in spec.exclude and not (v == "" and spec.empty_value == "skip")]
        if spec.sort:  # the decoded pairs (then encoded): the order a gateway re-derives from what it received
            pairs.sort()
        if spec.encoding == "percent":
            pairs = [(_rfc3986(k), _rfc3986(v)) for k, v in pairs]
        rendered = []
        for key, value in pairs:
            if spec.empty_value == "key_only" and not value.strip():  # blank too (Alibaba: isNotBlank)
                rendered.append(key)
            else:
                rendered.append(f"{key}{spec.pair_separator}{value}")
        return spec.separator.join(rendered)

    def part(self, name: str) -> str:
        if name not in self._parts:
            spec = self.config.parts[name]
            text = self.render(self.signer._parts[name])
            if spec.digest:
                text = _encode(_digest(spec.digest, text.encode("utf-8")), spec.encoding)
            self._parts[name] = text
        return self._parts[name]


# --- the request's URL and headers -------------------------------------------------------------------------


def _host(url: str) -> str:
    split = urlsplit(url)
    host = split.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(split.scheme)
    if split.port is not None and split.port != default:
        host = f"{host}:{split.port}"
    return host


def _json_object(r: requests.PreparedRequest) -> dict[str, Any]:
    """The request's body as a JSON object ({} for no body); a body that is not one is a :class:`SigningError`."""
    body = r.body
    if body is None or body in (b"", ""):
        return {}
    if not isinstance(body, (bytes, bytearray, str)):
        raise SigningError("the request body is a stream; signing its JSON fields needs the body as bytes")
    try:
        value = json.loads(body)
    except ValueError:
        raise SigningError("include_json / body_fields need a JSON body; this request's body is not JSON") from None
    if not isinstance(value, dict):
        raise SigningError(f"include_json / body_fields need a JSON object body; this one is a {type(value).__name__}")
    return value


def _json_param(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _put_body_fields(r: requests.PreparedRequest, fields: Iterable[tuple[str, str]]) -> None:
    """Set fields of the JSON object body (a field rendering empty is left out) and re-encode it, compact UTF-8."""
    body = _json_object(r)
    for key, value in fields:
        if value == "":
            body.pop(key, None)
        else:
            body[key] = value
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    r.body = encoded
    r.headers["Content-Length"] = str(len(encoded))
    if "Content-Type" not in r.headers:
        r.headers["Content-Type"] = "application/json"


def _query_of(r: requests.PreparedRequest) -> str:
    return urlsplit(r.url or "").query


def _set_query(r: requests.PreparedRequest, query: str) -> None:
    split = urlsplit(r.url or "")
    r.url = urlunsplit((split.scheme, split.netloc, split.path, query, split.fragment))


def _drop_params(query: str, names: set[str]) -> str:
    """The query without our own parameters: re-applying the signer to the same request replaces, not adds."""
    kept = [item for item in query.split("&") if item and unquote_plus(item.split("=", 1)[0]) not in names]
    return "&".join(kept)


def _add_params(r: requests.PreparedRequest, params: Iterable[tuple[str, str]]) -> None:
    encoded = [f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in params if v != ""]
    if encoded:
        query = _query_of(r)
        _set_query(r, "&".join([query, *encoded]) if query else "&".join(encoded))


def _put_header(r: requests.PreparedRequest, name: str, value: str) -> None:
    if value == "":
        r.headers.pop(name, None)
    else:
        r.headers[name] = value


__all__ = [
    "BodyDigestConfig",
    "CanonicalQueryConfig",
    "NonceConfig",
    "PartConfig",
    "SM2Config",
    "SignatureConfig",
    "SigningConfigError",
    "SigningError",
    "TemplateSigner",
    "TimestampConfig",
]
