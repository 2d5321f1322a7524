"""A source record whose key (实施编码, 基本编码, level, division) changes: the harvest retires the old entry and
writes the new one, on every run after it too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.catalogue import harvest_catalogue, load_catalogues
from gateway.contract.connector import Page, RawRecord
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import catalogue_item_versions, catalogue_items

REPO = Path(__file__).resolve().parents[2]
T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 6, 1, tzinfo=UTC)
T3 = datetime(2026, 9, 1, tzinfo=UTC)


def rec(sid: str, ssbm: str, when: datetime, *, level: str = "县级", div: str = "370102",
        name: str = "婚姻登记") -> RawRecord:
    return RawRecord(sid, when, {"JBBM": "000123", "SSBM": ssbm, "XSCJ": level, "XZQHDM": div, "SXMC": name,
                                 "SXLX": "行政确认", "SSZT": [{"ZTMC": "民政局", "ZTDM": "11370000004390448N"}],
                                 "FDSX": "20个工作日", "SXZT": "在用", "GXSJ": when.isoformat()})


class Fake:
    def __init__(self, *records: RawRecord) -> None:
        self.records = list(records)

    def read(self, stream: str, since: Any = None, mode: str = "incremental") -> Iterator[Page]:
        yield Page(list(self.records))

    def close(self) -> None:
        pass


def rows(engine: Any) -> dict[str, tuple[str, str, int]]:
    c = catalogue_items.c
    with engine.connect() as conn:
        return {r.item_code: (r.status, r.source_id, r.version)
                for r in conn.execute(select(c.item_code, c.status, c.source_id, c.version))}


@pytest.mark.parametrize("full_refresh", [False, True])
def test_a_recoded_record_retires_its_old_entry_and_harvests_on(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                                                full_refresh: bool) -> None:
    """Review r1: the re-coded record inserted its new key while the old row still held its source id
    (UniqueConstraint(source, source_id)): every harvest after the re-code failed."""
    monkeypatch.setenv("TONGBAN_SD_CATALOGUE_TOKEN", "x")
    config = load_catalogues(REPO / "config" / "catalogues.yaml")["sd_catalogue"]
    engine = make_engine(sqlite_url)
    upgrade(engine)
    nat = rec("N1", "NATIONAL-1", T1, level="国家级", div="100000")
    harvest_catalogue(engine, config, full_refresh=True, connector=Fake(nat, rec("R1", "OLDCODE-0001", T1)))
    recoded = Fake(nat, rec("R1", "NEWCODE-0002", T2, name="婚姻登记（新）"))
    report = harvest_catalogue(engine, config, full_refresh=full_refresh, connector=recoded)
    assert report.recoded == 1 and report.inserted == 1 and report.rejected == 0
    state = rows(engine)
    assert state["NEWCODE-0002"] == ("active", "R1", 1)
    status, tombstone, version = state["OLDCODE-0001"]
    assert status == "retired" and tombstone != "R1" and len(tombstone) <= 128 and version == 2
    again = harvest_catalogue(engine, config, full_refresh=full_refresh, connector=recoded)  # and the next run
    assert again.unchanged == 2 and again.inserted == again.updated == again.recoded == 0
    # an older copy of the record (a lookback re-read) does not move it back
    stale = harvest_catalogue(engine, config, connector=Fake(rec("R1", "OLDCODE-0001", T1)))
    assert stale.unchanged == 1 and rows(engine)["NEWCODE-0002"][0] == "active"
    # re-coded back: the old entry comes back to life (same content, but it was retired), the newer one retires
    back = harvest_catalogue(engine, config, full_refresh=full_refresh,
                             connector=Fake(nat, rec("R1", "OLDCODE-0001", T3)))
    assert back.recoded == 1 and back.updated == 1
    state = rows(engine)
    assert state["OLDCODE-0001"] == ("active", "R1", 3)
    assert state["NEWCODE-0002"][0] == "retired"
    with engine.connect() as conn:  # every version kept under the key it had
        versions = conn.execute(select(catalogue_item_versions.c.item_code, catalogue_item_versions.c.version)
                                .where(catalogue_item_versions.c.item_code != "NATIONAL-1")).all()
    assert sorted(versions) == [("NEWCODE-0002", 1), ("OLDCODE-0001", 1), ("OLDCODE-0001", 3)]
    engine.dispose()


@pytest.mark.parametrize("r1_first", [True, False])
def test_a_recode_into_a_key_another_record_holds_takes_it_over(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                                                 r1_first: bool) -> None:
    monkeypatch.setenv("TONGBAN_SD_CATALOGUE_TOKEN", "x")
    config = load_catalogues(REPO / "config" / "catalogues.yaml")["sd_catalogue"]
    engine = make_engine(sqlite_url)
    upgrade(engine)
    harvest_catalogue(engine, config, full_refresh=True,
                      connector=Fake(rec("R1", "CODE-A", T1), rec("R2", "CODE-B", T1)))
    # in one page, R1 is re-coded onto B while R2 is re-coded away from B (in either order)
    moves = [rec("R1", "CODE-B", T2), rec("R2", "CODE-C", T2)]
    report = harvest_catalogue(engine, config, full_refresh=True,
                               connector=Fake(*(moves if r1_first else moves[::-1])))
    assert report.rejected == 0 and report.recoded >= 1
    state = rows(engine)
    assert state["CODE-B"][:2] == ("active", "R1") and state["CODE-C"][:2] == ("active", "R2")
    assert state["CODE-A"][0] == "retired"
    assert harvest_catalogue(engine, config, full_refresh=True, connector=Fake(*moves)).unchanged == 2
    engine.dispose()
