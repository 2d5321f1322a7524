"""JWS verification: a signature is exactly what was signed, not a prefix of it."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.crypto.jws import SM2_ORDER, JwsError, JwsSigner, JwsVerifier, b64url, unb64url
from gateway.crypto.keys import GatewayKeys


@pytest.mark.parametrize("alg", ["SM2", "EdDSA"])
def test_bytes_appended_to_a_signature_are_refused(alg: str) -> None:
    """Review r7: gmssl reads r and s from the first 64 bytes of an SM2 signature and ignores the rest."""
    signer = JwsSigner.from_keys(GatewayKeys.generate(signing_alg=alg))
    verifier = JwsVerifier(signer.jwk())
    token = signer.sign(b'{"typ":"tongban-batch","root":"x"}')
    assert verifier.verify(token) == b'{"typ":"tongban-batch","root":"x"}'
    head, body, sig = token.split(".")
    for forged in (unb64url(sig) + b"anything", unb64url(sig) + b"\x00", unb64url(sig)[:-1]):
        with pytest.raises(JwsError, match="does not verify"):
            verifier.verify(f"{head}.{body}.{b64url(forged)}")


def test_sm2_r_and_s_must_lie_in_1_to_n_minus_1() -> None:
    signer = JwsSigner.from_keys(GatewayKeys.generate(signing_alg="SM2"))
    verifier = JwsVerifier(signer.jwk())
    head, body, sig = signer.sign(b"{}").split(".")
    raw = unb64url(sig)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    for bad_r, bad_s in ((0, s), (r, 0), (r + SM2_ORDER, s), (r, s + SM2_ORDER)):
        if bad_r >= 1 << 256 or bad_s >= 1 << 256:
            continue
        forged = bad_r.to_bytes(32, "big") + bad_s.to_bytes(32, "big")
        with pytest.raises(JwsError, match="does not verify"):
            verifier.verify(f"{head}.{body}.{b64url(forged)}")
    for _ in range(20):  # and every signature the signer makes is the 64 bytes the verifier asks for
        token = signer.sign(b"{}")
        assert len(unb64url(token.split(".")[2])) == 64 and verifier.verify(token) == b"{}"


SM2_KEY_04 = "8b3c63a8380ffa9c38c12201be3609c26991621696cc08ee6208d3f9ab982c5a"
"""A private key whose public point's hex begins with "04" (one in 256): gmssl's ``lstrip("04")`` mangled it."""


def _correct_verifier(public_hex: str) -> Any:
    """gmssl's verification with the public key set as given (the arithmetic is right; its constructor is not)."""
    from gmssl import sm2

    key = sm2.CryptSM2(private_key="", public_key="")
    key.public_key = public_hex
    return key


def test_an_sm2_key_whose_public_point_begins_with_04_signs_and_verifies() -> None:
    """One SM2 key in 256 made signatures nobody could verify, and failed to verify good ones (a TypeError from deep
    in gmssl: the CI saw it as a flaky test)."""
    from dataclasses import replace

    from gmssl import sm2

    keys = replace(GatewayKeys.generate(signing_alg="SM2"), sm2_private_key=SM2_KEY_04)
    public = sm2.CryptSM2(private_key=SM2_KEY_04, public_key="")._kg(int(SM2_KEY_04, 16), sm2.default_ecc_table["g"])
    assert public.startswith("04")
    signer = JwsSigner.from_keys(keys)
    token = signer.sign(b'{"a":1}')
    assert JwsVerifier(signer.jwk()).verify(token) == b'{"a":1}'
    head, body, sig = token.split(".")
    assert _correct_verifier(public).verify_with_sm3(unb64url(sig).hex(), f"{head}.{body}".encode())
