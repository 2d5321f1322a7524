"""The certificate-sharing gateway's configuration and the objects one gateway process works with.

``config/gateway.yaml`` (or ``TONGBAN_GATEWAY``) lists the issuing systems whose certificate feeds are harvested
(same shape as a system in the systems file: connector, connector config, mapping, endpoint, secret names),
the service items with the materials that certificates can replace, the sharing policy, and limits. Secrets
and keys never live in it (see :mod:`gateway.crypto.keys`).

    gw = GatewayRuntime.create(runtime)           # runtime: the ledger engine + systems
    app = create_app(gw)                          # gateway.sharing.api
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine

from gateway.contract.errors import ConfigError
from gateway.crypto.jws import JwsSigner, KeySetVerifier, verification_jwks
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import SystemConfig, expand_env, find_config_file, parse_duration
from gateway.kernel.yamlfile import load_yaml, read_config_text
from gateway.models import ServiceItem
from gateway.sharing.access.audit import AuditWriter
from gateway.sharing.access.clients import ClientStore
from gateway.sharing.access.policy import Policy, PolicyRule
from gateway.sharing.access.ratelimit import RateLimit
from gateway.sharing.access.shared_ratelimit import DEFAULT_PREFIX, DEFAULT_TIMEOUT, make_rate_limiter
from gateway.sharing.access.tokens import ConsentTokens
from gateway.store.retention import parse_retention
from gateway.store.sealing import require_ledger_keys
from gateway.store.sharing_queries import read_engine_for

__all__ = ["GatewayRuntime", "GatewaySettings", "load_gateway_settings"]


class GatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    issuers: dict[str, SystemConfig] = Field(default_factory=dict)
    items: list[ServiceItem] = Field(default_factory=list)
    policy: list[PolicyRule] = Field(default_factory=list)
    consent_ttl: timedelta = timedelta(minutes=30)
    consent_max_ttl: timedelta = timedelta(days=1)
    purpose_after_finish: timedelta = timedelta(days=30)
    """How long after its finish (办结时间) a case still serves as the purpose of a release or a materials look-up
    (``30d``; ``0`` ends it at the finish): access is limited to what the case needs (DOMAIN.md), and a case
    finished years ago needs nothing more — without a bound any department kept access to every holder of every
    case it ever handled. The days after the finish leave room for the certificate's issue and delivery (送达)."""
    rate_limit: float = Field(default=100.0, gt=0)
    """Requests/s of a client that has no rate of its own."""
    rate_limit_store: str = "memory"
    """Where the per-client token buckets live: ``memory`` (this process only — the embedded demo, one
    ``tongban serve``) or ``redis://host:port/db`` (``rediss://``, ``unix://``), shared by every gateway process
    so that a client has one quota however many serve it (gateway.sharing.access.shared_ratelimit, which also
    says what happens when Redis is down). ``${VAR}`` / ``${VAR:-default}`` are read from the environment; a
    password belongs there, never in this file."""
    rate_limit_processes: int | None = Field(default=None, ge=1)
    """While the shared store is unreachable each process admits ``rate / rate_limit_processes``; unset: as
    many processes as were last seen using the store (remembered in the ledger for a process started during an
    outage)."""
    rate_limit_prefix: str = Field(default=DEFAULT_PREFIX, min_length=1, max_length=200)
    """The prefix of the keys in the shared store: one per deployment when two share a Redis database."""
    rate_limit_timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=10)
    """Seconds a request waits for the shared store before deciding in this process (and the store is treated as
    down until the next attempt, ``retry_interval`` later)."""
    audit_hash: Literal["sha256", "sm3"] = "sha256"
    checkpoint_every: timedelta = timedelta(minutes=5)
    audit_anchor_file: Path | None = None
    """Where every signed checkpoint of the audit chain is also appended (one JSON line each), outside the ledger:
    on the gateway's host, ideally shipped off by its log collection. Checkpoints in the ledger fall with the rows
    someone removes there; ``tongban audit verify --anchors FILE`` holds the chain to this copy. Relative to the
    gateway file; ``${VAR}`` references are expanded; empty: no copy (the default)."""
    retention: timedelta = timedelta(days=180)
    """How long ``tongban purge`` keeps what it drops: days, weeks or years (``180d``, ``26w``, ``1y`` = 365
    days), at least a day (gateway.store.retention.parse_retention) — never the ``30m`` of the durations above
    (minutes there; a retention of ``6m`` meant as six months is refused, not taken as six minutes)."""
    webhook_max_attempts: int = Field(default=6, ge=1)
    """A delivery is dead after this many attempts *and* ``webhook_retry_for`` since it was queued (back-off up to an
    hour): six attempts alone were spent in a minute, and a receiver down for a restart never heard of a revocation."""
    webhook_retry_for: timedelta = timedelta(hours=24)
    webhook_max_subscriptions: int = Field(default=20, ge=1)
    """Active subscriptions one client may hold: each certificate event is delivered to every one of them."""
    webhook_timeout: float = 5.0
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    """Hosts, addresses or networks (CIDR) a webhook may target although loopback or link-local (refused
    otherwise: gateway.sharing.certificates.webhook_targets) — a receiver on the gateway's own machine."""
    consent_revocation_poll: float = Field(default=2.0, gt=0)
    """Seconds between a gateway process's polls for consents withdrawn elsewhere (gateway.sharing.access.revocations)."""
    metrics_token: str | None = None
    """When set, ``/metrics`` answers only ``Authorization: Bearer <token>`` (Prometheus' ``authorization``
    setting); unset, it is open to whoever reaches the port. Give it as ``${TONGBAN_METRICS_TOKEN}``: a secret
    belongs in the environment, never in this file."""
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """The largest request body the API reads (413 beyond it, before authentication): ``POST /v1/certificates/
    verify`` carries a whole file as base64, nothing else comes near."""
    gc_young_threshold: int = Field(default=10_000, ge=0)
    """The API worker's young-generation GC threshold (``gateway.sharing.api.gc_policy``); 0 keeps CPython's 700."""

    @field_validator("consent_ttl", "consent_max_ttl", "checkpoint_every", "webhook_retry_for",
                     "purpose_after_finish", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, value: Any) -> timedelta:
        try:
            return parse_retention(value, "retention")
        except ConfigError as exc:  # pydantic names the field; parse_gateway_settings makes it one line
            raise ValueError(str(exc).removeprefix("retention: ")) from None

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _metrics_token(cls, value: Any) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        raw = str(value).strip()
        if "${" not in raw:
            raise ValueError("metrics_token: reference an environment variable (${TONGBAN_METRICS_TOKEN}); "
                             "no secret in the gateway file")
        return expand_env(raw).strip() or None

    @field_validator("audit_anchor_file", mode="before")
    @classmethod
    def _anchor_file(cls, value: Any) -> Path | None:
        text = expand_env(str(value)).strip() if value is not None else ""
        return Path(text) if text else None

    @field_validator("rate_limit_store", mode="before")
    @classmethod
    def _rate_limit_store(cls, value: Any) -> str:
        raw = str(value or "memory").strip()
        if "${" not in raw and urlsplit(raw).password:
            raise ValueError("no password in the gateway file: reference an environment variable, "
                             "e.g. rate_limit_store: ${TONGBAN_RATE_LIMIT_STORE}")
        store = expand_env(raw).strip() or "memory"
        if store != "memory" and urlsplit(store).scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"{store.split('@')[-1]!r}: expected memory or a redis://, rediss:// or unix:// URL")
        return store

    @cached_property
    def items_by_code(self) -> dict[str, ServiceItem]:
        return {i.item_code: i for i in self.items}


