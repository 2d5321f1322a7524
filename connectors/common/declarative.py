"""What every YAML-described connector shares: streams from its config, lookups that name what exists,
and a ``check`` that reports instead of raising.

A declarative kind (REST, SOAP, the next one) keeps its own config model with ``label``, ``streams`` (readable)
and ``write`` (writable), and implements :meth:`_read_stream`, :meth:`_write_record` and :meth:`_probe`
(one cheap authenticated call); this base turns those into the :class:`~gateway.contract.connector.Connector` surface.
"""

from __future__ import annotations

import abc
import random as _random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import requests

from gateway.contract.connector import (
    CheckResult,
    Connector,
    Page,
    RawRecord,
    StreamInfo,
    SyncMode,
    WriteOperation,
    WriteResult,
)
from gateway.contract.errors import ConfigError, TongbanError

from .reader import probe_start, record_decoder


class _StreamSettings(Protocol):
    incremental: Any
    ordered: bool


class DeclarativeSettings(Protocol):
    """The part of a declarative connector's config model this base relies on (read-only)."""

    @property
    def label(self) -> str: ...

    @property
    def streams(self) -> Mapping[str, Any]: ...

    @property
    def write(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class IoHooks:
    """The connector's ways of touching the world, replaceable in tests: the HTTP session, sleeping between
    retries, the clock (timestamps, token expiry, signatures) and the jitter source. Production passes none."""

    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    random: Callable[[], float] = _random.random


class DeclarativeConnector(Connector):
    """Base of connectors whose behaviour is configuration.

    The constructor is the same for every declarative kind; a kind parses its config and builds its transport
    in :meth:`_configure`, taking the session, sleep, clock and random source from :attr:`io`::

        connector = RestConnector(config, secrets=env)                          # production
        connector = RestConnector(config, secrets=env, sleep=fake_sleep)        # a test
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        secrets: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        super().__init__(config, secrets=secrets)
        self.io = IoHooks(session=session, sleep=sleep, clock=clock, random=random)
        self._configure(config)

    @abc.abstractmethod
    def _configure(self, config: Mapping[str, Any]) -> None:
        """Parse the kind's own config model and build its transport (with :attr:`io`)."""

    @property
    @abc.abstractmethod
    def settings(self) -> DeclarativeSettings:
        """The parsed connector config."""

    @abc.abstractmethod
    def _probe(self) -> str:
        """Make one cheap authenticated call; return what it showed, raise a Tongban error if it failed."""

    @abc.abstractmethod
    def _read_stream(self, stream: str, config: Any, *, since: datetime | None, mode: SyncMode,
                     checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        """Read one configured stream."""

    @abc.abstractmethod
    def _write_record(self, stream: str, config: Any, record: Mapping[str, Any], *, key: str,
                      idempotency_key: str, operation: WriteOperation) -> WriteResult:
        """Write one record to one configured writable stream."""

    def check(self) -> CheckResult:
        try:
            return CheckResult(True, self._probe())
        except TongbanError as exc:
            return CheckResult(False, str(exc))
        except Exception as exc:  # noqa: BLE001 - check() reports, it never raises
            return CheckResult(False, f"{self.settings.label}: check failed unexpectedly: {type(exc).__name__}: {exc}")

    def probe_since(self, stream: str) -> datetime | None:
        """Where ``tongban connector check`` reads ``stream`` (its first page's key and cursor checked): inside
        its newest window for a windowed stream (:func:`~connectors.common.reader.probe_start`), else None (from
        the start, as a first read)."""
        settings = self.settings.streams.get(stream)
        incremental = getattr(settings, "incremental", None)
        return None if incremental is None else probe_start(incremental, datetime.now(timezone.utc))

    def streams(self) -> list[StreamInfo]:
        cfg = self.settings
        names = list(cfg.streams) + [n for n in cfg.write if n not in cfg.streams]
        infos = []
        for name in names:
            stream: _StreamSettings | None = cfg.streams.get(name)
            infos.append(StreamInfo(
                name=name,
                readable=stream is not None,
                writable=name in cfg.write,
                incremental=stream is not None and stream.incremental is not None,
                ordered=stream is not None and stream.ordered,
            ))
        return infos

    def read(
        self,
        stream: str,
        *,
        since: datetime | None = None,
        mode: SyncMode = "incremental",
        checkpoint: Mapping[str, Any] | None = None,
    ) -> Iterator[Page]:
        config = self.settings.streams.get(stream)
        if config is None:
            raise ConfigError(f"{self.settings.label}: no readable stream {stream!r} (have {sorted(self.settings.streams)})")
        return self._read_stream(stream, config, since=since, mode=mode, checkpoint=checkpoint)

    def rekey(self, stream: str, payload: Any) -> RawRecord | None:
        config = self.settings.streams.get(stream)
        if config is None:
            return None
        made = record_decoder(config.primary_key, config.incremental).one(payload)
        return made if isinstance(made, RawRecord) else None

    def write(
        self,
        stream: str,
        record: Mapping[str, Any],
        *,
        key: str,
        idempotency_key: str,
        operation: WriteOperation = "upsert",
    ) -> WriteResult:
        config = self.settings.write.get(stream)
        if config is None:
            raise ConfigError(f"{self.settings.label}: no writable stream {stream!r} (have {sorted(self.settings.write)})")
        return self._write_record(stream, config, record, key=key, idempotency_key=idempotency_key,
                                  operation=operation)
