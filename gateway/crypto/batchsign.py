"""Signing the answers of one moment with one signature: a Merkle tree (RFC 9162) over them, a JWS over its root.

Why: every answer that releases a certificate is signed, and a signature is the dearest thing the gateway does
per request — Ed25519 about 45 µs here, SM2 (pure Python) several milliseconds, so signing answer by answer caps
a server at its signing rate. Answers that are ready at the same moment (under load: the releases of one audit
group commit) are hashed into a Merkle tree and the gateway signs the root once; each answer carries its
inclusion proof. This is X-Road's batch signature, with RFC 9162's tree so that existing Certificate
Transparency code can check the proof. Proving what was received stays as strong: the body, the JWS and the
proof together show that the gateway signed exactly these bytes.

Answers to *different clients* share a tree, and a proof carries the hashes of the other answers beside it. An
unsalted leaf SHA-256(0x00 ‖ body) would let a client test guesses of another client's answer against those
hashes (a holder view whose only unknown is an 18-digit ID falls in about a second). So every leaf is salted:
leaf = SHA-256(0x00 ‖ salt ‖ body) with a fresh random salt of exactly :data:`SALT_BYTES` bytes per answer (a
fixed length, so that salt ‖ body splits one way only), and an
answer's salt travels only in that answer's own proof header. The other hashes a proof carries are then
commitments to bodies under salts the receiver never sees: nothing about the other answers is revealed.

What a signed answer carries::

    Tongban-Signature:        compact JWS (EdDSA; SM2 as an option) whose payload is
                              {"typ": "tongban-batch", "hash": "sha-256", "leaf": "salted",
                               "root": <b64url>, "size": n, "iat": <epoch>}
    Tongban-Signature-Proof:  "<leaf index>:<b64url salt>:<b64url hash>.<b64url hash>..."
                              (the salt of this answer, then its RFC 9162 §2.1.3 inclusion proof)

To verify (:func:`verify_answer`): leaf = SHA-256(0x00 ‖ salt ‖ body); fold the proof into a root (RFC 9162
§2.1.3.2); it must equal the root in the JWS payload, and the JWS must verify under the key at ``GET /v1/keys``.
A batch of one is a tree of one leaf: root = leaf, empty proof (``"0:<salt>:"``).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from typing import Any

import orjson

from gateway.crypto.jws import JwsError, JwsSigner, JwsVerifier, b64url, unb64url

__all__ = ["SALT_BYTES", "BatchSigner", "inclusion_proofs", "leaf_hash", "root_from_proof", "sign_batch",
           "verify_answer"]

SIGNATURE_HEADER = "Tongban-Signature"
PROOF_HEADER = "Tongban-Signature-Proof"
PAYLOAD_TYPE = "tongban-batch"
LEAF_SCHEME = "salted"
SALT_BYTES = 16
"""A fresh random salt per answer (128 bits): a guess at another client's answer cannot be tested offline."""


def leaf_hash(body: bytes, salt: bytes) -> bytes:
    """RFC 9162 leaf hash of a salted answer: SHA-256(0x00 ‖ salt ‖ body), the salt exactly :data:`SALT_BYTES`
    long. Exactly, not "at least": with salts of any length, salt ‖ body splits in more than one way, so a proof
    of an answer would also verify every suffix of it (the first bytes moved into a longer "salt"). The gateway
    has only ever issued salts of :data:`SALT_BYTES` bytes, so every proof it gave out still verifies."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a leaf salt has exactly {SALT_BYTES} bytes")
    return hashlib.sha256(b"\x00" + salt + body).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_proofs(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The tree head (RFC 9162 MTH) over ``leaves`` (leaf hashes) and every leaf's inclusion proof (PATH)."""
    n = len(leaves)
    if n == 0:
        raise ValueError("a Merkle tree needs at least one leaf")
    if n == 1:
        return leaves[0], [[]]
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
    left, left_paths = inclusion_proofs(leaves[:k])
    right, right_paths = inclusion_proofs(leaves[k:])
    for path in left_paths:
        path.append(right)
    for path in right_paths:
        path.append(left)
    return _node(left, right), left_paths + right_paths


