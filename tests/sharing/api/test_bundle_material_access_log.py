"""Who used my data, for a 一件事 bundle's materials: a department's read of a material the applicant submitted once
(``GET /v1/bundles/{no}/materials/{code}``, audit action ``bundle_material``) is in the holder's access log as the
hall shows it (``POST /v1/holders/access-log``), as the bundle read itself is."""

from __future__ import annotations

import requests
from bundles_testlib import CompanyWorld, application
from gateway_testlib import bearer

RESERVATION = application()["form"]["name_reservation_no"]
MARKET_DEPT = "11370100004301265T"


def test_a_departments_read_of_a_bundle_material_is_in_the_holders_access_log(world: CompanyWorld) -> None:
    url = world.server.url + "/v1/bundles"
    applied = requests.post(url, json=application("MAT-LOG-1"), headers=bearer(world.hall_credential), timeout=60)
    assert applied.status_code == 201, applied.text
    bundle_no = applied.json()["bundle_no"]
    market = bearer(world.gw.clients.add("sd_market", department_code=MARKET_DEPT).credential)
    got = requests.get(f"{url}/{bundle_no}/materials/articles", headers=market, timeout=60)
    assert got.status_code == 200, got.text

    # a name reservation number is neither a resident ID nor a USCC: the hall names its type, as the case does
    log = requests.post(world.server.url + "/v1/holders/access-log", json={"id_type": "099", "id_number": RESERVATION},
                        headers=bearer(world.hall_credential), timeout=60)
    assert log.status_code == 200, log.text
    reads = [(e["action"], e["outcome"], e["client_name"], e["case_no"]) for e in log.json()["entries"]
             if e["action"] == "bundle_material"]
    assert reads == [("bundle_material", "released", "sd_market", bundle_no)]
