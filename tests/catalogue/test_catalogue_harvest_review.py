"""The catalogue harvest against a catalogue that writes what real ones write (outside review): a change time typed
in the future, a record the connector cannot read, numbers too large for any column, 无 for a list, a limit ending
in 。, a year written 二〇〇三, and 即办 against a legal limit in days. A real HTTP catalogue on 127.0.0.1 is read
through the shipped REST connector configuration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from catalogue_testlib import ServedCatalogue
from sqlalchemy import select

from gateway.catalogue import harvest_catalogue, load_catalogues
from gateway.catalogue.entry import CatalogueEntry, TimeLimit
from gateway.catalogue.normalise import text_key
from gateway.ops.kpi import item_kpis
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import catalogue_items, watermarks


def _record(i: int, changed: str, **fields: Any) -> dict[str, Any]:
    return {"SXID": f"R{i}", "JBBM": "370000000001", "SSBM": f"S{i}", "XSCJ": "县级", "XZQHDM": f"3701{i:02d}",
            "SXMC": "婚姻登记", "SXLX": "行政确认", "SSZT": [{"ZTMC": "民政局", "ZTDM": "D1"}], "FDSX": "20个工作日",
            "CNSX": "5个工作日", "FWDX": "自然人", "BLQD": "窗口", "SFSF": "否", "DXCCS": "1",
            "SQCL": [{"CLMC": "申请书", "BYX": "必要"}], "SXZT": "在用", "BBH": "1", "GXSJ": changed, **fields}


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedCatalogue]:
    served = ServedCatalogue()
    monkeypatch.setenv("TONGBAN_SD_CATALOGUE_URL", served.url)
    monkeypatch.setenv("TONGBAN_SD_CATALOGUE_TOKEN", "catalogue-token")
    yield served
    served.server.shutdown()


def _stored(engine: Any) -> dict[str, tuple[Any, ...]]:
    c = catalogue_items.c
    with engine.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(select(c.source_id, c.legal_days, c.status, c.visits))}


def test_a_change_time_in_the_future_does_not_stop_the_incremental_harvest(catalogue: ServedCatalogue,
                                                                           database_url: str) -> None:
    """One record's 更新时间 typed 9999 moved the watermark there: every later harvest asked for changes since 9999,
    and R1's correction and the new R3 were never read."""
    engine = make_engine(database_url)
    upgrade(engine)
    config = load_catalogues()["sd_catalogue"]
    catalogue.docs[:] = [_record(1, "2026-01-01T08:00:00+08:00"), _record(2, "9999-01-01T08:00:00+08:00")]
    first = harvest_catalogue(engine, config)
    assert (first.inserted, first.future) == (2, 1) and "cursor.future" in first.flags[0]
    with engine.connect() as conn:
        assert conn.execute(select(watermarks.c.cursor)).scalar_one().year == 2026
    catalogue.docs[0] = _record(1, "2026-02-01T08:00:00+08:00", FDSX="30个工作日")
    catalogue.docs.append(_record(3, "2026-02-01T09:00:00+08:00"))
    harvest_catalogue(engine, config)
    stored = _stored(engine)
    assert stored["R1"][0] == 30 and "R3" in stored


def test_a_record_the_connector_cannot_read_is_counted_and_not_retired(catalogue: ServedCatalogue,
                                                                       database_url: str) -> None:
    """A full refresh retired the entry of a record whose change time had become unreadable (and its findings read
    as fixed); the report neither counted nor named it."""
    engine = make_engine(database_url)
    upgrade(engine)
    config = load_catalogues()["sd_catalogue"]
    catalogue.docs[:] = [_record(i, f"2026-01-0{i}T08:00:00+08:00") for i in (1, 2, 3)]
    assert harvest_catalogue(engine, config, full_refresh=True).inserted == 3
    catalogue.docs[1] = _record(2, "2026-01-02 24:00")
    again = harvest_catalogue(engine, config, full_refresh=True)
    assert (again.read, again.rejected, again.retired) == (3, 1, 0)
    assert again.rejections[0].startswith("sd_catalogue:R2:") and "GXSJ" in again.rejections[0]
    assert {k: v[1] for k, v in _stored(engine).items()} == {"R1": "active", "R2": "active", "R3": "active"}


