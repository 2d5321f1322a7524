"""The gateway scaled out: two real ``tongban serve`` processes on one ledger behave as one gateway.

- A client keeps one quota however many processes serve it: with ``rate_limit_store: redis://…`` a client
  hammering both processes at once is admitted about its rate in total; the same two processes with in-memory
  buckets admit about twice that (the control that shows the shared store matters).
- Revocations are the ledger's: a consent withdrawn at one process is refused at the other within the
  revocation poll, and a client revoked by ``tongban clients revoke`` stops working at both.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from gateway_processes import GatewayProcess, gateway_file, hammer, start_all
from gateway_testlib import CIVIL_DEPT, ELDERLY_CARE, LICENCE, LICENSED, LicenceWorld, bearer, plant_case

from gateway.crypto import GatewayKeys
from gateway.sharing.access.clients import CACHE_SECONDS, ClientStore
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

pytestmark = pytest.mark.slow

RATE = 10.0  # the client's requests per second; its bucket holds one second's worth (the burst)
BURST = RATE
WINDOW = 4.0


def _admitted(results: dict[str, Counter[int]]) -> dict[str, int]:
    return {url: sum(n for status, n in statuses.items() if status != 429) for url, statuses in results.items()}


def _stop(processes: list[GatewayProcess]) -> None:
    for process in processes:
        process.stop()


def test_a_client_has_one_quota_across_two_gateway_processes(redis_url: str, sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    key_file = GatewayKeys.generate().write(tmp_path / "keys.json")
    busy = ClientStore(engine).add("sd_busy", department_code=CIVIL_DEPT, rate_limit=RATE)
    shared_file = gateway_file(tmp_path / "shared.yaml", rate_limit_store=redis_url)
    memory_file = gateway_file(tmp_path / "memory.yaml", rate_limit_store="memory")
    processes = [GatewayProcess(name, file, sqlite_url, key_file, tmp_path)
                 for name, file in (("shared-a", shared_file), ("shared-b", shared_file),
                                    ("memory-a", memory_file), ("memory-b", memory_file))]
    try:
        start_all(processes)
        shared, shared_seconds = hammer([p.url for p in processes[:2]], "/v1/subscriptions", bearer(busy.credential),
                                        WINDOW)
        memory, memory_seconds = hammer([p.url for p in processes[2:]], "/v1/subscriptions",
                                        bearer(busy.credential), WINDOW)
        metrics = requests.get(processes[0].url + "/metrics", timeout=30).text
    finally:
        _stop(processes)
        engine.dispose()

    for results in (shared, memory):
        for statuses in results.values():
            assert set(statuses) <= {200, 429}, statuses
            assert statuses[429] > 0, "the load did not exceed the quota: nothing measured"
    shared_by_process, memory_by_process = _admitted(shared), _admitted(memory)
    shared_total, memory_total = sum(shared_by_process.values()), sum(memory_by_process.values())
    seen = f"shared {shared_by_process} in {shared_seconds:.1f} s, memory {memory_by_process} in {memory_seconds:.1f} s"
    # one bucket: at most what refills over the window plus the burst, whichever process asks
    assert shared_total <= RATE * shared_seconds + BURST + 1, seen
    assert shared_total >= 0.75 * RATE * WINDOW, seen  # and the quota is granted, not refused wholesale
    assert all(n > 0 for n in shared_by_process.values()), seen
    # the control: a bucket per process admits about twice the quota, more than one bucket ever could
    assert memory_total > RATE * memory_seconds + BURST + 1, seen
    assert memory_total > 1.5 * shared_total, seen
    assert "tongban_rate_limit_shared 1.0" in metrics


@pytest.fixture
def two_gateways(licensed: LicenceWorld, database_url: str, tmp_path: Path) -> Any:
    engine, gw = licensed.engine, licensed.gw
    plant_case(engine, "P-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"], pii=gw.pii)
    hall = gw.clients.add("sd_hall", scopes=["consents:issue", "holders:read"])
    key_file = gw.keys.write(tmp_path / "keys.json")
    poll = 0.5
    file = gateway_file(tmp_path / "gateway.yaml", consent_revocation_poll=poll)
    processes = [GatewayProcess(name, file, database_url, key_file, tmp_path) for name in ("a", "b")]
    try:
        start_all(processes)
        yield {"a": processes[0].url, "b": processes[1].url, "hall": hall, "civil": licensed.civil, "poll": poll,
               "engine": engine}
    finally:
        _stop(processes)


def _query(world: dict[str, Any], url: str, token: str) -> requests.Response:
    return requests.post(url + "/v1/certificates/query", headers=bearer(world["civil"].credential), timeout=30,
                         json={"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
                               "purpose": {"item_code": ELDERLY_CARE, "case_no": "P-1"}, "consent_token": token})


def _refused_within(world: dict[str, Any], url: str, token: str, bound: float) -> float:
    started = time.monotonic()
    while (answer := _query(world, url, token)).status_code == 200:
        assert time.monotonic() - started < bound, f"{url} still honours a withdrawn consent after {bound} s"
        time.sleep(0.05)
    assert answer.status_code == 403 and "withdrawn" in answer.json()["detail"], answer.text
    return time.monotonic() - started


def test_a_consent_withdrawn_at_one_process_is_refused_at_the_other(two_gateways: dict[str, Any]) -> None:
    world = two_gateways
    consent = requests.post(world["a"] + "/v1/consents", headers=bearer(world["hall"].credential), timeout=30,
                            json={"holder": {"id_number": LICENSED["id"]},
                                  "client_id": world["civil"].client.client_id, "certificate_types": [LICENCE],
                                  "purpose": {"item_code": ELDERLY_CARE, "case_no": "P-1"}})
    assert consent.status_code == 201, consent.text
    token = consent.json()["token"]
    assert _query(world, world["a"], token).status_code == 200
    assert _query(world, world["b"], token).status_code == 200  # B knows nothing of A but the ledger
    withdrawn = requests.post(f"{world['a']}/v1/consents/{consent.json()['consent_id']}/withdraw", timeout=30,
                              headers=bearer(world["hall"].credential), json={"holder": {"id_number": LICENSED["id"]}})
    assert withdrawn.status_code == 200, withdrawn.text
    assert _query(world, world["a"], token).status_code == 403  # the recording process: at once
    # the other process: at its next poll of the ledger (every 0.5 s here); the bound is generous for a busy host
    _refused_within(world, world["b"], token, bound=world["poll"] + 30)

    # a client revoked in the ledger (what `tongban clients revoke` does, from a third process) stops at both
    ClientStore(world["engine"]).revoke("sd_hall")
    for url in (world["a"], world["b"]):
        started = time.monotonic()
        while requests.post(url + "/v1/holders/consents", headers=bearer(world["hall"].credential), timeout=30,
                            json={"id_number": LICENSED["id"]}).status_code != 401:
            assert time.monotonic() - started < CACHE_SECONDS + 30, f"{url} still accepts a revoked client"
            time.sleep(0.05)
