"""Another client's refused read of a bundle (``GET /v1/bundles/{bundle_no}``: a 404, as for a bundle that does
not exist) is in the access log of each holder of that bundle, as a refused material read is: the holder sees who
tried to read their application. A number that is no bundle is audited under nobody."""

from __future__ import annotations

import requests
from bundles_testlib import CompanyWorld, application
from gateway_testlib import bearer
from sqlalchemy import select

from gateway.store.tables import audit_log

RESERVATION = "JNMC2026120300017"  # the applicant's ID of the licence part (bundles_testlib.application)


def test_another_clients_refused_read_is_in_each_holders_access_log(world: CompanyWorld) -> None:
    url = world.server.url + "/v1/bundles"
    answer = requests.post(url, json=application("AUDIT-1"), headers=bearer(world.hall_credential), timeout=60)
    assert answer.status_code == 201, answer.text
    bundle_no = answer.json()["bundle_no"]
    other = world.gw.clients.add("county_hall", scopes=["bundles:apply"])

    assert requests.get(f"{url}/{bundle_no}", headers=bearer(other.credential), timeout=60).status_code == 404
    assert requests.get(f"{url}/YJS20261205FFFFFFFF", headers=bearer(other.credential), timeout=60).status_code == 404

    with world.runtime.engine.connect() as conn:
        refused = [(r.outcome, r.holder_ref, r.case_no) for r in conn.execute(
            select(audit_log.c.outcome, audit_log.c.holder_ref, audit_log.c.case_no)
            .where(audit_log.c.action == "bundle", audit_log.c.client_id == other.client.client_id).order_by(audit_log.c.seq))]
    holder = world.runtime.pii.bidx(RESERVATION)
    assert refused == [("denied", holder, bundle_no), ("not_found", None, None)]

    # a name reservation number is neither a resident ID nor a USCC: the hall names its type, as the case does
    log = requests.post(world.server.url + "/v1/holders/access-log", json={"id_type": "099", "id_number": RESERVATION},
                        headers=bearer(world.hall_credential), timeout=60)
    assert log.status_code == 200, log.text
    assert ("bundle", "denied") in {(e.get("action"), e.get("outcome")) for e in log.json()["entries"]}
