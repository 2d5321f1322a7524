"""One SOAP call, end to end: pick the operation as written, build the envelope, sign it, POST it, read at
most ``limits.max_bytes``, decode the text safely, parse it hardened, and turn faults and HTTP outcomes into
:mod:`gateway.contract.errors`.

=============================================  =================================================================
what came back                                  what happens
=============================================  =================================================================
connection refused / timeout, 429/502/503/504   retried by the shared transport, then SourceUnavailable/Retriable
401 / 403                                       :class:`AuthenticationError`
SOAP Fault                                      by the fault rules (:mod:`connectors.soap.faults`); ``retry``
                                                faults are retried here with the same backoff policy
HTTP 500 without a Fault (an IIS error page,    retried, then :class:`RetriableSyncError` naming the page title
or a server's plain-text error)                 or showing the first bytes
HTTP 2xx with an HTML page (a proxy's page),    retried like a 503, then :class:`RetriableSyncError` saying what
when reading                                    arrived (first bytes, digit runs masked)
truncated XML                                   retried, then :class:`RetriableSyncError` ("truncated")
empty body, HTML page, other 4xx/5xx            :class:`FatalSyncError` that says what arrived
oversized body, DTD, too deep                   :class:`~connectors.soap.hardening.UnsafeXmlError` (fatal); the
                                                size cap (``limits.max_bytes``) holds while streaming
=============================================  =================================================================

Every error names the operation and the URL it was POSTed to (query string left out). The URL is the
connector's ``address``, else the systems file's endpoint with the path of the WSDL's ``soap:address``, else
(no endpoint configured) that ``soap:address`` itself, logged as a warning (:meth:`SoapConfig.resolve_address`).

The WSDL is loaded on first use (``check()`` must be able to report a WSDL that cannot be fetched).

Login (``auth: {type: login}``): the service's own login operation is called when a token is first needed; the
token is cached, masked in every error, and put into every other call (``send_as``: a parameter of the
operations that take it, or SOAP header blocks). An HTTP 401/403 to a call that carried a token cached before
it makes the client log in again and send the call once more; a second refusal is an
:class:`AuthenticationError`. A ``reauth`` code inside the answer is the reader's to see (:meth:`drop_token`).

SOAP headers (``soap_headers``, the login's ``send_as.header``): header blocks built from the WSDL's element
declarations (their namespaces, their children's names checked), put on the operations whose binding declares
them as ``soap:header`` — or, when the WSDL declares none anywhere, on every operation.
"""

from __future__ import annotations

import json
import logging
import random as _random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from lxml import etree
from requests.auth import HTTPBasicAuth

from connectors.common.records import answer_says, dig
from connectors.common.secretrefs import SecretParams, secret_names, url_password
from connectors.common.urls import shown
from connectors.http.body import ResponseTooLargeError, first_bytes, looks_like_html, read_capped
from connectors.http.transport import Attempts, Transport, describe_body
from gateway.contract.errors import AuthenticationError, ConfigError, FatalSyncError, RetriableSyncError

from .config import SoapConfig
from .decode import find_path, local_name, soap_body
from .embedded import json_document, xml_document
from .envelope import add_header, literal_envelope, rpc_envelope, zeep_envelope
from .faults import FaultRule, classify, fault_error, read_fault
from .hardening import UnsafeXmlError, XmlLimits, parse_document
from .loader import LoadedWsdl, load_wsdl
from .multiref import has_references, inline_references
from .wsdl_model import WSDL, Operation, Port
from .wsse import WsseSettings, security_header
from .xmltext import DecodedXml, charset_of, decode_xml, lexical

_ACCEPT = "text/xml, application/soap+xml, application/xml;q=0.9, */*;q=0.1"
log = logging.getLogger("connectors.soap")

