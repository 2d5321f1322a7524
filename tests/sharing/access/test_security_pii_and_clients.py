"""Personal data: sealing (AES-GCM, SM4-GCM), blind index, masking, log redaction, key rotation, retention;
clients: credentials shown once and stored as salted hashes, expiry, revocation; policy; consent tokens."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from gateway.sharing.access import ClientStore, ConsentClaims, ConsentError, ConsentTokens
from gateway.crypto import GatewayKeys, PiiCodec
from gateway.sharing.access import Policy, PolicyRule, RateLimiter
from gateway.crypto import mask, redact
from gateway.crypto.jws import b64url, unb64url
from gateway.crypto.pii import RedactingFilter
from gateway.store.retention import purge, reseal_all
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import api_clients, consents, source_records

ID = "370102198506011232"


@pytest.mark.parametrize("cipher", ["AES-GCM", "SM4-GCM"])
def test_sealing_round_trips_and_authenticates(cipher: str) -> None:
    codec = PiiCodec(GatewayKeys.generate(pii_cipher=cipher))
    token = codec.seal(ID)
    assert token.startswith("enc:v1:") and ID not in token and codec.open(token) == ID
    blob = codec.seal_blob('{"certNo": "%s"}' % ID)
    assert ID not in blob and codec.open_blob(blob) == '{"certNo": "%s"}' % ID
    other = PiiCodec(GatewayKeys.generate(pii_cipher=cipher))
    with pytest.raises(Exception, match="not among the configured PII keys|does not authenticate"):
        other.open(token)


def test_the_blind_index_is_keyed_and_normalised() -> None:
    keys = GatewayKeys.generate()
    codec = PiiCodec(keys)
    assert codec.bidx(ID) == codec.bidx(" ３７０１０２１９８５０６０１１２３２ ") == codec.bidx(ID.lower())
    assert codec.bidx(ID) != PiiCodec(GatewayKeys.generate()).bidx(ID)
    assert ID not in codec.bidx(ID)


def test_masking_and_log_redaction() -> None:
    assert mask(ID) == "370***********1232"
    assert mask("91370100MA3C7B8X2M") == "913***********8X2M"
    assert mask("AB") == "**"
    assert redact(f"holder {ID} and old 370102850601123 ok") == "holder 370***********1232 and old 370********1123 ok"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "looked up %s", (ID,), None)
    RedactingFilter().filter(record)
    assert ID not in record.getMessage()


def test_rotation_reseals_everything_under_the_new_key(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    old_keys = GatewayKeys.generate()
    old = PiiCodec(old_keys)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(source_records.insert().values(system="s", source_id="1", stream="cases", raw=old.seal_blob("{}"),
                                                    mapping_version="1", deleted=False, first_seen_at=now,
                                                    updated_at=now))
    new_keys = old_keys.rotated()
    counts = reseal_all(engine, PiiCodec(new_keys))
    assert counts["source_records.raw"] == 1
    with engine.connect() as conn:
        raw = conn.execute(select(source_records.c.raw)).scalar_one()
    assert PiiCodec.key_of(raw) == new_keys.pii_current and PiiCodec(new_keys).open_blob(raw) == "{}"


def test_purge_drops_what_is_past_retention(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    long_ago = datetime.now(timezone.utc) - timedelta(days=400)
    with engine.begin() as conn:
        conn.execute(consents.insert().values(consent_id="a", holder_bidx="h", client_id="c", certificate_types="[]",
                                              item_code="i", case_no="n", issued_by="hall", issued_at=long_ago,
                                              expires_at=long_ago))
        conn.execute(source_records.insert().values(system="s", source_id="gone", stream="cases", raw="{}",
                                                    mapping_version="1", deleted=True, first_seen_at=long_ago,
                                                    updated_at=long_ago))
    assert purge(engine, timedelta(days=180), dry_run=True)["expired consents"] == 1
    counts = purge(engine, timedelta(days=180))
    assert counts["expired consents"] == 1 and counts["raw payloads of deleted records"] == 1
    assert purge(engine, timedelta(days=180))["expired consents"] == 0


def test_credentials_are_shown_once_and_stored_as_salted_hashes(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    store = ClientStore(engine)
    issued = store.add("sd_civil", department_code="11370000004390448N")
    secret = issued.credential.split("_", 2)[2]
    with engine.connect() as conn:
        row = conn.execute(select(api_clients)).one()
    assert secret not in "".join(str(v) for v in row) and len(row.secret_salt) == 32
    assert store.authenticate(issued.credential).name == "sd_civil"
    assert store.authenticate(issued.credential[:-1] + "x") is None
    assert ClientStore(engine).authenticate(issued.credential[:-1] + "x") is None
    store.revoke("sd_civil")
    assert ClientStore(engine).authenticate(issued.credential) is None
    expired = store.add("old", days=1e-9)
    assert ClientStore(engine).authenticate(expired.credential) is None
    with pytest.raises(Exception, match="unknown scope"):
        store.add("x", scopes=["everything"])


def test_wrong_secrets_for_a_known_client_id_do_not_each_read_the_database(sqlite_url: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Client ids are no secret (signed answers and holders' logs name them): 300 requests with a real id and a
    wrong secret cost 300 reads of the client, before any rate limit (an unknown id cost none)."""
    import gateway.sharing.access.clients as clients_module
    from gateway.store import access as access_store

    monkeypatch.setattr(clients_module, "CACHE_SECONDS", 3600.0)  # a loaded machine must not expire it mid-test
    engine = make_engine(sqlite_url)
    upgrade(engine)
    store = ClientStore(engine)
    issued = store.add("sd_civil")
    reads = []
    real = access_store.find_client
    monkeypatch.setattr(access_store, "find_client", lambda conn, cid: reads.append(cid) or real(conn, cid))
    fresh = ClientStore(engine)
    for n in range(300):
        assert fresh.authenticate(issued.credential[:-1] + ("x" if n % 2 else "y")) is None
    assert len(reads) == 1, len(reads)  # once per cache period, whatever the secrets say
    assert fresh.authenticate(issued.credential).name == "sd_civil"  # the right secret still works from the cache
    assert len(reads) == 1


