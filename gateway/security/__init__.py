"""Security of the certificate-sharing gateway: clients and credentials, the sharing policy, consent tokens,
the audit chain and its checkpoints, personal-data crypto (sealing, blind index, masking), JWS signing.

- :mod:`.keys` — the gateway's key material (environment or key file)
- :mod:`.clients` — API clients: credentials shown once, salted hashes, expiry, revocation
- :mod:`.policy` — which client may use which certificate type for which service items (deny by default)
- :mod:`.tokens` — consent tokens (HMAC), bound to holder, client, types and purpose
- :mod:`.audit` — the hash-chained audit log, the group-commit writer, verification, checkpoints
- :mod:`.pii` — AES-GCM/SM4 sealing, blind index, masking, log redaction
- :mod:`.jws` — EdDSA (or SM2) JWS for what leaves the gateway
- :mod:`.ratelimit` — per-client token buckets
"""

from __future__ import annotations

from .audit import AuditEntry, AuditWriter, ChainReport, append_entries, make_checkpoint, verify_chain
from .clients import SCOPES, Client, ClientStore, IssuedCredential
from .jws import JwsError, JwsSigner, JwsVerifier
from .keys import GatewayKeys
from .pii import PiiCodec, install_log_redaction, mask, redact
from .policy import Decision, Policy, PolicyRule
from .ratelimit import RateLimiter
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
    "GatewayKeys",
    "IssuedCredential",
    "JwsError",
    "JwsSigner",
    "JwsVerifier",
    "PiiCodec",
    "Policy",
    "PolicyRule",
    "RateLimiter",
    "append_entries",
    "install_log_redaction",
    "make_checkpoint",
    "mask",
    "redact",
    "verify_chain",
]
