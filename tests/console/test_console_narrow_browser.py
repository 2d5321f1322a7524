"""The console in Debian's Chromium at a phone's width and a laptop's, over real HTTP to ``tongban console serve``:
at 390 px every table is a stack of labelled cards (the alert's message, a hand-off's state, a dead letter's rule,
a KPI's value on screen, nothing scrolled off sideways); at 1280 px the catalogue findings' "what" is not clipped
and the top navigation is one line. Screenshots are kept in the artefacts folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_testlib import CHROMIUM, NO_CHROMIUM, WAIT_MS, artefact_dir, launch_chromium
from console_testlib import PASSWORDS, BareLedger

from gateway.ops.alerts import raise_alert
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import catalogue_audit_runs, catalogue_findings, dead_letters, process_handoffs

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

FINDING = ("承诺时限 20 个工作日长于法定时限 15 个工作日: the committed time limit of 基本编码 000201001000 at "
           "level 3 is longer than the statutory limit the provincial catalogue gives for the same element")

_CELL_JS = """([table, column]) => {
  const t = document.querySelector(`[data-testid="${table}"]`);
  if (!t) return null;
  const i = [...t.querySelectorAll('thead th')].findIndex(th => th.textContent === column);
  const row = t.querySelector('tbody tr');
  if (i < 0 || !row) return null;
  row.children[i].setAttribute('data-probe', `${table}/${column}`);
  return `[data-probe="${table}/${column}"]`;
}"""
"""The first row's cell of ``column`` (found by its header, whatever the layout), marked for a locator."""

_ON_SCREEN_JS = """(el) => {
  const vw = document.documentElement.clientWidth, r = el.getBoundingClientRect(), out = [];
  if (r.width <= 0 || r.height <= 0) out.push('no box');
  if (r.left < -1 || r.right > vw + 1) out.push(`x ${Math.round(r.left)}..${Math.round(r.right)} outside 0..${vw}`);
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.display === 'none' || s.visibility === 'hidden') out.push(`hidden by ${a.tagName}`);
    if (s.overflowX !== 'visible') {
      const b = a.getBoundingClientRect();
      if (r.left < b.left - 1 || r.right > b.right + 1)
        out.push(`clipped by ${a.tagName}.${a.className} ${Math.round(b.left)}..${Math.round(b.right)}`);
    }
  }
  return {text: el.innerText.slice(0, 60), out};
}"""


def _seed(url: str) -> None:
    """An alert with a long message, hand-offs, dead letters, a catalogue audit with a finding in long prose."""
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert(), [
            dict(case_no=f"370100-2026-{i:06d}", hall_system="sd_hall", office_code="370102-窗口-03",
                 item_code="11370100MB0143028R00011137010000430126", target_system="sd_civil",
                 state="pending" if i == 0 else "deemed", window_s=600, registered_at=now - timedelta(minutes=i),
                 handed_at=now - timedelta(minutes=i), due_at=now + timedelta(minutes=10 - i),
                 decided_at=None if i == 0 else now, decided_by=None if i == 0 else "deemed", updated_at=now,
                 forwarded_version=1) for i in range(3)])
        conn.execute(dead_letters.insert(), [
            dict(kind="record", system="sd_civil", stream="cases", source_id=f"MZ-2026-{i:05d}", case_no=None,
                 raw='{"id": 1}', reason="grade: code: not a level", mapping_version=None, status="open",
                 issues='[{"field": "applicant.grade", "rule": "code_not_in_dictionary", "message": "not a level"}]',
                 attempts=1, created_at=now, updated_at=now) for i in range(2)])
        run_id = conn.execute(catalogue_audit_runs.insert().values(
            started_at=now - timedelta(minutes=2), finished_at=now - timedelta(minutes=1), entries=120, findings=2,
            new=2, still_open=0, fixed=0, duration_s=1.0)).inserted_primary_key[0]
        conn.execute(catalogue_findings.insert(), [dict(
            finding_key=f"k{i}", kind=kind, rule="promised_days", element="time_limit", catalog_code="000201001000",
            level="3", division="370100", message=FINDING, status="open", first_run=run_id, last_run=run_id,
            first_seen_at=now, last_seen_at=now) for i, kind in enumerate(("time_limit_conflict", "element_differs"))])
    raise_alert(engine, "task_failed", "tongban_push.push_sd_hall", level="error", system="sd_hall",
                message="tongban_push.push_sd_hall failed after 3 tries: HTTP 503 from the hall's gateway")
    engine.dispose()