def test_policy_denies_by_default_and_consent_is_the_stricter_reading() -> None:
    policy = Policy([PolicyRule(client="a", certificate_types=["T1"], items=["I1", "P*"], consent=False),
                     PolicyRule(client="a", certificate_types=["T1"], items=["I1"], consent=True)])
    assert policy.decide(("a",), "T1", "I1").consent_required
    assert policy.decide(("a",), "T1", "P-7").allowed and not policy.decide(("a",), "T1", "P-7").consent_required
    assert not policy.decide(("a",), "T2", "I1").allowed
    assert not policy.decide(("b",), "T1", "I1").allowed
    assert not policy.decide(("a",), "T1", "I2").allowed


def test_consent_tokens_bind_and_expire() -> None:
    tokens = ConsentTokens(b"k" * 32)
    later = int((datetime.now(timezone.utc) + timedelta(minutes=5)).timestamp())
    claims = ConsentClaims("id", "holder", "client", ("T1",), "item", "case", later)
    token = tokens.issue(claims)
    assert tokens.check(token) == claims
    assert claims.covers(holder="holder", client_id="client", type_code="T1", item_code="item", case_no="case")
    assert not claims.covers(holder="holder", client_id="client", type_code="T1", item_code="item", case_no="x")
    assert tokens.check(token) == claims  # remembered once verified ...
    with pytest.raises(ConsentError, match="expired"):  # ... and its expiry still checked every time
        tokens.check(token, now=datetime.now(timezone.utc) + timedelta(minutes=10))
    head, body, mac = token.split(".")
    forged_body = b64url(orjson.dumps({**orjson.loads(unb64url(body)), "n": "other-case"}))
    with pytest.raises(ConsentError, match="authenticate"):  # a verified token does not vouch for an edited one
        tokens.check(f"{head}.{forged_body}.{mac}")
    with pytest.raises(ConsentError, match="authenticate"):
        ConsentTokens(b"j" * 32).check(token)
    with pytest.raises(ConsentError):
        tokens.check("garbage")


