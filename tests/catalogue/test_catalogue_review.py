"""The catalogue feature against what an outside review found real catalogues do (each test seen failing against
the code before its fix):

- the national catalogue and the province's both list the national entry: the second system's harvest failed on
  the entry's key every run (none of its entries stored, the harvests after it never ran);
- one NUL in one record failed the whole harvest page on PostgreSQL, and one stored in an entry the whole audit;
- two audits at once: the second failed on the first's new findings (no lease);
- a vertical tab pasted from Word failed the ``--xlsx`` export; a misspelt ``--kind`` showed an empty table, exit 0;
- a department code too long dropped the whole department: a false 空头认领 (unclaimed);
- a change time that is no date rejected the whole entry; ``区级`` and ``县（市、区）级`` were no level;
- ``60日`` with a zero-width space was unreadable; ``一百五日`` read as 105 days (150);
- 长期无办件 was never found where 实施编码 do not begin with the department's USCC;
- the console's entry count counted retired entries; an entry the source lists twice churned a version a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from catalogue_testlib import ServedCatalogue
from sqlalchemy import column, select, table

from gateway.catalogue import harvest_catalogue, load_catalogues, load_entries, run_audit
from gateway.ops.kpi import item_kpis
from gateway.store import catalogue as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import catalogue_item_versions, catalogue_items


def _record(sxid: str, changed: str, *, level: str = "县级", division: str = "370102", **fields: Any) -> dict[str, Any]:
    return {"SXID": sxid, "JBBM": "370000000001", "SSBM": f"SS-{level}-{division}", "XSCJ": level,
            "XZQHDM": division, "SXMC": "婚姻登记", "SXLX": "行政确认", "SSZT": [{"ZTMC": "民政局", "ZTDM": "D1"}],
            "SDYJ": "《婚姻登记条例》第四条", "FDSX": "20个工作日", "CNSX": "5个工作日", "FWDX": "自然人", "BLQD": "窗口",
            "SFSF": "否", "DXCCS": "1", "SQCL": [{"CLMC": "申请书", "BYX": "必要"}], "SXZT": "在用", "BBH": "1",
            "GXSJ": changed, **fields}


@pytest.fixture
def two_catalogues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Harvest ``docs`` as catalogue system ``name`` (each its own server; the shipped sd_catalogue configuration)."""
    servers: list[ServedCatalogue] = []
    monkeypatch.setenv("TONGBAN_SD_CATALOGUE_TOKEN", "catalogue-token")

    def harvest(engine: Any, name: str, docs: list[dict[str, Any]], *, full_refresh: bool = True) -> Any:
        served = ServedCatalogue(docs)
        servers.append(served)
        monkeypatch.setenv("TONGBAN_SD_CATALOGUE_URL", served.url)
        config = load_catalogues()["sd_catalogue"].model_copy(update={"name": name})
        return harvest_catalogue(engine, config, full_refresh=full_refresh)

    yield harvest
    for served in servers:
        served.server.shutdown()


def _ledger(database_url: str) -> Any:
    engine = make_engine(database_url)
    upgrade(engine)
    return engine