def root_from_proof(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root a proof leads to, or None if the proof cannot belong to a tree of ``size``."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def sign_batch(signer: JwsSigner, bodies: list[bytes]) -> list[dict[str, str]]:
    """The two headers for each body, one signature for all; each body's leaf salted with its own random salt,
    which only that body's proof header carries."""
    salts = [secrets.token_bytes(SALT_BYTES) for _ in bodies]
    root, proofs = inclusion_proofs([leaf_hash(b, s) for b, s in zip(bodies, salts, strict=True)])
    token = signer.sign(orjson.dumps({"typ": PAYLOAD_TYPE, "hash": "sha-256", "leaf": LEAF_SCHEME,
                                      "root": b64url(root), "size": len(bodies), "iat": int(time.time())}))
    encoded: dict[bytes, str] = {}  # a subtree's hash sits in the proof of every leaf beside it: encode it once
    out = []
    for i, proof in enumerate(proofs):
        steps = []
        for node in proof:
            text = encoded.get(node)
            if text is None:
                text = encoded[node] = b64url(node)
            steps.append(text)
        out.append({SIGNATURE_HEADER: token, PROOF_HEADER: f"{i}:{b64url(salts[i])}:" + ".".join(steps)})
    return out


def verify_answer(verifier: JwsVerifier, body: bytes, signature: str, proof: str) -> dict[str, Any]:
    """Check a signed answer (what a receiving department does); returns the signed batch payload.

    Answers signed before leaves were salted (their payload has no ``leaf``, their proof is ``<index>:<hashes>``,
    the leaf SHA-256(0x00 ‖ body)) still verify: evidence archived by a department, or by Tongban itself, must
    stay checkable. A payload that says ``leaf: salted`` is only ever checked the salted way."""
    payload = orjson.loads(verifier.verify(signature))
    if not isinstance(payload, dict) or payload.get("typ") != PAYLOAD_TYPE or payload.get("hash") != "sha-256":
        raise JwsError("the signature is not a Tongban batch signature")
    salted = payload.get("leaf") == LEAF_SCHEME
    if not salted and "leaf" in payload:
        raise JwsError(f"unknown leaf scheme {payload.get('leaf')!r} in a Tongban batch signature")
    parts = proof.split(":")
    if len(parts) != (3 if salted else 2):
        raise JwsError("malformed Tongban-Signature-Proof (expected "
                       + ("<index>:<salt>:<hashes>)" if salted else "<index>:<hashes>, an unsalted answer)"))
    index_text, hashes = parts[0], parts[-1]
    try:
        if not (index_text.isascii() and index_text.isdigit()):  # int() took "+1", " 1 " and "0_1" for 1
            raise ValueError(index_text)
        index = int(index_text)
        salt = unb64url(parts[1]) if salted else b""
        path = [unb64url(h) for h in hashes.split(".")] if hashes else []
        size = int(payload.get("size", 0))
    except (ValueError, TypeError):
        raise JwsError("malformed Tongban-Signature-Proof") from None
    if (salted and len(salt) != SALT_BYTES) or any(len(h) != 32 for h in path):
        raise JwsError("malformed Tongban-Signature-Proof")
    leaf = leaf_hash(body, salt) if salted else hashlib.sha256(b"\x00" + body).digest()
    root = root_from_proof(leaf, index, size, path)
    if root is None or b64url(root) != payload.get("root"):
        raise JwsError("the answer is not the one the gateway signed (its Merkle proof does not reach the root)")
    return payload


class BatchSigner:
    """``await signer.sign(body)`` → the answer's signature headers; the bodies that ask during one turn of the
    event loop share a signature. Costs one loop turn of latency; under load, one signature per turn."""

    def __init__(self, signer: JwsSigner, *, max_batch: int = 512) -> None:
        self.signer = signer
        self.max_batch = max_batch
        self._pending: list[tuple[bytes, asyncio.Future[dict[str, str]]]] = []
        self._scheduled = False
        self.batches = 0
        self.answers = 0

    async def sign(self, body: bytes) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, str]] = loop.create_future()
        self._pending.append((body, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self.max_batch):
            batch = pending[start:start + self.max_batch]
            try:
                headers = sign_batch(self.signer, [body for body, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter learns its answer was not signed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.answers += len(batch)
            for (_, future), signed in zip(batch, headers, strict=True):
                if not future.done():
                    future.set_result(signed)
