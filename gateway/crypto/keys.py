"""The gateway's secret material, from the environment or a key file, never from the configuration file.

One JSON key file (``TONGBAN_KEY_FILE``) or the same values in environment variables:

- ``pii_keys``: ``{kid: base64 32-byte key}`` (a kid: letters, digits, ``.``, ``_``, ``-``, at most 64) and
  ``pii_current``: the kid new data is sealed with. Older kids
  stay for reading until ``tongban pii rotate`` has re-sealed everything (``TONGBAN_PII_KEYS`` =
  ``kid:base64,kid:base64`` with the current one first).
- ``pii_cipher``: ``AES-GCM`` (default) or ``SM4-GCM``.
- ``blind_index_key``: the HMAC key of the blind index (``TONGBAN_BLIND_INDEX_KEY``); not rotated casually,
  since every index value depends on it.
- ``mac_key``: the HMAC key of the gateway's own consent tokens (``TONGBAN_MAC_KEY``).
- ``signing_key``: Ed25519 private key (32 bytes, base64) for JWS responses, webhooks and audit checkpoints
  (``TONGBAN_SIGNING_KEY``); ``signing_alg`` ``EdDSA`` or ``SM2`` (then ``sm2_private_key`` is hex).
- ``signing_keys_retired``: the *public* JWKs of signing keys ``tongban keys rotate-signing`` retired, each with
  its ``retired_at``: what they signed (audit checkpoints, receipts, webhook deliveries) stays verifiable by its
  ``kid``, and ``GET /v1/keys`` publishes them (:mod:`gateway.crypto.jws`: ``rotated_signing``,
  ``verification_jwks``, ``KeySetVerifier``). A key file without the field (written before rotation existed) has
  none.

``tongban keys init --out FILE`` writes a fresh key file (mode 0600; every write replaces the file whole).
A malformed file is a ConfigError naming the field, never quoting a key.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError

__all__ = ["GatewayKeys"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any, name: str) -> bytes:
    if not isinstance(text, str):
        raise ConfigError(f"key {name}: base64 text, not a {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise ConfigError(f"key {name}: not valid base64") from None


KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""What a PII key id may be: it is written into every value sealed under the key (``enc:v1:<kid>:…``), where a
``:`` would end it early (the value never opened again), a space or quote would hide it from rotation's search of
stored documents, and more than 255 bytes would not fit a sealed payload's length byte."""
_PII_KEY_SIZES = {"AES-GCM": (16, 24, 32), "SM4-GCM": (16,)}
_SECRET_SIZES = tuple(range(16, 129))
"""HMAC keys (blind index, consent tokens): 16 bytes at least — a shorter one is a typing mistake, not a key."""
_SM2_PRIVATE = re.compile(r"[0-9A-Fa-f]{64}")


def _kid(name: Any, where: str) -> str:
    if not isinstance(name, str) or not KID.fullmatch(name):
        raise ConfigError(f"{where}: PII key id {name!r}: letters, digits, '.', '_' and '-' only, at most 64 "
                          "(it is written into every value sealed under the key)")
    return name


def _sized(key: bytes, sizes: tuple[int, ...], name: str, where: str, kind: str = "") -> bytes:
    if len(key) not in sizes:
        wanted = " or ".join(str(n) for n in sizes) if len(sizes) < 4 else f"{sizes[0]} to {sizes[-1]}"
        raise ConfigError(f"{where}: {name} is {len(key)} bytes; {kind + ' ' if kind else ''}keys are {wanted} bytes")
    return key


