"""The console in Debian's Chromium, over real HTTP to ``tongban console serve``: at laptop widths every section
holds its own content (the Systems table's reason a system is red, the reconciliation and certificate tables, the
charts), measured in the page; and an operator with a Chinese name logs in, works in two tabs and logs out of the
older one. Screenshots are kept in the artefacts folder."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_testlib import CHROMIUM, NO_CHROMIUM, WAIT_MS, artefact_dir, launch_chromium
from console_testlib import PASSWORDS, REPO, BareLedger

from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import api_clients, audit_log, outbox, reconciliations, runs

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

ERROR = ("connection to the department system timed out after 30 s: HTTPSConnectionPool(host='civil.example.gov.cn', "
         "port=443): Max retries exceeded with url: /api/v2/cases?updatedSince=2026-12-05T10:00:00+08:00")
CERTIFICATE = "1.2.156.3005.2.11100000MB0143028R001.11370100004301265T.00000013.001.N"

_OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth, out = [];
  for (const section of document.querySelectorAll('main section')) {
    const s = section.getBoundingClientRect();
    const name = section.id || (section.querySelector('h2') || {}).textContent || '?';
    if (s.right > vw + 1) out.push(`section ${name} right=${Math.round(s.right)} > viewport ${vw}`);
    for (const el of section.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > s.right + 1 || r.left < s.left - 1))
        out.push(`${name}: ${el.tagName}.${el.className.baseVal ?? el.className}[${el.dataset.testid || ''}] ` +
                 `${Math.round(r.left)}..${Math.round(r.right)} outside ${Math.round(s.left)}..${Math.round(s.right)}`);
    }
    for (const box of section.querySelectorAll('.tw'))
      if (box.scrollWidth > box.clientWidth + 1)
        out.push(`${name}: a table needs ${box.scrollWidth} px in ${box.clientWidth}`);
  }
  return {vw, scrollWidth: document.documentElement.scrollWidth, out: out.slice(0, 20)};
}"""


def _seed(url: str) -> None:
    """A ledger that fills the wide tables: a red system with a long error, reconciliations of six systems, pushes
    waiting, certificate uses with long certificate numbers by a named department and an unnamed caller."""
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(runs.insert(), [
            dict(system=system, kind="sync", status=status, started_at=now - timedelta(minutes=m),
                 finished_at=now - timedelta(minutes=m - 1), read=1200, inserted=800, updated=300, unchanged=50,
                 rejected=50, deleted=0, error=ERROR if status == "failed" else None)
            for system, status, m in (("sd_civil", "succeeded", 90), ("sd_civil", "failed", 20),
                                      ("jn_estate", "succeeded", 10), ("sd_hall", "succeeded", 8))])
        conn.execute(reconciliations.insert(), [
            dict(system=system, day="2026-12-05", checked_at=now, source_count=12345, ledger_count=12345,
                 hall_expected=12000, hall_count=11990, matched=12340, missing_in_ledger=5, divergent=0,
                 extra_in_ledger=0, rejected=0, unrecorded_rejections=0, missing_in_hall=10, stale_in_hall=0,
                 source_hash="0" * 32, ledger_hash="0" * 32, problems="[]")
            for system in ("jn_estate", "jn_social", "jn_welfare", "sd_civil", "sd_hall", "sd_market")])
        conn.execute(outbox.insert(), [
            dict(case_no=f"CASE-{i}", version=1, target_system="sd_hall", operation="upsert", status="pending",
                 attempts=1, next_attempt_at=now, created_at=now - timedelta(minutes=i)) for i in range(3)])
        conn.execute(api_clients.insert().values(
            client_id="7d327db35330", name="济南市不动产登记中心（市场监管窗口）", department_code="370100-BDC",
            scopes="[]", secret_salt="00", secret_hash="00", created_at=now))
        conn.execute(audit_log.insert(), [
            dict(seq=i + 1, at=now - timedelta(minutes=30 - i), action=("release", "consent", "access-log")[i % 3],
                 outcome="released", client_id=("7d327db35330", "3ef2e4f16671", "tongban.bundle")[i % 3],
                 certificate=CERTIFICATE, item_code="11370100MB0143028R00011137010000430126", detail=None,
                 prev_hash=hashlib.sha256(b"%d" % i).hexdigest(), hash=hashlib.sha256(b"x%d" % i).hexdigest())
            for i in range(15)])
    engine.dispose()


