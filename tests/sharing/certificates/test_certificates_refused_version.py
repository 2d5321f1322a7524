"""A newer version of a served certificate that the harvest refuses (a revocation with a bad signature, a record
the connector cannot read, a copy naming other holders…) no longer leaves the old version served as if nothing
had happened: the certificate carries a quality flag — "a newer version from the issuer was refused: <reason>;
check with the issuer" — in every answer that releases or verifies it, until the issuer sends a newer version
that verifies or an operator resolves the quarantine entry. A copy older than the one served changes nothing, a
re-read of the refused copy keeps its entry (and its resolution), and retention does not purge an entry that
still marks a certificate."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    LICENCE,
    LICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    licence_world,
    plant_case,
)
from sqlalchemy import select

from gateway.contract.connector import Page, RawRecord
from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest, list_quarantine, resolve_quarantine
from gateway.store.retention import purge
from gateway.store.tables import certificate_quarantine, certificates
from sandbox.identifiers import make_uscc
from sandbox.licences import ISSUER, identifier

RULE = "certificate.newer_version_refused"
STRANGER = {"mc": "冒名公司", "zjlx": "001", "zjhm": make_uscc("9", "1", "370100", "MA3XXXXX")}


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    licensed: LicenceWorld = licence_world(database_url, monkeypatch)
    plant_case(licensed.engine, "RV-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=licensed.gw.pii)
    with licensed.engine.connect() as conn:
        ident = conn.execute(select(certificates.c.identifier)).scalar_one()
    server = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    served = licensed.registry.app._find(ident)  # the copy the library serves, before anything below
    yield {"world": licensed, "url": server.url, "ident": ident, "served": served, "database_url": database_url}
    server.stop()
    licensed.stop()


def _app(w: dict[str, Any]) -> Any:
    return w["world"].registry.app


def _harvest(w: dict[str, Any], **kwargs: Any) -> Any:
    return harvest(w["world"].gw, "sd_licences", **kwargs)


def _send_revocation(w: dict[str, Any], *, bad_signature: bool) -> None:
    app = _app(w)
    rec = app._find(w["ident"])
    rec["zzzt"] = "4"  # 撤销
    app._put(app._sign(rec, corrupt=bad_signature))


def _consent(w: dict[str, Any], case_no: str = "RV-1") -> str:
    gw, civil = w["world"].gw, w["world"].civil
    return gw.consents.issue(ConsentClaims("rv", gw.pii.bidx(LICENSED["id"]), civil.client.client_id, (LICENCE,),
                                           ELDERLY_CARE, case_no, int(time.time()) + 600))


def _released(w: dict[str, Any]) -> dict[str, Any]:
    """The certificate as the query releases it (the hot path)."""
    answer = requests.post(w["url"] + "/v1/certificates/query", headers=bearer(w["world"].civil.credential),
                           timeout=10, json={"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
                                             "purpose": {"item_code": ELDERLY_CARE, "case_no": "RV-1"},
                                             "consent_token": _consent(w)})
    assert answer.status_code == 200, answer.text
    [cert] = answer.json()["certificates"]
    return dict(cert)


def _fetched(w: dict[str, Any]) -> dict[str, Any]:
    answer = requests.get(w["url"] + f"/v1/certificates/{w['ident']}", timeout=10,
                          params={"item_code": ELDERLY_CARE, "case_no": "RV-1"},
                          headers={**bearer(w["world"].civil.credential), "Tongban-Consent": _consent(w)})
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["certificate"])


def _verified(w: dict[str, Any], **body: str) -> dict[str, Any]:
    answer = requests.post(w["url"] + "/v1/certificates/verify", json=body, timeout=10,
                           headers=bearer(w["world"].civil.credential))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _materials(w: dict[str, Any]) -> list[dict[str, Any]]:
    answer = requests.get(w["url"] + "/v1/cases/RV-1/materials", timeout=10,  # looked up with the consent
                          headers={**bearer(w["world"].civil.credential), "Tongban-Consent": _consent(w)})
    assert answer.status_code == 200, answer.text
    return [m for m in answer.json()["materials"] if m["replaced"]]


def _entries(w: dict[str, Any]) -> list[Any]:
    with w["world"].engine.connect() as conn:
        return list(conn.execute(select(certificate_quarantine.c.id, certificate_quarantine.c.created_at,
                                        certificate_quarantine.c.resolved_at)))


def test_a_revocation_with_a_bad_signature_marks_the_served_licence_everywhere(world: dict[str, Any]) -> None:
    _send_revocation(world, bad_signature=True)
    assert _harvest(world).quarantined == 1
    cert = _released(world)
    assert cert["status"] == "valid"  # still what the issuer last sent that verified …
    [flag] = cert["quality"]  # … and said to be in doubt
    assert (flag["rule"], flag["field"]) == (RULE, "status")
    assert "a newer version from the issuer was refused" in flag["message"]
    assert "bad signature" in flag["message"] and "check with the issuer" in flag["message"]
    assert _fetched(world)["quality"] == [flag]
    for body in ({"file_base64": world["served"]["wj"]["nr"]}, {"identifier": world["ident"]}):
        checked = _verified(world, **body)
        assert checked["genuine"] and checked["status"] == "valid" and checked["quality"] == [flag]
        assert "a newer version from its issuer was refused" in checked["detail"]
    [material] = _materials(world)
    assert material["quality"] == [flag]


@pytest.mark.parametrize(("change", "reason"), [
    ("unreadable", "gxsj"),
    ("other-holders", "names other holders"),
])
def test_any_refused_newer_version_marks_it(world: dict[str, Any], change: str, reason: str) -> None:
    app = _app(world)
    rec = app._find(world["ident"])
    if change == "other-holders":
        rec["czzt"] = [STRANGER]
        app._put(app._sign(rec))
    else:
        app._put(rec)
        with app.table.lock:  # a change time the connector cannot parse: the record never reaches the mapping
            app.table.get(rec["id"]).record["gxsj"] = "abc"
    assert _harvest(world).quarantined == 1
    [flag] = _released(world)["quality"]
    assert reason in flag["message"]


def test_a_refused_record_of_another_certificate_marks_nothing(world: dict[str, Any]) -> None:
    app = _app(world)
    other = app._find(world["ident"])
    other.update(id=app._next_id(), zzbs=identifier(LICENCE, ISSUER["code"], "70000001", 1), czzt=[STRANGER],
                 zzbh=STRANGER["zjhm"])
    app._put(app._sign(other, corrupt=True))
    assert _harvest(world).quarantined == 1
    assert _released(world)["quality"] == []
    assert [e.flags for e in list_quarantine(world["world"].engine)] == [None]


def test_a_valid_newer_version_clears_the_mark(world: dict[str, Any]) -> None:
    _send_revocation(world, bad_signature=True)
    _harvest(world)
    assert _released(world)["quality"]
    _send_revocation(world, bad_signature=False)  # the issuer sends it again, properly signed
    report = _harvest(world)
    assert (report.updated, report.quarantined) == (1, 0)
    cert = _released(world)
    assert (cert["status"], cert["quality"]) == ("revoked", [])
    assert _entries(world) == []
    assert _verified(world, identifier=world["ident"])["quality"] == []


class _Replica:
    """An issuer's replica lagging behind: it serves the copies it is given, once."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def read(self, stream: str, since: Any = None, mode: str = "incremental") -> Iterator[Page]:
        yield Page([RawRecord(r["id"], datetime.fromtimestamp(r["gxsj"] / 1000, timezone.utc), r)
                    for r in self.records])

    def close(self) -> None:
        pass


