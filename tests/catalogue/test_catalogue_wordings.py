"""Wordings real catalogues use, through the real path: records in the provincial catalogue's own format, read by
a connector, mapped by ``mappings/catalogue/sd_catalogue.yaml``, harvested into the store and audited from it.

Typing noise in lists and limits gives no finding; a tenfold fee, a reversed comparison and a merged article
number do; a field no one can read (``1年``, ``两次``, a material with no name) costs neither the entry nor the
audit of its other elements — it is a flag on the entry and an ``unreadable_field`` finding naming field and rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from gateway.catalogue import harvest_catalogue, load_catalogues, load_entries, run_audit
from gateway.contract.connector import CheckResult, Connector, Page, RawRecord, StreamInfo, SyncMode
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

_NATIONAL = {
    "SXID": "QD90000001", "JBBM": "000105101000", "SSBM": "N1", "SXMC": "高龄老人津贴发放", "SXLX": "行政给付",
    "XSCJ": "国家级", "XZQHDM": "100000", "XZQHMC": "国家", "SSZT": [{"ZTMC": "民政部", "ZTDM": "M"}],
    "SDYJ": "《山东省老年人权益保障条例》第2-3条", "SLTJ": "年满80周岁、居住面积>100平方米的本市户籍老年人",
    "FWDX": "自然人、法人", "FDSX": "20个工作日", "CNSX": "10个工作日", "SFSF": "是", "SFYJ": "每件收费1.5元",
    "BLQD": "窗口办理|网上办理", "DXCCS": "1", "SQCL": [{"CLMC": "身份证", "BYX": "必要"}, {"CLMC": "户口簿", "BYX": "必要"}],
    "TBFW": "", "SXZT": "在用", "BBH": "1", "GXSJ": "2024-01-01T08:00:00+08:00",
}


def _district(n: int, **changes: Any) -> dict[str, Any]:
    division = f"3701{n:02d}"
    return {**_NATIONAL, "SXID": f"QD9000010{n}", "SSBM": f"D{n}", "XSCJ": "县级", "XZQHDM": division,
            "XZQHMC": f"区{n}", "SSZT": [{"ZTMC": f"区{n}民政局", "ZTDM": f"D{n}"}],
            "GXSJ": f"2024-01-01T08:0{n}:00+08:00", **changes}


RECORDS = [
    _NATIONAL,
    # typed differently, the same item: no finding
    _district(1, FWDX="自然人／法人", SXMC="高龄老人津贴发放 ", FDSX="二十个工作日内", CNSX="当场",
              SDYJ="《山东省老年人权益保障条例》第２～３条。", SLTJ="年满８０周岁，居住面积 ＞ 100平方米的本市户籍老年人"),
    _district(2, FWDX="自然人 法人", FDSX="20个工作日以内", SFYJ="每件收费１．５元"),
    # a different meaning: a finding each
    _district(3, SFYJ="每件收费15元"),
    _district(4, SLTJ="年满80周岁、居住面积<100平方米的本市户籍老年人"),
    _district(5, SDYJ="《山东省老年人权益保障条例》第23条"),
    # unreadable fields: kept, flagged, the rest audited (D6's fee differs too)
    _district(6, FDSX="1年", DXCCS="两次", SFYJ="每件收费2元"),
    _district(7, CNSX="20个工作日（其中公示10日）", SQCL=[{"CLMC": "身份证", "BYX": "必要"}, {"CLMC": "", "BYX": "必要"}]),
    # no key: still rejected
    _district(8, JBBM=""),
]


class _Listed(Connector):
    """The records above as the catalogue would serve them, one page, in change order."""

    kind = "listed"

    def check(self) -> CheckResult:
        return CheckResult(True, "ok")

    def streams(self) -> list[StreamInfo]:
        return [StreamInfo("entries")]

    def read(self, stream: str, *, since: datetime | None = None, mode: SyncMode = "incremental",
             checkpoint: Mapping[str, Any] | None = None) -> Iterator[Page]:
        yield Page([RawRecord(r["SXID"], datetime.fromisoformat(r["GXSJ"]).astimezone(timezone.utc), r)
                    for r in RECORDS])


def test_wordings_noise_meaning_and_unreadable_fields_through_harvest_and_audit(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    config = load_catalogues()["sd_catalogue"]

    harvested = harvest_catalogue(engine, config, connector=_Listed({}))

    assert (harvested.read, harvested.inserted, harvested.rejected, harvested.flagged) == (9, 8, 1, 2)
    assert harvested.rejections[0].startswith("sd_catalogue:QD90000108: catalog_code")
    assert any("QD90000106: visits" in line for line in harvested.flags)
    stored = {e.item_code: e for e in load_entries(engine)}
    assert stored["D1"].service_objects == ["自然人", "法人"] and stored["D2"].service_objects == ["自然人", "法人"]
    assert stored["D6"].legal_limit is None and stored["D6"].visits is None and stored["D6"].fee_basis == "每件收费2元"
    assert [m.name for m in stored["D7"].materials] == ["身份证"]

    report = run_audit(engine)

    found = sorted((f.item_code, f.kind, f.rule, f.element) for f in report.findings)
    assert found == [
        ("D3", "element_differs", "element_differs", "fee"),
        ("D4", "element_differs", "element_differs", "conditions"),
        ("D5", "element_differs", "element_differs", "legal_basis"),
        ("D6", "element_differs", "element_differs", "fee"),
        ("D6", "unreadable_field", "catalogue.time_limit", "legal_limit"),
        ("D6", "unreadable_field", "mapping.type", "visits"),
        ("D7", "unreadable_field", "catalogue.time_limit", "promised_limit"),
        ("D7", "unreadable_field", "type.str", "materials.1.name"),
    ], found
    by_subject = {(f.item_code, f.element): f for f in report.findings}
    assert by_subject[("D6", "legal_limit")].found == "1年"
    assert by_subject[("D7", "promised_limit")].found == "20个工作日（其中公示10日）"
    assert report.by_kind()["unreadable_field"] == 4
    engine.dispose()
