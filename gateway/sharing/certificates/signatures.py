"""Issuer signatures: a certificate is served only if its file verifies against the issuer's registered key.

Issuers register their public keys with the gateway's operator (``tongban issuers add`` or
:func:`register_issuer_key`, e.g. after fetching them from the issuer's well-known URL). Ed25519 is the
default; SM2 with SM3 (GM/T 0003, the default user ID ``1234567812345678``) is supported through ``gmssl``;
it is slow (≈85 verifications/s) but runs once per certificate at harvest, never per request.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine

from gateway.contract.errors import ConfigError
from gateway.models import validate_uscc
from gateway.store import certificates as store

__all__ = ["IssuerKey", "load_issuer_keys", "register_issuer_key", "verify_signature"]

ALGORITHMS = ("Ed25519", "SM2")


@dataclass(frozen=True, slots=True)
class IssuerKey:
    key_id: str
    issuer_code: str
    algorithm: str
    public_key: str  # Ed25519: base64 of the raw 32 bytes; SM2: hex of the 64-byte uncompressed point


def register_issuer_key(engine: Engine, *, key_id: str, issuer_code: str, algorithm: str, public_key: str) -> IssuerKey:
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"algorithm must be one of {ALGORITHMS}")
    code = validate_uscc(issuer_code)[0]
    if algorithm == "Ed25519":
        try:
            raw = base64.b64decode(public_key, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("an Ed25519 public key is the base64 of its 32 raw bytes") from None
        if len(raw) != 32:
            raise ConfigError("an Ed25519 public key has 32 bytes")
    elif len(public_key) != 128:
        raise ConfigError("an SM2 public key is 128 hex digits (x‖y)")
    key = IssuerKey(key_id, code, algorithm, public_key)
    with engine.begin() as conn:
        existing = store.find_issuer_key(conn, key_id)
        if existing is not None:
            if (existing.issuer_code, existing.algorithm, existing.public_key) != (code, algorithm, public_key):
                raise ConfigError(f"key id {key_id!r} is registered with another key; revoke it and use a new id")
            return key
        store.insert_issuer_key(conn, key_id=key_id, issuer_code=code, algorithm=algorithm, public_key=public_key,
                                created_at=datetime.now(timezone.utc))
    return key


def load_issuer_keys(conn: Connection) -> dict[str, IssuerKey]:
    rows = store.active_issuer_keys(conn)
    return {r.key_id: IssuerKey(r.key_id, r.issuer_code, r.algorithm, r.public_key) for r in rows}


def verify_signature(key: IssuerKey, content: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if key.algorithm == "Ed25519":
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key)).verify(signature, content)
            return True
        except (InvalidSignature, ValueError):
            return False
    from gateway.crypto.jws import sm2_key, sm2_signature_problem

    if sm2_signature_problem(signature) is not None:
        return False
    try:
        return bool(sm2_key("", key.public_key).verify_with_sm3(signature.hex(), content))
    except Exception:  # noqa: BLE001 - gmssl raises assorted errors on malformed input
        return False
