"""The demo's 一件事 part (issue 15): one company opening (开办企业: licence → seal, tax) applied once and finished.

What it sets up, as a district would: the certificate gateway's API (served in this process on an ephemeral port),
the seal and tax departments registered as its clients (``jn_seal``, ``jn_tax``, with their department codes) and
their back offices (sandbox ``seal``, ``tax``) told where it is, a client for the hall to read a holder's access log.
Then one application (:data:`APPLICATION`, through :func:`gateway.process.bundles.apply_bundle`, as the hall's
intake or ``tongban bundles apply`` would); the DAGs do the rest — the push delivers the licence part to the market
bureau, which issues the 营业执照 (a clerk's decision: ``/_sandbox/decide``), the sync reads it back, the
certificate DAG harvests it, ``tongban_handoff.scan_bundles`` releases seal and tax with the company's consent, the
push delivers them, both back offices fetch the licence through the gateway (audited), their clerks finish, the
syncs read them back and the scan finishes the bundle.
"""

from __future__ import annotations

import base64
import importlib.util
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

__all__ = ["APPLICATION", "CompanyOpening"]

_MATERIALS = {"id_proof": "法定代表人身份证 正反面（示例）", "address_proof": "房屋租赁合同 经十路88号（示例）",
              "articles": "公司章程（示例）", "appointment": "执行董事任职文件（示例）"}
APPLICATION: dict[str, Any] = {
    "reference": "DEMO-KBQY-0001", "channel": "online", "form": {
        "company_name": "济南趵突泉示范科技有限公司", "name_reservation_no": "JNMC2026120300099",
        "address": "济南市历下区经十路88号", "division": "370102", "registered_capital": 50,
        "business_scope": "软件开发；信息系统集成服务", "legal_rep_name": "王秀英", "legal_rep_id": "370102198506011232",
        "phone": "13805310001", "seal_kinds": ["公章", "财务专用章", "发票专用章"], "accounting_system": "小企业会计准则",
        "finance_officer": "李娜", "share_licence": True},
    "materials": [{"code": code, "content_base64": base64.b64encode(text.encode()).decode(),
                   "media_type": "application/pdf"} for code, text in _MATERIALS.items()],
}
"""A complete 开办企业 application: one form, each material once, the company's consent to the licence being
fetched for the seal and tax parts."""


