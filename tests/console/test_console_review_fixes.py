"""What an outside review of the console found, each pinned: hand-offs needing attention listed first with "N of
M" and every one reachable (an old pending one was never shown), dead letters filtered by a click on the system,
a login in another encoding refused with what to do (415) and not counted against the throttle, a replay that
says how much reached the ledger, a stale tab's form post sent to the login page, the replay address opened as a
page a 405, and the JSON in Beijing time throughout."""

from __future__ import annotations

import hashlib
import html as H
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from console_testlib import console_app, logged_in, sqlite_ledger
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gateway.ops.alerts import raise_alert
from gateway.store.tables import (
    alerts,
    audit_log,
    catalogue_audit_runs,
    catalogue_findings,
    dead_letters,
    outbox,
    process_handoffs,
    reconciliations,
    runs,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(tmp_path: Path) -> Engine:
    return sqlite_ledger(tmp_path)


def _app(tmp_path: Path, engine: Engine) -> TestClient:
    return console_app(tmp_path, engine)


def _client(tmp_path: Path, engine: Engine, who: str = "admin") -> TestClient:
    return logged_in(tmp_path, engine, who)


def _handoff(case_no: str, state: str, registered: datetime, *, due: datetime | None = None) -> dict[str, Any]:
    return dict(case_no=case_no, hall_system="sd_hall", target_system="sd_civil", state=state, window_s=600,
                registered_at=registered, handed_at=registered if due else None, due_at=due,
                decided_at=None if state in ("pending", "awaiting_delivery") else registered,
                updated_at=registered, forwarded_version=1)


def _dead_letter(system: str, source_id: str, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return dict(kind="record", system=system, stream="cases", source_id=source_id, case_no=None,
                raw=json.dumps({"id": source_id}), reason=f"{source_id}: grade: code: not a level",
                issues=json.dumps([{"field": "grade", "rule": "code", "message": "not a level"}]),
                mapping_version=None, status="open", attempts=1, created_at=now, updated_at=now, **extra)


def _csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/console/dead-letters").text).group(1)  # type: ignore[union-attr]


def _flash(page: str) -> str:
    found = re.search(r'data-testid="message">([^<]*)<', page)
    assert found, page[:2000]
    return H.unescape(found.group(1))


# -- 3. hand-offs needing attention first, every one reachable ------------------------------------------------


def test_an_old_pending_handoff_is_listed_first_and_every_handoff_is_reachable(tmp_path: Path,
                                                                               ledger: Engine) -> None:
    now = datetime.now(UTC)
    rows = [_handoff("OLD-PENDING", "pending", now - timedelta(hours=6), due=now + timedelta(minutes=3)),
            _handoff("OLD-UNDELIVERED", "awaiting_delivery", now - timedelta(hours=5))]
    rows += [_handoff(f"NEW-{i:02d}", "deemed" if i % 2 else "accepted", now - timedelta(minutes=i)) for i in range(12)]
    with ledger.begin() as conn:
        conn.execute(process_handoffs.insert(), rows)
    client = _client(tmp_path, ledger, "admin")
    view = client.get("/console/api/overview").json()["handoffs"]
    listed = [h["case_no"] for h in view["handoffs"]]
    assert listed[:2] == ["OLD-PENDING", "OLD-UNDELIVERED"], listed  # attention first, the running window first
    assert listed[2:] == [f"NEW-{i:02d}" for i in range(10)]  # then the newest others
    assert view["total"] == 14 and view["attention"] == 2
    page = client.get("/console/").text
    shown = H.unescape(re.search(r'data-testid="handoffs-shown">(.*?)</p>', page).group(1))  # type: ignore[union-attr]
    assert shown.startswith("12 of 14 shown") and "all 14" in shown, shown
    everything = client.get("/console/handoffs")
    assert everything.status_code == 200
    assert all(f">{case}<" in everything.text for case in ["OLD-PENDING", "OLD-UNDELIVERED"]
               + [f"NEW-{i:02d}" for i in range(12)])
    pending = client.get("/console/handoffs?state=pending").text
    listing = pending[pending.index('data-testid="handoff-list"'):]
    assert ">OLD-PENDING<" in listing and "NEW-" not in listing and "OLD-UNDELIVERED" not in listing
    assert 'href="/console/handoffs?state=deemed"' in pending  # each state a filter
    assert client.get("/console/handoffs?offset=-1").status_code == 422


def test_the_handoff_list_pages_through_all_of_them(tmp_path: Path, ledger: Engine) -> None:
    now = datetime.now(UTC)
    with ledger.begin() as conn:
        conn.execute(process_handoffs.insert(), [_handoff(f"C-{i:03d}", "deemed", now - timedelta(seconds=i))
                                                 for i in range(230)])
    client = _client(tmp_path, ledger, "viewer")
    seen: list[str] = []
    url = "/console/handoffs?state=deemed"
    while url:
        page = client.get(url).text
        seen += re.findall(r">(C-\d{3})<", page[page.index('data-testid="handoff-list"'):])
        found = re.search(r'href="([^"]+)" data-testid="next-page"', page)
        url = H.unescape(found.group(1)) if found else ""
        assert not found or "state=deemed" in url
    assert seen == [f"C-{i:03d}" for i in range(230)]  # newest first, each once


# -- 4. dead letters filtered by a click ---------------------------------------------------------------------


def test_the_system_names_link_to_their_dead_letters(tmp_path: Path, ledger: Engine) -> None:
    with ledger.begin() as conn:
        conn.execute(dead_letters.insert(), [_dead_letter("sd_civil", "C-1"), _dead_letter("jn_estate", "E-1"),
                                             _dead_letter("evaluator", "R-1")])
    client = _client(tmp_path, ledger, "viewer")
    for path, table in (("/console/dead-letters", "dead-letter-groups"), ("/console/", "dead-letter-rules")):
        page = client.get(path).text
        groups = page[page.index(f'data-testid="{table}"'):].split("</table>")[0]
        links = {H.unescape(h) for h in re.findall(r'href="(/console/dead-letters\?system=[^"]+)"', groups)}
        assert links == {f"/console/dead-letters?system={s}" for s in ("sd_civil", "jn_estate", "evaluator")}, path
    filtered = client.get("/console/dead-letters?system=jn_estate").text
    assert "E-1" in filtered and "C-1" not in filtered and "R-1" not in filtered


# -- 5. a login in another encoding ---------------------------------------------------------------------------


def test_a_login_not_urlencoded_is_a_415_and_not_counted(tmp_path: Path, ledger: Engine) -> None:
    client = _app(tmp_path, ledger)
    for _ in range(6):  # more than the five wrong passwords that lock a name
        multipart = client.post("/console/login", files={"name": (None, "admin"), "password": (None, "wrong-pass")})
        assert multipart.status_code == 415, multipart.status_code
        assert "application/x-www-form-urlencoded" in H.unescape(multipart.text)
        assert "wrong name or password" not in multipart.text
        as_json = client.post("/console/login", json={"name": "admin", "password": "admin-pass-1"})
        assert as_json.status_code == 415 and "application/x-www-form-urlencoded" in H.unescape(as_json.text)
    right = client.post("/console/login", data={"name": "admin", "password": "admin-pass-1"})
    assert right.status_code == 303  # nothing counted against the name or the address


# -- 6. a replay says what reached the ledger --------------------------------------------------------------------


def test_a_replay_that_recovers_nothing_says_so(tmp_path: Path, ledger: Engine) -> None:
    with ledger.begin() as conn:  # raw nothing maps: replayed, rejected again
        conn.execute(dead_letters.insert(), [_dead_letter("sd_civil", "C-1"), _dead_letter("sd_civil", "C-2")])
    client = _client(tmp_path, ledger)
    done = client.post("/console/dead-letters/replay", data={"csrf": _csrf(client), "system": "sd_civil"})
    assert done.status_code == 303
    text = _flash(client.get(done.headers["location"]).text)
    assert text.startswith("replayed 2 dead letters (systems sd_civil)"), text
    assert "now in the ledger 0, rejected again 2" in text, text
    assert text.endswith("2 record dead letters of sd_civil still open"), text


# -- 7. a stale tab, and the replay address opened as a page -----------------------------------------------------


def test_a_stale_tabs_replay_goes_to_the_login_page_saying_why(tmp_path: Path, ledger: Engine) -> None:
    client = _client(tmp_path, ledger)
    token = _csrf(client)
    assert client.post("/console/logout", data={"csrf": token}).status_code == 303
    r = client.post("/console/dead-letters/replay", data={"csrf": token, "system": "sd_civil"})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?"), r.headers
    login = client.get(r.headers["location"])
    assert login.status_code == 200
    notice = H.unescape(re.search(r'data-testid="login-notice">([^<]*)<', login.text).group(1))  # type: ignore[union-attr]
    assert "session ended" in notice and "Replay" in notice
    assert 'name="next" value="/console/dead-letters"' in login.text  # back to the dead letters after the login
    forged = client.get("/console/login?m=" + "x" * 20)  # the note is signed: a link cannot write on the page
    assert 'data-testid="login-notice"' not in forged.text
    assert client.get("/console/api/overview").status_code == 401  # the JSON keeps its 401


def test_opening_the_replay_address_is_a_405_saying_to_use_the_button(tmp_path: Path, ledger: Engine) -> None:
    client = _client(tmp_path, ledger)
    r = client.get("/console/dead-letters/replay")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    said = H.unescape(re.search(r'data-testid="error">([^<]*)<', r.text).group(1))  # type: ignore[union-attr]
    assert "Replay button" in said and "dead_letter_id" not in r.text


# -- 8. Beijing time in the JSON ----------------------------------------------------------------------------------


def _populate(engine: Engine) -> None:
    """Every kind of time the overview carries: runs, alerts (an error, a red deadline with its due time), the
    outbox, a reconciliation, certificate uses, a catalogue audit and its findings, hand-offs, dead letters."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(runs.insert(), [dict(system="sd_civil", kind="sync", status="succeeded", read=3, inserted=3,
                                          updated=0, rejected=0, started_at=now - timedelta(minutes=5),
                                          finished_at=now - timedelta(minutes=4))])
        conn.execute(alerts.insert(), [dict(kind="deadline", key="CASE-1", system="jn_estate", case_no="CASE-1",
                                            level="red", message="CASE-1 past its limit", status="open",
                                            occurrences=1, first_seen_at=now, last_seen_at=now, stage="审查",
                                            due_at=now - timedelta(hours=2))])
        conn.execute(outbox.insert(), [dict(case_no="CASE-1", version=1, target_system="sd_hall", operation="upsert",
                                            status="pending", attempts=1, next_attempt_at=now,
                                            created_at=now - timedelta(minutes=7))])
        conn.execute(reconciliations.insert(), [dict(
            system="jn_estate", day="2026-12-05", checked_at=now, source_count=1, ledger_count=1, hall_expected=1,
            hall_count=1, matched=1, missing_in_ledger=0, divergent=0, extra_in_ledger=0, rejected=0,
            unrecorded_rejections=0, missing_in_hall=0, stale_in_hall=0, source_hash="0" * 32,
            ledger_hash="0" * 32, problems="[]")])
        conn.execute(audit_log.insert(), [dict(seq=1, at=now - timedelta(minutes=3), action="release",
                                               outcome="released", client_id="c1", certificate="1.2.156", item_code="I1",
                                               prev_hash=hashlib.sha256(b"0").hexdigest(),
                                               hash=hashlib.sha256(b"1").hexdigest())])
        run_id = conn.execute(catalogue_audit_runs.insert().values(
            started_at=now - timedelta(minutes=2), finished_at=now - timedelta(minutes=1), entries=1, findings=1,
            new=1, still_open=0, fixed=0, duration_s=1.0)).inserted_primary_key[0]
        conn.execute(catalogue_findings.insert(), [dict(
            finding_key="k1", kind="time_limit_conflict", rule="promised_days", element="time_limit",
            catalog_code="000201001000", level="3", division="370100", message="承诺时限 20 > 法定时限 15",
            status="open", first_run=run_id, last_run=run_id, first_seen_at=now, last_seen_at=now)])
        conn.execute(process_handoffs.insert(), [_handoff("H-1", "pending", now, due=now + timedelta(minutes=10))])
        conn.execute(dead_letters.insert(), [_dead_letter("sd_civil", "C-1")])
    raise_alert(engine, "task_failed", "tongban_push.push_sd_hall", level="error", system=None,
                message="push failed after 3 tries")


def _instants(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _instants(v)]
    if isinstance(value, list):
        return [t for v in value for t in _instants(v)]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", value):
        return [value]
    return []


def test_every_time_in_the_overview_json_is_beijing_time(tmp_path: Path, ledger: Engine) -> None:
    _populate(ledger)
    client = _client(tmp_path, ledger, "viewer")
    r = client.get("/console/api/overview")
    assert r.status_code == 200
    assert "+00:00" not in r.text, re.findall(r'"[^"]*\+00:00"', r.text)[:10]
    view = r.json()
    instants = _instants(view)
    assert len(instants) >= 8, instants
    assert all(t.endswith("+08:00") for t in instants), [t for t in instants if not t.endswith("+08:00")]
    assert view["generated_at"].endswith("+08:00")
    assert view["deadlines"]["most_overdue"][0]["due_at"].endswith("+08:00")
    assert view["outbox"][0]["oldest_pending_at"].endswith("+08:00")
    assert view["alerts"][0]["first_seen_at"].endswith("+08:00")
    assert view["catalogue"]["run"]["finished_at"].endswith("+08:00")
    assert view["reconciliations"][0]["day"] == "2026-12-05"  # a date stays a date
    page = client.get("/console/").text  # the page still shows them as Beijing wall-clock times
    assert "+00:00" not in page


def test_the_citizen_queue_shows_in_the_outbox_apart_from_the_case_pushes(tmp_path: Path, ledger: Engine) -> None:
    """Found by review: 1,289 ratings waiting for the province showed nowhere (the outbox panel read the case outbox
    only), while the demo said 'nothing left in the outbox'."""
    from gateway.store.tables import citizen_outbox

    now = datetime.now(UTC)
    with ledger.begin() as conn:
        conn.execute(citizen_outbox.insert(), [
            dict(target="provincial_pj", key=f"rating:R{i}", operation="sbPj", payload="{}", status="pending",
                 attempts=0, next_attempt_at=now, created_at=now - timedelta(minutes=i)) for i in range(3)])
        conn.execute(outbox.insert().values(case_no="C-1", version=1, target_system="sd_hall", operation="upsert",
                                            status="pending", attempts=0, next_attempt_at=now, created_at=now))
    view = _client(tmp_path, ledger).get("/console/api/overview").json()
    queues = {t["target"]: t for t in view["outbox"]}
    assert (queues["provincial_pj"]["queue"], queues["provincial_pj"]["pending"]) == ("citizen", 3)
    assert (queues["sd_hall"]["queue"], queues["sd_hall"]["pending"]) == ("cases", 1)
    page = _client(tmp_path, ledger).get("/console/").text
    assert "provincial_pj (好差评 / 12345)" in page
    card = re.search(r'data-testid="card-outbox-pending"><div class="v">(\d+)<', page)
    assert card is not None and card.group(1) == "1"  # the case pushes waiting, as tongban status counts them


def _reconciled(system: str, day: str, checked_at: datetime, **counts: int) -> dict[str, Any]:
    row = dict(system=system, day=day, checked_at=checked_at, source_count=3, ledger_count=3, hall_expected=3,
               hall_count=3, matched=3, missing_in_ledger=0, divergent=0, extra_in_ledger=0, rejected=0,
               unrecorded_rejections=0, missing_in_hall=0, stale_in_hall=0, source_hash="0" * 32,
               ledger_hash="0" * 32, problems="[]")
    row.update(counts)
    return row


def test_the_reconciliation_panel_sums_the_newest_run_over_every_day_it_checked(tmp_path: Path, ledger: Engine
                                                                                 ) -> None:
    """Found by review: a run stores one row per day, and the panel showed the newest row only — the last of 27
    days: "3 source, 3 matched, 0 missing" for a run that found two records missing on another day."""
    now = datetime.now(UTC)
    with ledger.begin() as conn:
        conn.execute(reconciliations.insert(), [
            _reconciled("jn_social", "2026-11-01", now - timedelta(days=1), missing_in_ledger=9),  # an older run
            _reconciled("jn_social", "2026-12-03", now, missing_in_ledger=2, matched=1),
            _reconciled("jn_social", "2026-12-04", now, extra_in_ledger=1),
            _reconciled("jn_social", "2026-12-05", now),
        ])
    client = _client(tmp_path, ledger, "viewer")
    (run,) = client.get("/console/api/overview").json()["reconciliations"]
    assert (run["days"], run["first_day"], run["last_day"]) == (3, "2026-12-03", "2026-12-05")
    assert (run["source_count"], run["matched"], run["missing_in_ledger"], run["extra_in_ledger"]) == (9, 7, 2, 1)
    assert run["days_with_problems"] == 2
    page = client.get("/console/").text
    panel = page[page.index('id="reconcile"'):]
    panel = panel[:panel.index("</section>")]
    assert "3 days, 2026-12-03 … 2026-12-05" in panel and "<th class=\"n\">extra</th>" in panel and "bad days" in panel


def test_a_dead_letter_page_of_exactly_one_page_links_to_no_empty_older_page(tmp_path: Path, ledger: Engine
                                                                             ) -> None:
    """Found by review: 200 open dead letters (one full page) linked "older →" to a page saying "no open dead
    letters"."""
    from gateway.console.app import DEAD_LETTER_PAGE

    with ledger.begin() as conn:
        conn.execute(dead_letters.insert(), [_dead_letter("sd_civil", f"C-{i}") for i in range(DEAD_LETTER_PAGE)])
    client = _client(tmp_path, ledger, "viewer")
    assert "before=" not in client.get("/console/dead-letters").text
    with ledger.begin() as conn:
        conn.execute(dead_letters.insert(), [_dead_letter("sd_civil", "C-extra")])
    assert "before=" in client.get("/console/dead-letters").text


def test_the_lag_chart_shows_a_system_that_never_synced(tmp_path: Path, ledger: Engine) -> None:
    """Found by review: the chart left out systems without a successful sync — the ones most in need of a look —
    and looked all green."""
    _populate(ledger)  # only sd_civil has synced
    page = _client(tmp_path, ledger, "viewer").get("/console/").text
    chart = page[page.index('data-testid="chart-lag"'):]
    chart = chart[:chart.index("</svg>")]
    assert "sd_hall (never synced)" in chart and "sd_civil" in chart


def test_the_catalogue_panel_shows_every_kind_of_finding_and_says_it_shows_examples(tmp_path: Path, ledger: Engine
                                                                                    ) -> None:
    """Found by review: three findings per kind up to twelve filled the list with the first four kinds, under
    "Open findings (first 12)": the other kinds and their 200 findings never showed."""
    now = datetime.now(UTC)
    kinds = ["time_limit_conflict", "unclaimed", "multiply_claimed", "element_differs", "unreadable_field",
             "tongban_materials"]
    with ledger.begin() as conn:
        run_id = conn.execute(catalogue_audit_runs.insert().values(
            started_at=now, finished_at=now, entries=9, findings=24, new=24, still_open=0, fixed=0,
            duration_s=1.0)).inserted_primary_key[0]
        conn.execute(catalogue_findings.insert(), [dict(
            finding_key=f"{kind}-{i}", kind=kind, rule="r", element="e", catalog_code=f"00020100{i:04d}",
            level="3", division="370100", message=f"{kind} #{i}", status="open", first_run=run_id, last_run=run_id,
            first_seen_at=now, last_seen_at=now) for kind in kinds for i in range(4)])
    client = _client(tmp_path, ledger, "viewer")
    top = client.get("/console/api/overview").json()["catalogue"]["top"]
    assert len(top) == 12 and {f["kind"] for f in top} == set(kinds), [f["kind"] for f in top]
    page = client.get("/console/").text
    assert "Open findings: 12 examples of 24" in page and "tongban catalogue findings" in page


def test_a_forms_message_is_shown_after_the_redirect_and_not_from_an_old_link() -> None:
    """Found by review: a replay's message was a signed query parameter with no age: a reload or a bookmark showed
    "replayed 3 dead letters" again, however stale."""
    from gateway.console.sessions import FLASH_SECONDS, flash, read_flash

    secret = b"s" * 32
    sent = flash(secret, "replayed 3 dead letters", now=1_000_000)
    assert read_flash(secret, sent, now=1_000_005) == "replayed 3 dead letters"
    assert read_flash(secret, sent, now=1_000_000 + FLASH_SECONDS + 1) == ""
    assert read_flash(b"t" * 32, sent, now=1_000_005) == ""  # still signed


def test_the_overview_says_it_refreshes_and_links_to_pausing_it(tmp_path: Path, ledger: Engine) -> None:
    """Found by review: the 30 s reload closed what the operator had opened (an alert's whole text) and nothing on
    the page said how to stop it (``?refresh=0`` existed)."""
    client = _client(tmp_path, ledger, "viewer")
    page = client.get("/console/").text
    assert 'http-equiv="refresh"' in page and 'href="/console/?refresh=0"' in page
    paused = client.get("/console/?refresh=0").text
    assert 'http-equiv="refresh"' not in paused and "refresh paused" in paused and 'href="/console/"' in paused
    assert 'href="/console/?refresh=0#alerts"' in paused  # its own links keep it paused


def test_the_console_reads_the_systems_file_again_when_it_is_edited(tmp_path: Path, ledger: Engine) -> None:
    """``tongban console serve`` kept the systems it started with: a system added to the file never showed, one
    removed was still offered for replay, until the console was restarted (noted by an earlier review)."""
    import yaml

    from gateway.console.app import create_console_app
    from gateway.console.operators import OperatorBook
    from gateway.kernel.config import load_systems
    from gateway.kernel.runtime import Runtime

    repo = Path(__file__).resolve().parents[2]
    base = yaml.safe_load((repo / "config" / "systems.yaml").read_text(encoding="utf-8"))

    def write(names: list[str]) -> Path:
        systems = {}
        for name in names:
            entry = base["systems"]["sd_civil"]
            systems[name] = {**entry, "connector_config": str(repo / "config" / entry["connector_config"]),
                             "mapping": str((repo / "config" / entry["mapping"]).resolve())}
        path = tmp_path / "systems.yaml"
        path.write_text(yaml.safe_dump({"defaults": base["defaults"], "systems": systems}), encoding="utf-8")
        return path

    path = write(["civil_a"])
    book = OperatorBook(tmp_path / "ops.json")
    book.add("admin", "admin-pass-1", "admin")
    client = TestClient(create_console_app(Runtime(load_systems(path), ledger), book), follow_redirects=False)
    assert client.post("/console/login", data={"name": "admin", "password": "admin-pass-1"}).status_code == 303

    def shown() -> set[str]:
        return {s["system"] for s in client.get("/console/api/overview").json()["systems"]}

    assert shown() == {"civil_a"}
    write(["civil_a", "civil_b"])
    assert shown() == {"civil_a", "civil_b"}
    path.write_text("systems: {civil_a: [", encoding="utf-8")  # half-saved: what was read before stays
    assert shown() == {"civil_a", "civil_b"}
    write(["civil_b"])
    assert shown() == {"civil_b"}