def test_two_catalogue_systems_listing_one_entry_each_keep_their_copy(two_catalogues: Any,
                                                                     database_url: str) -> None:
    engine = _ledger(database_url)
    national = _record("N1", "2026-01-01T08:00:00+08:00", level="国家级", division="100000")
    assert two_catalogues(engine, "nat_catalogue", [national]).inserted == 1
    copied = {**national, "SXID": "SD-N1", "GXSJ": "2025-06-01T08:00:00+08:00", "SDYJ": "《婚姻登记条例》第五条"}
    county = _record("C1", "2026-01-01T08:00:00+08:00")
    province = two_catalogues(engine, "sd_catalogue", [copied, county])
    assert (province.inserted, province.rejected) == (2, 0), province.as_dict()
    again = two_catalogues(engine, "sd_catalogue", [copied, county])  # the next run: nothing changed
    assert (again.unchanged, again.inserted, again.updated) == (2, 0, 0)
    with engine.connect() as conn:
        assert store.entry_count(conn) == 2  # the national entry once, however many systems list it
        versions = conn.execute(select(catalogue_item_versions.c.source)).scalars().all()
    assert sorted(versions) == ["nat_catalogue", "sd_catalogue", "sd_catalogue"]
    assert [row.sums["items"] for row in item_kpis(engine)] == [2]
    assert len(load_entries(engine)) == 2

    report = run_audit(engine)
    copies = [f for f in report.findings if f.kind == "copy_differs"]
    assert [(f.element, f.source, f.expected, f.found) for f in copies] == [
        ("legal_basis", "sd_catalogue", "《婚姻登记条例》第四条", "《婚姻登记条例》第五条")]
    assert "nat_catalogue" in copies[0].message and "sd_catalogue" in copies[0].message
    assert len({f.key for f in report.findings}) == len(report.findings)
    # the county entry is compared with the national entry as the first system by name lists it
    assert not [f for f in report.findings if f.kind == "element_differs"]

    # the province edits its copy later (a newer change, another promise): the same finding stays open, and the
    # figures read the copy the audit compares
    edited = {**copied, "GXSJ": "2026-06-01T08:00:00+08:00", "CNSX": "3个工作日"}
    two_catalogues(engine, "sd_catalogue", [edited, county])
    again_audit = run_audit(engine)
    assert again_audit.fixed == [] and [again_audit.status[f.key] for f in again_audit.findings
                                        if f.kind == "copy_differs"] == ["open"]
    assert [row.sums["promised_days"] for row in item_kpis(engine)] == [5 + 5]


def test_the_copies_migration_keeps_every_version_under_its_entrys_source(database_url: str) -> None:
    from datetime import datetime, timezone

    engine = make_engine(database_url)
    upgrade(engine, "0025_ticket_numbers")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    key = {"catalog_code": "370000000001", "item_code": "SS1", "level": "4", "division": "370102"}
    with engine.begin() as conn:
        conn.execute(catalogue_items.insert().values(
            **key, source="sd_catalogue", source_id="R1", name="婚姻登记", dept_count=1, status="active",
            content_hash="h2", data="{}", version=2, updated_at=now))
        before = table("catalogue_item_versions", *(column(c) for c in (*key, "version", "content_hash", "data",
                                                                         "recorded_at")))  # no source yet
        conn.execute(before.insert(), [
            {**key, "version": v, "content_hash": f"h{v}", "data": "{}", "recorded_at": now}
            for v in (1, 2)])
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(catalogue_item_versions.c.source, catalogue_item_versions.c.version)).all()
    assert sorted(rows) == [("sd_catalogue", 1), ("sd_catalogue", 2)]


def test_a_nul_in_one_record_costs_neither_the_harvest_nor_the_audit(two_catalogues: Any, database_url: str) -> None:
    engine = _ledger(database_url)
    national = _record("N1", "2026-01-01T08:00:00+08:00", level="国家级", division="100000",
                       SLTJ="年满18周岁具有完全民事行为能力")
    docs = [national, _record("C1", "2026-01-01T08:00:00+08:00", SLTJ="年满18周岁\x00具有完全民事行为能力"),
            _record("C2", "2026-01-01T08:00:00+08:00", division="370103", SXMC="婚姻\x00登记")]
    report = two_catalogues(engine, "sd_catalogue", docs)
    assert (report.inserted, report.rejected, report.flagged) == (3, 0, 2), report.as_dict()
    assert any("[text.unstorable]" in flag and "conditions" in flag for flag in report.flags)
    audit = run_audit(engine)
    found = {(f.division, f.element, f.rule) for f in audit.findings}
    # the replacement is reported once: the replaced text otherwise says what the national entry says, and the
    # U+FFFD standing for the NUL made no second finding (element_differs) of the same byte
    assert ("370102", "conditions", "text.unstorable") in found
    assert not {("370102", "conditions", "element_differs"), ("370103", "name", "element_differs")} & found


def test_a_second_audit_while_one_runs_is_refused_by_name(database_url: str) -> None:
    from gateway.contract.errors import LeaseHeldError
    from gateway.store.lease import Lease

    engine = _ledger(database_url)
    with Lease(engine, "catalogue:audit"), pytest.raises(LeaseHeldError, match="catalogue:audit is held"):
        run_audit(engine)
    assert run_audit(engine).entries == 0  # and runs once the other has finished


