"""hall over HTTP: OAuth tokens and expiry, versioned idempotent pushes, tombstones, the front-desk feed."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
import requests

from sandbox import start_all
from sandbox_testlib import admin

CIVIL_DEPT, ESTATE_DEPT = "11370000004390448N", "113701000042183922"


@pytest.fixture(scope="module")
def hall() -> Iterator[Any]:
    handle = start_all(seed=42, systems=("hall",), token_ttl=1)
    yield handle
    handle.stop()


def token(base: str, secret: str = "hall-demo-secret") -> requests.Response:
    return requests.post(base + "/oauth/token", data={"grant_type": "client_credentials", "client_id": "tongban",
                                                      "client_secret": secret})


def auth(base: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token(base).json()["access_token"]}


def test_oauth_client_credentials_and_expiry(hall) -> None:
    base = hall.urls["hall"]
    assert token(base, "wrong").status_code == 401
    body = token(base).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1
    h = {"Authorization": "Bearer " + body["access_token"]}
    assert requests.get(base + "/api/frontdesk/cases", headers=h).status_code == 200
    assert requests.get(base + "/api/frontdesk/cases").status_code == 401
    time.sleep(1.1)
    r = requests.get(base + "/api/frontdesk/cases", headers=h)
    assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"]


def test_push_versions_idempotency_and_tombstones(hall) -> None:
    base = hall.urls["hall"]
    h = auth(base)
    case = {"case_no": "370000202611210000001", "item_name": "社会团体成立登记", "status": "accepted", "version": 1}

    def put(version: int, key: str) -> requests.Response:
        return requests.put(f"{base}/api/cases/{case['case_no']}", json={**case, "version": version},
                            headers={**h, "Idempotency-Key": key})

    assert put(1, "c1-v1").status_code == 201
    dup = put(1, "c1-v1")
    assert dup.status_code == 200 and dup.json()["duplicate"] is True
    stale = put(1, "c1-v1-again")
    assert stale.status_code == 409 and stale.json() == {"error": "stale_version", "current_version": 1}
    assert put(3, "c1-v3").status_code == 200
    assert put(2, "c1-v2").status_code == 409
    got = requests.get(f"{base}/api/cases/{case['case_no']}", headers=h)
    assert got.status_code == 200 and got.json()["version"] == 3
    d = requests.delete(f"{base}/api/cases/{case['case_no']}?version=4", headers={**h, "Idempotency-Key": "c1-del"})
    assert d.status_code == 200 and d.json()["deleted"] is True
    d2 = requests.delete(f"{base}/api/cases/{case['case_no']}?version=4", headers={**h, "Idempotency-Key": "c1-del"})
    assert d2.status_code == 200 and d2.json()["duplicate"] is True
    assert requests.get(f"{base}/api/cases/{case['case_no']}", headers=h).status_code == 404
    cases = admin(base, "/_sandbox/cases")
    mine = [c for c in cases if c["case_no"] == case["case_no"]][0]
    assert mine["applied_writes"] == 3 and mine["version"] == 4 and mine["deleted"] is True
    assert requests.put(f"{base}/api/cases/x", json={"version": 1}, headers=h).status_code == 400  # no key
    assert requests.put(f"{base}/api/cases/x", json={"version": 1}, headers={"Idempotency-Key": "z"}).status_code == 401


def test_frontdesk_feed_pages_by_link_header(hall) -> None:
    base = hall.urls["hall"]
    made = admin(base, "/_sandbox/frontdesk", {"count": 7, "dept_code": CIVIL_DEPT})["created"]
    made += admin(base, "/_sandbox/frontdesk", {"count": 5, "dept_code": ESTATE_DEPT})["created"]
    assert all(c["item_code"].startswith(c["dept_code"]) for c in made)
    assert {c["dept_code"] for c in made} == {CIVIL_DEPT, ESTATE_DEPT}
    assert requests.post(base + "/_sandbox/frontdesk", json={"count": 1, "dept_code": "x"}).status_code == 400
    h = auth(base)
    url: str | None = base + "/api/frontdesk/cases?per_page=5"
    seen = []
    while url:
        r = requests.get(url, headers=h)
        assert r.status_code == 200
        seen += r.json()
        url = r.links.get("next", {}).get("url")
    assert [c["fd_id"] for c in seen] == [c["fd_id"] for c in made]
    assert all(c["origin"] == "window" for c in seen)
    assert [(c["updated_at"], c["fd_id"]) for c in seen] == sorted((c["updated_at"], c["fd_id"]) for c in seen)
    # changed_since is inclusive, and the pushed cases never show up here
    sixth = seen[5]
    r = requests.get(base + "/api/frontdesk/cases", params={"changed_since": sixth["updated_at"]}, headers=h)
    assert [c["fd_id"] for c in r.json()] == [c["fd_id"] for c in seen[5:]]
    # a withdrawn case is a tombstone in the feed
    admin(base, "/_sandbox/delete", {"ids": [seen[0]["fd_id"]]})
    r = requests.get(base + "/api/frontdesk/cases", params={"changed_since": sixth["updated_at"]}, headers=h)
    last = r.json()[-1]
    assert last["fd_id"] == seen[0]["fd_id"] and last["deleted"] is True and last["version"] == 2
