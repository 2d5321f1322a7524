"""The systems configuration: one YAML file listing every connected system, and where its secrets come from.

Secrets never live in the file. A system names either an Airflow connection id (read from Airflow's own
``AIRFLOW_CONN_<ID>`` environment variables, so the same file works inside and outside Airflow) or an
endpoint plus the names of the environment variables that hold its secrets::

    defaults: {lookback: 10m, batch_size: 500}
    systems:
      sd_civil:
        title: 山东省民政厅审批系统
        role: department                       # department | hall
        departments: [11370000004390448N]      # 实施主体 codes whose cases this system handles
        connector: rest
        connector_config: connectors/sd_civil.yaml     # relative to this file
        mapping: ../mappings/sd_civil.yaml
        endpoint: ${SD_CIVIL_URL:-http://127.0.0.1:8101}
        secrets: {api_key: SD_CIVIL_API_KEY}   # secret name -> environment variable
        schedule: "*/10 * * * *"
        push: {stream: cases}                  # present when the system receives cases (max_attempts, dead_after)
        retries: 3                             # Airflow: retries with exponential backoff from retry_delay
        retry_delay: 1m                        # > 0; max_retry_delay (default 30m) at least this
        execution_timeout: 2h                  # a sync or reconcile task running longer is failed (and retried)
        max_lag: 1h                            # no successful sync for this long: a "behind" alert

A system's name (the key) is 1-64 ASCII letters, digits, ``_``, ``.`` or ``-``: it becomes Airflow keys and the
ledger's 64-character system columns.

``TONGBAN_SYSTEMS`` points at the file (default ``tongban.yaml`` in the working directory, then the
repository's ``config/systems.yaml``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.contract.errors import ConfigError, InvalidSettings
from gateway.contract.scaffold import is_placeholder, placeholder_advice
from gateway.kernel.configpaths import declared_config
from gateway.kernel.registry import build_connector as build_kind
from gateway.kernel.schedules import check_schedule, longest_gap
from gateway.kernel.yamlfile import load_yaml_document, read_config_text, refuse_unknown_keys
from gateway.models.datetimes import parse_duration
from gateway.models.identifiers import IdentifierError, validate_uscc

if TYPE_CHECKING:
    from gateway.contract.connector import Connector

SystemRole = Literal["department", "hall"]
LONGEST_SETTING = timedelta(days=366)
"""The longest duration a system's setting may hold (a lag, a timeout, a look-back): a year."""
REPO_ROOT = Path(__file__).resolve().parents[2]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
EXPANDED_SETTINGS = ("endpoint", "database_url")
"""The settings ``${NAME}`` is read in: ``endpoint`` when the connector is built (on the worker that runs the sync:
a department's address may be known only inside its network), ``database_url`` when a command or task opens the
ledger. Written in any other setting it is refused at load, naming it: a Celery ``queue: ${…}`` was a queue of
that literal name, no worker listened, and the system's tasks waited for ever without an error."""
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
SYSTEM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What a system's name may be: it becomes Airflow keys (``tongban_sync_<name>``, ``push_<name>``, the asset
``tongban://ledger/<name>``) and fills the ledger's 64-character ``system`` columns."""
SYSTEM_NAME_RULE = ("a system name is 1 to 64 ASCII letters, digits, '_', '.' or '-' (it becomes the Airflow DAG id "
                    "tongban_sync_<name> and the ledger's 64-character system column)")


def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds():g}s"


