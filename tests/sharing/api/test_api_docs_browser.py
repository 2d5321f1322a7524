"""/docs and /redoc in a real browser, on a machine that reaches no CDN (a government intranet): every request the
pages make goes to the gateway itself, and both render the API (the HTML alone cannot show that: ReDoc's script
asks for its logo from a CDN once it runs)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from browser_testlib import CHROMIUM, NO_CHROMIUM, WAIT_MS, artefact_dir, launch_chromium
from gateway_testlib import LicenceWorld, ServerThread

from gateway.sharing.api import create_app

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]


@pytest.fixture
def gateway_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from gateway_testlib import licence_world

    world: LicenceWorld = licence_world(sqlite_url, monkeypatch)
    running = ServerThread(create_app(world.gw, webhook_interval=0)).start()
    yield running.url
    running.stop()
    world.stop()


@pytest.mark.parametrize(("page_path", "rendered"), [("/docs", ".opblock-summary-path"),
                                                     ("/redoc", "[data-section-id^='tag/certificates']")])
def test_the_api_docs_render_without_leaving_the_gateway(gateway_url: str, page_path: str, rendered: str) -> None:
    requested: list[str] = []
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("request", lambda request: requested.append(request.url))
        page.on("console", lambda message: requested.append(message.text) if "Content Security Policy" in
                message.text and "cdn" in message.text else None)  # blocked before any request: still a call out
        page.goto(gateway_url + page_path, wait_until="load", timeout=WAIT_MS)
        page.wait_for_selector(rendered, timeout=WAIT_MS)
        page.wait_for_load_state("networkidle", timeout=WAIT_MS)
        assert "/v1/certificates/query" in page.inner_text("body")
        page.screenshot(path=str(artefact_dir() / f"api-{page_path.strip('/')}.png"))
    elsewhere = [u for u in requested if urlsplit(u).scheme in ("http", "https")
                 and urlsplit(u).hostname != "127.0.0.1"]
    assert not elsewhere, elsewhere
