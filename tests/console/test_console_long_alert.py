"""One alert with a 2,000-character message (a stack trace, a department system's error page) must not make the
overview's Alerts section a screen tall: the first 200 characters are shown, the rest one click away, escaped."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_testlib import CHROMIUM, NO_CHROMIUM, WAIT_MS, artefact_dir, launch_chromium
from console_testlib import PASSWORDS

from gateway.ops.alerts import raise_alert
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]
REPO = Path(__file__).resolve().parents[2]


@dataclass
class _Ledger:
    """What ``serve_console`` needs of a world: a command line and an environment, here on a bare ledger."""

    database_url: str
    env: dict[str, str] = field(default_factory=lambda: {k: v for k, v in os.environ.items()
                                                         if not k.startswith("TONGBAN_")})

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gateway", *args, "--systems", str(REPO / "config" / "systems.yaml"),
                "--database-url", self.database_url]


def test_a_long_alert_message_is_cut_with_the_rest_folded(serve_console: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    long = "部门系统返回 <b>500</b> " + "很长的原因" * 400 + "END"
    raise_alert(engine, "task_failed", "tongban_push.push_sd_hall", level="error", system="sd_hall", message=long)
    raise_alert(engine, "reconcile", "jn_estate:2026-12-03", level="warning", system="jn_estate",
                message="jn_estate 2026-12-03: 2 cases missing")
    console = serve_console(_Ledger(url))
    with launch_chromium() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page.set_default_timeout(WAIT_MS)
        page.goto(console.url + "/console/")
        page.fill("input[name=name]", "viewer")
        page.fill("input[name=password]", PASSWORDS["viewer"])
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=alerts]")
        section = page.locator("#alerts")
        height = section.bounding_box()["height"]
        section.screenshot(path=str(artefact_dir() / "console-long-alert.png"))
        first = page.locator("[data-testid=alerts] tbody tr").first
        shown = first.inner_text()
        assert "<b>500</b>" in shown and "END" not in shown  # escaped, and cut
        assert height < 400, height  # two alerts: a short section, not 1,150 px
        first.locator("details summary").click()
        assert "END" in first.inner_text()  # the rest is there, one click away
        assert page.locator("#alerts b").count() == 0  # the message's markup is text, never markup