def expand_env(value: str) -> str:
    """``${NAME}`` / ``${NAME:-default}`` from the environment; a missing variable without default is an error."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if default is not None and not value:  # the shell's ${NAME:-default}: unset *or empty* takes the default
            return default
        if value is not None:
            return value
        raise ConfigError(f"environment variable {name} is not set (referenced as ${{{name}}})")

    return _ENV_REF.sub(replace, value)


class PushConfig(BaseModel):
    """How a system receives cases (``push: {stream: cases, max_attempts: 8, dead_after: 6h}``).

    A row that fails with a transient error (an outage, a 5xx, a token endpoint down) is dead only when it has
    been tried ``max_attempts`` times *and* its back-off has spanned at least ``dead_after``: attempts alone
    can be burnt in minutes by an outage, and a hall that is down for an afternoon must not lose the cases
    queued for it. A refusal for good (the target rejected the write) is dead at once."""

    model_config = ConfigDict(extra="forbid")
    stream: str = "cases"
    max_attempts: int = Field(default=8, ge=1)
    dead_after: timedelta = timedelta(hours=6)
    """The least time a row is retried for before it may be given up (whatever ``max_attempts`` says)."""
    batch_size: int = Field(default=200, ge=1)
    read_first: bool = False
    """Read the system's own changes (an incremental sync of it) before sending it anything. For a system whose
    write replaces the whole record (a PUT of the case): a step its clerk recorded after Tongban's last read is in
    no version Tongban holds, and the push would erase it there. Read first, the step is merged into the case and
    the push sends it back with the rest; and the body is written over the system's own record as last read
    (:func:`gateway.sync.push.written_over`), so what no mapping writes (a second 权利人) is not erased either. A
    drain that cannot read first (the system's sync is running, or the
    read fails) sends only the cases the system does not hold yet; a case whose record there the read could not
    take (an open dead letter) waits until it is read."""

    @field_validator("dead_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


def department_codes(value: list[str]) -> list[str]:
    """The 实施主体 codes of a system's ``departments``, checked and normalised as the cases' dept_code is: they
    route cases (a case goes to the system whose departments hold its 实施主体), and a wrong one routes nothing,
    silently."""
    codes = []
    for index, code in enumerate(value):
        try:
            codes.append(validate_uscc(code)[0])
        except IdentifierError as exc:
            raise ValueError(f"[{index}] {code!r} is not a 统一社会信用代码 (USCC): {exc.message}") from None
    return codes


class _Routed(BaseModel):
    """What every router reads of a system, valid entry or not: its ``departments`` checked as the cases'
    dept_code is, and whether it receives cases (``writable``: it has ``push``)."""

    @field_validator("departments", check_fields=False)
    @classmethod
    def _departments(cls, value: list[str]) -> list[str]:
        return department_codes(value)

    @property
    def writable(self) -> bool:
        return self.push is not None  # type: ignore[attr-defined,no-any-return]


class SystemRoute(_Routed):
    """Where cases go, read from a systems-file entry whose other settings are invalid: the settings routing reads
    (``role``, ``receives``, ``departments``, whether it has ``push``), nothing else.

    A sync of a valid system still queues the cases that belong to such a system for it — they wait in the outbox
    until its entry is fixed and its push runs — instead of every sync failing for one typo elsewhere in the file,
    or the cases being routed as if it did not exist (the watermark moves on: they would never be queued)."""

    model_config = ConfigDict(extra="ignore")
    name: str
    role: SystemRole = "department"
    departments: list[str] = Field(default_factory=list)
    receives: Literal["all", "own"] = "all"
    push: Mapping[str, Any] | None = None


class InvalidSystem(BaseModel):
    """A systems-file entry that did not validate: its error, and its route when the routing settings read."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    error: ConfigError
    route: SystemRoute | None = None


