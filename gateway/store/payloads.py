"""How a source record's raw payload is kept: zstd-compressed bytes with a per-system dictionary, sealed when PII
keys are configured.

The ledger keeps every raw payload so that a mapping fix can be re-applied without asking the source again
(DESIGN.md). Kept as JSON text — and, with keys, as a base64 ``encb:`` blob — it was the largest thing the ledger
wrote per record, and long rows spill onto SQLite overflow pages. One system's records repeat the same keys,
codes and phrases, so a small dictionary trained on its first page compresses them several times better than a
compressor that sees each record alone, and faster (measured: a 540 B case record to ~85 B in ~3 µs; zlib gave
~350 B in ~18 µs). The stored form is one ``bytea``/BLOB:

- ``b"z" + dictionary id (8 bytes) + zstd frame``: clear (no PII keys configured);
- ``b"s" + dictionary id + seal_bytes(zstd frame)``: sealed under the current PII key (AES-GCM or SM4-GCM,
  :meth:`gateway.crypto.pii.PiiCodec.seal_bytes`). Compressing before sealing is what makes it small.

The dictionary id is a hash of the dictionary's bytes (``payload_dictionaries``; all zero: no dictionary), so a
process caches dictionaries by id whatever database they came from. Rows written before migration 0006 hold the
payload in ``raw`` as text (clear JSON or an ``encb:`` blob); :func:`unpack` reads both.

    pack(orjson.dumps(record), pii, dictionary)  ->  bytes;   orjson.loads(unpack(packed, None, pii, load))

Compressor objects are not thread-safe: the write path uses them from one thread per run (the lease).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import zstandard

from gateway.contract.errors import ConfigError
from gateway.crypto.pii import open_text

__all__ = ["CLEAR", "NO_DICTIONARY", "SEALED", "dictionary_id", "is_sealed_with", "pack", "raw_hash", "register",
           "reseal", "seal_clear", "train", "unpack"]

CLEAR = b"z"
SEALED = b"s"
NO_DICTIONARY = bytes(8)
_ID = len(NO_DICTIONARY)
_LEVEL = 3
DICTIONARY_BYTES = 16 * 1024
MIN_SAMPLES = 200
"""A page with fewer fresh records does not train a dictionary (too few samples to learn from)."""

_compressors: dict[bytes, zstandard.ZstdCompressor] = {
    NO_DICTIONARY: zstandard.ZstdCompressor(level=_LEVEL, write_checksum=False)}
_decompressors: dict[bytes, zstandard.ZstdDecompressor] = {NO_DICTIONARY: zstandard.ZstdDecompressor()}


def raw_hash(data: bytes) -> str:
    """32 hex characters identifying the JSON bytes a source sent (``source_records.raw_hash``)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def dictionary_id(data: bytes) -> bytes:
    """The 8-byte id of a dictionary: a hash of its bytes."""
    return hashlib.blake2b(data, digest_size=_ID).digest()


def train(samples: Sequence[bytes]) -> bytes | None:
    """A dictionary trained on one system's payloads, or None when there are too few to learn from."""
    if len(samples) < MIN_SAMPLES:
        return None
    try:
        return zstandard.train_dictionary(DICTIONARY_BYTES, list(samples), level=_LEVEL).as_bytes()
    except zstandard.ZstdError:  # samples too alike or too small to train on: go on without one
        return None


def register(data: bytes) -> bytes:
    """Make a dictionary usable in this process; returns its id."""
    did = dictionary_id(data)
    if did not in _compressors:
        compiled = zstandard.ZstdCompressionDict(data)
        _compressors[did] = zstandard.ZstdCompressor(level=_LEVEL, dict_data=compiled, write_checksum=False,
                                                     write_dict_id=False)
        _decompressors[did] = zstandard.ZstdDecompressor(dict_data=compiled)
    return did


def pack(data: bytes, pii: Any = None, dictionary: bytes = NO_DICTIONARY) -> bytes:
    """The stored form of a payload's JSON bytes: compressed (with the registered ``dictionary``), and sealed
    when ``pii`` (a PiiCodec) is given."""
    frame = _compressors[dictionary].compress(data)
    return CLEAR + dictionary + frame if pii is None else SEALED + dictionary + pii.seal_bytes(frame)


def unpack(payload: bytes | memoryview | None, raw: str | None, pii: Any = None,
           load: Callable[[bytes], bytes] | None = None) -> bytes | str | None:
    """The payload's JSON (bytes or text, for ``orjson.loads``), from ``payload`` or, in rows written before
    0006, from ``raw``. ``load(id)`` fetches a dictionary this process has not seen yet. A sealed payload needs
    the codec: without it, a clear :class:`ConfigError`."""
    if payload is None:
        return open_text(raw, pii)
    data = bytes(payload)
    tag, did, body = data[:1], data[1:1 + _ID], memoryview(data)[1 + _ID:]
    if tag == SEALED:
        if pii is None:
            raise ConfigError("this payload is sealed: set TONGBAN_KEY_FILE (or TONGBAN_PII_KEYS) to read it")
        body = memoryview(pii.open_bytes(body))
    elif tag != CLEAR:
        raise ValueError(f"unknown payload encoding {tag!r}")
    decompressor = _decompressors.get(did)
    if decompressor is None:
        if load is None or register(load(did)) != did:
            raise LookupError(f"payload dictionary {did.hex()} is not in the ledger")
        decompressor = _decompressors[did]
    return decompressor.decompress(body)


def is_sealed_with(payload: bytes | memoryview, kid: str, pii: Any) -> bool:
    """Whether a sealed payload is sealed under ``kid`` (clear payloads: True, nothing to re-seal)."""
    data = bytes(payload)
    return data[:1] != SEALED or pii.key_of_bytes(memoryview(data)[1 + _ID:]) == kid


def seal_clear(payload: bytes | memoryview, pii: Any) -> bytes:
    """A payload written in clear (a process without keys, a ledger sealed later) sealed under the current key;
    a sealed one stays as it is."""
    data = bytes(payload)
    if data[:1] != CLEAR:
        return data
    return SEALED + data[1:1 + _ID] + pii.seal_bytes(memoryview(data)[1 + _ID:])


def reseal(payload: bytes | memoryview, pii: Any) -> bytes:
    """A sealed payload re-sealed under the current key (key rotation); clear payloads stay as they are."""
    data = bytes(payload)
    if data[:1] != SEALED:
        return data
    head = data[:1 + _ID]
    return head + pii.seal_bytes(pii.open_bytes(memoryview(data)[1 + _ID:]))
