"""``SoapConnector``: any SOAP system, described by YAML instead of code (entry point ``soap``).

    connector = SoapConnector(yaml.safe_load(open("sd_market.yaml")) | {"base_url": endpoint}, secrets=env)
    connector.check()
    for page in connector.read("cases", since=watermark):
        ...
    connector.write("cases", record, key=case_no, idempotency_key=f"{case_no}:{version}")

``sleep``, ``clock``, ``random`` and ``session`` exist for tests; production passes ``config`` and ``secrets``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from connectors.common.declarative import DeclarativeConnector
from connectors.common.secretrefs import masked
from connectors.common.urls import shown
from gateway.contract.connector import Page, SyncMode, WriteOperation, WriteResult
from gateway.contract.errors import AuthenticationError, ConfigError, TongbanError

from .client import SoapClient
from .config import SoapConfig, parse_config
from .reader import read_stream
from .writer import write_record
from .wsdl_check import configuration_problems


class SoapConnector(DeclarativeConnector):
    """The declarative SOAP connector. See ``connectors/soap/README.md``."""

    kind: ClassVar[str] = "soap"
    config_paths: ClassVar[tuple[str, ...]] = ("wsdl", "wsdl_cache_dir", "schema_locations.*", "tls.client_cert",
                                               "tls.client_key", "tls.ca_bundle")
    """Keys holding local paths: relative ones are resolved against the file that declares them when the
    systems file is loaded (:mod:`gateway.kernel.configpaths`)."""

    def _configure(self, config: Mapping[str, Any]) -> None:
        io = self.io
        self.soap_config: SoapConfig = parse_config(config)
        self.client = SoapClient(self.soap_config, self.secrets, session=io.session, sleep=io.sleep, clock=io.clock,
                                 random=io.random)

    @property
    def settings(self) -> SoapConfig:
        return self.soap_config

    def _probe(self) -> str:
        """Every configured call against the WSDL (:mod:`.wsdl_check`), then one authenticated call: the check
        stream's first page, or the configured call. The message says which URL was called and why that one (the
        connector's ``address``, the endpoint, or the WSDL's own)."""
        cfg = self.soap_config
        try:
            problems = configuration_problems(self.client, cfg)  # every configured call, against the WSDL
            if problems:
                raise ConfigError(f"{cfg.label}: the configuration does not fit the WSDL (nothing was sent): "
                                  + "; ".join(problems))
            if cfg.check is not None and cfg.check.call is not None:
                call = cfg.check.call
                result = self.client.call(call.operation, call.params, overload=call.overload)
                said = f"{cfg.label}: {call.operation} answered HTTP {result.status}"
            else:
                name = cfg.check.stream if cfg.check is not None and cfg.check.stream else next(iter(cfg.streams))
                start = self.probe_since(name)  # a windowed stream: its newest window, where records are
                pages = (self.read(name, since=start, mode="incremental") if start is not None
                         else self.read(name, mode="full_refresh"))
                first = next(iter(pages), None)
                count = len(first.records) + len(first.rejects) if first is not None else 0
                said = f"{cfg.label} stream {name!r}: first page answered with {count} record(s)"
        except TongbanError as exc:
            self.client.secret_params.redact_error(exc)
            if self.client.address_known and exc.args and isinstance(exc.args[0], str):
                exc.args = (self._with_address(exc.args[0]), *exc.args[1:])
            raise
        return self._with_address(said)

    def _with_address(self, message: str) -> str:
        """``message`` and where calls go, and why there (an error names the URL already; say only why)."""
        url = shown(self.client.address)
        if url in message:
            return f"{message}; that URL is {self.client.address_why}"
        return f"{message}; calls go to {url}: {self.client.address_why}"

    def _read_stream(self, stream: str, config: Any, *, since: datetime | None, mode: SyncMode,
                     checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        with masked(self.client.secret_params):
            yield from read_stream(self.client, stream, config, since=since, mode=mode, checkpoint=checkpoint)

    def _write_record(self, stream: str, config: Any, record: Mapping[str, Any], *, key: str,
                      idempotency_key: str, operation: WriteOperation) -> WriteResult:
        with masked(self.client.secret_params):
            logins = self.client.logins
            try:
                return write_record(self.client, stream, config, record, key=key, idempotency_key=idempotency_key,
                                    operation=operation)
            except AuthenticationError:
                # refused with a login token cached before this write: the write was not applied; log in again and
                # send it once more (a token fetched for this very write and refused is the answer)
                if self.client.login is None or self.client.logins != logins:
                    raise
                self.client.drop_token()
                return write_record(self.client, stream, config, record, key=key, idempotency_key=idempotency_key,
                                    operation=operation)

    def close(self) -> None:
        self.client.close()


__all__ = ["SoapConnector"]