class SystemConfig(_Routed):
    """One connected system. ``name`` is the key in the file and the id used everywhere else."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    role: SystemRole = "department"
    departments: list[str] = Field(default_factory=list)
    connector: str
    connector_config: str | dict[str, Any] = Field(default_factory=dict)
    mapping: str
    stream: str = "cases"
    endpoint: str | None = None
    secrets: dict[str, str] = Field(default_factory=dict)
    airflow_conn_id: str | None = None
    schedule: str | None = "*/15 * * * *"
    lookback: timedelta = timedelta(minutes=10)
    batch_size: int = Field(default=500, ge=1, le=50_000)
    push: PushConfig | None = None
    # Orchestration (Airflow): retries with exponential backoff, and how long without a successful sync
    # before the system counts as fallen behind.
    retries: int = Field(default=3, ge=0, le=20)
    retry_delay: timedelta = timedelta(minutes=1)
    max_retry_delay: timedelta = timedelta(minutes=30)
    """The longest wait between two retries (at least ``retry_delay``; Airflow ignores a cap of 0)."""
    execution_timeout: timedelta = timedelta(hours=2)
    """A sync (or reconcile) task of this system running longer than this is failed by Airflow (and retried): a
    hung call must not hold the DAG, which runs one run at a time, forever."""
    max_lag: timedelta = timedelta(hours=1)
    max_rejected_share: float = Field(default=0.10, ge=0, le=1)
    """A run that rejects more than this share of what it read ends ``degraded`` (alert, non-zero CLI exit)."""
    intake: Literal["direct", "handoff"] = "direct"
    """For a hall: ``handoff`` — its front-desk cases reach the departments through the 一窗受理 hand-off
    (:mod:`gateway.process`: routed by the 通办目录, pending acceptance, deemed accepted after the window), not
    straight from the sync by their department code."""
    receives: Literal["all", "own"] = "all"
    """For a hall: ``all`` — every case of the departments (the province's own hall); ``own`` — only the cases it
    accepted, their changes returned to it by the hand-off (another province's hall must not receive the
    personal data of every Shandong case)."""
    queue: str | None = None  # Celery queue of this system's tasks (workers inside its network listen on it)
    base_dir: Path = Field(default=REPO_ROOT, exclude=True)

    @field_validator("lookback", "retry_delay", "max_retry_delay", "max_lag", "execution_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        duration = parse_duration(value)
        if duration > LONGEST_SETTING:  # Airflow adds these to dates: 10**9 days overflowed in every DAG's build
            raise ValueError(f"{_seconds(duration)} is longer than {LONGEST_SETTING.days} days")
        return duration

    @field_validator("retry_delay", "max_retry_delay", "max_lag", "execution_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"{_seconds(value)} is not a positive duration (write e.g. 30s, 10m, 2h)")
        return value

    @field_validator("lookback")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError(f"{_seconds(value)} is negative")
        return value

    @field_validator("max_retry_delay")
    @classmethod
    def _cap_not_below_first_delay(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        first = info.data.get("retry_delay")
        if first is not None and value < first:
            raise ValueError(f"{_seconds(value)} is shorter than retry_delay ({_seconds(first)}): the longest wait "
                             "between retries cannot be shorter than the first")
        return value

    @model_validator(mode="after")
    def _default_cap_not_below_first_delay(self) -> Any:
        """A ``retry_delay`` longer than the default ``max_retry_delay`` (30m), with no cap written: the cap is the
        delay itself (the field check above only sees a cap that is written)."""
        if "max_retry_delay" not in self.model_fields_set and self.max_retry_delay < self.retry_delay:
            self.max_retry_delay = self.retry_delay
        return self

    @field_validator("secrets")
    @classmethod
    def _secrets_are_variable_names(cls, value: dict[str, str]) -> dict[str, str]:
        """Each secret names the environment variable holding it. A value that is no variable's name is most
        likely the secret itself, pasted in: refused *without* repeating it (it went on into the run's error, the
        alert, ``status`` and the console)."""
        for secret, env_name in value.items():
            if not isinstance(env_name, str) or not ENV_NAME.fullmatch(env_name):
                raise ValueError(f"secret {secret!r}: the value is not the name of an environment variable "
                                 "(capital letters, digits, '_'; e.g. TONGBAN_JN_ESTATE_KEY): a secret is never "
                                 "written in this file, only the variable that holds it (or use airflow_conn_id)")
        return value

    @model_validator(mode="after")
    def _lag_fits_schedule(self) -> Any:
        """``max_lag`` against the schedule: a nightly sync is a day old every evening, so with the default of an
        hour it was an error some 21 hours a day, every run green, and ``check_alerts`` red. A ``max_lag`` (written
        or the default) shorter than the schedule's longest gap between fires could only ever alert: it is the gap
        plus ``execution_timeout`` (the longest a run may take) instead, at most a year; a system synced by hand
        only (``schedule: null``) with no ``max_lag`` written is behind after a year."""
        if self.schedule is None:
            if "max_lag" not in self.model_fields_set:
                self.max_lag = LONGEST_SETTING
            return self
        gap = longest_gap(self.schedule)
        if gap >= self.max_lag:
            self.max_lag = min(gap + self.execution_timeout, LONGEST_SETTING)
        return self

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("an empty Celery queue name (leave queue out for Airflow's default queue)")
        return value.strip()

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        # what the sync DAG's CronTriggerTimetable takes; anything else broke dags/tongban.py in Airflow's DagBag
        return None if value is None else check_schedule(value)

    def resolve_path(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def mapping_path(self) -> Path:
        return self.resolve_path(self.mapping)

    @property
    def connector_config_source(self) -> str:
        """Where the connector config is written, for messages: its file, or the system's inline entry."""
        if isinstance(self.connector_config, str):
            return str(self.resolve_path(self.connector_config))
        return f"system {self.name}: connector_config"

    def load_connector_config(self) -> dict[str, Any]:
        """The connector's own config (inline or from its YAML file), with the endpoint injected as base_url and
        the relative file paths its kind declares (a SOAP ``wsdl``) made absolute against the directory of the
        file that declared them, never the working directory (:mod:`gateway.kernel.configpaths`)."""
        if isinstance(self.connector_config, str):
            path = self.resolve_path(self.connector_config)
            try:
                text = read_config_text(path)
            except ConfigError as exc:
                raise ConfigError(f"system {self.name}: connector config {exc}") from None
            document = load_yaml_document(text, where=str(path))
            if not isinstance(document.data or {}, Mapping):
                raise ConfigError(f"{path}: a connector config is a YAML mapping (kind, streams, ...)")
            loaded = dict(document.data or {})
            _refuse_placeholders(loaded, (), document.at)
        else:
            loaded = dict(self.connector_config)
            _refuse_placeholders(loaded, (), lambda *p: self.connector_config_source)
        declared_in = self.resolve_path(self.connector_config).parent if isinstance(
            self.connector_config, str) else self.base_dir
        loaded = declared_config(self.connector, loaded, declared_in)  # relative paths: against that file
        endpoint = self.resolved_endpoint()
        if endpoint:
            loaded["base_url"] = endpoint
        return loaded

    def build_connector(self, config: dict[str, Any] | None = None) -> Connector:
        """This system's connector (``config``: its connector config, if already loaded). A config the connector
        refuses is an error naming the file it was written in — the YAML's own ``name:`` did not say which file
        to open."""
        if config is None:
            config = self.load_connector_config()
        secrets = self.resolve_secrets()
        try:
            return build_kind(self.connector, config, secrets)
        except InvalidSettings as exc:  # each problem with its line in the file
            raise exc.at_lines(self.connector_config_source, self._connector_config_lines()) from None
        except ConfigError as exc:
            where = self.connector_config_source
            if str(exc).startswith(where):
                raise
            raise ConfigError(f"{where}: {exc}") from None

    def _connector_config_lines(self) -> Callable[[tuple[Any, ...]], int | None]:
        """The line of a key path in the connector's YAML file (none for an inline config, or a file gone)."""
        if not isinstance(self.connector_config, str):
            return lambda path: None
        try:
            text = read_config_text(self.resolve_path(self.connector_config))
            document = load_yaml_document(text, where=self.connector_config_source)
        except ConfigError:
            return lambda path: None
        return lambda path: document.line(*path)

    def resolved_endpoint(self) -> str | None:
        if self.airflow_conn_id:
            return airflow_connection(self.airflow_conn_id).get("endpoint") or (
                expand_env(self.endpoint) if self.endpoint else None
            )
        return expand_env(self.endpoint) if self.endpoint else None

    def resolve_secrets(self) -> dict[str, str]:
        """Secret name → value, from the Airflow connection or the named environment variables."""
        values: dict[str, str] = {}
        if self.airflow_conn_id:
            values.update(airflow_connection(self.airflow_conn_id).get("secrets", {}))
        for secret, env_name in self.secrets.items():
            if secret in values:
                continue
            if env_name not in os.environ:
                raise ConfigError(
                    f"system {self.name}: secret {secret!r} expects environment variable {env_name}, which is not set"
                )
            # a secret kept in a file ends with the file's line break: never part of the secret, and in a header
            # it makes the request unsendable (an error quoting the value)
            values[secret] = os.environ[env_name].rstrip("\r\n")
        return values


def _refuse_placeholders(value: Any, path: tuple[Any, ...], at: Callable[..., str],
                         seen: set[int] | None = None) -> None:
    """A value the scaffold left for a person to choose (``primary_key: CHOOSE_KEY_FIELD``) is an error naming
    where it is: it passed connector check and mapping check, and the sync rejected every record. A mapping or
    list reached again through a YAML alias is read once (``seen``): ten levels of ten aliases were 10**10 visits."""
    if isinstance(value, Mapping | list):
        seen = set() if seen is None else seen
        if id(value) in seen:
            return
        seen.add(id(value))
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            _refuse_placeholders(item, (*path, key), at, seen)
    elif is_placeholder(value):
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        raise ConfigError(f"{at(*path)}: {dotted}: {value} is a placeholder written by `tongban connector new`: "
                          f"{placeholder_advice(value)} (`tongban connector check` runs once every placeholder is "
                          "chosen)")


CONNECTION_RESOLVERS: list[Callable[[str], str | None]] = []
"""Where else to look for a connection when no ``AIRFLOW_CONN_<ID>`` variable holds it: inside Airflow,
:mod:`gateway.orchestration.connections` adds Airflow's own lookup (metadata database, secrets backends),
returning the connection as JSON. Outside Airflow the list is empty."""


def airflow_connection(conn_id: str) -> dict[str, Any]:
    """Read an Airflow connection from ``AIRFLOW_CONN_<ID>`` (URI or JSON form) without importing Airflow.

    Returns ``{"endpoint": ..., "secrets": {...}}``: login/password become the ``login``/``password`` secrets and
    every key of ``extra`` becomes a secret of that name. A host without a scheme is reached over https (the
    provider's form says so): http only when the connection says it — ``scheme: http`` in its extra, a host
    written ``http://…``, or the connection type ``http`` — port 443 or not.
    """
    env_name = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(env_name)
    if raw is None:
        for resolver in CONNECTION_RESOLVERS:
            raw = resolver(conn_id)
            if raw is not None:
                break
    if raw is None:
        raise ConfigError(f"Airflow connection {conn_id!r} not found: set {env_name} (URI or JSON)")
    try:
        return _read_connection(raw)
    except (ValueError, TypeError, AttributeError) as exc:  # json's, urlsplit's port, an extra that is no object
        reason = str(exc) if isinstance(exc, json.JSONDecodeError) else f"{type(exc).__name__}: {exc}"
        raise ConfigError(f"Airflow connection {conn_id!r} ({env_name} or Airflow's store) does not read: {reason} "
                          "(the JSON form's extra is an object; a port is 1-65535)") from None


def _read_connection(raw: str) -> dict[str, Any]:
    """:func:`airflow_connection`'s reading of one connection's text (URI or JSON form)."""
    if raw.lstrip().startswith("{"):
        data = json.loads(raw)
        host, port, schema = data.get("host") or "", data.get("port"), data.get("schema") or ""
        login, password = data.get("login"), data.get("password")
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra else {}
        if not isinstance(extra, dict):
            raise ValueError(f"extra is a {type(extra).__name__}, not an object of secrets")
        scheme = extra.pop("scheme", None) or ("http" if data.get("conn_type") == "http" else "https")
    else:
        parts = urlsplit(raw)
        host, port, schema = parts.hostname or "", parts.port, unquote(parts.path.lstrip("/"))
        login = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        extra = dict(parse_qsl(parts.query))
        if "__extra__" in extra:
            extra = json.loads(extra["__extra__"])
            if not isinstance(extra, dict):
                raise ValueError(f"__extra__ is a {type(extra).__name__}, not an object of secrets")
        scheme = extra.pop("scheme", None) or ("http" if parts.scheme == "http" else "https")
    endpoint = None
    if host:
        endpoint = host if "://" in host else f"{scheme}://{host}{f':{port}' if port else ''}"
        if schema:
            endpoint = f"{endpoint.rstrip('/')}/{schema}"
    secrets = {k: str(v) for k, v in extra.items()}
    if login is not None:
        secrets["login"] = login
    if password is not None:
        secrets["password"] = password
    return {"endpoint": endpoint, "secrets": secrets}


class SystemsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    systems: dict[str, SystemConfig]
    path: Path | None = None
    database_url: str | None = None
    """The ledger this systems file goes with (``database_url:`` at the top; ``--database-url`` and
    ``TONGBAN_DATABASE_URL`` win). The demo writes one so that a second shell finds the demo's ledger."""
    _invalid: dict[str, InvalidSystem] = PrivateAttr(default_factory=dict)

    def ledger_url(self) -> str | None:
        """``database_url`` with its ``${NAME}`` read from this process's environment (or None: not written)."""
        if not self.database_url:
            return None
        try:
            return expand_env(self.database_url)
        except ConfigError as exc:
            where = f"{self.path}: " if self.path else ""
            raise ConfigError(f"{where}database_url: {exc}") from None

    @property
    def invalid(self) -> dict[str, InvalidSystem]:
        """Entries of the file that did not validate (:func:`load_systems_isolated`), by name as written: asking
        for one raises its error (file, line, setting); routing still sees where its cases go
        (:class:`SystemRoute`)."""
        return self._invalid

    def get(self, name: str) -> SystemConfig:
        try:
            return self.systems[name]
        except KeyError:
            if name in self.invalid:
                raise ConfigError(str(self.invalid[name].error)) from None
            known = ", ".join(sorted(self.systems)) or "none"
            raise ConfigError(f"unknown system {name!r} (configured: {known})") from None

    def route(self, name: str) -> SystemConfig | SystemRoute:
        """Where ``name``'s cases go (role, receives, departments, writable), for a valid or an invalid entry."""
        routes = {} if name in self.systems else self._routes()
        return routes[name] if name in routes else self.get(name)  # get: the entry's error, or "unknown system"

    def names(self) -> list[str]:
        return sorted(self.systems)

    @cached_property
    def halls(self) -> list[SystemConfig]:
        return [s for s in self.systems.values() if s.role == "hall"]

    def targets_for(self, dept_code: str | None, *, origin: str) -> list[str]:
        """Systems that should hold a case: the hall, and the department system that handles its 实施主体 —
        never every department (this is personal data), never the system the change came from."""
        targets = []
        source = self.systems.get(origin)
        handed_off = source is not None and source.intake == "handoff"  # departments get it from the hand-off
        for system in self.routes():
            if not system.writable or system.name == origin:
                continue
            if (system.role == "hall" and system.receives == "all") or (
                    not handed_off and dept_code is not None and dept_code in system.departments):
                targets.append(system.name)
        return sorted(targets)

    def routes(self) -> list[SystemConfig | SystemRoute]:
        """Every system cases may be routed to — the valid ones and the invalid entries' routes — for every router
        (the syncs' :meth:`targets_for`, the 通办目录's competent department): a router that saw only the valid ones
        refused a front-desk case back to the hall as "no system takes cases" for a typo in its department's entry."""
        return [*self.systems.values(), *self._routes().values()]

    def _routes(self) -> dict[str, SystemRoute]:
        """The routes of the invalid entries; one whose routing settings do not read stops routing, naming it: no
        case may be routed while we cannot tell whether that system should hold it."""
        routes = {}
        for name, entry in self.invalid.items():
            if entry.route is None:
                raise ConfigError(f"{entry.error} — and its routing settings (role, receives, departments, push) "
                                  "do not read either: no case can be routed until this entry is fixed")
            routes[name] = entry.route
        return routes


def find_config_file(path: str | Path | None, env_var: str, local_name: str, repo_file: str, what: str) -> Path:
    """Which configuration file a command reads, the same way for every kind: the explicit ``path``, else the
    file ``env_var`` names, else ``local_name`` in the working directory, else the repository's
    ``config/<repo_file>``. A file named explicitly (``path`` or ``env_var``) must exist: falling through to
    another file would run the command against configuration nobody chose. Raises :class:`ConfigError` saying
    where it looked."""
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"no {what} at {path} (the file given on the command line)")
        return Path(path)
    named = os.environ.get(env_var)
    if named:
        if not Path(named).is_file():
            raise ConfigError(f"no {what} at {named} (named by {env_var})")
        return Path(named)
    candidates = [Path(local_name), REPO_ROOT / "config" / repo_file]
    chosen = next((p for p in candidates if p.is_file()), None)
    if chosen is None:
        raise ConfigError(f"no {what} found (looked at {', '.join(map(str, candidates))}); set {env_var}")
    return chosen


