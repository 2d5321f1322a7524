"""The audit log's tail is anchored by a signed checkpoint even for a gateway that served for less than
``checkpoint_every``: the writer signs the head after its first batch and again when it stops. Removing the newest
rows of such a server's log (its last releases, say) then fails ``verify_chain`` — before, the first checkpoint
came only after ``checkpoint_every`` (5 minutes) and ``stop()`` wrote none, so a shorter chain still verified."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    LICENCE,
    LICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    make_gateway,
    plant_case,
)
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from gateway.cli import app
from gateway.sharing.access.audit import entry_hash, read_anchors, verify_chain
from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.store.tables import audit_checkpoints, audit_log


def test_deleting_the_newest_rows_of_a_short_lived_server_fails_verification(licensed: LicenceWorld) -> None:
    gw = licensed.gw
    assert gw.settings.checkpoint_every.total_seconds() >= 60  # far longer than this server runs
    _serve_five_releases(licensed, gw)
    engine = licensed.engine
    with engine.connect() as conn:
        written = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        head = conn.execute(select(func.max(audit_checkpoints.c.seq))).scalar_one()
    assert written == 5 and verify_chain(engine, verifier=gw.verifier).ok

    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 2))  # the last three releases
    report = verify_chain(engine, verifier=gw.verifier)
    assert not report.ok
    assert any(p.seq == 5 and "the signed checkpoint covers this row" in p.message and "seq=3..5 were removed"
               in p.message for p in report.problems), report.as_dict()
    assert head == 5  # the first batch and the stop were checkpointed


def _serve_five_releases(licensed: LicenceWorld, gw: Any) -> None:
    plant_case(licensed.engine, "T-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=gw.pii)
    token = gw.consents.issue(ConsentClaims("t", gw.pii.bidx(LICENSED["id"]), licensed.civil.client.client_id,
                                            (LICENCE,), ELDERLY_CARE, "T-1", int(time.time()) + 600))
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    try:
        for _ in range(5):
            answer = requests.post(server.url + "/v1/certificates/query", headers=bearer(licensed.civil.credential),
                                   timeout=10, json={"holder": {"id_number": LICENSED["id"]},
                                                     "certificate_types": [LICENCE], "consent_token": token,
                                                     "purpose": {"item_code": ELDERLY_CARE, "case_no": "T-1"}})
            assert answer.status_code == 200, answer.text
    finally:
        server.stop()


def _anchored_gateway(licensed: LicenceWorld, tmp_path: Path) -> tuple[Any, Path]:
    anchors = tmp_path / "anchors" / "audit.jsonl"
    gw = make_gateway(licensed.engine, keys=licensed.gw.keys,
                      settings=licensed.gw.settings.model_copy(update={"audit_anchor_file": anchors}))
    return gw, anchors


def test_removing_the_newest_rows_with_their_checkpoints_fails_against_the_anchors(licensed: LicenceWorld,
                                                                                   tmp_path: Path) -> None:
    """Someone who can delete rows in the ledger deletes the checkpoints too: the chain that is left verifies on its
    own. The copy of each checkpoint outside the ledger does not go with them."""
    gw, anchor_file = _anchored_gateway(licensed, tmp_path)
    _serve_five_releases(licensed, gw)
    engine = licensed.engine
    anchors = read_anchors(anchor_file)
    assert [a["seq"] for a in anchors][-1] == 5
    assert verify_chain(engine, verifier=gw.verifier, anchors=anchors).ok
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 2))
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq > 2))
    assert verify_chain(engine, verifier=gw.verifier).ok  # what the ledger alone can tell
    report = verify_chain(engine, verifier=gw.verifier, anchors=anchors)
    assert not report.ok and any(p.seq == 5 and "seq=3..5 were removed" in p.message for p in report.problems), \
        report.as_dict()


def test_an_old_entry_rewritten_with_every_hash_after_it_recomputed_fails_against_the_anchors(
        licensed: LicenceWorld, tmp_path: Path) -> None:
    gw, anchor_file = _anchored_gateway(licensed, tmp_path)
    _serve_five_releases(licensed, gw)
    engine = licensed.engine
    with engine.begin() as conn:  # change seq 3's client, recompute the chain from there, drop the checkpoints
        rows = [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings()]
        rows[2]["client_id"] = "someone-else"
        prev = rows[1]["hash"]
        for row in rows[2:]:
            row["prev_hash"] = prev
            row["hash"] = prev = entry_hash(prev, row["seq"], row["at"], row)
            conn.execute(update(audit_log).where(audit_log.c.seq == row["seq"]).values(
                client_id=row["client_id"], prev_hash=row["prev_hash"], hash=row["hash"]))
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq > 2))
    assert verify_chain(engine, verifier=gw.verifier).ok  # a consistent chain, as far as the ledger says
    report = verify_chain(engine, verifier=gw.verifier, anchors=read_anchors(anchor_file))
    assert any(p.seq == 5 and "rewritten" in p.message for p in report.problems), report.as_dict()


def test_audit_verify_reads_the_anchor_file_and_a_torn_last_line_is_left_out(licensed: LicenceWorld,
                                                                              tmp_path: Path) -> None:
    gw, anchor_file = _anchored_gateway(licensed, tmp_path)
    _serve_five_releases(licensed, gw)
    with anchor_file.open("ab") as f:
        f.write(b'{"seq": 9, "ha')  # the host stopped in the middle of a write
    assert [a["seq"] for a in read_anchors(anchor_file)][-1] == 5
    with licensed.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 4))
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq > 4))
    result = CliRunner().invoke(app, ["audit", "verify", "--anchors", str(anchor_file), "--database-url",
                                      str(licensed.engine.url.render_as_string(hide_password=False))])
    assert result.exit_code == 1 and "seq=5..5 were removed" in " ".join(result.output.split()), result.output


def test_a_configured_anchor_file_that_is_gone_fails_verification(licensed: LicenceWorld, tmp_path: Path,
                                                                   monkeypatch: Any) -> None:
    """`audit verify` read the gateway file's anchor file only when it existed: deleting it (with the newest rows
    and their checkpoints) defeated the check in silence."""
    gw, anchor_file = _anchored_gateway(licensed, tmp_path)
    _serve_five_releases(licensed, gw)
    url = str(licensed.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TONGBAN_AUDIT_ANCHOR_FILE", str(anchor_file))
    assert CliRunner().invoke(app, ["audit", "verify", "--database-url", url]).exit_code == 0
    anchor_file.unlink()
    result = CliRunner().invoke(app, ["audit", "verify", "--database-url", url])
    assert result.exit_code == 1 and "is configured but not there" in " ".join(result.output.split()), result.output


def test_audit_verify_reads_only_the_anchor_setting_of_the_gateway_file(licensed: LicenceWorld, tmp_path: Path,
                                                                         monkeypatch: Any) -> None:
    """`audit verify` loaded the whole gateway file for its anchor file: run where the gateway's other settings are
    not set (an auditor's machine, without the metrics token), it failed on them before checking anything."""
    gw, anchor_file = _anchored_gateway(licensed, tmp_path)
    _serve_five_releases(licensed, gw)
    url = str(licensed.engine.url.render_as_string(hide_password=False))
    gateway_file = tmp_path / "gateway-elsewhere.yaml"
    gateway_file.write_text("metrics_token: ${TONGBAN_TEST_UNSET_METRICS_TOKEN}\n"
                            "audit_anchor_file: ${TONGBAN_AUDIT_ANCHOR_FILE}\n", encoding="utf-8")
    monkeypatch.delenv("TONGBAN_TEST_UNSET_METRICS_TOKEN", raising=False)
    monkeypatch.setenv("TONGBAN_AUDIT_ANCHOR_FILE", str(anchor_file))
    result = CliRunner().invoke(app, ["audit", "verify", "--database-url", url, "--gateway", str(gateway_file)])
    assert result.exit_code == 0 and "anchors outside the ledger" in result.output, result.output
    anchor_file.unlink()  # and the anchor setting it does read still counts
    result = CliRunner().invoke(app, ["audit", "verify", "--database-url", url, "--gateway", str(gateway_file)])
    assert result.exit_code == 1 and "is configured but not there" in " ".join(result.output.split()), result.output
