"""An outside review of gateway/crypto (2026-12-07): each finding reproduced, then fixed.

- a key id with ``:`` sealed values that never opened again, one with a space or quote hid them from rotation's
  search (``keys rotate`` said "complete" and the old key could be dropped): key ids are refused by name;
- the key file was rewritten in place: a full disk half-way through ``keys rotate`` left no key at all; and a
  rewritten file kept the old file's mode (0644);
- text that merely started like a seal (``enc:v1:…``, ``encb:v1:…``: a complaint, a passport number of a foreign
  document) was stored in clear as if sealed, failed every read, and was stale under every rotation;
- a mistyped SM2 private key was quoted whole in the error; malformed key files and damaged seals escaped as
  TypeError/IndexError/ValueError tracebacks (``keys rotate`` died on one damaged payload, after writing its key);
- a JWS header that is JSON but no object was an AttributeError; a batch proof index ``+1`` verified;
- the log redaction showed ten digits of a full-width ID, and none were masked of an ID glued to a label.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.contract.errors import ConfigError
from gateway.crypto.batchsign import sign_batch, verify_answer
from gateway.crypto.jws import JwsError, JwsSigner, JwsVerifier, b64url
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import DamagedSeal, PiiCodec, has_seal_shape, open_text, redact, seal_text

ID = "370102198506011232"


def _file(keys: GatewayKeys, **changes: object) -> dict:
    data = keys.as_json()
    data.update(changes)
    return data


@pytest.mark.parametrize("kid", ["2025:Q1", 'k"1', "k\\1", "k\n1", "", "钥" * 90])
def test_a_key_id_that_cannot_be_written_into_a_seal_is_refused_naming_it(kid: str) -> None:
    keys = GatewayKeys.generate()
    data = _file(keys, pii_keys={kid: keys.as_json()["pii_keys"][keys.pii_current]}, pii_current=kid)
    with pytest.raises(ConfigError, match="PII key id") as caught:
        GatewayKeys.from_json(data, where="keys.json")
    assert repr(kid) in str(caught.value)


@pytest.mark.parametrize("changes", [
    {"kid": "prod/2024"}, {"kid": "key 2025"}, {"kid": "密钥2024"}, {"kid": "k" * 100},
    {"blind_index_key": "AAAAAAAAAAAAAAAA"}, {"mac_key": "QUFB" * 86}, {"signing_alg": "Ed25519"},
    {"sm2_private_key": ""},
])
def test_a_key_file_in_use_before_the_checks_still_loads_seals_and_opens(changes: dict) -> None:
    """Review of the day's fixes: the first checks refused key files in use (a kid is bound into every seal and
    cannot be renamed; the blind-index key never rotates) — only what never worked is refused."""
    keys = GatewayKeys.generate()
    data = keys.as_json()
    kid = changes.pop("kid", None)
    if kid is not None:
        data = {**data, "pii_keys": {kid: data["pii_keys"][keys.pii_current]}, "pii_current": kid}
    data.update(changes)
    loaded = GatewayKeys.from_json(data, where="keys.json")
    codec = PiiCodec(loaded)
    assert codec.open(codec.seal(ID)) == ID
    assert codec.open_bytes(codec.seal_bytes(b"{}")) == b"{}"
    assert JwsSigner.from_keys(loaded).alg == "EdDSA"


def test_a_key_id_with_a_space_is_found_by_rotation(sqlite_url: str) -> None:
    from gateway.store import retention
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from gateway.store.tables import cases

    base = GatewayKeys.generate()
    data = base.as_json()
    old = GatewayKeys.from_json({**data, "pii_keys": {"key 2025": data["pii_keys"][base.pii_current]},
                                 "pii_current": "key 2025"})
    engine = make_engine(sqlite_url)
    upgrade(engine)
    now = datetime.now(UTC)
    document = {"case_no": "C1", "applicant": {"name": "李秀英", "id_type": "111", "id_number": PiiCodec(old).seal(ID)}}
    with engine.begin() as conn:
        conn.execute(cases.insert().values(case_no="C1", version=1, content_hash="x" * 32, data=json.dumps(document),
                                           origin_system="s", origin_source_id="1", source_updated_at=now,
                                           deleted=False, updated_at=now))
    rotated = PiiCodec(old.rotated())
    assert retention.stale_seals(engine, rotated)["cases.data"] == 1
    retention.reseal_all(engine, rotated)
    assert not any(retention.stale_seals(engine, rotated).values())


def test_a_look_alike_an_older_tongban_stored_is_sealed_by_rotation_not_stale_for_ever(sqlite_url: str) -> None:
    from sqlalchemy import select

    from gateway.store import retention
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from gateway.store.tables import cases

    engine = make_engine(sqlite_url)
    upgrade(engine)
    now = datetime.now(UTC)
    document = {"case_no": "C1", "applicant": {"name": "李秀英", "id_type": "414", "id_number": "enc:v1:see:attachment"}}
    with engine.begin() as conn:
        conn.execute(cases.insert().values(case_no="C1", version=1, content_hash="x" * 32, data=json.dumps(document),
                                           origin_system="s", origin_source_id="1", source_updated_at=now,
                                           deleted=False, updated_at=now))
    codec = PiiCodec(GatewayKeys.generate())
    assert not any(retention.stale_seals(engine, codec).values())
    assert retention.seal_clear(engine, codec)["cases.data in clear"] == 1
    with engine.connect() as conn:
        stored = json.loads(conn.execute(select(cases.c.data)).scalar_one())["applicant"]["id_number"]
    assert codec.key_of(stored) == codec.current and codec.open(stored) == "enc:v1:see:attachment"


@pytest.mark.parametrize(("changes", "said"), [
    ({"pii_keys": ["k1"]}, "pii_keys is an object"),
    ({"pii_keys": {}}, "pii_keys is an object"),
    ({"pii_keys": {"k1": "AAAA" * 5}, "pii_current": "k1"}, "pii_keys.k1 is 15 bytes; AES-GCM keys"),
    ({"pii_cipher": "SM4-GCM"}, "SM4-GCM keys are 16 bytes"),
    ({"pii_cipher": ["AES-GCM"]}, "pii_cipher must be"),
    ({"signing_key": "AAAA" * 10}, "signing_key is 30 bytes; Ed25519 keys are 32"),
    ({"mac_key": ""}, "mac_key is empty"),
    ({"blind_index_key": 12}, "key blind_index_key: base64 text"),
    ({"signing_alg": "RS256"}, "signing_alg must be EdDSA"),
    ({"signing_alg": "SM2"}, "signing_alg SM2 needs sm2_private_key"),
])
def test_a_malformed_key_file_is_a_config_error_naming_the_field(changes: dict, said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        GatewayKeys.from_json(_file(GatewayKeys.generate(), **changes), where="keys.json")


def test_a_key_file_that_is_no_object_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="a key file is a JSON object, not a list"):
        GatewayKeys.from_env({"TONGBAN_KEY_FILE": str(path)})


def test_a_mistyped_sm2_private_key_is_never_quoted() -> None:
    private = GatewayKeys.generate(signing_alg="SM2").sm2_private_key
    assert private is not None
    typo = private[:-1] + "g"
    with pytest.raises(ConfigError) as in_file:
        GatewayKeys.from_json(_file(GatewayKeys.generate(signing_alg="SM2"), sm2_private_key=typo))
    keys = GatewayKeys.generate(signing_alg="SM2")
    keys.sm2_private_key = typo  # built in code, past the file's checks
    with pytest.raises(ConfigError) as in_signer:
        JwsSigner.from_keys(keys)
    for caught in (in_file, in_signer):
        assert "64 hexadecimal digits" in str(caught.value)
        assert private[:16] not in str(caught.value)


def test_the_key_file_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    """A write that fails half-way (a full disk: here a file-size limit) leaves the old key file as it was."""
    path = tmp_path / "keys.json"
    keys = GatewayKeys.generate()
    keys.write(path)
    before = path.read_bytes()
    script = (f"import resource; from gateway.crypto.keys import GatewayKeys\n"
              f"keys = GatewayKeys.from_env({{'TONGBAN_KEY_FILE': {str(path)!r}}}).rotated()\n"
              f"resource.setrlimit(resource.RLIMIT_FSIZE, (300, resource.RLIM_INFINITY))\n"
              f"try:\n    keys.write({str(path)!r})\nexcept OSError as exc:\n    print('failed', exc.errno)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: __import__("signal").signal(__import__("signal").SIGXFSZ,
                                                                         __import__("signal").SIG_IGN))
    assert done.stdout.startswith("failed"), done.stdout + done.stderr
    assert path.read_bytes() == before
    assert GatewayKeys.from_env({"TONGBAN_KEY_FILE": str(path)}).pii_current == keys.pii_current
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temporary file left behind
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY


def test_a_new_key_file_is_its_owners_only(tmp_path: Path) -> None:
    path = GatewayKeys.generate().write(tmp_path / "keys.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("before", "after"), [(0o640, 0o640), (0o600, 0o600), (0o644, 0o640)])
def test_a_rewritten_key_file_keeps_its_mode_less_other_users_access(tmp_path: Path, before: int,
                                                                      after: int) -> None:
    path = tmp_path / "keys.json"
    GatewayKeys.generate().write(path)
    os.chmod(path, before)
    GatewayKeys.generate().write(path)
    assert stat.S_IMODE(path.stat().st_mode) == after


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_rewritten_key_file_keeps_its_owner_so_the_service_still_reads_it(tmp_path: Path) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    path = tmp_path / "keys.json"
    GatewayKeys.generate().write(path)
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    GatewayKeys.generate().rotated().write(path)
    assert (path.stat().st_uid, path.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)


def test_a_linked_key_file_is_rewritten_where_it_lies(tmp_path: Path) -> None:
    shared = tmp_path / "secrets" / "keys.json"
    keys = GatewayKeys.generate()
    keys.write(shared)
    link = tmp_path / "keys.json"
    link.symlink_to(shared)
    rotated = keys.rotated()
    rotated.write(link)
    assert link.is_symlink()
    assert GatewayKeys.from_env({"TONGBAN_KEY_FILE": str(shared)}).pii_current == rotated.pii_current


@pytest.mark.parametrize("text", ["enc:v1:x:MTEwMTA1MTk4NTA2MDExMjM3", f"enc:v1:k:{ID}", "enc:v1:"])
def test_text_that_only_looks_sealed_is_sealed(text: str) -> None:
    codec = PiiCodec(GatewayKeys.generate())
    stored = codec.seal(text)
    assert stored != text and ID not in stored
    assert codec.key_of(stored) == codec.current
    assert codec.open(stored) == text


def test_a_value_already_sealed_is_not_sealed_twice() -> None:
    keys = GatewayKeys.generate()
    codec = PiiCodec(keys)
    sealed = codec.seal(ID)
    assert codec.seal(sealed) == sealed
    assert PiiCodec(keys.rotated()).seal(sealed) == sealed  # under a key still configured: kept for rotation
    blob = codec.seal_blob("投诉内容")
    assert codec.seal_blob(blob) == blob


def test_a_value_sealed_under_a_key_this_process_lacks_yet_is_passed_through() -> None:
    """A rotation rolling out: the key file has a new current key, a worker not yet restarted holds only the old
    ones. What it re-writes, sealed under the new key, must stay as it is — sealed again under its old key, every
    reader with the new key file would have opened the inner seal as the ID number."""
    keys = GatewayKeys.generate()
    rotated = keys.rotated()
    newer, older = PiiCodec(rotated), PiiCodec(keys)
    field, blob = newer.seal(ID), newer.seal_blob("投诉内容")
    assert older.seal(field) == field and older.seal_blob(blob) == blob
    assert newer.open(older.seal(field)) == ID


_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(["enc:v1:", "encb:v1:", "encf:v1:"]),
       kid=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
       body=st.text(_BASE64, max_size=60), padding=st.sampled_from(["", "=", "=="]))
def test_what_the_codec_passes_through_is_what_rotation_counts_as_sealed(prefix: str, kid: str, body: str,
                                                                         padding: str) -> None:
    """One measure of a seal's shape: a value the codec keeps as it is, under a key it lacks, is one rotation
    counts as stale (and reseals); a look-alike the codec seals is one rotation does not count for ever. Two
    spellings of the measure (pii's decoded length, retention's regex) could drift apart — now one predicate."""
    from gateway.store.retention import _stale

    value = f"{prefix}{kid}:{body}{padding}"
    older = PiiCodec(GatewayKeys.generate())
    kept = (older.seal(value) if prefix == "enc:v1:" else older.seal_blob(value)) == value
    if prefix == "encf:v1:":
        kept = has_seal_shape(value)  # files are never passed to seal(); the shape is what rotation reads
    assert kept == _stale(older, value), value


def test_a_complaint_that_starts_like_a_sealed_blob_is_sealed_and_read_back() -> None:
    codec = PiiCodec(GatewayKeys.generate())
    complaint = f"encb:v1:我:我叫王秀英，身份证{ID}，物业不作为"
    stored = seal_text(complaint, codec)
    assert stored is not None and ID not in stored
    assert open_text(stored, codec) == complaint


def _damaged(codec: PiiCodec) -> list[tuple[str, object]]:
    field, blob, file = codec.seal(ID), codec.seal_blob("x" * 40), codec.seal_file(b"%PDF" * 10)
    payload = codec.seal_bytes(b"{}")
    return [("field cut", lambda: codec.open(field[:-12])), ("field not base64", lambda: codec.open(field + "*")),
            ("field empty", lambda: codec.open(f"enc:v1:{codec.current}:")),
            ("blob cut", lambda: codec.open_blob(blob[:30])), ("file cut", lambda: codec.open_file(file[:28])),
            ("payload empty", lambda: codec.open_bytes(b"")), ("payload cut", lambda: codec.open_bytes(payload[:12])),
            ("payload kid past end", lambda: codec.open_bytes(b"\x09ab"))]


@pytest.mark.parametrize("cipher", ["AES-GCM", "SM4-GCM"])
def test_every_damaged_seal_is_a_damaged_seal(cipher: str) -> None:
    codec = PiiCodec(GatewayKeys.generate(pii_cipher=cipher))
    for name, read in _damaged(codec):
        with pytest.raises(DamagedSeal):
            read()  # type: ignore[operator]
        assert name  # each case named for the failure message


def test_keys_rotate_with_a_damaged_payload_reports_it_without_a_traceback(tmp_path: Path) -> None:
    from gateway.store import payloads
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from gateway.store.tables import source_records

    url, key_file = f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "keys.json"
    GatewayKeys.generate().write(key_file)
    codec = PiiCodec(GatewayKeys.from_json(json.loads(key_file.read_text())))
    good = payloads.pack(f'{{"sfzh":"{ID}"}}'.encode(), codec)
    damaged = good[:1 + 8 + 1 + len(codec.current) + 5]  # cut inside the nonce
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for sid, payload in (("1", good), ("2", damaged)):
            conn.execute(source_records.insert().values(system="s", source_id=sid, stream="x", mapping_version="1",
                                                        deleted=False, first_seen_at=now, updated_at=now,
                                                        payload=payload))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}, "TONGBAN_KEY_FILE": str(key_file)}
    done = subprocess.run([sys.executable, "-m", "gateway", "keys", "rotate", "--database-url", url], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    said = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in said, said
    assert "rotation not complete: 1 row(s)" in " ".join(said.split())


def test_a_jws_header_that_is_no_object_is_a_jws_error() -> None:
    signer = JwsSigner.from_keys(GatewayKeys.generate())
    _, body, signature = signer.sign(b'{"seq":1}').split(".")
    for header in (b"[1]", b'"x"', b"3"):
        with pytest.raises(JwsError, match="not a JSON object"):
            JwsVerifier(signer.jwk()).verify(f"{b64url(header)}.{body}.{signature}")


@pytest.mark.parametrize("written", ["+{}", " {} ", "0_{}", "{}\u0661"])
def test_a_batch_proof_index_is_plain_digits(written: str) -> None:
    signer = JwsSigner.from_keys(GatewayKeys.generate())
    headers = sign_batch(signer, [b"a", b"b"])[1]
    index, rest = headers["Tongban-Signature-Proof"].split(":", 1)
    verify_answer(JwsVerifier(signer.jwk()), b"b", headers["Tongban-Signature"], f"{index}:{rest}")
    with pytest.raises(JwsError, match="malformed"):
        verify_answer(JwsVerifier(signer.jwk()), b"b", headers["Tongban-Signature"],
                      f"{written.format(index)}:{rest}")


@pytest.mark.parametrize(("text", "shown"), [
    ("３７０１０２１９８５０６０１１２３２", "３７０***********１２３２"),
    (f"ID{ID}", "ID370***********1232"),
    ("GD202412010000012345", "GD202412010000012345"),  # a work-order number after its letters: no ID
    ("SC110105000012345", "SC110105000012345"),
    (f"身份证{ID}。", "身份证370***********1232。"),
    ("370102202611020000009", "370102202611020000009"),  # a 21-digit case number: no ID inside
    ("91110000600037145F", "91110000600037145F"),  # a USCC
])
def test_redaction_masks_full_width_and_labelled_ids(text: str, shown: str) -> None:
    assert redact(text) == shown