def load_systems(path: str | Path | None = None, *, check_files: bool | str = False) -> SystemsConfig:
    """Load and validate the systems file; every error names the file, the line and the system. ``check_files``:
    the mapping and connector config each system names — or only system ``check_files`` names — must exist (a
    wrong ``mapping:`` passed connector check and failed the sync): ``connector check`` and ``mapping check``
    ask it of the system they check. Not by default: one system's file missing on one worker (a system added
    before its mapping is deployed) must not stop every other system's sync and every command; the system that
    uses it fails naming the file."""
    chosen = find_config_file(path, "TONGBAN_SYSTEMS", "tongban.yaml", "systems.yaml", "systems file")
    return parse_systems(read_config_text(chosen), base_dir=chosen.resolve().parent, where=str(chosen),
                         check_files=check_files)


def _missing_files(system: SystemConfig) -> list[str]:
    problems = []
    for setting, relative in (("mapping", system.mapping), ("connector_config", system.connector_config)):
        if not isinstance(relative, str):
            continue  # an inline connector config
        path = system.resolve_path(relative)
        if not path.is_file():
            against = "" if Path(relative).is_absolute() else f" ({relative} is relative to {system.base_dir})"
            problems.append(f"{setting}: no file at {path}{against}")
    return problems


def parse_systems(text: str, *, base_dir: Path, where: str = "<systems>",
                  check_files: bool | str = False) -> SystemsConfig:
    """The systems file's text, validated: the first invalid system (in file order) raises its error."""
    systems, problems = parse_systems_isolated(text, base_dir=base_dir, where=where, check_files=check_files)
    if problems:
        raise next(iter(problems.values()))
    return systems