def test_rate_limiter_answers_how_long_to_wait() -> None:
    limiter = RateLimiter(default_rate=2)
    assert limiter.allow("c") == 0 and limiter.allow("c") == 0
    wait = limiter.allow("c")
    assert wait > 0 and RateLimiter.retry_after_header(wait) == "1"
    assert limiter.allow("other") == 0


def test_keys_come_from_a_key_file_or_the_environment(tmp_path: Any) -> None:
    keys = GatewayKeys.generate()
    path = keys.write(tmp_path / "keys.json")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    loaded = GatewayKeys.from_env({"TONGBAN_KEY_FILE": str(path)})
    assert loaded is not None and loaded.pii_keys == keys.pii_keys and loaded.mac_key == keys.mac_key
    assert GatewayKeys.from_env({}) is None


@pytest.mark.parametrize("alg", ["EdDSA", "SM2"])
def test_jws_signs_and_verifies_compact_and_detached(alg: str) -> None:
    from gateway.crypto import JwsError, JwsSigner, JwsVerifier

    signer = JwsSigner.from_keys(GatewayKeys.generate(signing_alg=alg))
    verifier = JwsVerifier(signer.jwk())
    assert verifier.verify(signer.sign(b'{"a":1}')) == b'{"a":1}'
    detached = signer.sign_detached(b"body")
    assert verifier.verify(detached, b"body") == b"body"
    with pytest.raises(JwsError):
        verifier.verify(detached, b"other body")
    with pytest.raises(JwsError):
        JwsVerifier(JwsSigner.from_keys(GatewayKeys.generate(signing_alg=alg)).jwk()).verify(signer.sign(b"x"))


def test_a_dead_letters_raw_input_is_masked_by_what_each_field_is() -> None:
    """Before: a free-text pattern over the JSON masked the public 事项名称 under ``itemName`` and left the
    applicant's full name in the summary and the whole home address."""
    from gateway.crypto.pii import redact_document

    raw = {"sqrxm": "王秀英", "itemName": "养老机构备案", "deptName": "济南市民政局", "companyName": "济南大明科技有限公司",
           "summary": "王秀英申请养老机构备案，联系电话13805310001", "address": "济南市历下区泉城路1号",
           "sfzh": "370102198506011232", "agents": [{"lxr": "李娜"}], "note": "李娜代办", "count": 3}
    shown = orjson.loads(redact_document(orjson.dumps(raw).decode()))
    assert shown["sqrxm"] == "王**" and shown["summary"] == "王**申请养老机构备案，联系电话138****0001"
    assert shown["agents"] == [{"lxr": "李*"}] and shown["note"] == "李*代办"
    assert shown["address"] == "济南市历下区*****" and shown["sfzh"] == "370***********1232"
    assert (shown["itemName"], shown["deptName"], shown["companyName"], shown["count"]) == \
        ("养老机构备案", "济南市民政局", "济南大明科技有限公司", 3)
    assert redact_document("not json 370102198506011232") == "not json 370***********1232"
    # a record a connector refused is kept as the JSON text it came as: shown as that document, masked the same
    kept_as_text = orjson.dumps(orjson.dumps(raw).decode()).decode()
    assert orjson.loads(redact_document(kept_as_text)) == shown
    assert redact_document(orjson.dumps("王秀英 370102198506011232").decode()) == "王秀英 370***********1232"
    # nested the way REST systems send them: the name of an item, a department or a company object is public,
    # the name of an applicant object is a person's
    nested = {"item": {"name": "食品经营许可"}, "dept": {"name": "杭州市西湖区行政审批服务局"},
              "company": {"name": "杭州大明科技有限公司"}, "applicant": {"name": "王小明"}, "agents": [{"name": "李娜"}]}
    shown = orjson.loads(redact_document(orjson.dumps(nested).decode()))
    assert shown == {"item": {"name": "食品经营许可"}, "dept": {"name": "杭州市西湖区行政审批服务局"},
                     "company": {"name": "杭州大明科技有限公司"}, "applicant": {"name": "王**"}, "agents": [{"name": "李*"}]}
    # ... but an object of a company that describes a person (its contact, 企业法定代表人, 单位经办人) is a person's,
    # and so are the canonical model's principal (agent.authorised_by) and handlers
    people = {"companyContact": {"name": "张三丰"}, "qyfddbr": {"name": "李四光"}, "dwjbr": {"name": "王五福"},
              "orgLegalPerson": {"name": "赵六顺"}, "agent": {"authorised_by": "孙七星"}, "handler": "周婷"}
    assert orjson.loads(redact_document(orjson.dumps(people).decode())) == {
        "companyContact": {"name": "张**"}, "qyfddbr": {"name": "李**"}, "dwjbr": {"name": "王**"},
        "orgLegalPerson": {"name": "赵**"}, "agent": {"authorised_by": "孙**"}, "handler": "周*"}