_ENVELOPE_START = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<(?:[A-Za-z_][\w.-]*:)?Envelope[\s>/]", re.DOTALL)
"""A body that opens as a SOAP envelope (after a BOM, an XML declaration, comments), whatever its Content-Type."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """A successful answer: the parsed ``soap:Body`` and how its text was decoded."""

    body: etree._Element
    decoded: DecodedXml
    status: int
    where: str


def _secret(secrets: Mapping[str, str], name: str, where: str) -> str:
    value = secrets.get(name)
    if value is None or value == "":
        raise ConfigError(f"{where}: secret {name!r} is not set (give it in the system's secrets)")
    return value


class SoapClient:
    """Calls operations of one port of one WSDL. Thread-compatible, not thread-safe (one per connector)."""

    def __init__(
        self,
        config: SoapConfig,
        secrets: Mapping[str, str],
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.config = config
        session = session or requests.Session()
        if config.tls is not None:
            tls = config.tls
            cert = tls.client_cert or (secrets.get(tls.client_cert_secret) if tls.client_cert_secret else None)
            key = tls.client_key or (secrets.get(tls.client_key_secret) if tls.client_key_secret else None)
            if cert:
                session.cert = (cert, key) if key else cert
            session.verify = tls.ca_bundle or tls.verify
        self.transport = Transport(config, session=session, sleep=sleep, clock=clock, random=random,  # type: ignore[arg-type]
                                   accept=_ACCEPT)
        if config.http_basic is not None:
            self.transport.auth = HTTPBasicAuth(
                _secret(secrets, config.http_basic.username_secret, "http_basic.username_secret"),
                _secret(secrets, config.http_basic.password_secret, "http_basic.password_secret"),
            )
        self.wsse: WsseSettings | None = None
        if config.wsse is not None:
            w = config.wsse
            self.wsse = WsseSettings(
                _secret(secrets, w.username_secret, "wsse.username_secret"),
                _secret(secrets, w.password_secret, "wsse.password_secret"),
                digest=w.digest, nonce=w.nonce, created=w.created, timestamp_ttl=w.timestamp_ttl_seconds,
                must_understand=w.must_understand,
            )
        self.secret_params = SecretParams(secrets, label=config.label)
        self.secret_params.require(*config.parameter_sets())
        # every secret an error could quote is masked, not only the parameters' (a server echoes a refused one)
        self.secret_params.mask_secrets(*secret_names(config.wsse), *secret_names(config.http_basic),
                                        *secret_names(config.tls))
        for url in (config.base_url, config.address):
            self.secret_params.mask_value(url_password(url))
        self.limits = XmlLimits(config.limits.max_bytes, config.limits.max_depth, config.limits.max_elements)
        self.rules = [FaultRule(r.match, r.action) for r in config.faults]
        self._clock = clock
        self._loaded: LoadedWsdl | None = None
        self._port: Port | None = None
        self._address: tuple[str, str] | None = None
        self.calls_sent = 0
        self.login = config.auth
        self._token: str | None = None
        self._token_uses = 0
        self.logins = 0
        """How many times the login operation gave a token (tests and ``connector check`` read it)."""

    # -- the WSDL ----------------------------------------------------------------------------------------------
    @property
    def loaded(self) -> LoadedWsdl:
        if self._loaded is None:
            self._loaded = load_wsdl(self.config.wsdl_location, session=self.transport.session, limits=self.limits,
                                     offline=self.config.offline, timeout=self.config.timeout.read,
                                     cache_dir=self.config.wsdl_cache_dir, total=self.config.timeout.total,
                                     schema_locations=self.config.schema_locations)
        return self._loaded

    @property
    def port(self) -> Port:
        if self._port is None:
            self._port = self._choose_port()
        return self._port

    @property
    def address(self) -> str:
        """The URL every call is POSTed to (see :meth:`SoapConfig.resolve_address`)."""
        return self._resolved_address[0]

    @property
    def address_why(self) -> str:
        """Where :attr:`address` comes from, in words: the connector's `address`, the endpoint, or the WSDL."""
        return self._resolved_address[1]

    @property
    def address_known(self) -> bool:
        """Whether :attr:`address` has been worked out (the WSDL loaded, the port chosen)."""
        return self._address is not None

    @property
    def _resolved_address(self) -> tuple[str, str]:
        if self._address is None:
            self._address = self.config.resolve_address(self.port.address)
            if not self.config.address and not self.config.base_url:
                log.warning("%s: calls go to %s, %s", self.config.label, _no_query(self._address[0]),
                            self._address[1])
        return self._address

    def _choose_port(self) -> Port:
        cfg = self.config
        ports = [p for p in self.loaded.model.soap_ports() if cfg.service in (None, p.service)]
        if cfg.port is not None:
            chosen = next((p for p in ports if p.name == cfg.port), None)
            if chosen is None:
                raise ConfigError(f"{cfg.label}: no SOAP port {cfg.port!r} (have {[p.name for p in ports]})")
            return chosen
        want = "soap12" if cfg.soap_version == "1.2" else "soap11"
        chosen = next((p for p in ports if p.protocol == want), None)
        if chosen is None:
            raise ConfigError(f"{cfg.label}: the WSDL has no SOAP {cfg.soap_version} port "
                              f"(have {[(p.name, p.protocol) for p in ports]})")
        return chosen

    def operation(self, name: str, overload: int | str | None = None) -> Operation:
        """An operation as written; overloads are told apart by position or input message name."""
        variants = [op for op in self.loaded.model.operations_of(self.port) if op.name == name]
        if not variants:
            have = sorted({op.name for op in self.loaded.model.operations_of(self.port)})
            raise ConfigError(f"{self.config.label}: port {self.port.name} has no operation {name!r} (have {have})")
        if overload is None:
            if len(variants) > 1:
                described = [f"{op.variant}: {op.input_name} ({', '.join(op.parameter_order)})" for op in variants]
                raise ConfigError(f"{self.config.label}: operation {name!r} is overloaded {len(variants)} times; "
                                  f"choose one with `overload:` — {'; '.join(described)}")
            return variants[0]
        for op in variants:
            if overload == op.variant or overload == op.input_name:
                return op
        raise ConfigError(f"{self.config.label}: operation {name!r} has no overload {overload!r} "
                          f"(0..{len(variants) - 1} or {[op.input_name for op in variants]})")

    def zeep_exposes(self, op: Operation) -> bool:
        """Whether zeep can build this exact variant (it keeps only the last overload, drops broken ones)."""
        exposed = self.loaded.zeep_operations().get(self.port.binding.text, set())
        return op.name in exposed and op.variant == op.variants - 1 and not op.missing_messages

    # -- calling -------------------------------------------------------------------------------------------------
    def build(self, op: Operation, params: Mapping[str, Any]) -> etree._Element:
        soap12 = self.port.protocol == "soap12"
        where = f"{self.config.label} {op.name}"
        model = self.loaded.model
        if op.style == "rpc" or op.encoded:
            return rpc_envelope(op, params, soap12=soap12, namespace=model.target_namespace, where=where)
        if self.zeep_exposes(op):
            return zeep_envelope(self.loaded, self.port, op, params, where=where)
        wrapper = next((p.element for p in op.input_parts or () if p.element is not None), None)
        return literal_envelope(op, model.part_fields(op.input_parts), wrapper, params, soap12=soap12, where=where)

    def call(self, name: str, params: Mapping[str, Any], *, overload: int | str | None = None,
             writing: bool = False, secrets_resolved: bool = False, attempts: Attempts | None = None,
             soap_headers: Mapping[str, Any] | None = None, logging_in: bool = False) -> CallResult:
        """Call an operation. ``{secret: NAME}`` values in ``params`` become the secret only here, in the
        envelope (the connector masks a secret's value that an error echoes). ``secrets_resolved``: the caller
        resolved the YAML's references itself before putting record data in (a write: a record holding
        ``{"secret": "password"}`` must go as it is, never as the system's password). ``attempts``: the budget of a
        caller that retries the call itself for more reasons (a "busy" code inside the answer). ``soap_headers``:
        a stream's own header blocks (over the connection's). ``logging_in``: this is the login call itself
        (no token goes with it)."""
        op = self.operation(name, overload)
        if not secrets_resolved:
            params = self.secret_params.resolve(params)
        address = self.address
        where = f"{self.config.label} {name} (POST {_no_query(address)})"
        soap12 = self.port.protocol == "soap12"
        encoding = self.config.request_encoding
        headers = ({"Content-Type": f'application/soap+xml; charset={encoding}; action="{op.soap_action}"'}
                   if soap12 else {"Content-Type": f"text/xml; charset={encoding}", "SOAPAction": f'"{op.soap_action}"'})
        # one budget for the transport's retries, the faults' and (``attempts``) the caller's own: a "busy" code
        budget = attempts if attempts is not None else self.transport.attempts()
        with_token = self.login is not None and not logging_in and self._uses_token(op, soap_headers)
        logins_before, relogged = self.logins, False
        while True:
            token = self.token() if with_token else None
            envelope = self.build(op, self._with_token(op, params, token))
            for block in self._header_blocks(op, soap_headers, token, logging_in=logging_in):
                add_header(envelope, block)
            if self.wsse is not None:  # a fresh nonce and timestamp for every attempt
                add_header(envelope, security_header(self.wsse, soap12=soap12, clock=self._clock))
            data = etree.tostring(envelope, xml_declaration=True, encoding=encoding)
            self.calls_sent += 1
            if token is not None:
                self._token_uses += 1
            try:
                response = self.transport.request("POST", address, data=data, headers=headers, stream=True,
                                                  attempts=budget)
            except AuthenticationError:  # HTTP 401/403: a token cached before this call may have expired
                if token is None or relogged or self.logins != logins_before:
                    raise
                relogged = True
                log.info("%s: %s refused our login's token (HTTP 401/403); logging in again", self.config.label,
                         name)
                self.drop_token()
                budget.give_back()
                continue
            try:
                return self._answer(response, where, writing)
            except _TryAgain as again:
                if budget.spent:
                    raise again.error from None
                why = self.secret_params.redact(str(again.error)).removeprefix(f"{self.config.label} ")
                self.transport.pause(budget.made, response.headers, why)

    # -- login ---------------------------------------------------------------------------------------------------
    def token(self) -> str:
        """The login's token: the cached one, or a new one from the login operation (``auth: {type: login}``)."""
        login = self.login
        assert login is not None
        if login.refresh_after_calls is not None and self._token_uses >= login.refresh_after_calls:
            self._token = None
        if self._token is None:
            self._token = self._log_in()
            self._token_uses = 0
            self.logins += 1
        return self._token

    def drop_token(self) -> None:
        """Forget the cached token (the service said it expired): the next call logs in first."""
        self._token = None

    def _log_in(self) -> str:
        login = self.login
        assert login is not None
        where = f"{self.config.label} login ({login.operation})"
        result = self.call(login.operation, login.params, overload=login.overload, logging_in=True)
        try:
            token, said = _token_of(result.body, login, where=where, limits=self.limits)
        except FatalSyncError as exc:
            raise AuthenticationError(f"{where}: the answer holds no token: {exc}") from None
        if token is None:
            raise AuthenticationError(f"{where}: the answer holds no token at `auth.token_path` "
                                      f"{login.token_path!r}" + (f": {said}" if said else ""))
        self.secret_params.mask_value(token)
        return token

    def _takes(self, op: Operation) -> set[str]:
        """The names of an operation's parameters."""
        if op.style == "rpc" or op.encoded:
            return {p.name for p in op.input_parts or ()}
        return {f.name for f in self.loaded.model.part_fields(op.input_parts)}

    def _uses_token(self, op: Operation, soap_headers: Mapping[str, Any] | None) -> bool:
        assert self.login is not None
        send_as = self.login.send_as
        if send_as.param is not None and send_as.param in self._takes(op):
            return True
        blocks = {**self.config.soap_headers, **(send_as.header or {})}
        sent = [n for n, v in blocks.items() if "{token}" in repr(v) and self._goes_on(op, n)]
        return bool(sent) or "{token}" in repr(dict(soap_headers or {}))

    def _with_token(self, op: Operation, params: Mapping[str, Any], token: str | None) -> Mapping[str, Any]:
        if token is None or self.login is None or self.login.send_as.param is None:
            return params
        name = self.login.send_as.param
        return {**params, name: f"{self.login.send_as.prefix}{token}"} if name in self._takes(op) else params

    # -- SOAP headers ------------------------------------------------------------------------------------------
    def declared_headers(self, op: Operation) -> dict[str, etree.QName]:
        """The soap:header blocks the binding declares for an operation's input: local name → element name."""
        return declared_soap_headers(self.loaded.model, self.port, op)

    def _any_declared(self) -> bool:
        return any(self.declared_headers(op) for op in self.loaded.model.operations_of(self.port))

    def _goes_on(self, op: Operation, name: str) -> bool:
        """A connection-wide block goes on the operations that declare it (on all when the WSDL declares none)."""
        return name in self.declared_headers(op) or not self._any_declared()

    def _header_blocks(self, op: Operation, stream_headers: Mapping[str, Any] | None, token: str | None, *,
                       logging_in: bool) -> list[etree._Element]:
        send_as = self.login.send_as if self.login is not None else None
        chosen: dict[str, tuple[str, Any]] = {}
        for name, value in self.config.soap_headers.items():
            if self._goes_on(op, name) and not (logging_in and "{token}" in repr(value)):
                chosen[name] = ("soap_headers", value)
        if send_as is not None and send_as.header and not logging_in:
            for name, value in send_as.header.items():
                if self._goes_on(op, name):
                    chosen[name] = ("auth.send_as.header", value)
        declared = self.declared_headers(op)
        for name, value in (stream_headers or {}).items():
            if declared and name not in declared:
                raise ConfigError(f"{self.config.label}: soap_headers: operation {op.name!r} declares the SOAP "
                                  f"header(s) {sorted(declared)}, not {name!r}")
            chosen[name] = ("soap_headers", value)
        return [self._header_element(op, name, self.secret_params.resolve(value), token, setting=setting)
                for name, (setting, value) in chosen.items()]

    def _header_element(self, op: Operation, name: str, value: Any, token: str | None, *,
                        setting: str) -> etree._Element:
        model = self.loaded.model
        qname = self.declared_headers(op).get(name) or next(
            (q for q in model.elements if q.localname == name), None) or etree.QName(model.target_namespace, name)
        declared = model.element_field(qname, depth=6)
        where = f"{self.config.label}: {setting}.{name} (operation {op.name!r})"

        def fill(parent: etree._Element, items: Any, fields: tuple[Any, ...] | None, path: str) -> None:
            if not isinstance(items, Mapping):
                text = "" if items is None else lexical(items)
                if "{token}" in text:
                    if token is None:
                        raise ConfigError(f'{where}: "{{token}}" but no login token is sent with this call')
                    text = text.replace("{token}", token)
                parent.text = text
                return
            known = {f.name: f for f in fields or ()}
            for key, item in items.items():
                field = known.get(str(key))
                if fields and field is None:
                    raise ConfigError(f"{where}: {path}{key!r} is not an element of the header's declared type "
                                      f"{qname.localname} (it has {sorted(known)})")
                ns = field.namespace if field is not None else qname.namespace
                child = etree.SubElement(parent, f"{{{ns}}}{key}" if ns else str(key))
                fill(child, item, field.children if field is not None else None, f"{path}{key}.")

        block = etree.Element(qname.text)
        fill(block, value, declared.children if declared is not None else None, "")
        return block

    def _answer(self, response: requests.Response, where: str, writing: bool) -> CallResult:
        try:
            content = read_capped(response, self.limits.max_bytes, where=where, setting="limits.max_bytes", deadline=self.transport.config.timeout.total)
        except ResponseTooLargeError as exc:
            raise UnsafeXmlError(str(exc)) from None
        except RetriableSyncError as exc:  # cut short, too slow, not the gzip it claims: as retriable as a reset
            raise _TryAgain(exc) from None
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        if not content.strip():
            raise FatalSyncError(f"{where}: HTTP {status} with an empty body instead of a SOAP envelope")
        if looks_like_html(content, content_type) and not _ENVELOPE_START.match(content[:4096]):
            # a page, not an answer — though a SOAP envelope labelled text/html (ASP/JSP/PHP servers do) is read as
            # one: refused, a system was never readable and a write it applied counted failed (sent again)
            described = describe_body(response)
            if status >= 500:
                raise _TryAgain(RetriableSyncError(f"{where}: HTTP {status} with {described}"))
            if 200 <= status < 300 and not writing:  # a proxy's or gateway's page in place of the answer
                raise _TryAgain(RetriableSyncError(
                    f"{where}: HTTP {status} with {described} instead of a SOAP envelope (a proxy's or gateway's "
                    f"page?); Content-Type {content_type or 'none'!r}, first bytes {first_bytes(content)}"))
            raise FatalSyncError(f"{where}: HTTP {status} with {described} instead of a SOAP envelope "
                                 f"(wrong address, or a proxy's page?)")
        decoded = decode_xml(content, charset_of(content_type))
        try:
            root = parse_document(decoded.data, where=f"{where} (HTTP {status}, read as {decoded.encoding})",
                                  limits=self.limits)
        except UnsafeXmlError:
            raise
        except FatalSyncError as exc:
            if "truncated" in str(exc):
                raise _TryAgain(RetriableSyncError(str(exc))) from None
            if status >= 500:  # a server error's own text (a stack trace, "system busy"): retried, as a page is
                raise _TryAgain(RetriableSyncError(f"{where}: HTTP {status} with a body that is no SOAP envelope; "
                                                   f"first bytes {first_bytes(content)}")) from None
            raise FatalSyncError(f"{exc}; first bytes {first_bytes(content)}") from None
        body = soap_body(root, where=where)
        fault = read_fault(body)
        if fault is not None:
            action = classify(fault, self.rules)
            error = fault_error(fault, action, where=f"{where} (HTTP {status})", writing=writing)
            if action == "retry":
                raise _TryAgain(error)
            raise error
        if not 200 <= status < 300:
            raise FatalSyncError(f"{where}: HTTP {status} with a SOAP envelope that is not a Fault")
        if has_references(decoded.data):
            inline_references(body, where=where, max_elements=self.limits.max_elements)
        return CallResult(body, decoded, status, where)

    def close(self) -> None:
        self.transport.close()


