"""The company-opening world of the 一件事 tests: the market bureau (approval system + licence registry), the seal and
tax back offices on 127.0.0.1, a systems file for them, a ledger with keys, and the real gateway API under uvicorn
which the seal and tax systems call for the licence. Used by tests/process and tests/dags alike."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from gateway_testlib import REPO, ServerThread, make_gateway, register_licence_issuer

from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.process.bundle_spec import BundleCatalogue
from gateway.process.bundles import BundleConsents, BundleReport, apply_bundle, bundle_detail, scan_bundles
from gateway.sharing.certificates import harvest
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.sync.engine import sync_system
from gateway.sync.push import push

SYSTEMS = ("sd_market", "jn_seal", "jn_tax")
SANDBOX = {"sd_market": "market", "jn_seal": "seal", "jn_tax": "tax"}
SEAL_DEPT, TAX_DEPT = "11370100004300853E", "11370100MB1702531G"
CATALOGUE = BundleCatalogue.load(REPO / "config" / "bundles.yaml")
SPEC = CATALOGUE.get("KBQY")
MATERIALS = {"id_proof": "法定代表人身份证 正反面", "address_proof": "房屋租赁合同 泉城路1号", "articles": "公司章程 全文",
             "appointment": "执行董事任职文件"}


def application(reference: str = "HALL-2026-000001", *, consent: bool = True, **form: Any) -> dict[str, Any]:
    """A complete 开办企业 application: one form, each material once."""
    return {"reference": reference, "channel": "online", "form": {
        "company_name": "济南泉城数智科技有限公司", "name_reservation_no": "JNMC2026120300017",
        "address": "济南市历下区泉城路1号", "division": "370102", "registered_capital": 100,
        "business_scope": "软件开发；信息技术咨询服务", "legal_rep_name": "王秀英", "legal_rep_id": "370102198506011232",
        "phone": "13805310001", "seal_kinds": ["公章", "财务专用章", "发票专用章"], "accounting_system": "小企业会计准则",
        "finance_officer": "李娜", "share_licence": consent, **form},
        "materials": [{"code": code, "content_base64": base64.b64encode(text.encode()).decode(),
                       "media_type": "application/pdf"} for code, text in MATERIALS.items()]}


@dataclass
class CompanyWorld:
    sandbox: Any
    systems_path: Path
    database_url: str
    runtime: Runtime
    gw: Any
    server: ServerThread
    hall_credential: str
    env: dict[str, str]

    def admin(self, system: str, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, self.sandbox.admin_urls[SANDBOX.get(system, system)] + path, timeout=60,
                                    **kwargs)
        response.raise_for_status()
        return response.json()

    # -- the steps the DAGs run ---------------------------------------------------------------------------------
    def apply(self, app: dict[str, Any]) -> Any:
        return apply_bundle(self.runtime.engine, SPEC, app, systems=self.runtime.systems, pii=self.runtime.pii,
                            consents=BundleConsents.from_gateway(self.gw))

    def scan(self) -> BundleReport:
        return scan_bundles(self.runtime.engine, CATALOGUE, systems=self.runtime.systems, pii=self.runtime.pii,
                            consents=BundleConsents.from_gateway(self.gw))

    def push(self) -> None:
        report = push(self.runtime)
        assert report.ok, report.as_dict()

    def sync(self, *names: str) -> None:
        for name in names or SYSTEMS:
            sync_system(self.runtime, name)

    def harvest(self) -> int:
        return harvest(self.gw, "sd_licences").inserted  # type: ignore[no-any-return]

    def detail(self, bundle_no: str) -> dict[str, Any]:
        found = bundle_detail(self.runtime.engine, bundle_no)
        assert found is not None
        return found

    def part(self, bundle_no: str, part: str) -> dict[str, Any]:
        return next(p for p in self.detail(bundle_no)["parts"] if p["part"] == part)

    def checked(self, system: str, case_no: str) -> dict[str, Any]:
        """The part once its system's licence check through the gateway is done (waits, generously bounded)."""
        return self.admin(system, "POST", "/_sandbox/wait", json={"case_no": case_no, "timeout": 60})  # type: ignore[no-any-return]

    def restart(self) -> None:
        """A new runtime on the same ledger and files: a restarted scheduler or worker."""
        self.runtime.close()
        self.runtime = Runtime(load_systems(self.systems_path), make_engine(self.database_url), pii=self.runtime.pii)

    def stop(self) -> None:
        self.server.stop()
        self.runtime.close()
        self.sandbox.stop()


def company_world(database_url: str, tmp_path: Path, monkeypatch: Any) -> CompanyWorld:
    from gateway.sharing.api import create_app
    from sandbox.server import start_all

    sandbox = start_all(seed=11, records={"market": 3, "licences": 0},
                        systems=("market", "licences", "seal", "tax"))
    keys = GatewayKeys.generate()
    key_file = tmp_path / "keys.json"
    keys.write(key_file)
    env = {"TONGBAN_SD_MARKET_URL": sandbox.urls["market"], "TONGBAN_SD_MARKET_USERNAME": "tongban",
           "TONGBAN_SD_MARKET_PASSWORD": "market-demo-secret", "TONGBAN_JN_SEAL_URL": sandbox.urls["seal"],
           "TONGBAN_JN_SEAL_TOKEN": "seal-demo-token", "TONGBAN_JN_TAX_URL": sandbox.urls["tax"],
           "TONGBAN_JN_TAX_TOKEN": "tax-demo-token", "TONGBAN_SD_LICENCES_URL": sandbox.urls["licences"],
           "TONGBAN_SD_LICENCES_API_KEY": "licences-demo-key", "TONGBAN_KEY_FILE": str(key_file),
           "TONGBAN_BUNDLES": str(REPO / "config" / "bundles.yaml")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    data = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
    data["systems"] = {k: v for k, v in data["systems"].items() if k in SYSTEMS}
    for entry in data["systems"].values():
        entry["connector_config"] = str(REPO / "config" / entry["connector_config"])
        entry["mapping"] = str((REPO / "config" / entry["mapping"]).resolve())
    systems_path = tmp_path / "systems.yaml"
    systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    engine = make_engine(database_url)
    upgrade(engine)
    runtime = Runtime(load_systems(systems_path), engine, pii=PiiCodec(keys))
    gw = make_gateway(engine, keys=keys, systems=runtime.systems)  # as `tongban serve` loads them
    register_licence_issuer(engine, sandbox.urls["licences"])
    server = ServerThread(create_app(gw)).start()
    for system, dept in (("jn_seal", SEAL_DEPT), ("jn_tax", TAX_DEPT)):
        credential = gw.clients.add(system, department_code=dept).credential
        requests.post(sandbox.admin_urls[SANDBOX[system]] + "/_sandbox/gateway",
                      json={"url": server.url, "credential": credential}, timeout=30).raise_for_status()
    hall = gw.clients.add("sd_hall", scopes=["holders:read", "consents:issue", "bundles:apply"]).credential
    return CompanyWorld(sandbox, systems_path, database_url, runtime, gw, server, hall, env)


def wait_until(what: str, check: Any, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (a generous bound: the machine is shared)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CompanyWorld]:
    """The company world on a fresh ledger of each backend (a fixture: tests/process and tests/sharing/api import it
    in their conftest), stopped after the test."""
    made = company_world(database_url, tmp_path, monkeypatch)
    yield made
    made.stop()
