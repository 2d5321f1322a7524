"""Consent tokens: what the gateway issues at ``POST /v1/consents`` and checks on every release that needs one.

Only the gateway reads them back, so a keyed MAC (HMAC-SHA256, a few microseconds) is enough; a signature
would cost far more per request and prove nothing more to the one party that checks it. The token binds the
holder (by blind index), the client, the certificate types and the purpose (item code + case number), and
carries its expiry::

    tbc2.<base64url claims>.<base64url mac>

The claims are readable by whoever holds the token (the hall that asked for it; each department a 一件事 part is
pushed to), so the holder is not in them in clear: claim ``hx`` is the holder's blind index encrypted (AES-GCM,
a fresh nonce per token, under a key derived from the MAC key). The blind index is the gateway-wide value of the
audit log's ``holder_ref``; in clear it would let any two recipients link one person across clients and
consents, and give the hall (which may ask a consent for any ID number) an ID → blind-index oracle. Two tokens
for one holder now share nothing. A ``tbc1`` token (the blind index in clear, claim ``h``) issued before this
change is still accepted until it expires.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.jws import b64url, unb64url

__all__ = ["ConsentClaims", "ConsentError", "ConsentTokens"]

_PREFIX = "tbc2"
_PREFIX_V1 = "tbc1"  # the holder's blind index in clear: no longer issued, accepted until it expires


class ConsentError(ValueError):
    """A consent token that is malformed, forged, expired, or bound to something else."""


@dataclass(frozen=True, slots=True)
class ConsentClaims:
    consent_id: str
    holder: str  # blind index
    client_id: str
    types: tuple[str, ...]
    item_code: str
    case_no: str
    expires: int  # epoch seconds

    def covers(self, *, holder: str, client_id: str, type_code: str, item_code: str, case_no: str) -> bool:
        return (self.holder == holder and self.client_id == client_id and type_code in self.types
                and self.item_code == item_code and self.case_no == case_no)


_VERIFIED_MAX = 20_000


class ConsentTokens:
    """Issues and checks consent tokens. A token that has verified once is remembered (bounded), so a
    department that presents it again — the query, then each certificate's metadata and file, for one case —
    costs a dict lookup, not a MAC, a base64 decode and a JSON parse; its expiry is still checked every time.
    Only tokens whose MAC verified are remembered: a forged token never matches one.

    A consent the holder withdrew is refused from then on: ``mark_revoked`` (called by the process that recorded
    the withdrawal, and by every other one from its poll of ``consents.revoked_at``) adds it to the set that
    ``check`` consults after the MAC — a set lookup, not a database read per release."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._holder_cipher = AESGCM(hmac.digest(key, b"tongban consent token holder v2", "sha256"))
        self._verified: dict[str, ConsentClaims] = {}
        self._revoked: dict[str, float] = {}  # consent id -> its expiry (epoch): forgotten once expired

    def mark_revoked(self, withdrawn: Iterable[tuple[str, float]]) -> None:
        """``(consent id, expiry as epoch seconds)`` pairs: these consents are refused from now on."""
        self._revoked.update(withdrawn)
        if len(self._revoked) > _VERIFIED_MAX:
            now = time.time()
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}

    def _mac(self, body: str, prefix: str = _PREFIX) -> str:
        return b64url(hmac.digest(self._key, f"{prefix}.{body}".encode(), "sha256"))

    def issue(self, claims: ConsentClaims) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._holder_cipher.encrypt(nonce, claims.holder.encode(), claims.consent_id.encode())
        body = b64url(orjson.dumps({"id": claims.consent_id, "hx": b64url(sealed), "c": claims.client_id,
                                    "t": list(claims.types), "i": claims.item_code, "n": claims.case_no,
                                    "exp": claims.expires}))
        return f"{_PREFIX}.{body}.{self._mac(body)}"

    def check(self, token: str, *, now: datetime | None = None) -> ConsentClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = claims
        current = now.timestamp() if now is not None else time.time()
        if claims.expires <= current:
            raise ConsentError("consent token has expired")
        if claims.consent_id in self._revoked:
            raise ConsentError("the holder has withdrawn this consent")
        return claims

    def _verify(self, token: str) -> ConsentClaims:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] not in (_PREFIX, _PREFIX_V1):
            raise ConsentError("not a consent token")
        if not token.isascii():  # no token we issue has one; compare_digest raised TypeError on it: a 500, unaudited
            raise ConsentError("consent token is malformed")
        if not hmac.compare_digest(self._mac(parts[1], parts[0]), parts[2]):
            raise ConsentError("consent token does not authenticate")
        try:
            data = orjson.loads(unb64url(parts[1]))
            consent_id = str(data["id"])
            if parts[0] == _PREFIX_V1:
                holder = str(data["h"])
            else:
                sealed = unb64url(data["hx"])
                holder = self._holder_cipher.decrypt(sealed[:12], sealed[12:], consent_id.encode()).decode()
            claims = ConsentClaims(consent_id, holder, str(data["c"]), tuple(data["t"]),
                                   str(data["i"]), str(data["n"]), int(data["exp"]))
        except (ValueError, KeyError, TypeError, InvalidTag, orjson.JSONDecodeError):
            raise ConsentError("consent token is malformed") from None
        return claims