def load_systems_isolated(path: str | Path | None = None) -> tuple[SystemsConfig, dict[str, ConfigError]]:
    """:func:`load_systems` for the DAG factory and every runtime (CLI commands, Airflow tasks): a system whose
    entry is invalid — a mistake in it, or a ``mapping:``/``connector_config:`` file that is not there — does not
    fail the others. Returns the valid systems and, by the name written in the file, the error of each invalid
    one. An error of the whole file (no file, YAML that does not parse, no ``systems`` mapping) still raises."""
    chosen = find_config_file(path, "TONGBAN_SYSTEMS", "tongban.yaml", "systems.yaml", "systems file")
    # an entry whose mapping or connector file is not there is invalid too, and isolated like any other mistake:
    # unchecked, its syncs failed one by one and cases queued for it without a word until its push ran
    return parse_systems_isolated(read_config_text(chosen), base_dir=chosen.resolve().parent,
                                  where=str(chosen), check_files=True)


def _name_problem(name: Any) -> str | None:
    if isinstance(name, str) and SYSTEM_NAME.fullmatch(name):
        return None
    shown = repr(name) if len(str(name)) <= 70 else f"{str(name)[:60]!r}… ({len(str(name))} characters)"
    return f"the name {shown} is not valid: {SYSTEM_NAME_RULE}"


