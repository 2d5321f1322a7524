"""Real foreign systems, connected with YAML alone, with no legitimate record turned away — end to end over HTTP,
on SQLite and PostgreSQL.

Two sandbox systems written in conventions no other sandbox system uses are connected by configuration only
(``config/connectors/jn_social.yaml``, ``config/connectors/jn_welfare.yaml``, ``mappings/jn_*.yaml``, entries in
``config/systems.yaml``):

- ``jn_social`` (人社局, REST): HMAC over ``METHOD\\nPATH\\nMILLISECONDS``, every answer HTTP 200 with a ``retCode``
  envelope (``4040`` = no records, ``5003`` = busy), a POST query whose numbers are strings, numbers as strings in
  records, five null spellings and a zero date, a soft-delete flag whose *type* changes from record to record;
- ``jn_welfare`` (医保局, SOAP): a JAX-WS service behind HTTP Basic, GBK answers, an in-band ``fhdm`` code
  (``2`` = no records), ID types by name, ``SCBZ`` 是/否, ``NULL``/``无`` for every missing value, busy answers as
  ``soap:Server.Busy`` faults.

Each test runs the real ``sync_system`` against the system and compares the ledger with the sandbox's own view
(the admin API, and ``generate``/``quirks`` — the sandbox's ground truth, never Tongban's output).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import select
from stdnum import numdb

from connectors.testing import assert_connector_acceptance
from gateway.kernel.registry import build_connector
from gateway.mapping.mapper import Mapper
from gateway.store import ledger
from gateway.store.tables import cases, dead_letters, runs
from gateway.sync.engine import sync_system
from sandbox import social, welfare
from sandbox.server import start_all

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

RECORDS = 400
SEED = 23


@dataclass(frozen=True)
class Foreign:
    """What the test knows of one system from its documentation (sandbox/README.md) and its ground truth."""

    sandbox: str
    module: ModuleType
    key: str  # the record id (the connector's primary key)
    case_no: str
    catalog: str
    result: str
    finished: str
    cert_name: str
    cert_no: str
    id_type: str
    id_no: str
    phone: str
    promise_days: str
    flag: str
    applicant_name: str

    def is_deleted(self, record: dict[str, Any]) -> bool:
        if self.sandbox == "social":
            return social.is_deleted(record)
        return record[self.flag] == "是"

    def is_null(self, value: Any) -> bool:
        return bool(self.module.is_null(value))

    @property
    def issued_code(self) -> str:
        return str(self.module.RESULT_CODES["issued"])

    @property
    def certificate_items(self) -> set[str]:
        return {item.catalog for item in self.module.ITEMS if item.cert}


SYSTEMS = {
    "jn_social": Foreign("social", social, "ywlsh", "bjbh", "jbbm", "bjjg", "bjsj", "zzmc", "zzbh", "zjlx", "zjhm",
                         "lxdh", "cnsx", "sfsc", "sqrxm"),
    "jn_welfare": Foreign("welfare", welfare, "YWBH", "BJBH", "JBBM", "BJJG", "BJSJ", "ZZMC", "ZZBH", "ZJLX", "ZJHM",
                          "LXDH", "CNSX", "SCBZ", "SQRXM"),
}


# --- the ground truth: what the sandbox says a record is -------------------------------------------------------


def _could_be_issued(code6: str, year: int) -> bool:
    """Whether GB/T 2260 (python-stdnum's table) lists a 6-digit place code as in use in ``year`` or later: an
    ID carries the code in use when it was issued, so only a code retired before the birth year is suspect."""
    county = None
    for _part, props in numdb.get("cn/loc").info(code6):
        county = props.get("county", county)
    if not county:
        return False
    for entry in county.split(","):
        if not entry.startswith("["):
            return True
        span = entry[1:].split("]", 1)[0]
        start, _, end = span.partition("-")
        if year <= (int(end) if end else 9999):
            return True
    return False


def expected_rules(f: Foreign, record: dict[str, Any]) -> set[str]:
    """The quality rules a record breaks, from ``quirks()`` (the sandbox's own list) and the canonical model's
    documented rules (docs/canonical-model.md#rules)."""
    quirks = set(f.module.quirks(record))
    rules = set()
    if "no_certificate" in quirks:
        rules.add("case.certificate_required")
    if "no_reason" in quirks:
        rules.add("case.reason_required")
    if "result_unfinished" in quirks:
        rules.add("case.result_requires_finish")
        # a premature 准予 on an item that issues a certificate: 出证办结 without a certificate, flagged as such too
        if (record[f.result] == f.issued_code and record[f.catalog] in f.certificate_items
                and f.is_null(record[f.cert_name])):
            rules.add("case.certificate_required")
    if "accepted_before_applied" in quirks:
        rules.add("case.date_order")
    # resident_id.place_code: "not in GB/T 2260, or retired before the birth year". The sandbox's old_place_code
    # records (370181 章丘市, retired 2016 …) are among them when born after the code was retired.
    if record[f.id_type] == f.module.ZJLX["111"]:
        number = str(record[f.id_no])
        if not _could_be_issued(number[:6], int(number[6:10])):
            rules.add("resident_id.place_code")
    # text.outside_gbk: a name with a character GBK cannot hold (the sandbox's 生僻字 of CJK Extension B)
    name = record[f.applicant_name]
    if isinstance(name, str) and not name.isascii():
        try:
            name.strip().encode("gbk")
        except UnicodeEncodeError:
            rules.add("text.outside_gbk")
    return rules


def expected_result(f: Foreign, record: dict[str, Any]) -> str | None:
    """The canonical result of a record, from the sandbox's result-code table."""
    code = record[f.result]
    if f.is_null(code):
        return None
    neutral = {v: k for k, v in f.module.RESULT_CODES.items()}[code]
    if neutral == "issued":
        with_certificate = not f.is_null(record[f.cert_name]) or record[f.catalog] in f.certificate_items
        return "issued" if with_certificate else "finished"
    return {"denied": "not_permitted", "returned": "returned", "not_accepted": "not_accepted"}[neutral]


# --- the world ----------------------------------------------------------------------------------------------------


def sandbox_records(world: Any, f: Foreign) -> dict[str, dict[str, Any]]:
    text = requests.get(world.sandbox.admin_urls[f.sandbox] + "/_sandbox/records", timeout=60).text
    return {r[f.key]: r for r in map(json.loads, filter(None, text.splitlines()))}


def ledger_records(world: Any, name: str) -> dict[str, dict[str, Any]]:
    with world.runtime.engine.connect() as conn:
        return ledger.raw_payloads(conn, name, world.runtime.pii)


def ledger_cases(world: Any, name: str) -> dict[str, tuple[bool, dict[str, Any]]]:
    """case_no → (the cases row's tombstone flag, the canonical case)."""
    c = cases.c
    with world.runtime.engine.connect() as conn:
        rows = conn.execute(select(c.case_no, c.deleted, c.data).where(c.origin_system == name)).all()
    return {r.case_no: (bool(r.deleted), ledger.loads(r.data)) for r in rows}


def open_dead_letters(world: Any, name: str) -> list[str]:
    d = dead_letters.c
    with world.runtime.engine.connect() as conn:
        rows = conn.execute(select(d.source_id, d.reason).where(d.system == name, d.status == "open")).all()
    return [f"{r.source_id}: {r.reason}" for r in rows]


def admin(world: Any, f: Foreign, path: str, body: dict[str, Any]) -> Any:
    response = requests.post(world.sandbox.admin_urls[f.sandbox] + path, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def assert_ledger_is_the_source(world: Any, name: str, f: Foreign) -> dict[str, dict[str, Any]]:
    """(a) every sandbox record is in the ledger once, its raw payload exactly as served; (b) no dead letter;
    (d) the soft-deleted ones — and only they — are tombstones among the ledger's cases."""
    source = sandbox_records(world, f)
    held = ledger_records(world, name)
    assert set(held) == set(source), (sorted(set(source) - set(held))[:5], sorted(set(held) - set(source))[:5])
    differ = [k for k in source if held[k] != source[k]]
    assert not differ, f"{len(differ)} ledger records differ from the sandbox's, e.g. {differ[:3]}"
    assert open_dead_letters(world, name) == []
    merged = ledger_cases(world, name)
    assert set(merged) == {r[f.case_no] for r in source.values()}
    tombstones = {no for no, (deleted, _) in merged.items() if deleted}
    assert tombstones == {r[f.case_no] for r in source.values() if f.is_deleted(r)}
    assert all(case["deleted"] == deleted for deleted, case in merged.values())
    return source


def assert_flags_are_the_ground_truth(world: Any, name: str, f: Foreign, source: dict[str, dict[str, Any]],
                                      warnings: dict[str, int]) -> None:
    """(c) per record, the quality rules its case carries are the ones the sandbox says it breaks; per rule, the
    run counted exactly those records."""
    expected = {r[f.case_no]: expected_rules(f, r) for r in source.values()}
    merged = ledger_cases(world, name)
    carried = {no: {flag["rule"] for flag in case["quality"]} for no, (_, case) in merged.items()}
    wrong = {no: (carried[no], rules) for no, rules in expected.items() if carried[no] != rules}
    assert not wrong, f"{len(wrong)} cases carry other flags than the ground truth, e.g. {list(wrong.items())[:3]}"
    counts = Counter(rule for rules in expected.values() for rule in rules)
    assert warnings == dict(counts)
    quirks = Counter(q for r in source.values() for q in f.module.quirks(r))
    assert warnings["case.reason_required"] == quirks["no_reason"]
    assert warnings["case.result_requires_finish"] == quirks["result_unfinished"]
    assert warnings["case.date_order"] == quirks["accepted_before_applied"]
    assert warnings["case.certificate_required"] >= quirks["no_certificate"] > 0


def assert_conventions_mapped(world: Any, name: str, f: Foreign, source: dict[str, dict[str, Any]]) -> None:
    """Numbers as strings, null tokens, ID types and result codes arrive as the canonical model's values."""
    merged = ledger_cases(world, name)
    id_types = {system_code: gb for gb, system_code in f.module.ZJLX.items()}
    for record in source.values():
        _, case = merged[record[f.case_no]]
        assert case["promised_days"] == int(record[f.promise_days])
        assert (case["finished_at"] is None) == f.is_null(record[f.finished])
        assert (case["applicant"].get("phone") is None) == f.is_null(record[f.phone])
        assert (case.get("certificate_no") is None) == f.is_null(record[f.cert_no])
        assert case["applicant"]["id_type"] == id_types[record[f.id_type]]
        assert case.get("result") == expected_result(f, record)


# --- the tests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_full_sync_equals_the_source_with_no_dead_letter_and_the_flags_of_the_ground_truth(make_world: Any,
                                                                                         name: str) -> None:
    f = SYSTEMS[name]
    world = make_world(systems=(name,), civil=0, estate=0, social=RECORDS, welfare=RECORDS, seed=SEED)
    source = sandbox_records(world, f)
    assert list(source.values()) == [f.module.generate(SEED, i) for i in range(RECORDS)]  # the admin view = generate()
    check = world.runtime.connector(name).check()
    assert check.ok, check.message

    report = sync_system(world.runtime, name)
    assert report.status == "succeeded", report.error
    assert (report.counts.read, report.counts.inserted, report.counts.rejected) == (RECORDS, RECORDS, 0)
    assert report.quality["reject"] == {}
    assert report.counts.deleted == sum(f.is_deleted(r) for r in source.values()) > 0
    assert_ledger_is_the_source(world, name, f)
    assert_flags_are_the_ground_truth(world, name, f, source, report.warnings)
    assert_conventions_mapped(world, name, f, source)
    with world.runtime.engine.connect() as conn:  # the run's row keeps the same tally
        stored = conn.execute(select(runs.c.quality).where(runs.c.id == report.run_id)).scalar_one()
    assert ledger.loads(stored) == report.quality


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_an_incremental_sync_picks_up_exactly_the_records_changed_at_the_source(make_world: Any, name: str) -> None:
    f = SYSTEMS[name]
    world = make_world(systems=(name,), civil=0, estate=0, social=RECORDS, welfare=RECORDS, seed=SEED)
    assert sync_system(world.runtime, name).counts.inserted == RECORDS
    before = ledger_records(world, name)
    source = sandbox_records(world, f)
    live = [r for r in source.values() if not f.is_deleted(r)]

    # soft deletes: for social one record of every flag style ("0", 0, false, "N" → "1", 1, true, "Y")
    if name == "jn_social":
        doomed = [next(r[f.key] for r in live if type(r[f.flag]) is type(kept) and r[f.flag] == kept)
                  for _, kept in social.SFSC_STYLES]
    else:
        doomed = [r[f.key] for r in live[10:13]]
    changed = [r[f.key] for r in live[40:280:40] if r[f.key] not in doomed]
    assert admin(world, f, "/_sandbox/mutate", {"ids": changed})["mutated"] == changed
    assert sorted(admin(world, f, "/_sandbox/delete", {"ids": doomed, "how": "flag"})["deleted"]) == sorted(doomed)

    report = sync_system(world.runtime, name)
    assert report.status == "succeeded", report.error
    counts = report.counts
    assert (counts.inserted, counts.updated, counts.rejected, counts.deleted) == (0, len(changed) + len(doomed), 0,
                                                                                  len(doomed))
    assert counts.read < RECORDS / 10, f"an incremental run read {counts.read} records"
    after = ledger_records(world, name)
    assert {k for k in after if after[k] != before[k]} == set(changed) | set(doomed)
    source = assert_ledger_is_the_source(world, name, f)
    if name == "jn_social":  # every style of "deleted" the column holds became a tombstone
        deleted_values = {(type(r[f.flag]).__name__, r[f.flag]) for r in source.values() if f.is_deleted(r)}
        assert deleted_values >= {("str", "1"), ("int", 1), ("bool", True), ("str", "Y")}
    merged = ledger_cases(world, name)
    for key in changed:  # the changes themselves arrived: a finished case or a new phone number
        record = source[key]
        _, case = merged[record[f.case_no]]
        assert case["finished_at"] is not None and case["applicant"].get("phone") == (
            None if f.is_null(record[f.phone]) else record[f.phone])
    full = sync_system(world.runtime, name, full_refresh=True)
    assert_flags_are_the_ground_truth(world, name, f, source, full.warnings)


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_busy_answers_are_retried_and_the_sync_ends_with_the_same_result(make_world: Any, name: str) -> None:
    """retCode 5003 (HTTP 200) / soap:Server.Busy (HTTP 500): the error_rate fault. Retried until answered."""
    f = SYSTEMS[name]
    world = make_world(systems=(name,), civil=0, estate=0, social=RECORDS, welfare=RECORDS, seed=SEED)
    world.sandbox.set_faults(f.sandbox, error_rate=0.4)
    report = sync_system(world.runtime, name)
    assert report.status == "succeeded", report.error
    assert (report.counts.read, report.counts.inserted, report.counts.rejected) == (RECORDS, RECORDS, 0)
    stats = requests.get(world.sandbox.admin_urls[f.sandbox] + "/_sandbox/stats", timeout=10).json()
    assert stats["faulted"] > 0, stats
    source = assert_ledger_is_the_source(world, name, f)
    assert_flags_are_the_ground_truth(world, name, f, source, report.warnings)

    world.sandbox.set_faults(f.sandbox)  # and without faults a full re-read finds nothing to change
    again = sync_system(world.runtime, name, full_refresh=True)
    assert (again.counts.read, again.counts.unchanged) == (RECORDS, RECORDS)
    assert again.warnings == report.warnings


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_the_shipped_yaml_passes_the_connector_acceptance_kit(name: str) -> None:
    """check (and a clean failure with wrong secrets: 4011 / HTTP 401), two incremental reads, resuming from a
    checkpoint, every record mapping to the canonical model."""
    f = SYSTEMS[name]
    kind = {"jn_social": "rest", "jn_welfare": "soap"}[name]
    config = yaml.safe_load((REPO / "config" / "connectors" / f"{name}.yaml").read_text(encoding="utf-8"))
    with start_all(seed=SEED, records={f.sandbox: RECORDS}, systems=[f.sandbox]) as sb:
        config["base_url"] = sb.urls[f.sandbox]
        secrets = sb.credentials[f.sandbox]
        good = build_connector(kind, config, secrets)
        broken = build_connector(kind, config, {k: "wrong" for k in secrets})
        try:
            report = assert_connector_acceptance(connector=good, broken_connector=broken, stream="cases",
                                                 mapper=Mapper.from_file(REPO / "mappings" / f"{name}.yaml"))
        finally:
            good.close()
            broken.close()
    assert report.records == RECORDS and report.checked == ["check", "incremental", "checkpoint", "mapping"]


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_broken_records_are_the_only_dead_letters_and_learnable_conventions_are_read(make_world: Any,
                                                                                    name: str) -> None:
    """malformed_rate: a bad ID checksum or Feb 30 is broken data (dead letter, rule named); a date in the
    system's other format and the newer 撤回 code are conventions the mapping knows (kept)."""
    f = SYSTEMS[name]
    world = make_world(systems=(name,), civil=0, estate=0, social=RECORDS, welfare=RECORDS, seed=SEED)
    world.sandbox.set_faults(f.sandbox, malformed_rate=0.12)
    malformed = requests.get(world.sandbox.admin_urls[f.sandbox] + "/_sandbox/malformed", timeout=10).json()
    kinds = {m["id"]: m["kind"] for m in malformed}
    assert set(kinds.values()) == {"bad_checksum", "impossible_date", "alt_date_format", "unknown_code"}
    report = sync_system(world.runtime, name)
    broken = {k for k, kind in kinds.items() if kind in ("bad_checksum", "impossible_date")}
    d = dead_letters.c
    with world.runtime.engine.connect() as conn:
        dead = dict(conn.execute(select(d.source_id, d.issues).where(d.system == name, d.status == "open")).all())
    assert set(dead) == broken and report.counts.rejected == len(broken)
    rules = {k: {i["rule"] for i in ledger.loads(v)} for k, v in dead.items()}
    for key in broken:
        assert rules[key] <= ({"resident_id.checksum", "uscc.checksum"} if kinds[key] == "bad_checksum"
                              else {"type.datetime"}) and rules[key], (key, rules[key])
    source = sandbox_records(world, f)
    held = ledger_records(world, name)
    assert set(held) == set(source) - broken and all(held[k] == source[k] for k in held)
    merged = ledger_cases(world, name)
    for key, kind in kinds.items():
        if kind == "unknown_code":
            assert merged[source[key][f.case_no]][1]["result"] == "withdrawn"
        elif kind == "alt_date_format":  # social yyyy/MM/dd HH:mm:ss, welfare yyyyMMddHHmmss: the same instant
            applied = source[key]["sqsj" if name == "jn_social" else "SQSJ"]
            digits = "".join(c for c in applied if c.isdigit())
            assert merged[source[key][f.case_no]][1]["applied_at"] == (
                f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}+08:00")
