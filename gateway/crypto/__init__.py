"""Key material and the cryptography both wings use (the sync seals what it keeps; the sharing service signs
what it releases).

- :mod:`.keys` — key material (environment or key file)
- :mod:`.pii` — AES-GCM/SM4 sealing, blind index, masking, log redaction
- :mod:`.jws` — EdDSA (or SM2) JWS
- :mod:`.batchsign` — one JWS over an RFC 9162 Merkle root per batch of answers
"""

from __future__ import annotations

from .jws import JwsError, JwsSigner, JwsVerifier
from .keys import GatewayKeys
from .pii import PiiCodec, install_log_redaction, mask, redact

__all__ = ["GatewayKeys", "JwsError", "JwsSigner", "JwsVerifier", "PiiCodec", "install_log_redaction", "mask", "redact"]
