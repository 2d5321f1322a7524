"""Rotating the gateway's signing key (``tongban keys rotate-signing``) keeps what the old key signed verifiable:
the key file keeps the retired key's public JWK (``signing_keys_retired``), ``GET /v1/keys`` publishes it (marked
with its ``retired_at``) after the current one, and ``tongban audit verify`` and the runtime's verifier pick the
key by each signature's ``kid`` — an audit checkpoint and a signed answer from before the rotation still verify.
A key file written before the field existed still loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from gateway_testlib import ServerThread, bearer, make_gateway

from gateway.crypto.batchsign import verify_answer
from gateway.crypto.jws import JwsError, JwsSigner
from gateway.crypto.jws import KeySetVerifier, rotated_signing, verification_jwks
from gateway.crypto.keys import GatewayKeys
from gateway.sharing.api import create_app
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade


def _cli(*args: str, key_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TONGBAN_KEY_FILE": str(key_file)})


def _serve_once(engine: object, keys: GatewayKeys) -> tuple[list[dict[str, str]], bytes, dict[str, str]]:
    """Start a gateway with ``keys``, read its JWKS and one signed answer, stop it (the stop signs a checkpoint)."""
    gw = make_gateway(engine, keys=keys)  # type: ignore[arg-type]
    hall = gw.clients.add("hall_" + JwsSigner.from_keys(keys).kid[-6:], scopes=["holders:read"])
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    try:
        jwks = requests.get(server.url + "/v1/keys", timeout=10).json()["keys"]
        answer = requests.post(server.url + "/v1/holders/access-log", json={"id_number": "91370100MA3C7B8X2M"},
                               headers=bearer(hall.credential), timeout=10)
        assert answer.status_code == 200, answer.text
        return jwks, answer.content, dict(answer.headers)
    finally:
        server.stop()


def test_what_the_old_signing_key_signed_still_verifies_after_rotation(sqlite_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    made = _cli("keys", "init", "--out", str(key_file), key_file=key_file)
    assert made.returncode == 0, made.stderr
    engine = make_engine(sqlite_url)
    upgrade(engine)
    before = GatewayKeys.from_env({"TONGBAN_KEY_FILE": str(key_file)})
    assert before is not None
    old_kid = JwsSigner.from_keys(before).kid
    jwks, old_body, old_headers = _serve_once(engine, before)
    assert [j["kid"] for j in jwks] == [old_kid]

    rotated = _cli("keys", "rotate-signing", key_file=key_file)
    assert rotated.returncode == 0, rotated.stderr + rotated.stdout
    stored = json.loads(key_file.read_text(encoding="utf-8"))
    assert [j["kid"] for j in stored["signing_keys_retired"]] == [old_kid]
    assert "d" not in stored["signing_keys_retired"][0]  # the retired key's public half only
    after = GatewayKeys.from_env({"TONGBAN_KEY_FILE": str(key_file)})
    assert after is not None and after.pii_keys == before.pii_keys and after.mac_key == before.mac_key
    new_kid = JwsSigner.from_keys(after).kid
    assert new_kid != old_kid

    jwks, new_body, new_headers = _serve_once(engine, after)  # signs a checkpoint with the new key at its stop
    assert [j["kid"] for j in jwks] == [new_kid, old_kid]
    assert "retired_at" in jwks[1] and "retired_at" not in jwks[0]
    published = KeySetVerifier(jwks)
    for body, headers in ((old_body, old_headers), (new_body, new_headers)):
        verify_answer(published, body, headers["tongban-signature"], headers["tongban-signature-proof"])
    try:
        verify_answer(KeySetVerifier(jwks[:1]), old_body, old_headers["tongban-signature"],
                      old_headers["tongban-signature-proof"])
    except JwsError as exc:
        assert "does not know" in str(exc)
    else:
        raise AssertionError("an old answer verified without the retired key")

    # `tongban audit verify` checks checkpoints of both keys, each by its kid
    report = _cli("audit", "verify", "--json", "--database-url", sqlite_url, key_file=key_file)
    assert report.returncode == 0, report.stderr + report.stdout
    result = json.loads(report.stdout)
    assert result["ok"] and result["checkpoints"] >= 2 and result["unverified_checkpoints"] == 0, result
    engine.dispose()  # type: ignore[attr-defined]


def test_a_key_file_without_retired_signing_keys_still_loads() -> None:
    keys = GatewayKeys.generate()
    legacy = keys.as_json()
    assert "signing_keys_retired" not in legacy
    loaded = GatewayKeys.from_json(legacy)
    assert loaded.signing_keys_retired == []
    assert [j["kid"] for j in verification_jwks(loaded)] == [JwsSigner.from_keys(keys).kid]
    # a PII rotation keeps the retired signing keys
    twice = rotated_signing(loaded)
    assert twice.rotated().signing_keys_retired == twice.signing_keys_retired