def _log_in(page: Any, url: str) -> None:
    page.goto(url + "/console/login")
    page.fill("input[name=name]", "viewer")
    page.fill("input[name=password]", PASSWORDS["viewer"])
    page.click("button[type=submit]")
    page.wait_for_url(url + "/console/", timeout=WAIT_MS)


def _off_screen(page: Any, table: str, column: str) -> list[str]:
    selector = page.evaluate(_CELL_JS, [table, column])
    if not selector:
        return [f"no {column!r} cell in the table {table}"]
    cell = page.locator(selector)
    found = cell.evaluate(_ON_SCREEN_JS)
    problems = [f"{selector} ({found['text']!r}): {o}" for o in found["out"]]
    if not cell.is_visible():
        problems.append(f"{selector}: not visible")
    return problems


def test_at_390_px_every_table_is_labelled_cards_with_its_key_cells_on_screen(serve_console: Any,
                                                                             tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _seed(url)
    console = serve_console(BareLedger(url))
    shots = artefact_dir()
    with launch_chromium() as chromium:
        page = chromium.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page.set_default_timeout(WAIT_MS)
        _log_in(page, console.url)
        page.goto(console.url + "/console/?refresh=0")
        page.wait_for_selector("[data-testid=alerts]")
        page.screenshot(path=str(shots / "console-390-overview.png"), full_page=True)
        for section in ("systems", "alerts", "handoffs", "kpis"):
            page.locator(f"#{section}").screenshot(path=str(shots / f"console-390-{section}.png"))
        problems = []
        for table, column in (("alerts", "message"), ("handoffs", "state"), ("dead-letter-rules", "rule"),
                              ("kpis", "overall"), ("systems", "health (and why)"), ("catalogue-findings", "what")):
            problems += _off_screen(page, table, column)
        width = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if width[0] > width[1]:
            problems.append(f"the page is {width[0]} px wide in {width[1]}")
        assert not problems, "\n".join(problems)
        state = page.locator(page.evaluate(_CELL_JS, ["handoffs", "state"]))
        label = state.evaluate("el => getComputedStyle(el, '::before').content")
        assert label == '"state"', label  # each cell says which column it is
        assert state.inner_text().strip().endswith("pending")
        page.goto(console.url + "/console/dead-letters")
        page.wait_for_selector("[data-testid=dead-letter-groups]")
        page.screenshot(path=str(shots / "console-390-dead-letters.png"), full_page=True)
        problems += _off_screen(page, "dead-letter-groups", "rule")
        problems += _off_screen(page, "dead-letter-records", "reason")
        page.goto(console.url + "/console/handoffs")
        page.wait_for_selector("[data-testid=handoff-list]")
        page.screenshot(path=str(shots / "console-390-handoffs.png"), full_page=True)
        problems += _off_screen(page, "handoff-list", "state")
        assert not problems, "\n".join(problems)


def test_at_1280_px_the_findings_are_not_clipped_and_the_nav_is_one_line(serve_console: Any,
                                                                        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _seed(url)
    console = serve_console(BareLedger(url))
    with launch_chromium() as chromium:
        page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(WAIT_MS)
        _log_in(page, console.url)
        page.goto(console.url + "/console/?refresh=0")
        page.wait_for_selector("#catalogue table")
        page.locator("#catalogue").screenshot(path=str(artefact_dir() / "console-1280-catalogue.png"))
        page.locator("header").screenshot(path=str(artefact_dir() / "console-1280-header.png"))
        what = page.locator("#catalogue td").filter(has_text="承诺时限 20").first
        sizes = what.evaluate("""el => {
          const box = el.closest('.tw'), s = el.closest('section').getBoundingClientRect(),
                r = el.getBoundingClientRect();
          return {cell: [el.scrollWidth, el.clientWidth], box: box ? [box.scrollWidth, box.clientWidth] : [0, 0],
                  right: r.right, section: s.right, width: r.width};
        }""")
        assert sizes["cell"][0] <= sizes["cell"][1], sizes  # the text wraps in its cell, not cut mid-word
        assert sizes["box"][0] <= sizes["box"][1] + 1, sizes  # the table needs no sideways scroll to be read
        assert sizes["right"] <= sizes["section"] + 1 and sizes["width"] >= 250, sizes
        tops = page.evaluate("""() => [...document.querySelectorAll('header a, header button, header .who')]
                                .map(e => Math.round(e.getBoundingClientRect().top))""")
        assert max(tops) - min(tops) <= 6, tops  # one line: "Log out" not alone on a second
