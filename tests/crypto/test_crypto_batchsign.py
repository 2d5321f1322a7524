"""Batch signatures: RFC 9162 Merkle trees, inclusion proofs, and the signer the API answers through."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from gateway.crypto import GatewayKeys, JwsError, JwsSigner, JwsVerifier
from gateway.crypto.batchsign import (
    SALT_BYTES,
    BatchSigner,
    inclusion_proofs,
    leaf_hash,
    root_from_proof,
    sign_batch,
    verify_answer,
)
from gateway.crypto.jws import b64url, unb64url


def reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written out literally (over leaf *hashes*), to check the fast version against."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


@pytest.mark.parametrize("size", [*range(1, 18), 31, 32, 33, 100])
def test_every_leaf_proves_its_way_to_the_rfc_9162_root(size: int) -> None:
    leaves = [leaf_hash(f"answer {i}".encode(), bytes([i % 256]) * SALT_BYTES) for i in range(size)]
    root, proofs = inclusion_proofs(leaves)
    assert root == reference_mth(leaves)
    for index, proof in enumerate(proofs):
        assert root_from_proof(leaves[index], index, size, proof) == root
        if size > 1:  # the same proof does not fit another leaf or another position
            assert root_from_proof(leaves[(index + 1) % size], index, size, proof) != root
            assert root_from_proof(leaves[index], (index + 1) % size, size, proof) != root
    assert root_from_proof(leaves[0], size, size, proofs[0]) is None  # index outside the tree


def test_rfc_9162_known_answer_for_two_leaves() -> None:
    left, right = hashlib.sha256(b"\x00").digest(), hashlib.sha256(b"\x00\x00").digest()  # RFC 6962 leaves
    root, proofs = inclusion_proofs([left, right])
    assert left.hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"  # RFC 6962 test vector
    assert root == hashlib.sha256(b"\x01" + left + right).digest()
    assert proofs == [[right], [left]]


@pytest.mark.parametrize("alg", ["EdDSA", "SM2"])
def test_signed_answers_verify_and_tampering_is_caught(alg: str) -> None:
    signer = JwsSigner.from_keys(GatewayKeys.generate(signing_alg=alg))
    verifier = JwsVerifier(signer.jwk())
    bodies = [f'{{"answer":{i}}}'.encode() for i in range(5)]
    signed = sign_batch(signer, bodies)
    assert len({s["Tongban-Signature"] for s in signed}) == 1  # one signature for the batch
    for body, headers in zip(bodies, signed, strict=True):
        payload = verify_answer(verifier, body, headers["Tongban-Signature"], headers["Tongban-Signature-Proof"])
        assert payload["size"] == 5
    first = signed[0]
    with pytest.raises(JwsError, match="Merkle proof"):
        verify_answer(verifier, bodies[0] + b" ", first["Tongban-Signature"], first["Tongban-Signature-Proof"])
    with pytest.raises(JwsError, match="Merkle proof"):
        verify_answer(verifier, bodies[1], first["Tongban-Signature"], first["Tongban-Signature-Proof"])
    with pytest.raises(JwsError, match="malformed"):
        verify_answer(verifier, bodies[0], first["Tongban-Signature"], "zero:abc")
    other = JwsVerifier(JwsSigner.from_keys(GatewayKeys.generate(signing_alg=alg)).jwk())
    with pytest.raises(JwsError):
        verify_answer(other, bodies[0], first["Tongban-Signature"], first["Tongban-Signature-Proof"])
    with pytest.raises(JwsError, match="not a Tongban batch"):  # an ordinary JWS is not a batch signature
        verify_answer(verifier, bodies[0], signer.sign(b'{"root":"x"}'), "0:" + b64url(b"s" * SALT_BYTES) + ":")


def test_answers_ready_in_the_same_loop_turn_share_one_signature() -> None:
    signer = JwsSigner.from_keys(GatewayKeys.generate())
    verifier = JwsVerifier(signer.jwk())
    batcher = BatchSigner(signer, max_batch=8)
    bodies = [f"body {i}".encode() for i in range(20)]

    async def run() -> tuple[list[dict[str, str]], dict[str, str]]:
        together = await asyncio.gather(*(batcher.sign(b) for b in bodies))
        alone = await batcher.sign(b"later")
        return list(together), alone

    together, alone = asyncio.run(run())
    assert batcher.batches == 4 and batcher.answers == 21  # 20 in batches of at most 8, then one alone
    assert len({h["Tongban-Signature"] for h in together}) == 3
    for body, headers in zip(bodies, together, strict=True):
        verify_answer(verifier, body, headers["Tongban-Signature"], headers["Tongban-Signature-Proof"])
    index, salt, path = alone["Tongban-Signature-Proof"].split(":")
    assert index == "0" and len(unb64url(salt)) == SALT_BYTES and path == ""  # a tree of one: empty proof
    verify_answer(verifier, b"later", alone["Tongban-Signature"], alone["Tongban-Signature-Proof"])


def test_a_failing_signer_fails_every_waiter_of_its_batch() -> None:
    class Broken(JwsSigner):
        def _sign(self, signing_input: bytes) -> bytes:
            raise RuntimeError("HSM unavailable")

    good = JwsSigner.from_keys(GatewayKeys.generate())
    batcher = BatchSigner(Broken(good.alg, good.kid, None, good.jwk()))

    async def run() -> list[object]:
        return await asyncio.gather(*(batcher.sign(b"x") for _ in range(3)), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(run()))


def test_a_proof_reveals_nothing_testable_about_another_clients_answer() -> None:
    """Review r6: answers to different clients share a tree; with unsalted leaves SHA-256(0x00 ‖ body) client A's
    proof held client B's leaf hash, an oracle for guessing B's answer (a holder ID fell in about a second)."""
    signer = JwsSigner.from_keys(GatewayKeys.generate())
    verifier = JwsVerifier(signer.jwk())
    body_a = b'{"holder_id_number":"370***********0000","entries":[],"next_after":null}'
    body_b = b'{"holder_id_number":"370102198506011232","entries":[],"next_after":null}'
    head_a, head_b = sign_batch(signer, [body_a, body_b])
    _, salt_a, path_a = head_a["Tongban-Signature-Proof"].split(":")
    _, salt_b, _ = head_b["Tongban-Signature-Proof"].split(":")
    assert len(unb64url(salt_a)) == SALT_BYTES and salt_a != salt_b  # fresh per answer
    [sibling] = [unb64url(h) for h in path_a.split(".")]
    # what A holds is no longer the hash of B's bytes, neither plain nor under A's own salt: A's guesses test nothing
    assert sibling != hashlib.sha256(b"\x00" + body_b).digest()
    assert sibling != leaf_hash(body_b, unb64url(salt_a))
    assert salt_b not in head_a["Tongban-Signature-Proof"] and salt_b not in head_a["Tongban-Signature"]
    assert sibling == leaf_hash(body_b, unb64url(salt_b))  # it commits to B's answer under B's salt only
    for body, head in ((body_a, head_a), (body_b, head_b)):
        verify_answer(verifier, body, head["Tongban-Signature"], head["Tongban-Signature-Proof"])
    # an answer verifies under its own salt only
    swapped = head_a["Tongban-Signature-Proof"].replace(salt_a, salt_b)
    with pytest.raises(JwsError, match="Merkle proof"):
        verify_answer(verifier, body_a, head_a["Tongban-Signature"], swapped)
    with pytest.raises(JwsError, match="malformed"):  # the old, unsalted proof format is refused
        verify_answer(verifier, body_a, head_a["Tongban-Signature"], "0:" + path_a)
    with pytest.raises(JwsError, match="malformed"):  # a short salt is refused
        verify_answer(verifier, body_a, head_a["Tongban-Signature"], f"0:{b64url(b'x' * 4)}:{path_a}")


def test_an_answer_signed_before_leaves_were_salted_still_verifies() -> None:
    """Evidence archived by a department (or by Tongban) before the salted leaves: payload without ``leaf``, proof
    ``<index>:<hashes>``, leaf SHA-256(0x00 ‖ body). It must stay checkable; a tampered one must not pass."""
    import orjson

    signer = JwsSigner.from_keys(GatewayKeys.generate())
    verifier = JwsVerifier(signer.jwk())
    bodies = [b'{"a":1}', b'{"b":2}']
    leaves = [hashlib.sha256(b"\x00" + b).digest() for b in bodies]
    root = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    token = signer.sign(orjson.dumps({"typ": "tongban-batch", "hash": "sha-256", "root": b64url(root), "size": 2,
                                      "iat": 1_700_000_000}))
    assert verify_answer(verifier, bodies[0], token, f"0:{b64url(leaves[1])}")["root"] == b64url(root)
    assert verify_answer(verifier, bodies[1], token, f"1:{b64url(leaves[0])}")["size"] == 2
    with pytest.raises(JwsError):
        verify_answer(verifier, b'{"a":2}', token, f"0:{b64url(leaves[1])}")
    with pytest.raises(JwsError, match="malformed"):  # an unsalted answer has no salt part
        verify_answer(verifier, bodies[0], token, f"0:{b64url(b'x' * 16)}:{b64url(leaves[1])}")


def test_a_proof_does_not_verify_a_suffix_of_the_answer() -> None:
    """Leaves salted with salts of any length ≥ 16 were ambiguous: SHA-256(0x00 ‖ salt ‖ body) is also
    SHA-256(0x00 ‖ (salt ‖ body[:k]) ‖ body[k:]), so moving the answer's first bytes into a longer "salt" made the
    same signature and proof verify a suffix of the answer. The salt is exactly SALT_BYTES long now; proofs the
    gateway issued (always SALT_BYTES) still verify."""
    signer = JwsSigner.from_keys(GatewayKeys.generate())
    verifier = JwsVerifier(signer.jwk())
    body = b'{"released":false}{"released":true}'
    head = sign_batch(signer, [body, b'{"other":1}'])[0]
    index, salt, path = head["Tongban-Signature-Proof"].split(":")
    assert len(unb64url(salt)) == SALT_BYTES
    verify_answer(verifier, body, head["Tongban-Signature"], head["Tongban-Signature-Proof"])  # as issued
    cut = len(b'{"released":false}')
    longer = f"{index}:{b64url(unb64url(salt) + body[:cut])}:{path}"
    with pytest.raises(JwsError, match="malformed"):
        verify_answer(verifier, body[cut:], head["Tongban-Signature"], longer)
    with pytest.raises(ValueError, match="exactly"):
        leaf_hash(body[cut:], unb64url(salt) + body[:cut])