def parse_systems_isolated(text: str, *, base_dir: Path, where: str = "<systems>", check_files: bool | str = False
                           ) -> tuple[SystemsConfig, dict[str, ConfigError]]:
    """Every valid system of the file, and the error (file, line, system, setting) of each invalid one, keyed by
    its name as written (``str`` of it), in file order."""
    document = load_yaml_document(text, where=where, isolated="systems")
    data = document.data or {}
    refuse_unknown_keys(document, ("systems", "defaults", "database_url"), what="a systems file")
    if not isinstance(data, Mapping) or not isinstance(data.get("systems"), Mapping):
        raise ConfigError(f"{where}: expected a top-level 'systems' mapping")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"{document.at('defaults')}: defaults: expected a mapping of settings")
    url = data.get("database_url")
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"{where}: database_url must be a URL such as sqlite:///path/to/ledger.db")

    def at(name: Any, setting: Any = None) -> str:
        """``FILE: line N`` of a system's setting (or of the default it took), else of the system."""
        key = str(name)
        line = (document.line("systems", key, setting) or document.line("defaults", setting)
                if setting is not None else None) or document.line("systems", key)
        return f"{where}: line {line}" if line is not None else where

    systems: dict[str, SystemConfig] = {}
    problems: dict[str, ConfigError] = {}
    routes: dict[str, SystemRoute] = {}
    for name, entry in data["systems"].items():
        if str(name) in document.duplicates:  # a setting written twice, or the entry pasted twice: which is meant?
            problems[str(name)] = document.duplicates[str(name)]  # names the file, line and systems.<name>
            if isinstance(entry, Mapping):
                routes.update(_route_of(str(name), {**defaults, **entry}))
            continue
        bad_name = _name_problem(name)
        if bad_name is not None:
            problems[str(name)] = ConfigError(f"{at(name)}: system {str(name)[:64]}: {bad_name}")
            route = _route_of(str(name), {**defaults, **entry}) if isinstance(entry, Mapping) else {}
            # one that would receive cases blocks routing: none can be queued under a name that cannot stay
            routes.update({k: v for k, v in route.items() if not v.writable})
            continue
        if not isinstance(entry, Mapping):
            problems[name] = ConfigError(f"{at(name)}: system {name}: expected a mapping")
            if entry is None:  # every setting commented out: it routes as the defaults say
                routes.update(_route_of(name, defaults))
            continue
        unexpanded = _unexpanded_setting({**defaults, **entry})
        if unexpanded is not None:
            routes.update(_route_of(name, {**defaults, **entry}))
            problems[name] = ConfigError(
                f"{at(name, unexpanded)}: system {name}: {unexpanded}: ${{…}} is read from the environment only in "
                f"{' and '.join(EXPANDED_SETTINGS)}; write this setting's value itself")
            continue
        try:
            system = SystemConfig(**{**defaults, **entry, "name": name, "base_dir": base_dir})
        except ValidationError as exc:
            routes.update(_route_of(name, {**defaults, **entry}))
            errors = exc.errors()
            found = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            problems[name] = ConfigError(f"{at(name, errors[0]['loc'][0] if errors[0]['loc'] else None)}: "
                                         f"system {name}: {found}")
            continue
        except Exception as exc:  # noqa: BLE001 — a check that raised what pydantic does not collect: still this entry's
            routes.update(_route_of(name, {**defaults, **entry}))
            problems[name] = ConfigError(f"{at(name)}: system {name}: {type(exc).__name__}: {exc}")
            continue
        missing = _missing_files(system) if check_files is True or check_files == name else []
        if missing:
            setting = missing[0].split(":", 1)[0]
            problems[name] = ConfigError(f"{at(name, setting)}: system {name}: {'; '.join(missing)}")
            routes[name] = SystemRoute.model_validate(system.model_dump(include={"name", "role", "departments",
                                                                                 "receives", "push"}))
            continue
        systems[name] = system
    config = SystemsConfig(systems=systems, path=Path(where), database_url=url)
    config._invalid = {name: InvalidSystem(error=error, route=routes.get(name)) for name, error in problems.items()}
    return config, problems


def _unexpanded_setting(settings: Mapping[str, Any]) -> str | None:
    """The first setting (top level of an entry) other than :data:`EXPANDED_SETTINGS` whose text holds ``${``."""
    for key, value in settings.items():
        if key not in EXPANDED_SETTINGS and isinstance(value, str) and _ENV_REF.search(value):
            return str(key)
    return None


def _route_of(name: str, settings: Mapping[str, Any]) -> dict[str, SystemRoute]:
    """``{name: route}`` when the entry's routing settings read, else nothing."""
    try:
        return {name: SystemRoute(**{**settings, "name": name})}
    except (ValidationError, TypeError):
        return {}
