"""``RestConnector``: any JSON-over-HTTP system, described by YAML instead of code.

    connector = RestConnector(yaml.safe_load(open("civil.yaml")) | {"base_url": endpoint}, secrets=os.environ)
    connector.check()
    for page in connector.read("cases", since=watermark):
        ...
    connector.write("cases", body, key=case_no, idempotency_key=f"{case_no}:{version}")

``base_url`` may be left out of the YAML when the caller injects the system's ``endpoint`` into the mapping
(the usual case: the same YAML serves the sandbox and production). ``sleep``, ``clock``, ``random`` and
``session`` exist for tests; production code passes only ``config`` and ``secrets``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

from connectors.common.declarative import DeclarativeConnector
from connectors.common.paginators import PageRequest, make_paginator
from connectors.common.reader import probe_params
from connectors.common.records import (
    check_envelope,
    check_success,
    envelope_outcome,
    failure_envelope,
    refuse_failure_envelope,
    select_items,
)
from connectors.common.secretrefs import SecretParams, masked, secret_names, url_password
from connectors.http.transport import Transport
from gateway.contract.connector import Page, SyncMode, WriteOperation, WriteResult
from gateway.contract.errors import AuthenticationError, FatalSyncError

from .auth import build_auth
from .config import RestConfig, parse_config
from .reader import page_call, read_stream
from .writer import write_record


class RestConnector(DeclarativeConnector):
    """The declarative REST connector (entry point ``rest``). See ``connectors/rest/README.md``."""

    kind: ClassVar[str] = "rest"

    def _configure(self, config: Mapping[str, Any]) -> None:
        io = self.io
        self.rest_config: RestConfig = parse_config(config)
        self.transport = Transport(self.rest_config, session=io.session, sleep=io.sleep, clock=io.clock,
                                   random=io.random, max_response_bytes=self.rest_config.max_response_bytes,
                                   charset=self.rest_config.charset)
        self.secret_params = SecretParams(self.secrets, label=self.rest_config.label)
        self.secret_params.require(*self.rest_config.parameter_sets())
        # every secret an error could quote is masked, not only the parameters' (a gateway echoes a refused key)
        self.secret_params.mask_secrets(*secret_names(self.rest_config.auth))
        self.secret_params.mask_value(url_password(self.rest_config.base_url))
        self.transport.auth = build_auth(
            self.rest_config.auth, self.secrets, fetch_token=self.transport.fetch_token,
            request_token=self.transport.request_token, clock=io.clock, on_token=self.secret_params.mask_value,
        )
        self.transport.secret_params = self.secret_params

    @property
    def settings(self) -> RestConfig:
        return self.rest_config

    def _probe(self) -> str:
        """One authenticated request: the check stream's first page, or the configured path. Refused while the
        request was signed (``auth: {type: signature}``), the error quotes the string that was signed, secret
        masked: a 签名验证失败 says nothing of which part of the convention the YAML got wrong, and this is what to
        hold against the system's documentation (or the string its error echoes back)."""
        with masked(self.secret_params):
            try:
                return self._first_answer()
            except (AuthenticationError, FatalSyncError) as exc:
                signer = getattr(self.transport.auth, "signer", None)
                signed = getattr(signer, "last_string_to_sign", None)
                if signed is None:
                    raise
                said = (f"{exc} — the request was signed ({signer.config.algorithm}) over {signed!r}: compare it "
                        "with the string the system's documentation describes")
                raise (AuthenticationError(said) if isinstance(exc, AuthenticationError)
                       else FatalSyncError(said)) from None

    def _first_answer(self) -> str:
        cfg = self.rest_config
        if cfg.check is not None and cfg.check.path is not None:
            response = self.transport.request("GET", cfg.check.path, params=cfg.check.params or None, stream=True)
            message = f"{cfg.label}: GET {cfg.check.path} answered HTTP {response.status_code}"
            self.transport.read_body(response, message)  # under a page's limits (size, timeout.total)
            if not response.ok:
                raise FatalSyncError(message)
            said = failure_envelope(_json_or_none(response))  # a 200 saying 参数错误 or token失效 is no health
            if said is not None:
                raise FatalSyncError(f"{message}, saying it failed: {said}")
            return message
        name = cfg.check.stream if cfg.check is not None and cfg.check.stream else next(iter(cfg.streams))
        stream = cfg.streams[name]
        params = dict(stream.params)
        if stream.incremental is not None:  # the newest window, as a read would ask for it (its span included)
            params.update(probe_params(stream.incremental, datetime.now(timezone.utc)))
        request = make_paginator(stream.pagination).request(PageRequest(stream.path, params))
        rule = stream.success

        def busy(body: Any) -> str | None:
            outcome, said = envelope_outcome(body, rule)
            return said if outcome == "retry" else None

        _, document = self.transport.get_document(request.url, headers=stream.headers or None,
                                                  busy=busy if rule is not None else None,
                                                  **page_call(stream, request.params))
        where = f"{cfg.label} stream {name!r}"
        body = document.value
        if document.screen:  # records with bad values are the read's business; a broken envelope is ours
            check_envelope(body, stream.record_selector, where=where, damaged=document.damaged,
                           charset_hint=document.charset_hint)
        if rule is None:
            refuse_failure_envelope(body, where=where)  # as the read takes it (no empty page)
        if check_success(body, rule, where=where) == "skip":  # e.g. 查询无数据: the system is up, and empty
            return f"{where}: first page answered: no records ({envelope_outcome(body, rule)[1]})"
        items = select_items(body, stream.record_selector, where=where, checked=rule is not None)
        if document.charset_hint and document.damaged:  # records whose text did not decode: the sync rejects them
            raise FatalSyncError(f"{where}: first page answered with {len(items)} record(s) holding text that is "
                                 f"not UTF-8 (each would be rejected as text.invalid_encoding): "
                                 f"{document.charset_hint}")
        return f"{where}: first page answered with {len(items)} record(s)"

    def _read_stream(self, stream: str, config: Any, *, since: datetime | None, mode: SyncMode,
                     checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        with masked(self.secret_params):
            yield from read_stream(self.transport, stream, config, since=since, mode=mode, checkpoint=checkpoint)

    def _write_record(self, stream: str, config: Any, record: Mapping[str, Any], *, key: str,
                      idempotency_key: str, operation: WriteOperation) -> WriteResult:
        with masked(self.secret_params):
            return write_record(self.transport, stream, config, record, key=key, idempotency_key=idempotency_key,
                                operation=operation)

    def close(self) -> None:
        self.transport.close()


def _json_or_none(response: Any) -> Any:
    """The answer's JSON body, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


__all__ = ["RestConnector"]