def test_numbers_no_column_holds_are_flags_not_a_failed_harvest(catalogue: ServedCatalogue, database_url: str) -> None:
    """3000000000个工作日, 到现场次数 3000000000, a 33-character 版本号, a department code of 40 characters: on PostgreSQL the
    page failed (integer out of range, value too long), nothing was stored, and every later harvest failed again."""
    engine = make_engine(database_url)
    upgrade(engine)
    catalogue.docs[:] = [
        _record(1, "2026-01-01T08:00:00+08:00", FDSX="3000000000个工作日"),
        _record(2, "2026-01-01T08:01:00+08:00", DXCCS="3000000000"),
        _record(3, "2026-01-01T08:02:00+08:00", BBH="V" * 33),
        _record(4, "2026-01-01T08:03:00+08:00", SSZT=[{"ZTMC": "民政局", "ZTDM": "D" * 40}]),
        _record(5, "2026-01-01T08:04:00+08:00")]
    report = harvest_catalogue(engine, load_catalogues()["sd_catalogue"])
    assert (report.inserted, report.rejected, report.flagged) == (5, 0, 4), report.as_dict()
    flagged = " ".join(report.flags)
    assert all(field in flagged for field in ("legal_limit", "visits", "source_version", "departments.0.code"))
    stored = _stored(engine)
    assert stored["R1"][0] is None and stored["R2"][2] is None and stored["R5"] == (20, "active", 1)


def _entry(**fields: Any) -> CatalogueEntry:
    return CatalogueEntry.model_validate({"catalog_code": "1", "item_code": "X", "level": "1", "division": "100000",
                                          "name": "婚姻登记", "item_type": "07", **fields})


def test_a_list_stated_as_nothing_is_an_empty_list_not_an_unreadable_field() -> None:
    """无, - or an empty cell (the mapping's null tokens: None) for 服务对象 or 办理渠道 was a type.list flag, and
    the audit then skipped the element for every other level."""
    entry = _entry(service_objects=None, channels=None)
    assert entry.service_objects == [] and entry.channels == [] and not entry.quality


@pytest.mark.parametrize("written, days", [("20个工作日。", 20), ("20日。", 20), ("即办件。", 0), ("20个工作日；", 20)])
def test_a_time_limit_ending_a_sentence_is_read(written: str, days: int) -> None:
    assert TimeLimit.parse(written).days == days


def test_a_year_written_digit_by_digit_is_the_same_citation() -> None:
    cited = "《婚姻登记条例》(2003年)第4条"
    assert text_key("《婚姻登记条例》（二〇〇三年）第四条") == text_key(cited)
    assert text_key("《婚姻登记条例》（二零零三年）第四条") == text_key(cited)
    assert text_key("一九九八年") == text_key("1998年") and text_key("一二天") != text_key("12天")


@pytest.mark.parametrize("instant", ["即办", "当场", "0日"])
def test_an_instant_promise_counts_in_the_items_speed_up_whatever_its_unit(catalogue: ServedCatalogue, sqlite_url: str,
                                                                          instant: str) -> None:
    """即办 is stored as 0 working days: against a legal limit in calendar days it was left out of 提速率（事项）,
    while 0日 counted as a full speed-up."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    catalogue.docs[:] = [_record(1, "2026-01-01T08:00:00+08:00", FDSX="30日", CNSX=instant),
                         _record(2, "2026-01-01T08:01:00+08:00", FDSX="30日", CNSX="15日")]
    harvest_catalogue(engine, load_catalogues()["sd_catalogue"])
    assert item_kpis(engine)[0].kpis["speedup_item"] == 0.75
