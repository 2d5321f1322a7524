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
import dataclasses
import hashlib
import secrets
from datetime import datetime, timezone
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.contract.errors import ConfigError
from gateway.crypto.keys import SM2_PRIVATE, GatewayKeys

__all__ = ["JwsError", "JwsSigner", "JwsVerifier", "KeySetVerifier", "b64url", "unb64url"]

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
                raise ConfigError("signing_alg SM2 needs sm2_private_key")
            private = keys.sm2_private_key
            if not SM2_PRIVATE.fullmatch(private):
                # int(private, 16) would have quoted the whole private key in its ValueError
                raise ConfigError("sm2_private_key is 64 hexadecimal digits (the value is not repeated)")
            public = sm2.CryptSM2(private_key=private, public_key="")._kg(int(private, 16), sm2.default_ecc_table["g"])
            kid = "sm2-" + hashlib.sha256(public.encode()).hexdigest()[:12]
            jwk = {"kty": "EC", "crv": "SM2", "kid": kid, "alg": "SM2", "x": b64url(bytes.fromhex(public[:64])),
                   "y": b64url(bytes.fromhex(public[64:]))}
            return cls("SM2", kid, sm2_key(private, public), jwk)
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


def sm2_key(private: str, public: str) -> Any:
    """gmssl's SM2 key with the public point ``public`` (x ‖ y, 128 hex digits, or the same after an "04" prefix)
    taken as given. ``CryptSM2`` strips a leading "04" with ``str.lstrip("04")`` — every leading 0 and 4, of the
    coordinates too — so a public key whose hex began with "04" (one key in 256), or a prefixed one whose x began
    with a 0 or a 4, was mangled: its signatures did not verify, and the signer's Z value, computed from the same
    mangled key, made signatures nobody else could verify."""
    from gmssl import sm2

    point = public[2:] if len(public) == 130 and public.startswith("04") else public
    key = sm2.CryptSM2(private_key=private, public_key=point)
    key.public_key = point
    return key


class JwsVerifier:
    """Verifies with one public JWK (what a receiving department does with ``GET /v1/keys``)."""

    def __init__(self, jwk: dict[str, str]) -> None:
        self.jwk = jwk
        if jwk.get("kty") == "OKP":
            self._key: Any = Ed25519PublicKey.from_public_bytes(unb64url(jwk["x"]))
        else:
            public = (unb64url(jwk["x"]) + unb64url(jwk["y"])).hex()
            self._key = sm2_key("", public)

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
        if not isinstance(header, dict):
            raise JwsError("malformed JWS: its header is not a JSON object")
        if header.get("kid") != self.jwk.get("kid") or header.get("alg") != self.jwk.get("alg"):
            raise JwsError("JWS signed with another key or algorithm")
        signing_input = f"{header_b64}.{body_b64}".encode()
        if self.jwk.get("kty") == "OKP":
            try:
                self._key.verify(signature, signing_input)
            except InvalidSignature:
                raise JwsError("JWS signature does not verify") from None
        else:
            problem = sm2_signature_problem(signature)
            if problem is not None:
                raise JwsError(f"JWS signature does not verify ({problem})")
            if not self._key.verify_with_sm3(signature.hex(), signing_input):
                raise JwsError("JWS signature does not verify")
        return unb64url(body_b64)


def sm2_signature_problem(signature: bytes) -> str | None:
    """Why ``signature`` is no SM2 signature gmssl may be asked about, or None. Exactly r ‖ s, 32 bytes each, both
    in [1, n-1] (GB/T 32918.2 §7.1 B1-B2): gmssl reads the first 64 bytes and ignores the rest, so without this
    any bytes appended to a signature verified — for JWS and issuers' certificate signatures alike."""
    if len(signature) != 64:
        return "an SM2 signature is 64 bytes, r ‖ s"
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < SM2_ORDER and 0 < s < SM2_ORDER):
        return "r or s outside [1, n-1]"
    return None


def rotated_signing(keys: GatewayKeys) -> GatewayKeys:
    """A copy of ``keys`` with a new signing key (same algorithm); the current key's public JWK joins
    ``signing_keys_retired``, so whatever it signed still verifies by its ``kid``."""
    old = JwsSigner.from_keys(keys).jwk()
    retired = [j for j in keys.signing_keys_retired if j.get("kid") != old["kid"]]
    retired.append({**old, "retired_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return dataclasses.replace(keys, signing_key=secrets.token_bytes(32),
                               sm2_private_key=secrets.token_hex(32) if keys.signing_alg == "SM2"
                               else keys.sm2_private_key, signing_keys_retired=retired)


def verification_jwks(keys: GatewayKeys) -> list[dict[str, str]]:
    """Every public signing key a signature of this gateway may carry: the current one first, then the retired
    ones (each marked with its ``retired_at``)."""
    current = JwsSigner.from_keys(keys).jwk()
    return [current, *(dict(j) for j in keys.signing_keys_retired if j.get("kid") != current["kid"])]


class KeySetVerifier:
    """Verifies a JWS with the key its header names (``kid``), among a key set — the current signing key and the
    retired ones (:func:`verification_jwks`, ``GET /v1/keys``) — so what an earlier key signed still verifies after
    a rotation. Same ``verify`` as :class:`JwsVerifier`."""

    def __init__(self, jwks: list[dict[str, str]]) -> None:
        self.jwks = [dict(j) for j in jwks]
        self._by_kid = {j["kid"]: JwsVerifier(j) for j in self.jwks}

    @property
    def jwk(self) -> dict[str, str]:
        """The current key (the first)."""
        return self.jwks[0]

    def verify(self, token: str, payload: bytes | None = None) -> bytes:
        try:
            header = orjson.loads(unb64url(token.split(".", 1)[0]))
            kid = header.get("kid") if isinstance(header, dict) else None
        except ValueError:
            raise JwsError("malformed JWS") from None
        verifier = self._by_kid.get(kid) if isinstance(kid, str) else None
        if verifier is None:
            raise JwsError(f"JWS signed with a key the gateway does not know (kid {kid!r})")
        return verifier.verify(token, payload)
