"""Who gets in and what they may do: login enforced on every page and the JSON, viewers read and cannot replay,
forms carry a CSRF token, sessions are signed and expire, a removed operator is out at the next request."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.console import sessions
from gateway.console.app import create_console_app
from gateway.console.operators import OperatorBook
from gateway.contract.errors import ConfigError
from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def book(tmp_path: Path) -> OperatorBook:
    book = OperatorBook(tmp_path / "ops.json")
    book.add("admin", "admin-pass-1", "admin")
    book.add("viewer", "viewer-pass-1", "viewer")
    return book


@pytest.fixture
def client(tmp_path: Path, book: OperatorBook) -> TestClient:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    runtime = Runtime(load_systems(REPO / "config" / "systems.yaml"), engine)
    return TestClient(create_console_app(runtime, book), follow_redirects=False)


def _login(client: TestClient, name: str, password: str) -> None:
    r = client.post("/console/login", data={"name": name, "password": password, "next": "/console/dead-letters"})
    assert r.status_code == 303 and r.headers["location"] == "/console/dead-letters"


def test_every_page_wants_a_login(client: TestClient) -> None:
    for path in ("/console/", "/console/dead-letters", "/console/dead-letters/1"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")
    assert client.get("/console/api/overview").status_code == 401
    assert client.post("/console/dead-letters/replay", data={}).status_code == 401


def test_wrong_password_and_throttle(client: TestClient) -> None:
    for _ in range(5):
        r = client.post("/console/login", data={"name": "admin", "password": "wrong-password"})
        assert r.status_code == 401 and "wrong name or password" in r.text
    r = client.post("/console/login", data={"name": "admin", "password": "admin-pass-1"})
    assert r.status_code == 429  # five wrong in five minutes: even the right one waits
    assert client.post("/console/login", data={"name": "nobody", "password": "x" * 12}).status_code == 401


def test_next_cannot_leave_the_console(client: TestClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/elsewhere"):
        r = client.post("/console/login", data={"name": "viewer", "password": "viewer-pass-1", "next": target})
        assert r.headers["location"] == "/console/"


def test_viewer_reads_but_cannot_replay(client: TestClient) -> None:
    _login(client, "viewer", "viewer-pass-1")
    page = client.get("/console/")
    assert page.status_code == 200 and "Systems" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    overview = json.loads(client.get("/console/api/overview").text)
    assert {s["system"] for s in overview["systems"]} == set(load_systems(REPO / "config" / "systems.yaml").names())
    listing = client.get("/console/dead-letters")
    assert "replay-form" not in listing.text
    token = re.search(r'name="csrf" value="([^"]+)"', listing.text).group(1)
    r = client.post("/console/dead-letters/replay", data={"csrf": token})
    assert r.status_code == 403 and "may read, not replay" in r.text


def test_admin_replay_needs_the_form_token(client: TestClient) -> None:
    _login(client, "admin", "admin-pass-1")
    listing = client.get("/console/dead-letters")
    assert "replay-form" in listing.text
    assert client.post("/console/dead-letters/replay", data={"csrf": "forged"}).status_code == 403
    token = re.search(r'name="csrf" value="([^"]+)"', listing.text).group(1)
    r = client.post("/console/dead-letters/replay", data={"csrf": token, "system": "no_such"})
    assert r.status_code == 400
    r = client.post("/console/dead-letters/replay", data={"csrf": token, "system": "sd_civil"})
    assert r.status_code == 303 and "replayed=0" in r.headers["location"]


def test_removed_operator_is_out_at_once(client: TestClient, book: OperatorBook) -> None:
    _login(client, "viewer", "viewer-pass-1")
    assert client.get("/console/").status_code == 200
    book.remove("viewer")
    assert client.get("/console/").status_code == 303


def test_sessions_are_signed_and_expire() -> None:
    secret = b"k" * 32
    cookie = sessions.issue(secret, "ops.zhang", "admin", now=1_000)
    assert sessions.read(secret, cookie, now=1_001) == sessions.Session("ops.zhang", "admin",
                                                                        1_000 + sessions.SESSION_SECONDS)
    assert sessions.read(secret, cookie, now=1_000 + sessions.SESSION_SECONDS + 1) is None
    assert sessions.read(secret, cookie.replace("admin", "viewer"), now=1_001) is None  # tampered
    assert sessions.read(b"other" * 8, cookie, now=1_001) is None
    for junk in (None, "", "a.b", "....", "x.y.z.w"):
        assert sessions.read(secret, junk) is None


def test_operators_file(tmp_path: Path) -> None:
    path = tmp_path / "ops.json"
    book = OperatorBook(path)
    with pytest.raises(ConfigError, match="add one with"):
        _ = book.secret
    with pytest.raises(ConfigError, match="shorter than 8"):
        book.add("zhang", "short", "admin")
    with pytest.raises(ConfigError, match="not one of"):
        book.add("zhang", "long-enough", "root")
    book.add("zhang", "long-enough", "viewer")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert "long-enough" not in path.read_text()
    again = OperatorBook(path)
    assert again.verify("zhang", "long-enough").role == "viewer"
    assert again.verify("zhang", "wrong-one") is None and again.verify("li", "long-enough") is None
    path.write_text("[]")
    with pytest.raises(ConfigError):
        OperatorBook(path)


def test_kpi_route(client: TestClient) -> None:
    assert client.get("/console/api/kpi").status_code == 401
    _login(client, "viewer", "viewer-pass-1")
    body = client.get("/console/api/kpi", params={"by": "month"}).json()
    assert body == {"rows": []}  # an empty ledger: no groups, not an error
    assert client.get("/console/api/kpi", params={"by": "street"}).status_code == 400
    assert client.get("/console/api/kpi", params={"period": "2026-13"}).status_code == 400
    assert client.get("/console/api/kpi", params={"compare": "previous"}).status_code == 400
    compared = client.get("/console/api/kpi", params={"period": "2026-11", "compare": "year"}).json()
    assert compared["compared_with"] == "2025-11"
