"""Helpers for gateway tests: a real uvicorn server on 127.0.0.1, a gateway runtime on a fresh ledger, cases
planted in the ledger, a webhook receiver, and the licence registry with its issuer key registered."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
import uvicorn
from http_testlib import Answer, ScriptedServer, Seen
from sqlalchemy import Engine

from gateway.crypto import GatewayKeys
from gateway.sharing.certificates import register_issuer_key
from gateway.sharing.settings import GatewayRuntime, GatewaySettings, load_gateway_settings
from gateway.store import ledger
from gateway.store.tables import cases

REPO = Path(__file__).resolve().parents[1]
CIVIL_DEPT = "11370000004390448N"
ESTATE_DEPT = "113701000042183922"
LICENCE = "11100000MB0143028R001"       # 营业执照
SOLE_TRADER = "11100000MB0143028R002"   # 个体工商户营业执照
FOOD = "11100000MB0143028R003"          # 食品经营许可证
ELDERLY_CARE = "11370000004390448N4000117008001"   # 养老机构备案 (civil)
CEMETERY = "11370000004390448N4000117009001"       # 经营性公墓建设审批 (civil)


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 (ephemeral port) in a background thread."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway server did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        sock = self.server.servers[0].sockets[0]
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def make_gateway(engine: Engine, *, settings: GatewaySettings | None = None, keys: GatewayKeys | None = None,
                 rate_limit: float | None = None, systems: Any = None) -> GatewayRuntime:
    settings = settings or load_gateway_settings(REPO / "config" / "gateway.yaml").model_copy(
        update={"webhook_allowed_hosts": ["127.0.0.1"]})  # the tests' webhook receivers listen there
    if rate_limit is not None:
        settings = settings.model_copy(update={"rate_limit": rate_limit})
    return GatewayRuntime(engine, settings, keys or GatewayKeys.generate(), systems)


def plant_case(engine: Engine, case_no: str, *, dept_code: str, item_code: str, applicant_id: str,
               applicant_name: str = "测试申请人", id_type: str = "001", deleted: bool = False,
               pii: Any = None, finished_at: datetime | None = None) -> None:
    """A case in the ledger as the sync would leave it (only what the gateway reads); ``finished_at``: finished
    then (办结), else open."""
    now = datetime.now(timezone.utc)
    number = pii.seal(applicant_id) if pii is not None else applicant_id
    data = {"case_no": case_no, "item_code": item_code, "item_name": "测试事项", "status": "accepted",
            "dept_code": dept_code, "applicant": {"type": "2", "name": applicant_name, "id_type": id_type,
                                                  "id_number": number},
            "applied_at": "2026-11-20T09:00:00+08:00", "events": []}
    if finished_at is not None:
        data.update(status="finished", result="issued", finished_at=finished_at.isoformat())
    with engine.begin() as conn:
        conn.execute(cases.insert().values(case_no=case_no, version=1, content_hash="x" * 32, data=ledger.dumps(data),
                                           origin_system="sd_civil", origin_source_id=case_no, source_updated_at=now,
                                           dept_code=dept_code, item_code=item_code, deleted=deleted, updated_at=now))


def plant_dead_letters(engine: Engine, systems: tuple[str, ...]) -> None:
    """One open record dead letter for each of ``systems`` (``<system>-1``, a raw ``{"id": 1}``), as a sync that
    rejected it leaves it."""
    from gateway.store.tables import dead_letters

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(dead_letters.insert(), [
            dict(kind="record", system=system, stream="cases", source_id=f"{system}-1", case_no=None,
                 raw=json.dumps({"id": 1}), reason="bad", issues="[]", mapping_version=None, status="open",
                 attempts=1, created_at=now, updated_at=now) for system in systems])


def register_licence_issuer(engine: Engine, licences_url: str) -> dict[str, Any]:
    key = requests.get(licences_url + "/.well-known/issuer-keys", timeout=10).json()["keys"][0]
    register_issuer_key(engine, key_id=key["kid"], issuer_code=key["issuer_code"], algorithm=key["alg"],
                        public_key=key["public_key"])
    return key


@dataclass
class WebhookReceiver:
    """Records every POST it receives (body, headers); answers ``status`` (change it to simulate failures)."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    server: ScriptedServer | None = None

    def start(self) -> WebhookReceiver:
        def answer(request: Seen) -> Answer:
            self.received.append({"body": request.body, "json": json.loads(request.body),
                                  "headers": request.headers})
            return Answer(self.status, {})

        self.server = ScriptedServer(answer).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None, "start() the receiver first"
        return f"{self.server.url}/hook"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def fetch_with_consent(url: str, gw: GatewayRuntime, client: Any, *, holder_id: str, types: list[str],
                       item_code: str, case_no: str) -> list[str]:
    """The holder's certificates of ``types`` released to ``client`` through the API (a consent the holder gave
    for the case, then ``POST /v1/certificates/query``): what a department does before it relies on them, and what
    makes their status changes its business (webhooks tell a client only of certificates it was given).
    Returns their identifiers."""
    from datetime import timedelta

    from gateway.sharing.access.tokens import ConsentClaims

    expires = int((datetime.now(timezone.utc) + timedelta(minutes=10)).timestamp())
    token = gw.consents.issue(ConsentClaims("t", gw.pii.bidx(holder_id), client.client.client_id, tuple(types),
                                            item_code, case_no, expires))
    answer = requests.post(url + "/v1/certificates/query", headers=bearer(client.credential), timeout=30, json={
        "holder": {"id_number": holder_id}, "certificate_types": types, "consent_token": token,
        "purpose": {"item_code": item_code, "case_no": case_no}})
    assert answer.status_code == 200, answer.text
    return [c["identifier"] for c in answer.json()["certificates"]]


def serve(gw: GatewayRuntime, **kwargs: Any) -> Iterator[ServerThread]:
    from gateway.sharing.api import create_app

    server = ServerThread(create_app(gw, **kwargs)).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class LicenceWorld:
    """A ledger whose gateway has harvested one business licence of ``holder`` from a live licence registry,
    and the civil affairs department's client (``civil``), which may ask for it."""

    engine: Engine
    gw: GatewayRuntime
    registry: Any
    civil: Any

    def stop(self) -> None:
        self.registry.stop()
        self.engine.dispose()


LICENSED = {"name": "济南大明科技有限公司", "idType": "001", "id": "91370100MA3C7B8X2M"}
"""The company :func:`licence_world` issues a business licence to."""
UNLICENSED = "91370100MA3C7B8Y0G"
"""A company with no certificate in the registry."""


def licence_world(database_url: str, monkeypatch: Any, holder: dict[str, str] = LICENSED) -> LicenceWorld:
    from gateway.sharing.certificates import harvest
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from sandbox.licences import start_licences

    registry = start_licences(seed=5, records=0)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_URL", registry.url)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_API_KEY", "licences-demo-key")
    requests.post(registry.admin_url + "/_sandbox/issue", json={"holder": holder}, timeout=10).raise_for_status()
    engine = make_engine(database_url)
    upgrade(engine)
    gw = make_gateway(engine)
    register_licence_issuer(engine, registry.url)
    assert harvest(gw, "sd_licences").inserted == 1
    return LicenceWorld(engine, gw, registry, gw.clients.add("sd_civil", department_code=CIVIL_DEPT))