def declared_soap_headers(model: Any, port: Port, op: Operation) -> dict[str, etree.QName]:
    """The ``soap:header`` parts of an operation's input in the port's binding: local name → element name."""
    binding = model.bindings.get(port.binding)
    if binding is None:
        return {}
    bop = binding.operations.get((op.name, op.input_name))
    if bop is None:
        bop = binding.operations.get((op.name, None))
    inp = bop.find(f"{{{WSDL}}}input") if bop is not None else None
    found: dict[str, etree.QName] = {}
    for child in inp if inp is not None else ():
        if not isinstance(child.tag, str) or local_name(child.tag) != "header":
            continue
        prefix, _, local = child.get("message", "").rpartition(":")
        ns = child.nsmap.get(prefix or None)
        parts = model.messages.get(etree.QName(ns, local) if ns else etree.QName(local), ())
        part = next((p for p in parts if p.name == child.get("part")), None)
        if part is None:
            continue
        element = part.element or etree.QName(part.name)
        found[element.localname] = element
    return found


def _token_of(body: etree._Element, login: Any, *, where: str, limits: XmlLimits) -> tuple[str | None, str]:
    """The token in a login's answer, or ``None`` and what the answer says instead (its code and message)."""
    if login.embedded is not None and login.embedded.format == "json":
        document = json_document(body, login.embedded, where=where).value
        value = dig(document, login.token_path, None) if isinstance(document, (Mapping, list)) else None
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip(), ""
        return None, _what_json_says(document)
    root = body if login.embedded is None else xml_document(body, login.embedded, where=where, limits=limits)[0]
    element = find_path(root, login.token_path.split("."))
    if element is None:
        return None, _what_xml_says(root)
    if len(element):
        return None, _what_xml_says(element)
    text = (element.text or "").strip()
    if text.startswith("<"):  # an error document carried as text where the token should be
        try:
            return None, _what_xml_says(parse_document(text.encode("utf-8"), where=where, limits=limits))
        except FatalSyncError:  # not XML after all (UnsafeXmlError is one too)
            return None, f"it holds {len(text)} characters starting with '<' that are not XML"
    if text.startswith(("{", "[")):
        try:
            return None, _what_json_says(json.loads(text))
        except ValueError:
            return None, f"it holds {len(text)} characters starting with {text[0]!r} that are not JSON"
    return (text or None), ("it is empty" if not text else "")


