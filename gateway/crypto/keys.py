"""The gateway's secret material, from the environment or a key file, never from the configuration file.

One JSON key file (``TONGBAN_KEY_FILE``) or the same values in environment variables:

- ``pii_keys``: ``{kid: base64 32-byte key}`` (a kid: no ``:``, quote, backslash or control character) and
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

``tongban keys init --out FILE`` writes a fresh key file (mode 0600). Every write replaces the file whole
(a new file beside it, renamed over it, keeping its owner, group and mode less other users' access).
A malformed file is a ConfigError naming the field, never quoting a key.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import secrets
import stat
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


KID_REFUSED_CHARS = r':"\\\x00-\x1f\x7f'
"""The characters of :data:`KID_REFUSED`, as a regex class body (a seal's shape in ``pii`` is built from them)."""
KID_REFUSED = re.compile(f"[{KID_REFUSED_CHARS}]")
"""What a PII key id must not hold: it is written into every value sealed under the key (``enc:v1:<kid>:…``), where
a ``:`` ends it early (the value never opened again) and a quote, backslash or control character is escaped inside
a stored JSON document, out of reach of rotation's search. Anything else a key file already uses stays valid (a
kid is bound into each seal, so it can never be renamed); new kids are ``k`` and six hex digits."""
_KID_BYTES = 255  # a sealed payload (seal_bytes) gives the kid's length in one byte
_PII_KEY_SIZES = {"AES-GCM": (16, 24, 32), "SM4-GCM": (16,)}
_SIGNING_ALGS = {"eddsa": "EdDSA", "ed25519": "EdDSA", "sm2": "SM2"}
SM2_PRIVATE = re.compile(r"[0-9A-Fa-f]{64}")
"""An SM2 private key as the key file holds it: 64 hexadecimal digits."""


def _kid(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name or KID_REFUSED.search(name) or len(name.encode()) > _KID_BYTES:
        raise ConfigError(f"{where}: PII key id {name!r}: no ':', quote, backslash or control character, at most "
                          f"{_KID_BYTES} bytes (it is written into every value sealed under the key)")
    return name


def _sized(key: bytes, sizes: tuple[int, ...], name: str, where: str, kind: str = "") -> bytes:
    if len(key) not in sizes:
        wanted = " or ".join(str(n) for n in sizes)
        raise ConfigError(f"{where}: {name} is {len(key)} bytes; {kind + ' ' if kind else ''}keys are {wanted} bytes")
    return key


def _secret(key: bytes, name: str, where: str) -> bytes:
    if not key:
        raise ConfigError(f"{where}: {name} is empty")
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
        given = Path(path)
        target = given.resolve() if given.is_symlink() else given  # a linked key file is rewritten where it lies
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.as_json(), indent=2)
        try:
            before = target.stat()
        except FileNotFoundError:
            before = None
        # the file keeps its owner, group and mode (a service user reading a 0640 file still can), less what
        # every other user could read; a new file is 0600
        mode = 0o600 if before is None else stat.S_IMODE(before.st_mode) & 0o770
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except PermissionError:  # a directory this user may not write, holding a key file it may: in place
            return self._write_in_place(target, text, mode)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            if before is not None and (before.st_uid, before.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(temporary, before.st_uid, before.st_gid)
                except PermissionError:
                    pass  # not root: the file is this user's, as the file it replaces was writable by it
            os.chmod(temporary, mode)
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

    @staticmethod
    def _write_in_place(target: Path, text: str, mode: int) -> Path:
        """The old way, for a key file in a directory this user may not write: truncated and rewritten."""
        fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.chmod(target, mode)
        except PermissionError:
            pass  # another user's file this one may write: its mode is its owner's to set
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
            written = data.get("signing_alg") or "EdDSA"
            alg = _SIGNING_ALGS.get(written.lower()) if isinstance(written, str) else None
            if alg is None:
                raise ConfigError(f"{where}: signing_alg must be EdDSA (Ed25519) or SM2, not {written!r}")
            sm2 = data.get("sm2_private_key") or None  # an empty TONGBAN_SM2_PRIVATE_KEY= is none
            if sm2 is not None and (not isinstance(sm2, str) or not SM2_PRIVATE.fullmatch(sm2)):
                raise ConfigError(f"{where}: sm2_private_key is 64 hexadecimal digits (the value is not repeated)")
            if alg == "SM2" and not sm2:
                raise ConfigError(f"{where}: signing_alg SM2 needs sm2_private_key")
            signing = _unb64(data["signing_key"], "signing_key")
            return cls(pii, current,
                       _secret(_unb64(data["blind_index_key"], "blind_index_key"), "blind_index_key", where),
                       _secret(_unb64(data["mac_key"], "mac_key"), "mac_key", where),
                       _sized(signing, (32,), "signing_key", where, "Ed25519") if alg == "EdDSA" else signing,
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

