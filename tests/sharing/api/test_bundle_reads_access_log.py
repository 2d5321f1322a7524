"""Who used my data, for a 一件事 bundle: each time the hall reads a bundle (``GET /v1/bundles/{ref}``: its parts, their
cases, the certificate numbers, the materials) the read is in the access log of each holder whose data the bundle
is — the applicant of each part's case (the name reservation at first, the company once its licence is issued) and
the holders of the certificates its parts issued — and in nobody else's."""

from __future__ import annotations

import requests
from bundles_testlib import CompanyWorld, application
from gateway_testlib import UNLICENSED, bearer

RESERVATION = application()["form"]["name_reservation_no"]
"""The licence part's applicant: the company-to-be, by its name reservation (名称自主申报告知书编号)."""


def _bundle_reads(world: CompanyWorld, id_number: str) -> list[tuple[str, str, str | None, str]]:
    """The bundle entries of the holder's access log, as the hall shows them: (outcome, bundle, client, action).
    The name reservation number is neither a resident ID nor a USCC: the hall names its type, as the case does."""
    holder = {"id_type": "099", "id_number": id_number} if id_number == RESERVATION else {"id_number": id_number}
    answer = requests.post(world.server.url + "/v1/holders/access-log", json=holder,
                           headers=bearer(world.hall_credential), timeout=60)
    assert answer.status_code == 200, answer.text
    return [(e["outcome"], e["case_no"], e["client_name"], e["action"]) for e in answer.json()["entries"]
            if e["action"] == "bundle"]


def _read(world: CompanyWorld, ref: str, credential: str) -> requests.Response:
    return requests.get(f"{world.server.url}/v1/bundles/{ref}", headers=bearer(credential), timeout=60)


def test_a_bundle_read_is_in_the_access_log_of_whose_data_it_is(world: CompanyWorld) -> None:
    applied = requests.post(world.server.url + "/v1/bundles", json=application("LOG-1"),
                            headers=bearer(world.hall_credential), timeout=60)
    assert applied.status_code == 201, applied.text
    bundle_no = applied.json()["bundle_no"]
    assert _read(world, bundle_no, world.hall_credential).status_code == 200
    assert _bundle_reads(world, RESERVATION) == [("read", bundle_no, "sd_hall", "bundle")]

    # the licence is issued and harvested; seal and tax are released in the company's name
    world.push()
    licence_case = world.part(bundle_no, "licence")["case_no"]
    licence_no = str(world.admin("sd_market", "POST", "/_sandbox/decide",
                                 json={"case_no": licence_case, "decision": "issue"})["ZZBH"])
    world.sync("sd_market")
    world.scan()
    assert world.harvest() == 1
    assert world.scan().released == 2
    assert _bundle_reads(world, licence_no) == []  # nobody has read the bundle since it named the company

    status = _read(world, "LOG-1", world.hall_credential)
    assert status.status_code == 200 and {p["certificate_no"] for p in status.json()["parts"]} >= {licence_no}
    assert _bundle_reads(world, licence_no) == [("read", bundle_no, "sd_hall", "bundle")]

    # another client's attempt finds nothing (404, as for a bundle that does not exist) and reads nothing — but it was
    # an attempt on the company's data: in its log, refused; nor is the bundle in strangers'
    other = world.gw.clients.add("county_hall", scopes=["bundles:apply"]).credential
    assert _read(world, bundle_no, other).status_code == 404
    assert _bundle_reads(world, licence_no) == [("read", bundle_no, "sd_hall", "bundle"),
                                                ("denied", bundle_no, "county_hall", "bundle")]
    assert _bundle_reads(world, UNLICENSED) == []
