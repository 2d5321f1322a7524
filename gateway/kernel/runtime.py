"""The objects one Tongban process works with: the systems configuration, the ledger engine, and per-system
mappers and connectors built on first use.

The CLI, the Airflow tasks and the tests all start from a ``Runtime``; nothing else holds global state.

    runtime = Runtime.from_env()              # TONGBAN_SYSTEMS, TONGBAN_DATABASE_URL
    report = sync_system(runtime, "sd_civil")
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine

from gateway.contract.errors import ConfigError
from gateway.kernel.config import SystemsConfig, load_systems_isolated
from gateway.mapping.mapper import Mapper
from gateway.store.db import make_engine
from gateway.store.migrate import create_or_require_current, upgrade

if TYPE_CHECKING:
    from gateway.contract.connector import Connector

log = logging.getLogger(__name__)


def _file_mark(path: Path | None) -> tuple[int, int] | None:
    """When and how big a file last was (``None``: no such file): enough to notice an operator's edit."""
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat is not None else None


@dataclass
class Runtime:
    systems: SystemsConfig
    engine: Engine
    _mappers: dict[str, Mapper] = field(default_factory=dict)
    pii: Any = None
    """A :class:`gateway.crypto.pii.PiiCodec` when keys are configured (TONGBAN_KEY_FILE…): raw payloads and
    ID numbers in the ledger are then sealed at rest; None leaves them in clear (no keys, nothing to seal with)."""
    _systems_mark: tuple[int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._systems_mark = _file_mark(self.systems.path)

    def refresh_systems(self) -> bool:
        """Read the systems file again if it changed since it was read (True when it did): a process that runs for
        days — the console — otherwise showed the systems it started with, and offered to replay or check a
        system removed since, or missed one added. A file that no longer reads is logged and the systems read
        before are kept (an edit half-saved must not empty the console); the mappers are read again on use."""
        mark = _file_mark(self.systems.path)
        if mark is None or mark == self._systems_mark:
            return False
        self._systems_mark = mark
        try:
            systems = load_systems_isolated(self.systems.path)[0]
        except ConfigError as exc:
            log.warning("the systems file changed and does not read; the systems read before stay: %s", exc)
            return False
        self.systems = systems
        self._mappers.clear()
        log.info("the systems file changed: read again (%d systems)", len(systems.names()))
        return True

    @classmethod
    def from_env(
        cls, systems_path: str | Path | None = None, database_url: str | None = None, *,
        migrate: bool | Literal["new"] = True,
    ) -> Runtime:
        """The runtime of this process's environment. An invalid entry of the systems file fails only what asks for
        that system (its error names the file, line and setting): one typo must not stop every other system's sync,
        push and scan — the DAG file is built the same way — and the syncs still queue that system's cases for it
        (:meth:`SystemsConfig.route`).

        ``migrate``: True brings the ledger to this Tongban's schema (the CLI), False leaves it as it is, ``"new"``
        creates a ledger that does not exist yet and otherwise requires the current schema (the workers:
        :func:`gateway.store.migrate.create_or_require_current`)."""
        systems = load_systems_isolated(systems_path)[0]
        for error in systems.invalid.values():  # asking for that system raises it; the others work
            log.warning("%s", error.error)
        engine = make_engine(database_url or os.environ.get("TONGBAN_DATABASE_URL") or systems.ledger_url())
        if migrate == "new":
            create_or_require_current(engine)
        elif migrate:
            upgrade(engine)
        from gateway.crypto.pii import codec_from_env

        return cls(systems=systems, engine=engine, pii=codec_from_env())

    def mapper(self, system: str) -> Mapper:
        if system not in self._mappers:
            from gateway.models import Case

            self._mappers[system] = Mapper.from_file(self.systems.get(system).mapping_path, model=Case)
        return self._mappers[system]

    def reload_mapper(self, system: str) -> Mapper:
        self._mappers.pop(system, None)
        return self.mapper(system)

    def connector(self, system: str) -> Connector:
        return self.systems.get(system).build_connector()

    def close(self) -> None:
        self.engine.dispose()
