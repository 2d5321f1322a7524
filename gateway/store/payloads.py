"""How a source record's raw payload is kept: compressed bytes, sealed when PII keys are configured.

The ledger keeps every raw payload so that a mapping fix can be re-applied without asking the source again
(DESIGN.md). Kept as JSON text — and, with keys, as a base64 ``encb:`` blob — it was the largest thing the ledger
wrote per record, and long rows spill onto SQLite overflow pages. Now it is one ``bytea``/BLOB:

- ``b"z" + zlib(json)``: clear (no PII keys configured);
- ``b"s" + seal_bytes(zlib(json))``: sealed with the current PII key (AES-GCM or SM4-GCM, see
  :meth:`gateway.crypto.pii.PiiCodec.seal_bytes`).

Compressing before sealing is what makes it small (ciphertext does not compress). Rows written before migration
0006 hold the payload in ``raw`` as text (clear JSON or an ``encb:`` blob); :func:`unpack` reads both.

    packed = pack(orjson.dumps(record), pii)
    assert orjson.loads(unpack(packed, None, pii)) == record
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.crypto.pii import open_text

__all__ = ["CLEAR", "SEALED", "is_sealed_with", "pack", "raw_hash", "reseal", "unpack"]

CLEAR = b"z"
SEALED = b"s"
_LEVEL = 1  # level 1: most of the gain of level 6 at a fraction of its time (measured on case records)


def raw_hash(data: bytes) -> str:
    """32 hex characters identifying the JSON bytes a source sent (``source_records.raw_hash``)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def pack(data: bytes, pii: Any = None) -> bytes:
    """The stored form of a payload's JSON bytes: compressed, and sealed when ``pii`` (a PiiCodec) is given."""
    packed = zlib.compress(data, _LEVEL)
    return CLEAR + packed if pii is None else SEALED + pii.seal_bytes(packed)


def unpack(payload: bytes | memoryview | None, raw: str | None, pii: Any = None) -> bytes | str | None:
    """The payload's JSON (bytes or text, for ``orjson.loads``), from ``payload`` or, in rows written before
    0006, from ``raw``. A sealed payload needs the codec: without it, a clear :class:`ConfigError`."""
    if payload is None:
        return open_text(raw, pii)
    data = bytes(payload)
    tag, body = data[:1], memoryview(data)[1:]
    if tag == CLEAR:
        return zlib.decompress(body)
    if tag == SEALED:
        if pii is None:
            raise ConfigError("this payload is sealed: set TONGBAN_KEY_FILE (or TONGBAN_PII_KEYS) to read it")
        return zlib.decompress(pii.open_bytes(body))
    raise ValueError(f"unknown payload encoding {tag!r}")


def is_sealed_with(payload: bytes | memoryview, kid: str, pii: Any) -> bool:
    """Whether a sealed payload is sealed under ``kid`` (clear payloads: True, nothing to re-seal)."""
    data = bytes(payload)
    return data[:1] != SEALED or pii.key_of_bytes(memoryview(data)[1:]) == kid


def reseal(payload: bytes | memoryview, pii: Any) -> bytes:
    """A sealed payload re-sealed under the current key (key rotation); clear payloads stay as they are."""
    data = bytes(payload)
    if data[:1] != SEALED:
        return data
    return SEALED + pii.seal_bytes(pii.open_bytes(memoryview(data)[1:]))
