"""The ``tongban`` command. Human-readable output by default, ``--json`` for machines; exit code 0 only on success.

Each sub-module adds one group of commands to :data:`app`; the functions they call live in ``gateway`` proper,
so Airflow tasks and tests use the same code paths as operators at a terminal.
"""

from __future__ import annotations

from gateway.cli import bundles as _bundles_commands  # noqa: F401  (bundles apply|status|list)
from gateway.cli import cases as _cases_commands  # noqa: F401  (cases show)
from gateway.cli import catalogue as _catalogue_commands  # noqa: F401  (catalogue harvest|audit, kpi)
from gateway.cli import citizen as _citizen_commands  # noqa: F401  (evaluations …, workorders …)
from gateway.cli import commands as _commands  # noqa: F401  (registers sync, push, status, ...)
from gateway.cli import console as _console_commands  # noqa: F401  (console serve, console operators ...)
from gateway.cli import process as _process_commands  # noqa: F401  (handoff scan|list|show)
from gateway.cli import sharing as _sharing_commands  # noqa: F401  (serve, clients, audit, harvest, ...)
from gateway.cli.options import app


def main() -> None:
    app()


__all__ = ["app", "main"]