def test_a_records_own_number_is_shown_and_an_id_number_is_masked_whatever_its_json_type() -> None:
    """Outside review: ``tongban cases show`` printed the case's own 18-digit 办件编号 (division + date + sequence,
    ID-shaped) as ``370***********0005``; and an ID number sent as a JSON number was shown whole."""
    from gateway.crypto.pii import redact_document

    raw = {"case_no": "370102202403050001", "bjbh": "370100202400000005", "caseNo": "370102202403050001",
           "gdbh": "123452026090100001", "sfzh": "370102198506011232", "zjbh": "370102198506011232",
           "idCardNo": "370102198506011232", "sfzhm": 370102198506011233, "count": 3,
           "personApplyNo": "370102198506011232", "legal_person_business_no": "370102198506011232",
           "note": "办件370102202403050001 申请人370102198506011232"}
    shown = orjson.loads(redact_document(orjson.dumps(raw).decode()))
    assert (shown["case_no"], shown["bjbh"], shown["caseNo"], shown["gdbh"]) == (
        "370102202403050001", "370100202400000005", "370102202403050001", "123452026090100001")
    assert shown["sfzh"] == shown["zjbh"] == shown["idCardNo"] == "370***********1232"  # 证件编号 is a person's
    # a record-number word inside a longer key is not that record's number (review: a person's number leaked)
    assert shown["personApplyNo"] == shown["legal_person_business_no"] == "370***********1232"
    assert shown["sfzhm"] == "370***********1233" and shown["count"] == 3
    assert shown["note"] == "办件370***********0001 申请人370***********1232"  # free text: masked, as in doubt


def test_a_dead_letter_keeps_its_steps_materials_and_certificate_readable() -> None:
    """Found by review: every bare ``name`` was taken for a person's — a step's 受理, a material's 申请表 — and then
    masked wherever it recurred, so the opinions read 予以受* and 同意承*意见 and an operator could not read the record
    to fix. A ``name`` is a person's under a person's object (applicant, agents, 家庭成员 …) or at the top level."""
    from gateway.crypto.pii import redact_document

    raw = {"name": "张三丰", "applicant": {"name": "王秀英"}, "certName": "高龄津贴证", "handler": "周婷",
           "steps": [{"name": "受理", "handler": "周婷", "opinion": "予以受理"}, {"name": "承办", "opinion": "同意承办意见"}],
           "materials": [{"name": "公民身份证复印件", "count": 1}], "jtcy": [{"name": "李四光"}],
           "summary": "王秀英申请，周婷受理"}
    shown = orjson.loads(redact_document(orjson.dumps(raw).decode()))
    assert shown["steps"] == [{"name": "受理", "handler": "周*", "opinion": "予以受理"},
                              {"name": "承办", "opinion": "同意承办意见"}]
    assert shown["materials"] == [{"name": "公民身份证复印件", "count": 1}] and shown["certName"] == "高龄津贴证"
    assert (shown["name"], shown["applicant"], shown["jtcy"]) == ("张**", {"name": "王**"}, [{"name": "李**"}])
    assert shown["summary"] == "王**申请，周*受理"