def test_an_export_with_a_control_character_and_a_misspelt_kind(two_catalogues: Any, database_url: str,
                                                                 tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    from openpyxl import load_workbook

    engine = _ledger(database_url)
    two_catalogues(engine, "sd_catalogue", [
        _record("N1", "2026-01-01T08:00:00+08:00", level="国家级", division="100000"),
        _record("C1", "2026-01-01T08:00:00+08:00", SLTJ="年满18周岁\x0b具有完全民事行为能力")])
    env = {**os.environ, "TONGBAN_DATABASE_URL": engine.url.render_as_string(hide_password=False)}

    def tongban(*args: str) -> Any:
        return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                              timeout=300, env=env)

    sheet = tmp_path / "findings.xlsx"
    done = tongban("catalogue", "audit", "--xlsx", str(sheet))
    assert done.returncode == 0, done.stderr
    rows = list(load_workbook(sheet).active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and any("年满18周岁\ufffd具有" in str(v) for v in rows[0])
    for command in ("audit", "findings"):
        typo = tongban("catalogue", command, "--kind", "element_differ")
        assert typo.returncode == 1 and "did you mean 'element_differs'" in typo.stderr + typo.stdout


def test_what_real_catalogues_write_keeps_the_entry_whole(two_catalogues: Any, database_url: str) -> None:
    from datetime import datetime, timedelta, timezone

    from gateway.catalogue.audit import latest_findings_summary
    from gateway.catalogue.entry import TimeLimit
    from gateway.catalogue.findings import find
    from gateway.store.catalogue import CaseActivity

    engine = _ledger(database_url)
    report = two_catalogues(engine, "sd_catalogue", [
        _record("N1", "2026-01-01T08:00:00+08:00", level="国家级", division="100000"),
        _record("C1", "2026-01-01T08:00:00+08:00", SSZT=[{"ZTMC": "历下区民政局",
                                                         "ZTDM": "11370102004390448N、11370102MB2844912X"}]),
        _record("C2", "2026-01-01T08:00:00+08:00", level="区级", division="370103"),
        _record("C3", "2026-01-01T08:00:00+08:00", level="县（市、区）级", division="370104")])
    assert (report.inserted, report.rejected) == (4, 0), report.as_dict()
    entries = {e.division: e for e in load_entries(engine)}
    assert [d.name for d in entries["370102"].departments] == ["历下区民政局"]  # kept, its code flagged
    assert entries["370103"].level.value == entries["370104"].level.value == "4"
    kinds = {(f.division, f.kind) for f in run_audit(engine).findings}
    assert ("370102", "unreadable_field") in kinds and ("370102", "unclaimed") not in kinds

    assert (TimeLimit.parse("60日\u200b").days, TimeLimit.parse("\ufeff20个工作日").days) == (60, 20)
    assert (TimeLimit.parse("一百五日").days, TimeLimit.parse("一百零五日").days, TimeLimit.parse("一千二日").days) == (
        150, 105, 1200)

    # 长期无办件 where 实施编码 are opaque (370102-MZ-0001): the department is connected through its 实施主体
    used, never = entries["370102"].model_copy(update={"item_code": "370102-MZ-0001"}), \
        entries["370102"].model_copy(update={"item_code": "370102-MZ-0002", "departments": entries["370103"].departments})
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    dormant = [f.item_code for f in find([used.model_copy(update={"departments": entries["370103"].departments}),
                                          never], activity={"370102-MZ-0001": CaseActivity(now - timedelta(days=9))},
                                         now=now) if f.kind == "dormant"]
    assert dormant == ["370102-MZ-0002"]

    two_catalogues(engine, "sd_catalogue", [_record("N1", "2026-01-01T08:00:00+08:00", level="国家级",
                                                    division="100000")])  # the rest retired
    assert latest_findings_summary(engine)["entries"] == 1


def test_a_change_time_that_is_no_date_is_a_flag() -> None:
    from pathlib import Path

    from gateway.catalogue.entry import CatalogueEntry
    from gateway.catalogue.harvest import _parse
    from gateway.mapping.mapper import Mapper

    shipped = Path(__file__).resolve().parents[2] / "mappings" / "catalogue" / "sd_catalogue.yaml"
    mapper = Mapper.from_file(shipped, model=CatalogueEntry)
    entry = _parse(mapper, "C1", _record("C1", "2024/13/45 25:00"))
    assert entry.changed_at is None and [(q.field, q.rule) for q in entry.quality] == [("changed_at", "date.format")]


def test_an_entry_the_source_lists_twice_is_stored_once_and_named(two_catalogues: Any, database_url: str) -> None:
    """Two records with one key took the row over from each other: two new versions every run, for ever."""
    engine = _ledger(database_url)
    docs = [_record("C1", "2026-01-01T08:00:00+08:00"), _record("C1-copy", "2026-01-01T08:00:00+08:00")]
    first = two_catalogues(engine, "sd_catalogue", docs)
    assert (first.inserted, first.duplicates) == (1, 1) and "[entry.duplicate]" in first.flags[-1]
    again = two_catalogues(engine, "sd_catalogue", docs)
    assert (again.inserted, again.updated, again.unchanged, again.duplicates) == (0, 0, 1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(catalogue_item_versions.c.version)).scalars().all() == [1]


def _entries(*records: dict[str, Any]) -> list[Any]:
    from pathlib import Path

    from gateway.catalogue.entry import CatalogueEntry
    from gateway.catalogue.harvest import _parse
    from gateway.mapping.mapper import Mapper

    shipped = Path(__file__).resolve().parents[2] / "mappings" / "catalogue" / "sd_catalogue.yaml"
    mapper = Mapper.from_file(shipped, model=CatalogueEntry)
    return [_parse(mapper, r["SXID"], r) for r in records]


def _compared(*records: dict[str, Any]) -> set[tuple[str, str, str]]:
    from gateway.catalogue.findings import find

    return {(f.division or "", f.element, f.rule) for f in find(_entries(*records))
            if f.kind in ("element_differs", "time_limit_conflict")}


def test_peers_are_compared_with_what_most_of_them_say() -> None:
    """No national or provincial entry: the lowest division code was the reference, so one outlier district made a
    finding on every other district and none on itself."""
    said = {"370102": "60个工作日", "370103": "20个工作日", "370104": "20个工作日", "370105": "20个工作日"}
    found = _compared(*(_record(f"C{d}", "2026-01-01T08:00:00+08:00", division=d, FDSX=limit)
                        for d, limit in said.items()))
    assert found == {("370102", "legal_limit", "legal_differs_from_national")}


def test_an_unreadable_reference_element_does_not_hide_the_others_disagreement() -> None:
    """The national 法定时限 ``1年``: the cities' 20个工作日 / 60日 / 3个月 were compared with nothing; a material's
    unreadable 必要性 hid a dropped 身份证."""
    cities = [_record(f"C{d}", "2026-01-01T08:00:00+08:00", level="市级", division=d, FDSX=limit)
              for d, limit in (("370100", "20个工作日"), ("370200", "20个工作日"), ("370300", "3个月"))]
    national = _record("N1", "2026-01-01T08:00:00+08:00", level="国家级", division="100000", FDSX="1年",
                       SQCL=[{"CLMC": "申请书", "BYX": "必要"}, {"CLMC": "身份证", "BYX": "必要"}])
    county = _record("C1", "2026-01-01T08:00:00+08:00", SQCL=[{"CLMC": "申请书", "BYX": "看情况"}],
                     FDSX="20个工作日")
    found = _compared(national, county, *cities)
    assert ("370300", "legal_limit", "legal_differs_from_national") in found
    assert ("370102", "materials", "element_differs") in found


def test_private_use_characters_and_circled_list_numbers() -> None:
    from gateway.catalogue.normalise import material_key, text_key

    assert text_key("刘\ue000") != text_key("刘\ue863")  # two rare characters of older systems' fonts
    assert material_key("⒈申请表") == material_key("申请表") == material_key("⒛申请表")


def test_a_duplicate_across_runs_keeps_the_entry_with_a_record_still_listing_it(two_catalogues: Any,
                                                                                 database_url: str) -> None:
    """The incremental harvest (the DAG's) let the changed duplicate take the row; the next full refresh said it
    was "not stored" while its text was the row's, and once it was withdrawn retired the entry the other record
    still listed."""
    def stored(engine: Any) -> list[tuple[Any, ...]]:
        c = catalogue_items.c
        with engine.connect() as conn:
            return conn.execute(select(c.source_id, c.status, c.version)).all()

    engine = _ledger(database_url)
    a, b = _record("A", "2026-01-01T08:00:00+08:00"), _record("B", "2026-01-01T08:00:00+08:00")
    assert two_catalogues(engine, "sd_catalogue", [a, b]).duplicates == 1
    b = {**b, "GXSJ": "2026-02-01T08:00:00+08:00", "SDYJ": "《婚姻登记条例》第五条"}
    assert two_catalogues(engine, "sd_catalogue", [b], full_refresh=False).updated == 1  # the newest change wins
    full = two_catalogues(engine, "sd_catalogue", [a, b])
    assert (full.duplicates, full.updated, full.unchanged) == (1, 0, 1) and "record B holds" in full.flags[-1]
    assert stored(engine) == [("B", "active", 2)]
    withdrawn = two_catalogues(engine, "sd_catalogue", [a])
    assert (withdrawn.updated, withdrawn.retired) == (1, 0)
    assert stored(engine) == [("A", "active", 3)]


def test_a_record_recoded_onto_an_entry_another_record_holds_lets_its_old_entry_go(two_catalogues: Any,
                                                                                  database_url: str) -> None:
    engine = _ledger(database_url)
    a = _record("A", "2026-01-01T08:00:00+08:00", division="370102")
    b = _record("B", "2026-01-01T08:00:00+08:00", division="370103")
    two_catalogues(engine, "sd_catalogue", [a, b])
    moved = {**a, "XZQHDM": "370103", "SSBM": b["SSBM"], "GXSJ": "2026-02-01T08:00:00+08:00"}
    report = two_catalogues(engine, "sd_catalogue", [b, moved])
    assert (report.recoded, report.duplicates) == (1, 1)
    c = catalogue_items.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.division, c.status).order_by(c.division)).all()
    assert rows == [("370102", "retired"), ("370103", "active")]


