"""The ops console in a real browser (Debian's Chromium driven by Playwright), over a real ledger synced from the
sandbox: login enforced, the numbers on the page are the ledger's, a planted task failure shows first among 100
red deadlines, dead letters drill down to one record with personal data masked, and an admin's replay after a
mapping fix empties them. Screenshots are kept in the artefacts folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from browser_testlib import CHROMIUM, NO_CHROMIUM, WAIT_MS, artefact_dir, launch_chromium
from console_testlib import PASSWORDS

from gateway.citizen.evaluations import evaluation_summary
from gateway.ops.alerts import AlertSpec, raise_alert, sync_alerts
from gateway.ops.kpi import refresh_facts
from gateway.store.queries import live_case_count, open_dead_letter_total
from gateway.sync.engine import sync_system

REPO = Path(__file__).resolve().parents[2]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]
_WAIT_MS = WAIT_MS


@pytest.fixture
def browser() -> Any:
    with launch_chromium() as chromium:
        yield chromium


def _log_in(page: Any, url: str, name: str) -> None:
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(url, timeout=_WAIT_MS)


def test_console_in_a_browser(make_world: Any, serve_console: Any, browser: Any, tmp_path: Path) -> None:
    mapping_path = tmp_path / "sd_civil.yaml"
    good = (REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    broken = yaml.safe_load(good)
    broken["fields"]["case_no"] = {"path": "noSuchField", "required": True}
    mapping_path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    world = make_world(civil=25, estate=30, mappings={"sd_civil": mapping_path})
    runtime = world.runtime
    sync_system(runtime, "jn_estate")
    sync_system(runtime, "sd_civil")  # every record rejected: 25 dead letters
    sync_alerts(runtime.engine, "deadline", [AlertSpec(key=f"CASE-{n:03d}", level="red", system="jn_estate",
                                                       case_no=f"CASE-{n:03d}",
                                                       message=f"case CASE-{n:03d} past its time limit")
                                             for n in range(100)])
    raise_alert(runtime.engine, "task_failed", "tongban_push.push_sd_hall", level="error", system=None,
                message="tongban_push.push_sd_hall failed after 3 tries: HTTP 503")
    with runtime.engine.connect() as conn:
        cases, dead = live_case_count(conn), open_dead_letter_total(conn)
    assert cases == 30 and dead == 25
    assert refresh_facts(runtime.engine).as_dict()["read"] == 30  # the KPI facts the nightly DAG keeps
    console = serve_console(world)
    shots = artefact_dir()
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page.set_default_timeout(_WAIT_MS)

    # login is enforced: the overview sends a stranger to the login form, a wrong password stays there
    page.goto(console.url + "/console/")
    assert "/console/login" in page.url
    page.fill("input[name=name]", "viewer")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "wrong name or password" in page.inner_text("[data-testid=login-error]")
    _log_in(page, console.url + "/console/", "viewer")

    # the numbers are the ledger's
    assert page.inner_text("[data-testid=card-errors] .v") == "2"  # the task failure and sd_civil's degraded sync
    assert page.inner_text("[data-testid=card-red-time-limits] .v") == "100"
    assert page.inner_text("[data-testid=card-dead-letters] .v") == "25"
    systems = page.locator("[data-testid=systems] tbody tr")
    rows = {r.split("\t")[0].split("\n")[0]: r for r in systems.all_inner_texts()}
    assert set(rows) == {"jn_estate", "sd_civil", "sd_hall"}  # the hall never synced: listed, "never"
    assert "never" in rows["sd_hall"]
    assert "\t30\t" in rows["jn_estate"] and "\t25\t" in rows["sd_civil"]  # read; sd_civil rejected them all
    assert "100.0%" in rows["sd_civil"]
    first_alert = page.locator("[data-testid=alerts] tbody tr").first.inner_text()
    assert "task_failed" in first_alert and "HTTP 503" in first_alert  # first, above 100 red deadlines
    assert "100" in page.inner_text("[data-testid=deadlines]")
    assert page.locator("[data-testid=chart-records] rect").count() >= 2
    assert "办件量 30 of 30 case rows" in page.inner_text("#kpis")  # the KPI panel reads the refreshed facts
    kpi_rows = page.locator("[data-testid=kpis] tbody tr").all_inner_texts()
    assert any(r.startswith("即办件比例") for r in kpi_rows)
    coverage = next(r for r in kpi_rows if r.startswith("评价率"))  # the 好差评 KPIs read their own figures
    assert coverage.split("\t")[2] == "0.00%", coverage  # none of the finished cases rated yet: 0%, not "—"
    assert "no audit has run" in page.inner_text("#catalogue")
    for panel in ("#handoffs", "#evaluations", "#workorders"):  # present, and honest about an empty ledger
        assert page.locator(panel).count() == 1
    finished = evaluation_summary(runtime.engine)["cases"]
    assert f"0 of {finished} finished cases" in page.inner_text("[data-testid=evaluations]")
    page.screenshot(path=str(shots / "console-overview.png"), full_page=True)

    # dead letters: grouped, one record in full with the ID number masked; a viewer has no replay button
    page.click("text=Dead letters")
    page.wait_for_selector("[data-testid=dead-letter-groups]")
    group = page.locator("[data-testid=dead-letter-groups] tbody tr").first.inner_text()
    assert "sd_civil" in group and "case_no" in group and "\t25\t" in group
    assert page.locator("[data-testid=replay-form]").count() == 0
    page.locator('[data-testid=dead-letter-groups] tbody tr a[href^="/console/dead-letters/"]').first.click()
    page.wait_for_selector("[data-testid=raw]")
    raw = page.inner_text("[data-testid=raw]")
    source = world.source_records("sd_civil")
    assert not any(r["applicant"]["certNo"] in raw for r in source.values())  # no ID number in clear
    assert "*" in raw
    page.screenshot(path=str(shots / "console-dead-letter.png"), full_page=True)
    page.click("text=Log out")
    page.wait_for_url("**/console/login", timeout=_WAIT_MS)
    page.goto(console.url + "/console/")
    assert "/console/login" in page.url  # logged out means out

    # an admin fixes the mapping and replays: the dead letters enter the ledger
    mapping_path.write_text(good, encoding="utf-8")
    page.goto(console.url + "/console/dead-letters")
    _log_in(page, console.url + "/console/dead-letters", "admin")
    page.select_option("[data-testid=replay-form] select", "sd_civil")
    page.click("[data-testid=replay-form] button")
    page.wait_for_selector("[data-testid=message]")
    assert ("replayed 25 dead letters (systems sd_civil); now in the ledger 25, rejected again 0; 0 record dead "
            "letters of sd_civil still open") in page.inner_text("[data-testid=message]")
    with runtime.engine.connect() as conn:
        assert live_case_count(conn) == 55 and open_dead_letter_total(conn) == 0
    page.goto(console.url + "/console/")
    assert page.inner_text("[data-testid=card-dead-letters] .v") == "0"
    page.screenshot(path=str(shots / "console-after-replay.png"), full_page=True)