def _what_xml_says(element: etree._Element) -> str:
    """The leaf elements of a login answer that look like a code or a message (``ResultCode = '-2'``), with their
    values; of any other leaf only the name — one of them may be the token itself (a ``token_path`` written wrong),
    and an error message is read by people, stored with the run and sent in alerts."""
    leaves = [(local_name(e.tag), "".join(e.itertext()).strip()) for e in element.iter()
              if isinstance(e.tag, str) and not len(e)]
    telling = [(n, v) for n, v in leaves if any(w in n.lower() for w in ("code", "msg", "message", "error", "status",
                                                                        "desc", "info"))]
    if telling:
        return ", ".join(f"{n} = {v[:200]!r}" for n, v in telling)
    return ("elements " + ", ".join(n for n, _ in leaves[:8]) + " (values not shown: one may be the token)"
            if leaves else "nothing")


def _what_json_says(document: Any) -> str:
    if not isinstance(document, Mapping):  # a bare value may be the token itself: its kind and length only
        return f"it holds a JSON {type(document).__name__} of {len(str(document))} characters, not an object"
    return answer_says(document) or "no code or message"


def _no_query(url: str) -> str:
    """A URL for messages and logs: without its query string (queries may carry tokens) or ``user:password@``."""
    return shown(url)


class _TryAgain(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


__all__ = ["CallResult", "SoapClient", "declared_soap_headers"]