def test_an_older_copy_neither_clears_the_mark_nor_the_entry(world: dict[str, Any]) -> None:
    _send_revocation(world, bad_signature=True)
    _harvest(world)
    before = _entries(world)
    served = world["served"]
    earlier = {**served, "gxsj": served["gxsj"] - 60_000}
    for copy in (served, earlier):  # the copy the library serves, replayed; one from before it
        report = _harvest(world, connector=_Replica([copy]))
        assert (report.unchanged, report.quarantined) == (1, 0)
        assert _entries(world) == before and len(before) == 1
        assert _released(world)["quality"]
    refused_at = _app(world)._find(world["ident"])["gxsj"]
    assert refused_at > served["gxsj"] + 1
    between = {**served, "gxsj": refused_at - 1}  # newer than the served copy, still older than the refused one
    assert _harvest(world, connector=_Replica([between])).unchanged == 1
    assert _entries(world) == before and _released(world)["quality"]
    touched = {**served, "gxsj": refused_at + 1}  # later, the issuer's word is the served licence after all
    assert _harvest(world, connector=_Replica([touched])).unchanged == 1
    assert _entries(world) == [] and _released(world)["quality"] == []


def test_an_operator_resolves_the_entry_and_a_re_read_does_not_reopen_it(world: dict[str, Any]) -> None:
    engine = world["world"].engine
    _send_revocation(world, bad_signature=True)
    _harvest(world)
    _harvest(world, full_refresh=True)  # the same refused copy read again: the same entry, the same date
    [(entry_id, created_at, resolved_at)] = _entries(world)
    assert resolved_at is None
    [listed] = list_quarantine(engine)
    assert (listed.id, listed.flags) == (entry_id, world["ident"]) and "bad signature" in listed.reason
    assert purge(engine, timedelta(0))["quarantined certificates"] == 0  # it still marks a served certificate

    assert resolve_quarantine(engine, entry_id, "issuer: the revocation was sent in error; the licence stands") \
        == [world["ident"]]
    assert _released(world)["quality"] == []
    assert _verified(world, identifier=world["ident"])["quality"] == []
    _harvest(world, full_refresh=True)
    assert _released(world)["quality"] == []  # resolved stays resolved for the same copy
    assert [(e.id, e.resolution) for e in list_quarantine(engine, include_resolved=True)] == [
        (entry_id, "issuer: the revocation was sent in error; the licence stands")]
    assert list_quarantine(engine) == []
    assert _entries(world)[0][1] == created_at
    with pytest.raises(Exception, match="no open quarantine entry"):
        resolve_quarantine(engine, entry_id, "again")
    assert purge(engine, timedelta(0))["quarantined certificates"] == 1


