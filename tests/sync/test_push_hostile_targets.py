"""The push against targets that do not behave: a department system that cannot delete, a drain overtaken by the
next one, a refusal next to an outbound mapping miss, a hall that asks to be left alone. Real HTTP on 127.0.0.1
(the sandbox, or a :class:`ScriptedServer` playing the hall) and a real ledger."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from http_testlib import Answer, ScriptedServer, Seen, json_answer
from sqlalchemy import select, update

from gateway.kernel.config import load_systems
from gateway.ops.alerts import open_alerts
from gateway.store import ledger, outbox
from gateway.store.tables import cases, dead_letters, leases, source_records
from gateway.store.tables import outbox as outbox_table
from gateway.sync.engine import sync_system
from gateway.sync.push import push

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _rows(world, target: str | None = None) -> list[dict[str, Any]]:
    o = outbox_table.c
    query = select(outbox_table).order_by(o.id)
    if target is not None:
        query = query.where(o.target_system == target)
    with world.runtime.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _push_letters(world) -> list[dict[str, Any]]:
    with world.runtime.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(dead_letters).where(dead_letters.c.kind == "push")
                                              .order_by(dead_letters.c.id)).mappings()]


class _Hall:
    """A :class:`ScriptedServer` playing the hall: ``respond`` answers each request (changeable mid-test), every
    write is logged as ``(case_no, version)`` in arrival order."""

    def __init__(self) -> None:
        self.respond: Callable[[Seen], Answer] = lambda request: json_answer(b'{"duplicate":false}')
        self.writes: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self.server = ScriptedServer(self._answer)

    def _answer(self, request: Seen) -> Answer:
        body = json.loads(request.body) if request.body else {}
        with self._lock:
            self.writes.append((request.route.rsplit("/", 1)[1], body.get("version")))
        return self.respond(request)


@pytest.fixture
def scripted_hall(make_world, tmp_path: Path):
    """A world whose sd_hall endpoint is a scripted server (no auth, one retry, no back-off), civil cases
    synced and queued for it."""
    hall = _Hall()
    hall.server.start()
    world = make_world(civil=4, estate=0, social=0, welfare=0)
    config = yaml.safe_load((REPO / "config" / "connectors" / "sd_hall.yaml").read_text(encoding="utf-8"))
    config.pop("auth", None)
    config["retry"] = {"max_attempts": 2, "backoff_seconds": 0, "jitter": False}
    config["timeout"] = {"connect": 5, "read": 60}
    (tmp_path / "scripted_hall.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    systems = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    systems["systems"]["sd_hall"].update(connector_config=str(tmp_path / "scripted_hall.yaml"),
                                         endpoint=hall.server.url, secrets={})
    world.systems_path.write_text(yaml.safe_dump(systems, allow_unicode=True), encoding="utf-8")
    world.runtime.systems = load_systems(world.systems_path)
    sync_system(world.runtime, "sd_civil")
    assert len(_rows(world, "sd_hall")) == 4
    yield world, hall
    hall.server.stop()


# -- 1. a delete to a system whose connector cannot delete -------------------------------------------------


@pytest.fixture
def withdrawn_at_the_hall(make_world):
    """Two front-desk cases, one for sd_civil and one for jn_estate, delivered; then both withdrawn at the hall
    and a third one for jn_estate queued after the withdrawals."""
    world = make_world(civil=0, estate=0, social=0, welfare=0)
    departments = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))["systems"]
    civil_dept, estate_dept = departments["sd_civil"]["departments"][0], departments["jn_estate"]["departments"][0]
    first = world.admin("sd_hall", "POST", "/_sandbox/frontdesk", json={"count": 1, "dept_code": civil_dept})
    second = world.admin("sd_hall", "POST", "/_sandbox/frontdesk", json={"count": 1, "dept_code": estate_dept})
    sync_system(world.runtime, "sd_hall")
    delivered = push(world.runtime, targets=["jn_estate", "sd_civil"])
    assert [(t.delivered, t.error) for t in delivered.targets] == [(1, None), (1, None)]
    world.admin("sd_hall", "POST", "/_sandbox/delete",
                json={"ids": [first["created"][0]["fd_id"], second["created"][0]["fd_id"]]})
    world.admin("sd_hall", "POST", "/_sandbox/frontdesk", json={"count": 1, "dept_code": estate_dept})
    sync_system(world.runtime, "sd_hall")
    deletes = [r for r in _rows(world) if r["operation"] == "delete"]
    assert sorted(r["target_system"] for r in deletes) == ["jn_estate", "sd_civil"]
    return world, deletes


def test_a_delete_the_target_cannot_take_is_dead_lettered_and_every_other_row_and_target_goes_on(
        withdrawn_at_the_hall) -> None:
    world, deletes = withdrawn_at_the_hall
    done = subprocess.run(world.cli("push", "--json"), env=world.env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = {t["target"]: t for t in json.loads(done.stdout)["targets"]}
    assert report["jn_estate"]["dead"] == 1 and report["jn_estate"]["delivered"] == 1  # the new case went through
    assert report["sd_civil"]["dead"] == 1 and report["sd_civil"]["error"] is None
    assert all(t["pending"] == 0 for t in report.values())

    assert {r["status"] for r in _rows(world) if r["operation"] == "delete"} == {"dead"}
    letters = {letter["system"]: letter for letter in _push_letters(world)}
    assert sorted(letters) == ["jn_estate", "sd_civil"]
    for row in deletes:
        letter = letters[row["target_system"]]
        (issue,) = json.loads(letter["issues"])
        assert issue["rule"] == "push.unsupported_operation"
        assert letter["case_no"] == row["case_no"] and letter["source_id"] == f"{row['case_no']}:{row['version']}"
        for named in (row["target_system"], "delete", row["case_no"], f"version {row['version']}"):
            assert named in issue["message"]
    alerts = sorted(a["key"] for a in open_alerts(world.runtime.engine) if a["kind"] == "push_dead")
    assert alerts == ["jn_estate", "sd_civil"]


def test_a_configuration_error_on_one_target_leaves_its_rows_queued_and_drains_the_others(
        make_world, tmp_path: Path) -> None:
    """A write stream without an ``upsert`` (the target's configuration, not one row's): that target reports it,
    its rows stay pending with no attempt burned, and the next target is drained all the same."""
    world = make_world(civil=0, estate=0, social=0, welfare=0)
    systems = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    civil = yaml.safe_load(Path(systems["systems"]["sd_civil"]["connector_config"]).read_text(encoding="utf-8"))
    for stream in civil["write"].values():
        stream["delete"] = stream.pop("upsert")
    (tmp_path / "civil_delete_only.yaml").write_text(yaml.safe_dump(civil, allow_unicode=True), encoding="utf-8")
    systems["systems"]["sd_civil"]["connector_config"] = str(tmp_path / "civil_delete_only.yaml")
    world.systems_path.write_text(yaml.safe_dump(systems, allow_unicode=True), encoding="utf-8")
    world.runtime.systems = load_systems(world.systems_path)
    for system in ("sd_civil", "jn_estate"):
        dept = systems["systems"][system]["departments"][0]
        world.admin("sd_hall", "POST", "/_sandbox/frontdesk", json={"count": 1, "dept_code": dept})
    sync_system(world.runtime, "sd_hall")

    report = {t.target: t for t in push(world.runtime, targets=["sd_civil", "jn_estate"]).targets}
    assert report["sd_civil"].error and "has no `upsert` operation" in report["sd_civil"].error
    assert [(r["status"], r["attempts"]) for r in _rows(world, "sd_civil")] == [("pending", 0)]
    assert report["jn_estate"].error is None and report["jn_estate"].delivered == 1


# -- 2. a drain overtaken by the next one ------------------------------------------------------------------


def test_an_overtaken_drain_stops_and_never_sends_an_older_version_over_a_newer_one(scripted_hall) -> None:
    """Drain A's first write hangs past its lease; meanwhile the third case changes, and drain B (the lease expired)
    delivers everything. A must then send nothing more (the hall would apply its stale version 1 over B's 2) and
    mark nothing over B's statuses."""
    world, hall = scripted_hall
    engine = world.runtime.engine
    third = _rows(world, "sd_hall")[2]["case_no"]
    with engine.connect() as conn:
        third_id = conn.execute(select(source_records.c.source_id).where(
            source_records.c.system == "sd_civil", source_records.c.case_no == third)).scalar_one()
    b_report: list[Any] = []
    b_failed: list[BaseException] = []
    first = threading.Event()

    def overtaken(request: Seen) -> Answer:
        if not first.is_set():
            first.set()
            try:  # while A waits for this answer: the case changes, A's lease runs out, B drains
                world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [str(third_id)]})
                sync_system(world.runtime, "sd_civil")
                with engine.begin() as conn:
                    conn.execute(update(leases).where(leases.c.name == "push:sd_hall")
                                 .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
                b_report.append(push(world.runtime, targets=["sd_hall"]).targets[0])
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                b_failed.append(exc)
        return json_answer(b'{"duplicate":false}')

    hall.respond = overtaken
    a = push(world.runtime, targets=["sd_hall"]).targets[0]
    assert not b_failed, b_failed
    (b,) = b_report
    assert b.error is None and b.superseded == 1

    assert [v for case_no, v in hall.writes if case_no == third] == [2], hall.writes
    assert a.error and "lost the lease" in a.error
    statuses = {(r["case_no"], r["version"]): r["status"] for r in _rows(world, "sd_hall")}
    assert statuses[(third, 1)] == "superseded" and statuses[(third, 2)] == "delivered"
    assert set(statuses.values()) == {"delivered", "superseded"}


def test_a_row_is_moved_only_while_it_is_pending(scripted_hall) -> None:
    world, _ = scripted_hall
    row_id = _rows(world, "sd_hall")[0]["id"]
    with world.runtime.engine.begin() as conn:
        assert outbox.supersede(conn, [row_id]) == 1
        assert not outbox.finish(conn, row_id, "delivered", result="applied")
        assert not outbox.mark_dead(conn, row_id, reason="late", attempts=1)
        assert not outbox.schedule_retry(conn, row_id, attempts=1, error="late",
                                         next_attempt_at=datetime.now(UTC))
    assert _rows(world, "sd_hall")[0]["status"] == "superseded"


# -- 3. a refusal and an outbound mapping miss are two kinds of dead letter ----------------------------------


def test_a_refusal_and_an_outbound_code_miss_keep_their_own_field_and_rule(scripted_hall) -> None:
    world, hall = scripted_hall
    queued = [r["case_no"] for r in _rows(world, "sd_hall")]
    refused, unmappable = queued[1], queued[2]

    def answer(request: Seen) -> Answer:
        if request.route.endswith(refused):
            return Answer(400, {"Content-Type": "application/json"},
                          '{"code":"E1002","msg":"申请人证件号码校验失败","field":"applicant.id_no"}'.encode())
        return json_answer(b'{"duplicate":false}')

    hall.respond = answer
    with world.runtime.engine.begin() as conn:  # a kind of applicant the hall's outbound code table lacks
        doc = ledger.loads(conn.execute(select(cases.c.data).where(cases.c.case_no == unmappable)).scalar_one())
        doc["applicant"]["type"] = "foreign_org"
        conn.execute(update(cases).where(cases.c.case_no == unmappable).values(data=ledger.dumps(doc)))

    report = push(world.runtime, targets=["sd_hall"]).targets[0]
    assert report.dead == 2 and report.delivered == 2
    issues = {letter["case_no"]: json.loads(letter["issues"]) for letter in _push_letters(world)}
    assert [(i["field"], i["rule"]) for i in issues[refused]] == [("$", "push.rejected")]
    assert [(i["field"], i["rule"]) for i in issues[unmappable]] == [("applicant.kind", "mapping.code_table")]
    assert "foreign_org" in issues[unmappable][0]["message"]

    done = subprocess.run(world.cli("dead-letters", "list", "--json"), env=world.env, capture_output=True,
                          text=True, timeout=300, check=True)
    groups = {(g["rule"], g["field"]): g["count"] for g in json.loads(done.stdout) if g["kind"] == "push"}
    assert groups == {("push.rejected", "$"): 1, ("mapping.code_table", "applicant.kind"): 1}


# -- 4. a target that asks to be left alone --------------------------------------------------------------------


def test_a_retry_after_is_honoured_by_later_drains_in_other_processes(scripted_hall) -> None:
    world, hall = scripted_hall
    hall.respond = lambda request: Answer(503, {"Content-Type": "application/json", "Retry-After": "600"},
                                          b'{"error":"maintenance"}')
    moment = datetime.now(UTC)
    first = push(world.runtime, targets=["sd_hall"], now=moment).targets[0]
    assert len(hall.writes) == 1 and first.retried == 1
    assert first.error and "asked to wait until" in first.error and "unreachable" not in first.error

    # the next scheduled drain, another process, minutes later: the hall is not called at all
    done = subprocess.run(world.cli("push", "--target", "sd_hall", "--json"), env=world.env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    (later,) = json.loads(done.stdout)["targets"]
    assert len(hall.writes) == 1, hall.writes
    assert "asked to wait until" in later["error"] and later["waiting_until"] and later["retried"] == 0
    assert sorted(r["attempts"] for r in _rows(world, "sd_hall")) == [0, 0, 0, 1]

    hall.respond = lambda request: json_answer(b'{"duplicate":false}')
    after = push(world.runtime, targets=["sd_hall"], now=moment + timedelta(hours=1)).targets[0]
    assert after.error is None and after.delivered == 4 and after.pending == 0
    with world.runtime.engine.connect() as conn:
        assert outbox.target_wait(conn, "sd_hall") is None


def test_a_year_long_retry_after_keeps_later_drains_away_an_hour_at_most(scripted_hall) -> None:
    """Found by review: one 429 asking for a year stored a wait of a year (the longest asked wins) — every drain
    after it sent nothing and failed, and nothing but time could clear it."""
    world, hall = scripted_hall
    hall.respond = lambda request: Answer(429, {"Content-Type": "application/json", "Retry-After": "31536000"},
                                          b'{"error":"throttled"}')
    moment = datetime.now(UTC)
    push(world.runtime, targets=["sd_hall"], now=moment)
    with world.runtime.engine.connect() as conn:
        kept = outbox.target_wait(conn, "sd_hall")
    assert kept is not None and kept[0] <= datetime.now(UTC) + timedelta(hours=1, minutes=1)
    hall.respond = lambda request: json_answer(b'{"duplicate":false}')
    later = push(world.runtime, targets=["sd_hall"], now=moment + timedelta(hours=1, minutes=5)).targets[0]
    assert later.error is None and later.delivered == 4


def test_an_operator_can_send_to_a_waiting_target_at_once(scripted_hall) -> None:
    world, hall = scripted_hall
    hall.respond = lambda request: Answer(503, {"Content-Type": "application/json", "Retry-After": "600"},
                                          b'{"error":"maintenance"}')
    push(world.runtime, targets=["sd_hall"], now=datetime.now(UTC))
    assert len(hall.writes) == 1
    hall.respond = lambda request: json_answer(b'{"duplicate":false}')
    done = subprocess.run(world.cli("push", "--target", "sd_hall", "--ignore-wait", "--json"), env=world.env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (target,) = json.loads(done.stdout)["targets"]
    # every row goes out: the three never tried, and the one the 503 answered, parked until the wait's end (it was
    # left pending, due in ten minutes, though the operator had said the maintenance was over)
    assert target["delivered"] == 4 and target["error"] is None and len(hall.writes) == 5
    assert sorted(r["status"] for r in _rows(world, "sd_hall")) == ["delivered"] * 4
    with world.runtime.engine.connect() as conn:
        assert outbox.target_wait(conn, "sd_hall") is None


def test_ignoring_a_wait_releases_the_rows_it_parked_not_those_backed_off_for_longer(scripted_hall) -> None:
    world, hall = scripted_hall
    hall.respond = lambda request: Answer(503, {"Content-Type": "application/json", "Retry-After": "600"},
                                          b'{"error":"maintenance"}')
    moment = datetime.now(UTC)
    push(world.runtime, targets=["sd_hall"], now=moment)
    rows = _rows(world, "sd_hall")
    later = moment + timedelta(hours=3)  # one row backed off past the wait on its own account (many failures)
    with world.runtime.engine.begin() as conn:
        conn.execute(outbox_table.update().where(outbox_table.c.id == rows[-1]["id"]).values(next_attempt_at=later))
        released = outbox.release_target_wait(conn, "sd_hall", moment + timedelta(minutes=1))
        assert outbox.target_wait(conn, "sd_hall") is None
    assert released == 1  # the row the 503 answered (the others were due already)
    due = {r["id"]: r["next_attempt_at"] for r in _rows(world, "sd_hall")}
    assert due[rows[-1]["id"]] == later.replace(tzinfo=UTC)
    assert all(at <= moment + timedelta(minutes=1) for i, at in due.items() if i != rows[-1]["id"])


@pytest.mark.parametrize("asked", ["inf", "nan", "1e400"])
def test_a_retry_after_that_is_no_number_of_seconds_never_crashes_the_push(scripted_hall, asked: str) -> None:
    """Found by review: ``Retry-After: inf`` overflowed a timedelta; the exception left push() and every target
    after this one was skipped."""
    world, hall = scripted_hall
    hall.respond = lambda request: Answer(429, {"Content-Type": "application/json", "Retry-After": asked},
                                          b'{"error":"throttled"}')
    report = push(world.runtime, targets=["sd_hall"], now=datetime.now(UTC)).targets[0]
    assert report.delivered == 0 and report.error
    assert [r["status"] for r in _rows(world, "sd_hall")] == ["pending"] * 4


def test_a_write_that_hangs_past_the_lease_s_ttl_keeps_the_lease_the_next_drain_waits(
        scripted_hall, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: per-row renewal alone let a write hanging past the TTL (a slow target, retried) lose the
    lease to the next drain, which sent newer versions while the older one was still on its way. A heartbeat keeps
    the lease while the drain's process lives."""
    from gateway.store.lease import Lease

    ttl = 4.0  # a heartbeat every 1.3 s: a loaded machine starved a 1-second lease's heartbeat thread (a false
    # failure), while three TTLs are still well inside the slow write's minute
    monkeypatch.setitem(Lease.__init__.__kwdefaults__, "ttl", timedelta(seconds=ttl))
    world, hall = scripted_hall
    second: list[Any] = []
    first = threading.Event()

    def slow(request: Seen) -> Answer:
        if not first.is_set():
            first.set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # well past the TTL, however slow the machine: until B has tried
                time.sleep(0.5)
                if second:
                    break
        return json_answer(b'{"duplicate":false}')

    def drain_b() -> None:
        first.wait(timeout=60)
        time.sleep(3 * ttl)  # three TTLs: without a heartbeat A's lease has expired by now
        second.append(push(world.runtime, targets=["sd_hall"]).targets[0])

    hall.respond = slow
    helper = threading.Thread(target=drain_b, daemon=True)
    helper.start()
    a = push(world.runtime, targets=["sd_hall"]).targets[0]
    helper.join(timeout=120)
    (b,) = second
    assert b.error and "is held by" in b.error and b.delivered == 0
    assert a.error is None and a.delivered == 4


def test_cases_the_target_fails_on_do_not_hold_back_the_rest_of_its_queue(scripted_hall) -> None:
    """Found by review: the hall answering 500 for three particular cases (a record its code cannot take) held
    every other case back for the 45 minutes their back-off stayed under the drain interval, then on every drain
    they fell due again: oldest first, they failed three in a row and the drain took the target for down. A row
    never tried goes before one that failed."""
    world, hall = scripted_hall
    queued = [r["case_no"] for r in _rows(world, "sd_hall")]
    poison = set(queued[:3])
    hall.respond = lambda request: (
        Answer(500, {"Content-Type": "application/json"}, b'{"code":"500","msg":"NullPointerException"}')
        if request.route.rsplit("/", 1)[1] in poison else json_answer(b'{"duplicate":false}'))
    moment = datetime.now(UTC)
    first = push(world.runtime, targets=["sd_hall"], now=moment).targets[0]
    assert first.delivered == 0 and first.retried == 3  # three failures in a row at once: it may be down
    second = push(world.runtime, targets=["sd_hall"], now=moment + timedelta(minutes=5)).targets[0]
    assert second.delivered == 1, (second.delivered, second.retried, second.error)
    healthy = [case_no for case_no, _ in hall.writes if case_no not in poison]
    assert healthy == [queued[3]], hall.writes