def test_a_record_listed_twice_in_a_full_refresh_does_not_take_a_second_entry(two_catalogues: Any,
                                                                               database_url: str) -> None:
    """B, edited while the harvest paged, is listed on the withdrawn A's entry (older: set aside) and on another:
    writing its set-aside copy over A's entry gave B two rows, and the harvest failed on (source, source_id)."""
    engine = _ledger(database_url)
    two_catalogues(engine, "sd_catalogue", [_record("A", "2026-03-01T08:00:00+08:00")])
    report = two_catalogues(engine, "sd_catalogue", [
        _record("B", "2026-01-01T08:00:00+08:00"), _record("B", "2026-02-01T08:00:00+08:00", division="370103",
                                                           SSBM="SS-B")])
    assert (report.inserted, report.retired) == (1, 1), report.as_dict()
    c = catalogue_items.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.source_id, c.status).order_by(c.division)).all()
    assert rows[0][1] == "retired" and rows[1] == ("B", "active")


def test_of_several_records_set_aside_the_first_takes_the_entry_over(two_catalogues: Any,
                                                                    database_url: str) -> None:
    engine = _ledger(database_url)
    two_catalogues(engine, "sd_catalogue", [_record("A", "2026-03-01T08:00:00+08:00")])
    listed = [_record("B", "2026-01-01T08:00:00+08:00"), _record("C", "2026-01-01T08:00:00+08:00")]
    assert two_catalogues(engine, "sd_catalogue", listed).updated == 1  # A withdrawn: B, the first, takes over
    again = two_catalogues(engine, "sd_catalogue", listed)
    assert (again.updated, again.unchanged, again.duplicates) == (0, 1, 1)
    c = catalogue_items.c
    with engine.connect() as conn:
        assert conn.execute(select(c.source_id, c.version)).all() == [("B", 2)]


