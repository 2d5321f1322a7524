"""What every ``tongban`` command shares: the root Typer app, the common options, the error guard.

Command modules (:mod:`.app`, :mod:`.sharing`) import from here and never from each other, so the CLI has no
import cycle; :mod:`gateway.cli` imports the command modules once to register their commands.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from gateway.cli.output import fail
from gateway.contract.errors import ConfigError, TongbanError

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Tongban (通办): sync government approval systems.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"tongban {version('tongban')}")
        except PackageNotFoundError:
            typer.echo("tongban (not installed: run pip install -e .)")
        raise typer.Exit()


@app.callback()
def _root(
    _show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of a failure (TONGBAN_DEBUG=1).")
                     ] = False,
) -> None:
    """Tongban (通办): sync government approval systems."""
    if debug:
        os.environ["TONGBAN_DEBUG"] = "1"
dead_letters_app = typer.Typer(no_args_is_help=True, help="Records and pushes that could not be used.")
mapping_app = typer.Typer(no_args_is_help=True, help="Check mappings against real data.")
connector_app = typer.Typer(no_args_is_help=True, help="Connector kinds and system connections.")
db_app = typer.Typer(no_args_is_help=True, help="The ledger database.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The simulated department systems and hall.")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts a person must see (tongban status lists them).")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(alerts_app, name="alerts")
app.add_typer(mapping_app, name="mapping")
app.add_typer(connector_app, name="connector")
app.add_typer(db_app, name="db")
app.add_typer(sandbox_app, name="sandbox")

SystemsOpt = Annotated[Path | None, typer.Option("--systems", help="Systems file (default: $TONGBAN_SYSTEMS, tongban.yaml, config/systems.yaml).")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="Ledger database (default: $TONGBAN_DATABASE_URL or sqlite:///tongban.db).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def now_option(text: str | None) -> datetime | None:
    """A ``--now`` value: an aware ISO 8601 instant (the scans run "as of" it), or None for the present — read by
    :func:`gateway.process.asof.parse_as_of`, as the DAGs' ``now`` parameter is."""
    from gateway.process.asof import parse_as_of

    return parse_as_of(text, name="--now")


def period_option(period: str | None) -> str | None:
    """``--period`` checked: a month (2026-11) or a year (2026), else one ConfigError every command words alike."""
    from gateway.ops.periods import period_range

    try:
        period_range(period)
    except ValueError as exc:
        raise ConfigError(f"--period: {exc}") from None
    return period


def ledger_url(systems: Path | None, database_url: str | None) -> str:
    """The ledger a command uses, chosen the same way by every command: ``--database-url``, else
    ``TONGBAN_DATABASE_URL``, else the systems file's ``database_url`` (``--systems``, ``TONGBAN_SYSTEMS`` or
    ``tongban.yaml`` here), else ``sqlite:///tongban.db``."""
    from gateway.kernel.config import load_systems_isolated
    from gateway.store.db import database_url as resolve

    if database_url or os.environ.get("TONGBAN_DATABASE_URL"):
        return resolve(database_url or os.environ.get("TONGBAN_DATABASE_URL"))
    # isolated: a mistake in one system's entry is that system's, not every command's (`db upgrade`, `status`)
    return resolve(load_systems_isolated(systems)[0].ledger_url())


def _require_existing(url: str) -> None:
    """A command that only reads: a SQLite ledger that is not there is an error naming where it looked, not a new
    empty file that makes every system look never synced and every count zero."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise TongbanError(
                f"no ledger at {path.resolve()}: run tongban sync (or tongban db upgrade) first, or point "
                f"--database-url / TONGBAN_DATABASE_URL at the ledger (the demo's: sqlite:///.tongban/demo.db)")


def ledger_engine(systems: Path | None, database_url: str | None, *, existing: bool = False) -> Any:
    """The ledger engine of a command that needs no systems (clients, audit, catalogue, citizen …), on the same
    ledger :func:`runtime_from` would open, migrated to this Tongban's schema. ``existing``: the command only reads
    (see above) — it migrates nothing, and a ledger behind this Tongban's schema is refused, saying so."""
    from gateway.store.db import make_engine
    from gateway.store.migrate import require_current, upgrade

    url = ledger_url(systems, database_url)
    if existing:
        _require_existing(url)
    engine = make_engine(url)
    if existing:
        require_current(engine)  # a look does not migrate the ledger under the workers of an older version
    else:
        upgrade(engine)
    return engine


def runtime_from(systems: Path | None, database_url: str | None, *, existing: bool = False) -> Any:
    """The runtime for a command. ``existing``: the command only reads (see :func:`ledger_engine`): the ledger is
    neither created nor migrated, and one behind this Tongban's schema is refused, saying so."""
    from gateway.kernel.runtime import Runtime
    from gateway.store.migrate import require_current

    if existing:
        _require_existing(ledger_url(systems, database_url))
    runtime = Runtime.from_env(systems, database_url, migrate=not existing)
    if existing:
        try:
            require_current(runtime.engine)
        except BaseException:
            runtime.close()
            raise
    return runtime


def require_free_port(host: str, port: int, what: str) -> None:
    """Fail in one line when ``host:port`` is taken, before a server says it is "on" an address another process
    answers (the demo's console on 8500): uvicorn then printed a bind traceback after our address line."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"{what}: {host}:{port} is in use (the demo, or another {what} here?): give "
                                  "--port another port, or stop that process") from None
            raise ConfigError(f"{what}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def expected_failure(exc: BaseException) -> str | None:
    """One line saying what to do, for the failures an operator meets (not bugs); ``None`` for anything else."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from gateway.models import IdentifierError

    if isinstance(exc, TongbanError):
        return str(exc)
    if isinstance(exc, OperationalError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
        return (f"cannot use the ledger database: {reason} — is it running and reachable? "
                f"(TONGBAN_DATABASE_URL or --database-url)")
    if isinstance(exc, ArgumentError | NoSuchModuleError):
        return f"the ledger database URL is not usable: {exc} (TONGBAN_DATABASE_URL or --database-url)"
    if isinstance(exc, IdentifierError):
        return f"{exc.message} [{exc.rule}]" if hasattr(exc, "rule") else str(exc)
    if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
        return f"cannot read {exc.filename}: {exc.strerror}"
    return None


def guard(fn: Any) -> Any:
    """Turn expected failures into one clear line and exit code 1 (no stack trace; ``TONGBAN_DEBUG=1`` shows
    it). Anything unexpected is a bug and keeps its traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:
            line = expected_failure(exc)
            if line is None or os.environ.get("TONGBAN_DEBUG"):
                raise
            fail(line)
            raise typer.Exit(1) from None

    return wrapper


def on_runtime(systems: Path | None, database_url: str | None, call: Callable[[Any], T]) -> T:
    """``call(runtime)`` on a runtime of the systems file and ledger, closed afterwards (the scans)."""
    runtime = runtime_from(systems, database_url)
    try:
        return call(runtime)
    finally:
        runtime.close()


def on_ledger(systems: Path | None, database_url: str | None, call: Callable[[Any], T]) -> T:
    """``call(engine)`` on the existing ledger, closed afterwards: the commands that make one read or one write."""
    runtime = runtime_from(systems, database_url, existing=True)
    try:
        return call(runtime.engine)
    finally:
        runtime.close()