@dataclass
class GatewayKeys:
    pii_keys: dict[str, bytes]
    pii_current: str
    blind_index_key: bytes
    mac_key: bytes
    signing_key: bytes
    pii_cipher: str = "AES-GCM"
    signing_alg: str = "EdDSA"
    sm2_private_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    signing_keys_retired: list[dict[str, str]] = field(default_factory=list)
    """Public JWKs of retired signing keys (with ``retired_at``), newest last; never a private key."""

    @classmethod
    def generate(cls, *, pii_cipher: str = "AES-GCM", signing_alg: str = "EdDSA") -> GatewayKeys:
        kid = "k" + secrets.token_hex(3)
        size = 16 if pii_cipher == "SM4-GCM" else 32
        sm2 = None
        if signing_alg == "SM2":
            sm2 = secrets.token_hex(32)
        return cls({kid: secrets.token_bytes(size)}, kid, secrets.token_bytes(32), secrets.token_bytes(32),
                   secrets.token_bytes(32), pii_cipher, signing_alg, sm2)

    def rotated(self) -> GatewayKeys:
        """A copy with a new current PII key; the old ones stay readable."""
        kid = "k" + secrets.token_hex(3)
        keys = {kid: secrets.token_bytes(16 if self.pii_cipher == "SM4-GCM" else 32), **self.pii_keys}
        return dataclasses.replace(self, pii_keys=keys, pii_current=kid,
                                   signing_keys_retired=list(self.signing_keys_retired))

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pii_keys": {k: _b64(v) for k, v in self.pii_keys.items()},
            "pii_current": self.pii_current,
            "pii_cipher": self.pii_cipher,
            "blind_index_key": _b64(self.blind_index_key),
            "mac_key": _b64(self.mac_key),
            "signing_key": _b64(self.signing_key),
            "signing_alg": self.signing_alg,
        }
        if self.sm2_private_key:
            data["sm2_private_key"] = self.sm2_private_key
        if self.signing_keys_retired:
            data["signing_keys_retired"] = [dict(j) for j in self.signing_keys_retired]
        return data

    def write(self, path: str | Path) -> Path:
        """Write the key file (mode 0600) all at once: into a new file beside it, flushed to disk, then renamed over
        it. ``keys rotate`` rewrites the only copy of every key: written in place, a full disk or a kill half-way
        left neither the old keys nor the new ones."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.as_json(), indent=2)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o600)  # whatever the umask; the file it replaces may have been readable by others
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        try:
            directory = os.open(target.parent, os.O_RDONLY)
        except OSError:
            return target
        try:
            os.fsync(directory)  # the rename itself survives a crash
        except OSError:
            pass
        finally:
            os.close(directory)
        return target

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "key file") -> GatewayKeys:
        """The keys of a parsed key file; a :class:`ConfigError` naming ``where`` and the field for anything
        malformed (the message never quotes a key)."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: a key file is a JSON object, not a {type(data).__name__}")
        try:
            raw_pii = data["pii_keys"]
            if not isinstance(raw_pii, dict) or not raw_pii:
                raise ConfigError(f"{where}: pii_keys is an object of at least one key, {{kid: base64 key}}")
            cipher = data.get("pii_cipher", "AES-GCM")
            if not isinstance(cipher, str) or cipher not in _PII_KEY_SIZES:
                raise ConfigError(f"{where}: pii_cipher must be AES-GCM or SM4-GCM, not {cipher!r}")
            pii = {_kid(k, where): _sized(_unb64(v, f"pii_keys.{k}"), _PII_KEY_SIZES[cipher], f"pii_keys.{k}",
                                         where, cipher) for k, v in raw_pii.items()}
            current = data.get("pii_current") or next(iter(pii))
            if not isinstance(current, str) or current not in pii:
                raise ConfigError(f"{where}: pii_current {current!r} is not among pii_keys")
            retired = data.get("signing_keys_retired") or []
            if not isinstance(retired, list) or not all(
                    isinstance(j, dict) and isinstance(j.get("kid"), str) and "d" not in j for j in retired):
                raise ConfigError(f"{where}: signing_keys_retired is a list of public JWKs, each with its kid")
            alg = data.get("signing_alg", "EdDSA")
            if not isinstance(alg, str) or alg not in ("EdDSA", "SM2"):
                raise ConfigError(f"{where}: signing_alg must be EdDSA or SM2, not {alg!r}")
            sm2 = data.get("sm2_private_key")
            if sm2 is not None and (not isinstance(sm2, str) or not _SM2_PRIVATE.fullmatch(sm2)):
                raise ConfigError(f"{where}: sm2_private_key is 64 hexadecimal digits (the value is not repeated)")
            if alg == "SM2" and not sm2:
                raise ConfigError(f"{where}: signing_alg SM2 needs sm2_private_key")
            return cls(pii, current,
                       _sized(_unb64(data["blind_index_key"], "blind_index_key"), _SECRET_SIZES, "blind_index_key",
                              where),
                       _sized(_unb64(data["mac_key"], "mac_key"), _SECRET_SIZES, "mac_key", where),
                       _sized(_unb64(data["signing_key"], "signing_key"), (32,), "signing_key", where, "Ed25519"),
                       cipher, alg, sm2,
                       signing_keys_retired=[{str(k): str(v) for k, v in j.items()} for j in retired])
        except KeyError as exc:
            raise ConfigError(f"{where}: missing {exc.args[0]}") from None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> GatewayKeys | None:
        """Keys from ``TONGBAN_KEY_FILE`` or the individual variables; None when nothing is configured."""
        env = os.environ if environ is None else environ
        path = env.get("TONGBAN_KEY_FILE")
        if path:
            try:
                return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")), where=path)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"TONGBAN_KEY_FILE {path}: {exc}") from None
        raw = env.get("TONGBAN_PII_KEYS")
        if not raw:
            return None
        pairs = [p.split(":", 1) for p in raw.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ConfigError("TONGBAN_PII_KEYS must be kid:base64[,kid:base64...]")
        missing = [n for n in ("TONGBAN_BLIND_INDEX_KEY", "TONGBAN_MAC_KEY", "TONGBAN_SIGNING_KEY") if not env.get(n)]
        if missing:
            raise ConfigError(f"TONGBAN_PII_KEYS is set but {', '.join(missing)} is not")
        return cls.from_json({
            "pii_keys": {k.strip(): v.strip() for k, v in pairs}, "pii_current": pairs[0][0].strip(),
            "pii_cipher": env.get("TONGBAN_PII_CIPHER", "AES-GCM"),
            "blind_index_key": env["TONGBAN_BLIND_INDEX_KEY"], "mac_key": env["TONGBAN_MAC_KEY"],
            "signing_key": env["TONGBAN_SIGNING_KEY"], "signing_alg": env.get("TONGBAN_SIGNING_ALG", "EdDSA"),
            "sm2_private_key": env.get("TONGBAN_SM2_PRIVATE_KEY"),
        }, where="environment")