def test_the_figures_read_the_audits_copy_whatever_the_databases_collation(two_catalogues: Any,
                                                                          database_url: str) -> None:
    """Under an ICU collation PostgreSQL put ``gov_catalogue`` before ``SD_catalogue``; Python does not."""
    engine = _ledger(database_url)
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'")).first() is None:
                pytest.skip("this PostgreSQL has no ICU collation to compare under")
            conn.execute(text('ALTER TABLE catalogue_items ALTER COLUMN source TYPE varchar(64) '
                              'COLLATE "en-US-x-icu"'))
    national = _record("N1", "2026-01-01T08:00:00+08:00", level="国家级", division="100000", CNSX="3个工作日")
    two_catalogues(engine, "SD_catalogue", [national])
    two_catalogues(engine, "gov_catalogue", [{**national, "SXID": "G1", "CNSX": "5个工作日"}])
    chosen = load_entries(engine)[0]
    assert str(chosen.promised_limit) == "3个工作日"  # SD_catalogue < gov_catalogue by code point
    assert [row.sums["promised_days"] for row in item_kpis(engine)] == [3]


@pytest.mark.parametrize(("numbered", "plain"), [
    ("1、年满18周岁；2、具有完全民事行为能力", "年满18周岁；具有完全民事行为能力"),
    ("符合以下条件：（一）年满18周岁；（二）具有完全民事行为能力", "符合以下条件：年满18周岁；具有完全民事行为能力"),
    ("1.年满18周岁 2.具有完全民事行为能力", "年满18周岁，具有完全民事行为能力"),
    ("①申请人为本市户籍；②无犯罪记录", "申请人为本市户籍。无犯罪记录"),
])
def test_numbered_conditions_say_what_unnumbered_ones_do(numbered: str, plain: str) -> None:
    from gateway.catalogue.normalise import clauses_key

    assert clauses_key(numbered) == clauses_key(plain) != ""


