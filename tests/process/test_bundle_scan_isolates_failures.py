"""One bundle the scan cannot move does not stop the scan: its error is in the scan's report, in the bundle's trail
(``scan_failed``, once per distinct error) and in a ``bundle_scan`` alert naming the bundle, and every other
bundle is observed, released and given its status as usual. Once the bundle can move again, its alert resolves."""

from __future__ import annotations

from datetime import timedelta

from bundles_testlib import SPEC, CompanyWorld, application
from sqlalchemy import select, update

from gateway.ops.alerts import open_alerts
from gateway.process.bundles import BundleConsents, apply_bundle
from gateway.store.ledger import dumps, loads, utcnow
from gateway.store.tables import bundle_applications, bundle_parts

SCAN_ALERT = "bundle_scan"  # the alert kind of a bundle the scan cannot move


def _stored_form(world: CompanyWorld, bundle_no: str) -> str:
    with world.runtime.engine.connect() as conn:
        return str(conn.execute(select(bundle_applications.c.form)
                                .where(bundle_applications.c.bundle_no == bundle_no)).scalar_one())


def _poison(world: CompanyWorld, bundle_no: str, form: str) -> None:
    """The bundle's licence part back to waiting with a stored form no case can be made of (as one stored before
    applications were checked completely): releasing it fails every time."""
    with world.runtime.engine.begin() as conn:
        conn.execute(update(bundle_applications).where(bundle_applications.c.bundle_no == bundle_no).values(form=form))
        conn.execute(update(bundle_parts).where(bundle_parts.c.bundle_no == bundle_no, bundle_parts.c.part == "licence")
                     .values(state="waiting"))


def test_a_bundle_the_scan_cannot_move_is_reported_and_the_others_still_move(world: CompanyWorld) -> None:
    now = utcnow()
    bad = apply_bundle(world.runtime.engine, SPEC, application("POISON-1"), systems=world.runtime.systems,
                       pii=world.runtime.pii, consents=BundleConsents.from_gateway(world.gw),
                       now=now - timedelta(minutes=5)).bundle_no  # older: scanned first
    good = world.apply(application("GOOD-1", company_name="济南后来科技有限公司")).bundle_no
    original = _stored_form(world, bad)
    stored = loads(original)
    stored["form"]["company_name"] = ""
    _poison(world, bad, dumps(stored))

    for _ in range(2):
        report = world.scan()
        assert list(report.errors) == [bad] and "RecordRejected" in report.errors[bad]
    assert world.detail(good)["status"] == "in_progress"  # the later bundle was scanned all the same
    assert world.part(bad, "licence")["state"] == "waiting"
    failures = [e for e in world.detail(bad)["events"] if e["step"] == "scan_failed"]
    assert len(failures) == 1 and "RecordRejected" in failures[0]["detail"]["error"]  # once, not every minute
    (alert,) = open_alerts(world.runtime.engine, kind=SCAN_ALERT)
    assert alert["key"] == bad and alert["case_no"] == bad and alert["occurrences"] == 2 and bad in alert["message"]

    # repaired (the form and the part as they were): the scan moves it again and the alert resolves
    with world.runtime.engine.begin() as conn:
        conn.execute(update(bundle_applications).where(bundle_applications.c.bundle_no == bad).values(form=original))
        conn.execute(update(bundle_parts).where(bundle_parts.c.bundle_no == bad, bundle_parts.c.part == "licence")
                     .values(state="released"))
    report = world.scan()
    assert report.errors == {} and world.detail(bad)["status"] == "in_progress"
    assert open_alerts(world.runtime.engine, kind=SCAN_ALERT) == []