def _gateway_file(path: str | Path | None) -> Path:
    """``path``, else ``TONGBAN_GATEWAY``, else ``gateway.yaml`` here, else the repository's config/gateway.yaml."""
    return find_config_file(path, "TONGBAN_GATEWAY", "gateway.yaml", "gateway.yaml", "gateway file")


def _gateway_data(text: str, where: str) -> dict[str, Any]:
    data = load_yaml(text, where=where) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    return data


def _anchor_path(anchor: Path | None, base_dir: Path) -> Path | None:
    """The anchor file as the gateway uses it: a relative path is read against the gateway file's folder."""
    return anchor if anchor is None or anchor.is_absolute() else base_dir / anchor


def load_gateway_settings(path: str | Path | None = None) -> GatewaySettings:
    """The settings of the gateway file (:func:`_gateway_file` says which)."""
    chosen = _gateway_file(path)
    return parse_gateway_settings(read_config_text(chosen), base_dir=chosen.resolve().parent, where=str(chosen))


def configured_anchor_file(path: str | Path | None = None) -> Path | None:
    """The gateway file's ``audit_anchor_file`` alone, resolved as the gateway resolves it (found as
    :func:`load_gateway_settings` finds the file). ``tongban audit verify`` runs where the gateway's other settings
    (its metrics token, its issuers' secrets) need not be set: loading the whole file failed on them before any
    row was checked."""
    chosen = _gateway_file(path)
    data = _gateway_data(read_config_text(chosen), str(chosen))
    return _anchor_path(GatewaySettings._anchor_file(data.get("audit_anchor_file")), chosen.resolve().parent)