@pytest.mark.parametrize(("one", "other"), [
    ("不少于3名职工", "不少于5名职工"), ("按照1、2级标准", "按照3级标准"), ("一、二类医疗器械", "三类医疗器械"),
    ("比例尺1:500", "比例尺1:1000"), ("符合第2、3条", "符合第4条"),
])
def test_a_number_inside_a_condition_is_still_compared(one: str, other: str) -> None:
    from gateway.catalogue.normalise import clauses_key

    assert clauses_key(one) != clauses_key(other)


@pytest.mark.parametrize(("numbered", "plain"), [
    (["1 申请表", "2 身份证"], ["申请表", "身份证"]),
    (["2 本人身份证", "1 项目申请报告", "3 户口簿"], ["本人身份证", "项目申请报告", "户口簿"]),
    (["1、申请书", "2、身份证"], ["申请书", "身份证"]),
])
def test_a_list_numbered_with_spaces_is_the_unnumbered_one(numbered: list[str], plain: list[str]) -> None:
    from gateway.catalogue.normalise import material_keys

    assert material_keys(numbered) == material_keys(plain)


@pytest.mark.parametrize(("one", "other"), [
    (["24 小时内核酸检测阴性证明"], ["72 小时内核酸检测阴性证明"]),
    (["1 英寸免冠照片", "申请表"], ["2 英寸免冠照片", "申请表"]),
    (["35 千伏及以上输电线路图", "申请表"], ["110 千伏及以上输电线路图", "申请表"]),
    (["3 台以上设备清单", "30 天内的银行流水"], ["10 台以上设备清单", "90 天内的银行流水"]),
    (["2 寸照片"], ["寸照片"]), (["1.5寸照片"], ["5寸照片"]),
])
def test_a_number_measuring_a_material_is_compared(one: list[str], other: list[str]) -> None:
    from gateway.catalogue.normalise import material_keys

    assert material_keys(one) != material_keys(other)


@pytest.mark.parametrize(("one", "other"), [("从业人员不少于 （3） 人", "从业人员不少于 （10） 人"),
                                            ("持有效证件，（一）类", "持有效证件，（二）类")])
def test_a_bracketed_number_inside_a_clause_is_compared(one: str, other: str) -> None:
    from gateway.catalogue.normalise import clauses_key

    assert clauses_key(one) != clauses_key(other)


def test_a_replacement_character_the_source_sent_is_compared() -> None:
    """Only where the harvest itself put U+FFFD (a NUL it replaced, flagged once) is it no difference."""
    from gateway.catalogue.entry import CatalogueEntry
    from gateway.catalogue.normalise import element_key

    base = {"catalog_code": "370000000001", "item_code": "SS1", "level": "4", "division": "370102",
            "name": "婚姻登记", "item_type": "07"}
    sent = CatalogueEntry.model_validate({**base, "conditions": "身份证\ufffd\ufffd件"})
    replaced = CatalogueEntry.model_validate({**base, "conditions": "身份证\ufffd件", "quality": [
        {"rule": "text.unstorable", "field": "conditions", "message": "replaced"}]})
    plain = CatalogueEntry.model_validate({**base, "conditions": "身份证件"})
    assert element_key(sent, "conditions") != element_key(plain, "conditions")
    assert element_key(replaced, "conditions") == element_key(plain, "conditions")
    assert element_key(replaced, "name") == element_key(plain, "name")