class _ApiThread:
    """The gateway API under uvicorn on 127.0.0.1 (ephemeral port) in a daemon thread of the demo's process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="demo-gateway-api", daemon=True)

    def start(self) -> _ApiThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway API did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class CompanyOpening:
    admin: dict[str, str]
    """system name (sd_market, jn_seal, jn_tax) → its sandbox admin URL"""
    engine: Any
    spec: Any
    server: _ApiThread
    hall_credential: str
    bundle_no: str = ""
    checked: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def start(cls, world: Any, engine: Any, say: Any) -> CompanyOpening | None:
        """Serve the gateway, register the departments, apply once; ``None`` (and why) when the demo cannot."""
        from gateway.process.bundle_spec import BundleCatalogue

        if importlib.util.find_spec("gateway.sharing.api") is None or importlib.util.find_spec("uvicorn") is None:
            say("[yellow]一件事: the gateway API is not installed: no company opening[/]")
            return None
        from gateway.crypto.keys import GatewayKeys

        keys = GatewayKeys.from_env()
        spec = BundleCatalogue.load().get("KBQY")
        missing = sorted({p.system for p in spec.parts.values()} - set(world.wired))
        if keys is None or missing:
            say(f"[yellow]一件事: {'no gateway keys' if keys is None else f'{missing} not wired'}: no company opening[/]")
            return None
        from gateway.crypto.pii import PiiCodec
        from gateway.ops.deadlines import WorkCalendar
        from gateway.process.bundles import BundleConsents, apply_bundle
        from gateway.sharing.api import create_app
        from gateway.sharing.settings import GatewayRuntime, load_gateway_settings

        gw = GatewayRuntime(engine, load_gateway_settings(), keys, world.systems)
        server = _ApiThread(create_app(gw)).start()
        admin = {p.system: world.handle.admin_urls[world.wired[p.system]] for p in spec.parts.values()}
        try:
            for part in spec.parts.values():
                if not part.reuses:
                    continue  # only the parts whose systems fetch a certificate are the gateway's clients
                credential = gw.clients.add(part.system, department_code=part.dept_code).credential
                requests.post(f"{admin[part.system]}/_sandbox/gateway", json={"url": server.url,
                                                                              "credential": credential},
                              timeout=30).raise_for_status()
            hall = gw.clients.add("demo_hall", scopes=["holders:read"]).credential
            me = cls(admin, engine, spec, server, hall)
            result = apply_bundle(engine, spec, APPLICATION, systems=world.systems, pii=PiiCodec(keys),
                                  consents=BundleConsents.from_gateway(gw), calendar=WorkCalendar.load())
        except BaseException:
            server.stop()
            raise
        me.bundle_no = result.bundle_no
        say(f"一件事: {spec.name} applied once as {result.bundle_no} ({APPLICATION['reference']}); released "
            f"{', '.join(result.released)}; the gateway API for seal and tax at {server.url}")
        return me

    def _parts(self) -> dict[str, dict[str, Any]]:
        from gateway.process.bundles import bundle_detail

        return {p["part"]: p for p in (bundle_detail(self.engine, self.bundle_no) or {}).get("parts", [])}

    def issue_licence(self) -> None:
        """The market bureau's clerk approves the licence part: a 营业执照 is issued and filed in its registry."""
        for code, part in self.spec.parts.items():
            if part.issues_type and not part.after:
                case_no = self._parts()[code]["case_no"]
                requests.post(f"{self.admin[part.system]}/_sandbox/decide", json={"case_no": case_no,
                                                                                   "decision": "issue"},
                              timeout=30).raise_for_status()

    def finish_parts(self) -> None:
        """Seal and tax: wait for their licence check through the gateway, then their clerks finish the part."""
        parts = self._parts()
        for code, part in self.spec.parts.items():
            if not part.reuses or parts[code]["state"] == "waiting":
                continue
            case_no = parts[code]["case_no"]
            reply = requests.post(f"{self.admin[part.system]}/_sandbox/wait", json={"case_no": case_no, "timeout": 60},
                                  timeout=90)
            reply.raise_for_status()
            self.checked[code] = reply.json()
            requests.post(f"{self.admin[part.system]}/_sandbox/decide", json={"case_no": case_no,
                                                                               "decision": "finish"},
                          timeout=30).raise_for_status()

    def checks(self) -> dict[str, Any]:
        from gateway.process.bundles import bundle_detail

        detail = bundle_detail(self.engine, self.bundle_no) or {}
        parts = {p["part"]: p for p in detail.get("parts", [])}
        licence = next((p.get("certificate_no") for c, p in parts.items() if self.spec.parts[c].issues_type), None)
        out: dict[str, Any] = {
            f"一件事: {self.bundle_no} ({self.spec.code})": f"{detail.get('status')}; "
            + ", ".join(f"{c} → {p['system']} {p['state']}" for c, p in parts.items())}
        received: dict[str, int | None] = {}
        for code, part in self.spec.parts.items():
            case_no = parts[code]["case_no"] if code in parts else ""
            if part.reuses:  # the seal and tax back offices: each part with its writes and its licence checks
                rows = requests.get(f"{self.admin[part.system]}/_sandbox/cases", params={"case_no": case_no},
                                    timeout=30).json()
                received[code] = rows[0]["applied_writes"] if len(rows) == 1 else None
                self.checked[code] = rows[0] if len(rows) == 1 else {}
            else:  # the market bureau: every body received for the part's case
                rows = requests.get(f"{self.admin[part.system]}/_sandbox/received", params={"case_no": case_no},
                                    timeout=30).json()
                received[code] = sum(len(r["received"]) for r in rows)
        out["ok: 一件事: one application reached three systems once each, finished when its last part did"] = (
            detail.get("status") == "finished" and set(parts) == set(self.spec.parts)
            and all(p["state"] == "finished" for p in parts.values())
            and detail.get("finished_at") == max(p["finished_at"] for p in parts.values())
            and all(n == 1 for n in received.values())
            and len(detail.get("materials", [])) == len(self.spec.materials)
            and [e["step"] for e in detail.get("events", [])].count("bundle_finished") == 1)
        checks_made = {c: (r.get("checks") or [{}]) for c, r in self.checked.items()}
        used = self._released_to(licence) if licence else set()
        out[f"一件事: licence {licence} used by"] = ", ".join(sorted(f"{c} ({n})" for c, n in used)) or "nobody"
        out["ok: 一件事: seal and tax fetched the licence through the gateway with consent, audited"] = (
            bool(licence) and set(checks_made) == {c for c, p in self.spec.parts.items() if p.reuses}
            and all(len(v) == 1 and v[0].get("ok") and v[0].get("licence") == licence and v[0].get("audit")
                    for v in checks_made.values())
            and used == {(self.spec.parts[c].system, parts[c]["case_no"]) for c in checks_made})
        return out

    def _released_to(self, licence: str) -> set[tuple[str, str]]:
        """``(client, case)`` of every release of the company's licence in its access log (the gateway's audit,
        as the company reads it); the audit is written behind the request, so it is polled a little."""
        deadline = time.monotonic() + 10
        while True:
            reply = requests.post(f"{self.server.url}/v1/holders/access-log", json={"id_number": licence},
                                  headers={"Authorization": f"Bearer {self.hall_credential}"}, timeout=30)
            reply.raise_for_status()
            found = {(e["client_name"], e["case_no"]) for e in reply.json()["entries"] if e["outcome"] == "released"}
            if len(found) >= 2 or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def stop(self) -> None:
        self.server.stop()
