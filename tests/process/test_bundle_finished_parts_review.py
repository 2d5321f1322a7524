"""一件事 bundles: what the departments write after a part has finished, and whose licence the scan takes (an
outside review's finds, each reproduced against the code before the fix).

- the licence number comes from the market system's case: one of another company (a slip, a mixed-up case) found
  that company's licence in the library, and the scan granted the seal and tax departments a consent to fetch it
  and sent them cases under its 统一社会信用代码 — a company that never applied for anything. A holder of the
  licence must now bear the applicant's name; otherwise the bundle is held, saying why (a ``bundle_scan`` alert);
- a finished part was never read again: a licence closed 出证办结 without its number (real systems do) and
  corrected later left the bundle waiting for ever for "certificate None"; a licence voided after it was issued
  let the bundle finish;
- a part closed as 转报 (``forwarded``: sent on to another authority) counted as finished, and so did the bundle;
- a material was served by the definition as it stands, not as the bundle was applied (a material later listed
  for the tax part was served to jn_tax for every old bundle; one later dropped from the seal part was refused to
  jn_seal, whose released case references it); the phone, address and division went to every part whatever the
  form's ``parts`` said, and a summary could quote a field of another part.

The departments' versions are written into the ledger as their syncs write them (a newer version of the part's
case under the department's system); the certificate as the harvest stores it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bundles_testlib import CATALOGUE, SPEC, application
from gateway_testlib import REPO
from sqlalchemy import insert, select, update

from gateway.contract.errors import RecordRejected
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.ops.alerts import open_alerts
from gateway.process.bundle_spec import BundleCatalogue, BundleSpec
from gateway.process.bundles import (
    SCAN_ALERT,
    BundleReport,
    MaterialNotServed,
    apply_bundle,
    bundle_detail,
    bundle_material,
    scan_bundles,
)
from gateway.store.db import make_engine
from gateway.store.ledger import dumps, loads, utcnow
from gateway.store.migrate import upgrade
from gateway.store.tables import bundle_parts, cases, certificate_holders, certificates

USCC = "91370102MA3C4D5E6M"
OTHER = "91370102MA3C4D5E7Q"  # 济南老字号餐饮有限公司: licensed years ago, never applied for anything
COMPANY = "济南泉城数智科技有限公司"
LICENCE_TYPE = "11100000MB0143028R001"
ENDPOINTS = {"TONGBAN_SD_MARKET_URL": "http://127.0.0.1:9", "TONGBAN_SD_MARKET_USERNAME": "u",
             "TONGBAN_SD_MARKET_PASSWORD": "p", "TONGBAN_JN_SEAL_URL": "http://127.0.0.1:9", "TONGBAN_JN_SEAL_TOKEN": "t",
             "TONGBAN_JN_TAX_URL": "http://127.0.0.1:9", "TONGBAN_JN_TAX_TOKEN": "t",
             "TONGBAN_SD_LICENCES_URL": "http://127.0.0.1:9", "TONGBAN_SD_LICENCES_API_KEY": "k"}


class Ledger:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.pii = PiiCodec(GatewayKeys.generate())
        self.systems = load_systems(REPO / "config" / "systems.yaml")

    def apply(self, reference: str, spec: BundleSpec = SPEC) -> str:
        return apply_bundle(self.engine, spec, application(reference), systems=self.systems, pii=self.pii).bundle_no

    def scan(self, catalogue: BundleCatalogue = CATALOGUE) -> BundleReport:
        return scan_bundles(self.engine, catalogue, systems=self.systems, pii=self.pii)

    def case(self, bundle_no: str, code: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return loads(conn.execute(select(cases.c.data).where(
                cases.c.case_no == self.part(bundle_no, code)["case_no"])).scalar_one())

    def part(self, bundle_no: str, code: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(bundle_parts).where(bundle_parts.c.bundle_no == bundle_no,
                                                                bundle_parts.c.part == code)).mappings().one())

    def department_writes(self, bundle_no: str, code: str, system: str, **changes: Any) -> None:
        """A newer version of the part's case, as the department's sync writes it."""
        case_no = self.part(bundle_no, code)["case_no"]
        with self.engine.begin() as conn:
            row = conn.execute(select(cases).where(cases.c.case_no == case_no)).mappings().one()
            data = {**loads(row["data"]), **changes}
            conn.execute(update(cases).where(cases.c.case_no == case_no).values(
                version=row["version"] + 1, data=dumps(data), origin_system=system, origin_source_id=f"D-{case_no}",
                content_hash=f"h{row['version'] + 1}", updated_at=utcnow(), source_updated_at=utcnow(),
                deleted=changes.get("status") in ("voided", "deleted")))

    def licence_in_library(self, number: str, holder: str) -> None:
        """A 营业执照 as the harvest stores it: holders with their names, ID numbers sealed, a blind index row."""
        identifier = f"1.2.156.3005.2.{LICENCE_TYPE}.X.{number}.001.1"
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(certificates).values(
                identifier=identifier, source_system="sd_licences", source_id=number, type_code=LICENCE_TYPE,
                name="营业执照", number=number, issuer_code="11370100004301265T", status="valid",
                valid_from="2020-01-01", valid_until=None, content_hash="0" * 64, file="", version=1,
                document=dumps({"holders": [{"name": holder, "id_type": "001", "id_number": self.pii.seal(number)}]}),
                created_at=now, updated_at=now))
            conn.execute(insert(certificate_holders).values(identifier=identifier, holder_bidx=self.pii.bidx(number),
                                                            type_code=LICENCE_TYPE))


@pytest.fixture
def ledger(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    for key, value in ENDPOINTS.items():
        monkeypatch.setenv(key, value)
    made = Ledger(database_url)
    yield made
    made.engine.dispose()


def _issued(ledger: Ledger, bundle_no: str, **changes: Any) -> None:
    ledger.department_writes(bundle_no, "licence", "sd_market", status="finished", result="issued",
                             finished_at="2026-12-08T10:00:00+08:00", **changes)


def test_a_licence_number_of_another_company_releases_nothing_and_says_why(ledger: Ledger) -> None:
    ledger.licence_in_library(OTHER, "济南老字号餐饮有限公司")
    bundle_no = ledger.apply("OTHER-1")
    _issued(ledger, bundle_no, certificate_no=OTHER)
    report = ledger.scan()
    assert report.released == 0
    assert ledger.part(bundle_no, "licence")["certificate_id"] is None
    assert {ledger.part(bundle_no, code)["state"] for code in ("seal", "tax")} == {"waiting"}
    error = report.errors[bundle_no]
    assert OTHER in error and "济南老字号餐饮有限公司" in error and COMPANY in error
    detail = bundle_detail(ledger.engine, bundle_no)  # what bundles status, the console and the API show
    assert detail["status"] == "held" and "济南老字号餐饮有限公司" in detail["reason"], detail["reason"]
    assert "not in the certificate library yet" not in detail["reason"]
    assert [a["key"] for a in open_alerts(ledger.engine, kind=SCAN_ALERT)] == [bundle_no]

    ledger.licence_in_library(USCC, f" {COMPANY.replace('有限公司', '　有限公司')} ")  # padded as feeds pad names
    _issued(ledger, bundle_no, certificate_no=USCC)  # the market corrects its case
    report = ledger.scan()
    assert report.errors == {} and report.released == 2
    assert open_alerts(ledger.engine, kind=SCAN_ALERT) == []


def test_a_licence_finished_without_its_number_is_read_again_when_corrected(ledger: Ledger) -> None:
    bundle_no = ledger.apply("LATE-NUMBER-1")
    _issued(ledger, bundle_no)  # 出证办结, no certificate number
    ledger.scan()
    assert ledger.part(bundle_no, "licence")["state"] == "finished"
    ledger.licence_in_library(USCC, COMPANY)
    ledger.department_writes(bundle_no, "licence", "sd_market", certificate_no=USCC)
    report = ledger.scan()
    licence = ledger.part(bundle_no, "licence")
    assert licence["certificate_no"] == USCC and licence["certificate_id"] is not None
    assert report.released == 2
    steps = [e["step"] for e in bundle_detail(ledger.engine, bundle_no)["events"]]
    assert "part_corrected" in steps


def test_a_licence_voided_after_it_was_issued_fails_the_bundle(ledger: Ledger) -> None:
    ledger.licence_in_library(USCC, COMPANY)
    bundle_no = ledger.apply("VOIDED-1")
    _issued(ledger, bundle_no, certificate_no=USCC)
    assert ledger.scan().released == 2
    ledger.department_writes(bundle_no, "licence", "sd_market", status="voided", result="voided",
                             result_reason="登记信息有误，作废")
    ledger.scan()
    assert ledger.part(bundle_no, "licence")["state"] == "refused"
    detail = bundle_detail(ledger.engine, bundle_no)
    assert detail["status"] == "failed" and "登记信息有误" in detail["reason"]


def test_a_licence_deleted_after_it_was_issued_fails_the_bundle_saying_so(ledger: Ledger) -> None:
    ledger.licence_in_library(USCC, COMPANY)
    bundle_no = ledger.apply("DELETED-1")
    _issued(ledger, bundle_no, certificate_no=USCC)
    ledger.scan()
    ledger.department_writes(bundle_no, "licence", "sd_market", status="deleted")  # result still "issued"
    ledger.scan()
    detail = bundle_detail(ledger.engine, bundle_no)
    assert detail["status"] == "failed" and "deleted by sd_market, without a reason" in detail["reason"]
    assert "issued without a reason" not in detail["reason"]


def test_a_part_forwarded_to_another_authority_is_not_finished(ledger: Ledger) -> None:
    ledger.licence_in_library(USCC, COMPANY)
    bundle_no = ledger.apply("FORWARDED-1")
    _issued(ledger, bundle_no, certificate_no=USCC)
    ledger.scan()
    ledger.department_writes(bundle_no, "seal", "jn_seal", status="finished", result="forwarded",
                             finished_at="2026-12-08T11:00:00+08:00")
    ledger.department_writes(bundle_no, "tax", "jn_tax", status="finished", result="finished",
                             finished_at="2026-12-08T11:00:00+08:00")
    ledger.scan()
    seal = ledger.part(bundle_no, "seal")
    assert seal["state"] == "held" and "转报" in seal["reason"]
    detail = bundle_detail(ledger.engine, bundle_no)
    assert detail["status"] == "held" and "转报" in detail["reason"]


DEFINITION = (REPO / "config" / "bundles.yaml").read_text(encoding="utf-8")


def _changed(old: str, new: str) -> BundleCatalogue:
    assert old in DEFINITION
    return BundleCatalogue.from_text(DEFINITION.replace(old, new))


def test_materials_are_served_as_the_bundle_was_applied(ledger: Ledger) -> None:
    ledger.licence_in_library(USCC, COMPANY)
    bundle_no = ledger.apply("AS-APPLIED-1")
    _issued(ledger, bundle_no, certificate_no=USCC)
    assert ledger.scan().released == 2
    later = _changed("articles: {name: 公司章程, parts: [licence]}", "articles: {name: 公司章程, parts: [licence, tax]}")
    with pytest.raises(MaterialNotServed) as refused:
        bundle_material(ledger.engine, later, bundle_no, "articles", system="jn_tax", pii=ledger.pii)
    assert refused.value.reason == "not_yours"
    dropped = _changed("appointment: {name: 法定代表人任职文件, parts: [licence, seal]}",
                       "appointment: {name: 法定代表人任职文件, parts: [licence]}")
    assert any("/appointment#" in (m.get("attachment") or "") for m in ledger.case(bundle_no, "seal")["materials"])
    served = bundle_material(ledger.engine, dropped, bundle_no, "appointment", system="jn_seal", pii=ledger.pii)
    assert served.content == "执行董事任职文件".encode()


def test_a_part_is_released_with_the_materials_it_was_applied_with(ledger: Ledger) -> None:
    ledger.licence_in_library(USCC, COMPANY)
    bundle_no = ledger.apply("AS-APPLIED-2")
    _issued(ledger, bundle_no, certificate_no=USCC)
    later = _changed("articles: {name: 公司章程, parts: [licence]}", "articles: {name: 公司章程, parts: [licence, tax]}")
    assert ledger.scan(later).released == 2
    assert not any("/articles#" in (m.get("attachment") or "") for m in ledger.case(bundle_no, "tax")["materials"])


def test_a_field_reaches_only_the_parts_it_is_for(ledger: Ledger) -> None:
    narrow = _changed(r'phone: {label: 联系电话, required: true, pattern: "^1\\d{10}$", parts: [licence, seal, tax]}',
                      r'phone: {label: 联系电话, required: true, pattern: "^1\\d{10}$", parts: [licence]}')
    ledger.licence_in_library(USCC, COMPANY)
    bundle_no = ledger.apply("NARROW-1", narrow.get("KBQY"))
    assert ledger.case(bundle_no, "licence")["applicant"]["phone"] == "13805310001"
    _issued(ledger, bundle_no, certificate_no=USCC)
    assert ledger.scan(narrow).released == 2
    assert ledger.case(bundle_no, "seal")["applicant"].get("phone") is None
    assert ledger.case(bundle_no, "tax")["applicant"]["address"] == "济南市历下区泉城路1号"


def test_a_summary_quoting_another_parts_field_is_said_and_the_file_still_loads(
        caplog: pytest.LogCaptureFixture) -> None:
    """A refusal here (the first fix) stopped every bundle of a file valid before: it is said instead."""
    with caplog.at_level("WARNING", logger="gateway.process.bundle_spec"):
        catalogue = _changed('summary: "刻制：{seal_kinds}；', 'summary: "刻制：{seal_kinds}；{finance_officer}；')
    assert "KBQY" in catalogue.bundles
    assert any("parts.seal.summary: {finance_officer} is a field of part(s) ['tax'], not of seal" in r.getMessage()
               for r in caplog.records)


def test_a_field_that_names_no_parts_reaches_every_part_as_it_did(ledger: Ledger) -> None:
    unlisted = _changed(r'phone: {label: 联系电话, required: true, pattern: "^1\\d{10}$", parts: [licence, seal, tax]}',
                        r'phone: {label: 联系电话, required: true, pattern: "^1\\d{10}$"}')
    ledger.licence_in_library(USCC, COMPANY)
    bundle_no = ledger.apply("UNLISTED-1", unlisted.get("KBQY"))
    _issued(ledger, bundle_no, certificate_no=USCC)
    assert ledger.scan(unlisted).released == 2
    assert ledger.case(bundle_no, "seal")["applicant"]["phone"] == "13805310001"


def test_materials_written_as_file_paths_under_their_codes_are_read(tmp_path: Any) -> None:
    """``materials: {id_proof: id.pdf}`` in an application file was a TypeError traceback from the CLI."""
    from gateway.cli.bundles import read_application

    (tmp_path / "id.pdf").write_bytes(b"%PDF-1.7 id")
    (tmp_path / "app.yaml").write_text("reference: FILES-1\nmaterials:\n  id_proof: id.pdf\n  articles: 3\n",
                                       encoding="utf-8")
    data, _ = read_application(str(tmp_path / "app.yaml"))
    by_code = {m["code"]: m for m in data["materials"]}
    assert by_code["id_proof"]["content_base64"] == "JVBERi0xLjcgaWQ="
    with pytest.raises(RecordRejected) as refused:
        SPEC.check({**application("FILES-1"), "materials": data["materials"]})
    assert ("materials.articles", "bundle.material_content") in {(i.field, i.rule) for i in refused.value.issues}


def test_a_reference_the_ledger_cannot_keep_is_refused_naming_it(ledger: Ledger) -> None:
    """85 characters failed mid-store on PostgreSQL (StringDataRightTruncation; SQLite kept it); a YAML mapping
    was stored as its Python repr."""
    for reference, rule in (("H" * 85, "bundle.length"), ({"no": 1}, "bundle.type")):
        with pytest.raises(RecordRejected) as refused:
            apply_bundle(ledger.engine, SPEC, {**application("x"), "reference": reference}, systems=ledger.systems,
                         pii=ledger.pii)
        assert [(i.field, i.rule) for i in refused.value.issues] == [("reference", rule)]
    assert apply_bundle(ledger.engine, SPEC, application("H" * 64), systems=ledger.systems, pii=ledger.pii).created


def test_base64_broken_into_lines_is_read_and_bad_base64_is_named() -> None:
    import base64

    content = "法定代表人身份证 正反面".encode() * 10
    mime = base64.encodebytes(content).decode()  # 76 characters a line, as Java's MIME encoder writes
    assert "\n" in mime.strip()
    app = application("MIME-1")
    app["materials"][0]["content_base64"] = mime
    _, materials = SPEC.check(app)
    assert materials[0].content == content
    app["materials"][0]["content_base64"] = "not base64!"
    with pytest.raises(RecordRejected) as refused:
        SPEC.check(app)
    (issue,) = refused.value.issues
    assert issue.rule == "bundle.material_content" and "not valid base64" in issue.message