def test_the_operator_commands(world: dict[str, Any]) -> None:
    _send_revocation(world, bad_signature=True)
    _harvest(world)
    [(entry_id, _, _)] = _entries(world)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}

    def tongban(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "quarantine", *args, "--database-url",
                               world["database_url"]], env=env, capture_output=True, text=True, timeout=120)

    listed = tongban("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(e["id"], e["flags"]) for e in json.loads(listed.stdout)] == [(entry_id, world["ident"])]
    refused = tongban("resolve", str(entry_id), "--note", " ")
    assert refused.returncode == 1 and "say how the entry was resolved" in refused.stdout + refused.stderr
    done = tongban("resolve", str(entry_id), "--note", "checked with the issuer")
    assert done.returncode == 0, done.stderr
    assert world["ident"] in done.stdout
    assert _released(world)["quality"] == []


def test_the_flag_shows_in_the_file_verification_of_an_unchanged_file(world: dict[str, Any]) -> None:
    """Verification by hash alone (a department holding the printed file's digest) sees it too."""
    _send_revocation(world, bad_signature=True)
    _harvest(world)
    digest = hashlib.sha256(base64.b64decode(world["served"]["wj"]["nr"])).hexdigest()
    checked = _verified(world, sha256=digest)
    assert checked["genuine"] and checked["quality"][0]["rule"] == RULE
