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
    r = client.post("/console/dead-letters/replay", data={})  # a form post: to the login page, not a bare 401
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")


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
    assert r.status_code == 303 and r.headers["location"].startswith("/console/dead-letters?system=sd_civil&m=")
    assert ("replayed 0 dead letters (systems sd_civil); now in the ledger 0, rejected again 0; 0 record dead "
            "letters of sd_civil still open" in client.get(r.headers["location"]).text)
    # the message is signed: a link cannot make the console say something it did not do
    forged = client.get("/console/dead-letters", params={"m": "cmVwbGF5ZWQgOTk5OTk.forged"})
    assert forged.status_code == 200 and 'data-testid="message"' not in forged.text


def test_a_replay_while_the_system_is_syncing_says_so(client: TestClient, tmp_path: Path) -> None:
    from gateway.store.lease import Lease

    _login(client, "admin", "admin-pass-1")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/dead-letters").text).group(1)
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with Lease(engine, "sync:sd_civil"):  # a sync of the system is running
        r = client.post("/console/dead-letters/replay", data={"csrf": token, "system": "sd_civil"})
    engine.dispose()
    assert r.status_code == 303
    assert "not replayed" in client.get(r.headers["location"]).text


def test_removed_operator_is_out_at_once(client: TestClient, book: OperatorBook) -> None:
    _login(client, "viewer", "viewer-pass-1")
    assert client.get("/console/").status_code == 200
    book.remove("viewer")
    assert client.get("/console/").status_code == 303


def test_operator_changes_made_elsewhere_reach_a_running_console(client: TestClient, book: OperatorBook) -> None:
    """``tongban console operators`` runs in another process: its own OperatorBook on the same file."""
    _login(client, "viewer", "viewer-pass-1")
    assert client.get("/console/").status_code == 200
    elsewhere = OperatorBook(book.path)
    elsewhere.add("admin", "new-admin-pass", "viewer")  # demoted, with a new password
    elsewhere.remove("viewer")
    assert client.get("/console/").status_code == 303  # the removed viewer is out
    assert client.post("/console/login", data={"name": "viewer", "password": "viewer-pass-1"}).status_code == 401
    assert client.post("/console/login", data={"name": "admin", "password": "admin-pass-1"}).status_code == 401
    _login(client, "admin", "new-admin-pass")
    assert "replay-form" not in client.get("/console/dead-letters").text  # a viewer now


def test_logging_out_ends_the_session_everywhere(client: TestClient) -> None:
    _login(client, "admin", "admin-pass-1")
    cookie = client.cookies.get(sessions.COOKIE)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/dead-letters").text).group(1)
    assert client.post("/console/logout", data={"csrf": token}).status_code == 303
    client.cookies.set(sessions.COOKIE, cookie, path="/console")  # a copy of the cookie, kept by someone
    assert client.get("/console/dead-letters").status_code == 303
    r = client.post("/console/dead-letters/replay", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?")


def test_hostile_input_is_a_clear_error_never_a_500(client: TestClient) -> None:
    _login(client, "admin", "admin-pass-1")
    for path, status in (("/console/dead-letters/2147483648", 422), ("/console/dead-letters/99999", 404),
                         ("/console/dead-letters/abc", 422), ("/console/dead-letters?system=%00", 422),
                         ("/console/nowhere", 404)):
        r = client.get(path)
        assert r.status_code == status, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html") and 'data-testid="error"' in r.text
    for query in ({"period": "0001", "compare": "previous"}, {"period": "0001-01", "compare": "year"}):
        r = client.get("/console/api/kpi", params=query)
        assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert client.post("/console/dead-letters/replay", data={"csrf": "é"}).status_code == 403
    client.cookies.clear()
    raw_cookie = f"{sessions.COOKIE}=a.b.1.2.é".encode()  # what a hostile client may send: not ASCII
    assert client.get("/console/", headers={"Cookie": raw_cookie}).status_code == 303


def test_the_cookie_is_secure_behind_a_tls_proxy(client: TestClient) -> None:
    plain = client.post("/console/login", data={"name": "viewer", "password": "viewer-pass-1"})
    assert "secure" not in plain.headers["set-cookie"].lower()
    proxied = client.post("/console/login", data={"name": "viewer", "password": "viewer-pass-1"},
                          headers={"X-Forwarded-Proto": "https"})
    assert "secure" in proxied.headers["set-cookie"].lower()


def test_guessing_many_names_from_one_address_is_throttled(client: TestClient) -> None:
    codes = [client.post("/console/login", data={"name": f"guess{n}", "password": "x" * 12}).status_code
             for n in range(22)]
    assert codes[:20] == [401] * 20 and codes[20:] == [429, 429]


def test_sessions_are_signed_and_expire() -> None:
    secret = b"k" * 32
    cookie = sessions.issue(secret, "ops.zhang", "admin", now=1_000)
    assert sessions.read(secret, cookie, now=1_001) == sessions.Session("ops.zhang", "admin", 1_000_000,
                                                                        1_000 + sessions.SESSION_SECONDS)
    assert sessions.read(secret, cookie, now=1_000 + sessions.SESSION_SECONDS + 1) is None
    assert sessions.read(secret, cookie.replace("admin", "viewer"), now=1_001) is None  # tampered
    assert sessions.read(b"other" * 8, cookie, now=1_001) is None
    for junk in (None, "", "a.b", "....", "x.y.z.w", "x.y.z.w.v", "a.b.1.2.é"):
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
    assert body == {"month_of": "applied", "rows": []}  # an empty ledger: no groups, not an error
    assert client.get("/console/api/kpi", params={"by": "street"}).status_code == 400
    assert client.get("/console/api/kpi", params={"month_of": "closed"}).status_code == 400
    assert client.get("/console/api/kpi", params={"month_of": "finished"}).json()["month_of"] == "finished"
    assert client.get("/console/api/kpi", params={"period": "2026-13"}).status_code == 400
    assert client.get("/console/api/kpi", params={"compare": "previous"}).status_code == 400
    compared = client.get("/console/api/kpi", params={"period": "2026-11", "compare": "year"}).json()
    assert compared["compared_with"] == "2025-11"
