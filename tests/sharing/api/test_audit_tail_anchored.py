"""The audit log's tail is anchored by a signed checkpoint even for a gateway that served for less than
``checkpoint_every``: the writer signs the head after its first batch and again when it stops. Removing the newest
rows of such a server's log (its last releases, say) then fails ``verify_chain`` — before, the first checkpoint
came only after ``checkpoint_every`` (5 minutes) and ``stop()`` wrote none, so a shorter chain still verified."""

from __future__ import annotations

import time

import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    LICENCE,
    LICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    plant_case,
)
from sqlalchemy import delete, func, select

from gateway.sharing.access.audit import verify_chain
from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.store.tables import audit_checkpoints, audit_log


def test_deleting_the_newest_rows_of_a_short_lived_server_fails_verification(licensed: LicenceWorld) -> None:
    gw = licensed.gw
    assert gw.settings.checkpoint_every.total_seconds() >= 60  # far longer than this server runs
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
    engine = licensed.engine
    with engine.connect() as conn:
        written = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        head = conn.execute(select(func.max(audit_checkpoints.c.seq))).scalar_one()
    assert written == 5 and verify_chain(engine, verifier=gw.verifier).ok

    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 2))  # the last three releases
    report = verify_chain(engine, verifier=gw.verifier)
    assert not report.ok
    assert any(p.seq == 5 and "missing" in p.message for p in report.problems), report.as_dict()
    assert head == 5  # the first batch and the stop were checkpointed