def _log_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(url + "/console/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/console/", timeout=WAIT_MS)


def test_every_section_holds_its_content_at_laptop_widths(serve_console: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _seed(url)
    console = serve_console(BareLedger(url))
    shots = artefact_dir()
    with launch_chromium() as chromium:
        page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(WAIT_MS)
        _log_in(page, console.url, "viewer", PASSWORDS["viewer"])
        found = {}
        for width in (1920, 1280, 1024, 800):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(console.url + "/console/?refresh=0")
            page.wait_for_selector("[data-testid=systems]")
            page.screenshot(path=str(shots / f"console-layout-{width}.png"), full_page=True)
            found[width] = page.evaluate(_OVERFLOW_JS)
        # at 1280 and 1024 px every table fits its section; at 800 px a wide table may scroll in its own box,
        # but the charts, the sections and the page fit the window
        problems = [f"{w} px: {o}" for w, f in found.items() for o in f["out"]
                    if w >= 1024 or o.startswith(("section ", "records:", "lag:"))]
        problems += [f"{w} px: the page is {f['scrollWidth']} px wide" for w, f in found.items()
                     if f["scrollWidth"] > f["vw"]]
        assert not problems, "\n".join(problems)
        for width in (1280, 1024):  # the reason sd_civil is red: under its pill, inside the Systems section
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(console.url + "/console/?refresh=0")
            why = page.locator("[data-testid=why-sd_civil]")
            assert "timed out after 30 s" in why.inner_text()
            box, section = why.bounding_box(), page.locator("#systems").bounding_box()
            assert box["x"] + box["width"] <= section["x"] + section["width"] + 1, (width, box, section)
            assert box["x"] + box["width"] <= width, (width, box)
        page.locator("#outbox").screenshot(path=str(shots / "console-layout-1024-outbox.png"))
        page.locator("#certificates").screenshot(path=str(shots / "console-layout-1024-certificates.png"))
        page.locator("#systems").screenshot(path=str(shots / "console-layout-1024-systems.png"))
        clients = page.locator("[data-testid=certificate-clients]").inner_text()
        assert "济南市不动产登记中心（市场监管窗口） · 370100-BDC" in clients and "tongban.bundle" in clients


def test_a_chinese_name_in_two_tabs_and_logging_out_of_the_older(serve_console: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(make_engine(url))
    console = serve_console(BareLedger(url))
    out = subprocess.run([sys.executable, "-m", "gateway", "console", "operators", "add", "张三", "--role", "admin",
                          "--password-stdin", "--operators", str(tmp_path / "operators.json")],
                         input="zhangsan-pass-1\n", capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    with launch_chromium() as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(WAIT_MS)
        first = context.new_page()
        _log_in(first, console.url, "张三", "zhangsan-pass-1")
        assert "张三 (admin)" in first.inner_text("header")
        first.goto(console.url + "/console/dead-letters")
        second = context.new_page()  # another tab logs in again: a new cookie for both
        _log_in(second, console.url, "张三", "zhangsan-pass-1")
        first.click("[data-testid=replay-form] button")  # the older tab's form still works
        first.wait_for_selector("[data-testid=message]")
        assert "dead letters still open" in first.inner_text("[data-testid=message]")
        first.goto(console.url + "/console/")
        third = context.new_page()  # and once more, after the first tab's page was shown
        _log_in(third, console.url, "张三", "zhangsan-pass-1")
        first.click("text=Log out")  # the older tab logs out: never "the form is stale"
        first.wait_for_url("**/console/login")
        assert "张三" not in first.inner_text("header")
        first.screenshot(path=str(artefact_dir() / "console-cjk-logged-out.png"))
        for tab in (first, second, third):  # out everywhere
            tab.goto(console.url + "/console/")
            assert "/console/login" in tab.url
