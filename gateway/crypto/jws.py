"""JWS (RFC 7515) for what leaves the gateway: released certificates, webhook payloads, audit checkpoints.

EdDSA (Ed25519, RFC 8037) by default — about 45 µs a signature here. SM2 (with SM3, GM/T 0003) is an option for
deployments that must use the national algorithms; its pure-Python implementation signs about 150 a second. API
answers are therefore signed in batches (one signature over a Merkle root, :mod:`.batchsign`), so neither
algorithm's rate caps the server.

Two forms: compact (``header.payload.signature``) and detached (``header..signature``, RFC 7515 appendix F)
for HTTP bodies, where the body itself is the payload (webhook deliveries).

    signer = JwsSigner.from_keys(keys)
    token = signer.sign(b'{"a":1}')
    JwsVerifier(signer.jwk()).verify(token)
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.crypto.keys import GatewayKeys

__all__ = ["JwsError", "JwsSigner", "JwsVerifier", "b64url", "unb64url"]

SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""n, the order of the SM2 curve's base point (GB/T 32918.5): r and s of a signature lie in [1, n-1]."""


class JwsError(ValueError):
    """A JWS that does not parse or does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JwsSigner:
    def __init__(self, alg: str, kid: str, private: Any, public_jwk: dict[str, str]) -> None:
        self.alg = alg
        self.kid = kid
        self._private = private
        self._jwk = public_jwk
        self._header = b64url(orjson.dumps({"alg": alg, "kid": kid}, option=orjson.OPT_SORT_KEYS))

    @classmethod
    def from_keys(cls, keys: GatewayKeys) -> JwsSigner:
        if keys.signing_alg == "SM2":
            from gmssl import sm2

            if not keys.sm2_private_key:
                raise ValueError("signing_alg SM2 needs sm2_private_key")
            private = keys.sm2_private_key
            public = sm2.CryptSM2(private_key=private, public_key="")._kg(int(private, 16), sm2.default_ecc_table["g"])
            kid = "sm2-" + hashlib.sha256(public.encode()).hexdigest()[:12]
            jwk = {"kty": "EC", "crv": "SM2", "kid": kid, "alg": "SM2", "x": b64url(bytes.fromhex(public[:64])),
                   "y": b64url(bytes.fromhex(public[64:]))}
            return cls("SM2", kid, sm2.CryptSM2(private_key=private, public_key=public), jwk)
        key = Ed25519PrivateKey.from_private_bytes(keys.signing_key)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = "ed-" + hashlib.sha256(raw).hexdigest()[:12]
        return cls("EdDSA", kid, key, {"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "x": b64url(raw)})

    def jwk(self) -> dict[str, str]:
        return dict(self._jwk)

    def _sign(self, signing_input: bytes) -> bytes:
        if self.alg == "SM2":
            import secrets as _s

            signature_hex = self._private.sign_with_sm3(signing_input, _s.token_hex(32))
            return bytes.fromhex(signature_hex)
        return self._private.sign(signing_input)  # type: ignore[no-any-return]

    def sign(self, payload: bytes) -> str:
        """Compact serialization."""
        body = b64url(payload)
        signing_input = f"{self._header}.{body}".encode()
        return f"{self._header}.{body}.{b64url(self._sign(signing_input))}"

    def sign_detached(self, payload: bytes) -> str:
        """``header..signature``: the payload travels as the HTTP body."""
        signing_input = f"{self._header}.{b64url(payload)}".encode()
        return f"{self._header}..{b64url(self._sign(signing_input))}"


class JwsVerifier:
    """Verifies with one public JWK (what a receiving department does with ``GET /v1/keys``)."""

    def __init__(self, jwk: dict[str, str]) -> None:
        self.jwk = jwk
        if jwk.get("kty") == "OKP":
            self._key: Any = Ed25519PublicKey.from_public_bytes(unb64url(jwk["x"]))
        else:
            from gmssl import sm2

            public = (unb64url(jwk["x"]) + unb64url(jwk["y"])).hex()
            self._key = sm2.CryptSM2(private_key="", public_key=public)

    def verify(self, token: str, payload: bytes | None = None) -> bytes:
        """Check a compact JWS (or a detached one with its ``payload``); returns the payload."""
        parts = token.split(".")
        if len(parts) != 3:
            raise JwsError("a JWS has three dot-separated parts")
        header_b64, body_b64, sig_b64 = parts
        if payload is not None:
            body_b64 = b64url(payload)
        try:
            header = orjson.loads(unb64url(header_b64))
            signature = unb64url(sig_b64)
        except (ValueError, orjson.JSONDecodeError):
            raise JwsError("malformed JWS") from None
        if header.get("kid") != self.jwk.get("kid") or header.get("alg") != self.jwk.get("alg"):
            raise JwsError("JWS signed with another key or algorithm")
        signing_input = f"{header_b64}.{body_b64}".encode()
        if self.jwk.get("kty") == "OKP":
            try:
                self._key.verify(signature, signing_input)
            except InvalidSignature:
                raise JwsError("JWS signature does not verify") from None
        else:
            # exactly r ‖ s, 32 bytes each, both in [1, n-1] (GB/T 32918.2 §7.1 B1-B2): gmssl reads the first 64
            # bytes and ignores the rest, so without this check any bytes appended to a signature verified
            if len(signature) != 64:
                raise JwsError("JWS signature does not verify (an SM2 signature is 64 bytes, r ‖ s)")
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            if not (0 < r < SM2_ORDER and 0 < s < SM2_ORDER):
                raise JwsError("JWS signature does not verify (r or s outside [1, n-1])")
            if not self._key.verify_with_sm3(signature.hex(), signing_input):
                raise JwsError("JWS signature does not verify")
        return unb64url(body_b64)
