"""Access control of the certificate-sharing service: who may call, for what, with whose consent, on the record.

The key material and the crypto these use (sealing, JWS, batch signatures) live in :mod:`gateway.crypto`,
shared with the sync side.

- :mod:`.clients` — API clients: credentials shown once, salted hashes, expiry, revocation
- :mod:`.policy` — which client may use which certificate type for which service items (deny by default)
- :mod:`.tokens` — consent tokens (HMAC), bound to holder, client, types and purpose
- :mod:`.audit` — the hash-chained audit log, the group-commit writer, verification, checkpoints
- :mod:`.ratelimit` — per-client token buckets (in memory), and the protocol a limiter follows
- :mod:`.shared_ratelimit` — the same buckets in Redis: one quota per client across gateway processes
- :mod:`.revocations` — consent withdrawals seen by every gateway process
"""

from __future__ import annotations

from .audit import AuditEntry, AuditWriter, ChainReport, append_entries, make_checkpoint, verify_chain
from .clients import SCOPES, Client, ClientStore, IssuedCredential
from .policy import Decision, Policy, PolicyRule
from .ratelimit import RateLimit, RateLimiter
from .shared_ratelimit import RedisRateLimiter, make_rate_limiter
from .tokens import ConsentClaims, ConsentError, ConsentTokens

__all__ = [
    "SCOPES",
    "AuditEntry",
    "AuditWriter",
    "ChainReport",
    "Client",
    "ClientStore",
    "ConsentClaims",
    "ConsentError",
    "ConsentTokens",
    "Decision",
    "IssuedCredential",
    "Policy",
    "PolicyRule",
    "RateLimit",
    "RateLimiter",
    "RedisRateLimiter",
    "append_entries",
    "make_rate_limiter",
    "make_checkpoint",
    "verify_chain",
]