def parse_gateway_settings(text: str, *, base_dir: Path, where: str = "<gateway>") -> GatewaySettings:
    data = _gateway_data(text, where)
    issuers = {}
    for name, entry in (data.pop("issuers", None) or {}).items():
        try:
            issuers[name] = SystemConfig(**{**entry, "name": name, "base_dir": base_dir})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{where}: issuer {name}: {problems}") from None
    try:
        settings = GatewaySettings(issuers=issuers, **data)
        return settings.model_copy(update={"audit_anchor_file": _anchor_path(settings.audit_anchor_file, base_dir)})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None


@dataclass
class GatewayRuntime:
    """Everything the API, the harvester and the CLI commands of the gateway share."""

    engine: Engine
    settings: GatewaySettings
    keys: GatewayKeys
    systems: Any = None  # gateway.kernel.config.SystemsConfig, when a systems file is loaded
    pii: PiiCodec = field(init=False)
    signer: JwsSigner = field(init=False)
    consents: ConsentTokens = field(init=False)
    clients: ClientStore = field(init=False)
    policy: Policy = field(init=False)
    limiter: RateLimit = field(init=False)
    audit: AuditWriter = field(init=False)
    read_engine: Engine = field(init=False)
    """Reads of the API. On SQLite a second engine without ``BEGIN IMMEDIATE``: a read must not take the write
    lock (the ledger's engine begins every transaction as a writer, which would queue every query behind the
    audit writer's commits). WAL gives each statement a consistent snapshot."""

    def __post_init__(self) -> None:
        self.read_engine = read_engine_for(self.engine)
        self.pii = PiiCodec(self.keys)
        with self.engine.begin() as conn:  # another ledger's key file would write certificates and consents under
            require_ledger_keys(conn, self.pii, what="start the certificate gateway")  # a blind index nobody finds
        self.signer = JwsSigner.from_keys(self.keys)
        self.consents = ConsentTokens(self.keys.mac_key)
        self.clients = ClientStore(self.engine, read_engine=self.read_engine)
        self.policy = Policy(self.settings.policy)
        self.limiter = make_rate_limiter(self.settings, engine=self.engine)
        self.audit = AuditWriter(self.engine, algorithm=self.settings.audit_hash, signer=self.signer,
                                 checkpoint_seconds=self.settings.checkpoint_every.total_seconds(),
                                 anchor_file=self.settings.audit_anchor_file)

    @property
    def verifier(self) -> KeySetVerifier:
        """Verifies what this gateway signed, with the current signing key or a retired one (by ``kid``)."""
        return KeySetVerifier(verification_jwks(self.keys))

    @classmethod
    def create(cls, runtime: Any = None, *, settings: GatewaySettings | None = None, keys: GatewayKeys | None = None,
               engine: Engine | None = None) -> GatewayRuntime:
        """From a :class:`gateway.kernel.runtime.Runtime` (its engine and systems) plus settings and keys from the
        environment. Without keys the gateway refuses to start: it will not hold personal data unsealed."""
        keys = keys or getattr(runtime, "keys", None) or GatewayKeys.from_env()
        if keys is None:
            raise ConfigError("the gateway needs keys: set TONGBAN_KEY_FILE (tongban keys init writes one) "
                              "or TONGBAN_PII_KEYS, TONGBAN_BLIND_INDEX_KEY, TONGBAN_MAC_KEY, TONGBAN_SIGNING_KEY")
        eng = engine or runtime.engine
        return cls(eng, settings or load_gateway_settings(), keys, getattr(runtime, "systems", None))

