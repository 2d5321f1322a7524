"""API clients (department systems, the hall): credentials shown once, stored as salted hashes, with expiry.

A credential is ``tbk_<client id>_<secret>`` with a 256-bit random secret. Such a secret cannot be guessed, so a
salted SHA-256 (not a slow password hash) is the right store: it keeps the secret out of the database and costs
a microsecond per request. Verified credentials are cached briefly, so a revocation takes effect within
``CACHE_SECONDS`` in a running server (at once for new processes).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import Engine

from gateway.contract.errors import ConfigError
from gateway.store import access as store
from gateway.store import subscriptions

__all__ = ["SCOPES", "Client", "ClientStore", "IssuedCredential", "row_to_client"]

SCOPES = {
    "certificates:query": "query, fetch and verify certificates (subject to the sharing policy)",
    "cases:read": "a case's status and timeline (cases of the client's own department)",
    "consents:issue": "issue consent tokens when a holder agrees (the hall)",
    "holders:read": "read a holder's access log on the holder's behalf (the hall)",
    "subscriptions": "subscribe to certificate status changes",
    "pii:full": "see full ID numbers in answers (otherwise masked)",
    "bundles:apply": "apply for 一件事 bundles and follow them (the hall's intake window)",
    "workorders": "12345 work orders routed to the client's own department: list, read, sign for, reply",
}
DEFAULT_SCOPES = ("certificates:query", "cases:read", "subscriptions")
CACHE_SECONDS = 2.0
UNKNOWN_SECONDS = 10.0
"""How long the set of client ids is trusted for refusing an id it does not hold: a client another process added
(``tongban clients add`` while the gateway runs) is known at most this long after it was added."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    department_code: str | None
    scopes: frozenset[str]
    rate_limit: float | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime | None = None

    def active(self, now: datetime | None = None) -> bool:
        now = now or _utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def as_dict(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "name": self.name, "department_code": self.department_code,
                "scopes": sorted(self.scopes), "rate_limit": self.rate_limit,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "active": self.active()}


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    client: Client
    credential: str


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def row_to_client(row: Any) -> Client:
    return Client(row.client_id, row.name, row.department_code, frozenset(orjson.loads(row.scopes)),
                  row.rate_limit, row.expires_at, row.revoked_at, row.created_at)


class ClientStore:
    def __init__(self, engine: Engine, *, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine
        self._cache: dict[str, tuple[float, Client, str, str]] = {}
        self._ids: frozenset[str] = frozenset()
        self._ids_at = float("-inf")
        """Every client id the ledger holds, read at most once per :data:`UNKNOWN_SECONDS`: a credential naming
        another id is refused from memory — however many random ids arrive, from however many addresses, they cost
        one small read per interval, and no client is ever refused for what others sent (an address throttle did
        that: 100 junk credentials locked out every client behind the same proxy)."""

    def add(self, name: str, *, department_code: str | None = None, scopes: list[str] | tuple[str, ...] = DEFAULT_SCOPES,
            days: float | None = 365, rate_limit: float | None = None, client_id: str | None = None) -> IssuedCredential:
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ConfigError(f"unknown scope(s) {sorted(unknown)}; known: {sorted(SCOPES)}")
        if rate_limit is not None and not (rate_limit > 0 and math.isfinite(rate_limit)):
            raise ConfigError(f"rate limit {rate_limit} requests/s: it must be a positive number (leave it out for "
                              "the gateway's default)")
        cid = client_id or secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        now = _utcnow()
        expires = now + timedelta(days=days) if days else None
        with self.engine.begin() as conn:
            if store.active_client_named(conn, name):
                raise ConfigError(f"an active client named {name!r} exists; revoke it first")
            store.insert_client(
                conn, client_id=cid, name=name, department_code=department_code,
                scopes=orjson.dumps(sorted(scopes)).decode(), secret_salt=salt, secret_hash=_hash(salt, secret),
                rate_limit=rate_limit, created_at=now, expires_at=expires, revoked_at=None)
        self._ids = self._ids | {cid}
        client = Client(cid, name, department_code, frozenset(scopes), rate_limit, expires, None, now)
        return IssuedCredential(client, f"tbk_{cid}_{secret}")

    def list(self) -> list[Client]:
        with self.engine.connect() as conn:
            rows = store.list_clients(conn)
        return [row_to_client(r) for r in rows]

    def get(self, client_id_or_name: str) -> Client | None:
        with self.engine.connect() as conn:
            row = store.find_client(conn, client_id_or_name)
            if row is None:
                row = store.latest_client_named(conn, client_id_or_name)
        return row_to_client(row) if row is not None else None

    def revoke(self, client_id_or_name: str) -> Client:
        client = self.get(client_id_or_name)
        if client is None:
            raise ConfigError(f"no client {client_id_or_name!r}")
        with self.engine.begin() as conn:
            store.revoke_client(conn, client.client_id, _utcnow())
            subscriptions.cancel_client_subscriptions(conn, client.client_id)  # it can no longer cancel them itself
        self._cache.pop(client.client_id, None)
        return self.get(client.client_id) or client

    def cached(self, credential: str) -> bool:
        """Whether :meth:`authenticate` can answer ``credential`` from memory (no database read): the event loop
        calls it inline only then."""
        cid = credential[4:].partition("_")[0] if credential.startswith("tbk_") else ""
        entry = self._cache.get(cid)
        now = time.monotonic()
        if entry is not None and now - entry[0] < CACHE_SECONDS:
            return True
        return cid not in self._ids and now - self._ids_at < UNKNOWN_SECONDS

    def _exists(self, cid: str, now: float) -> bool:
        """Whether a client with this id exists, from the id set (read again once it is older than
        :data:`UNKNOWN_SECONDS` and the id is not in it: a client added by another process is found then)."""
        if cid in self._ids:
            return True
        if now - self._ids_at < UNKNOWN_SECONDS:
            return False
        with self.read_engine.connect() as conn:
            self._ids = frozenset(store.client_ids(conn))
        self._ids_at = now
        return cid in self._ids

    def authenticate(self, credential: str) -> Client | None:
        """The active client a credential belongs to, or None (unknown, wrong secret, revoked, expired)."""
        if not credential.startswith("tbk_"):
            return None
        cid, sep, secret = credential[4:].partition("_")
        if not sep or not cid or not secret:
            return None
        now = time.monotonic()
        cached = self._cache.get(cid)
        if cached is None or now - cached[0] >= CACHE_SECONDS:
            if not self._exists(cid, now):
                return None
            with self.read_engine.connect() as conn:
                row = store.find_client(conn, cid)
            if row is None:
                return None
            # kept whether this secret matched or not: client ids are no secret (every signed answer and holder's
            # log names them), and wrong secrets for a known id cost a database read each, before any rate limit
            cached = (now, row_to_client(row), row.secret_salt, row.secret_hash)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cid] = cached
        _, client, salt, digest = cached
        if not hmac.compare_digest(digest, _hash(salt, secret)):
            return None
        return client if client.active() else None
