"""A part released by a scan run as of an earlier instant (``tongban bundles scan --now``, the DAG's ``now``: an
earlier ``--now`` catches up) is written to the ledger at the wall clock: ``cases.updated_at`` is what the KPI refresh
and every incremental reader take as their watermark, and a case stamped hours back was never read by them (the
reviewer's oracle: the incremental KPI refresh counted one case of two)."""

from __future__ import annotations

from datetime import timedelta

from bundles_testlib import SPEC, CompanyWorld, application
from sqlalchemy import select

from gateway.process.bundles import BundleConsents, apply_bundle
from gateway.store.ledger import utcnow
from gateway.store.tables import bundle_parts, cases


def test_a_part_released_as_of_an_earlier_instant_is_written_at_the_wall_clock(world: CompanyWorld) -> None:
    started = utcnow()
    bundle = apply_bundle(world.runtime.engine, SPEC, application("EARLIER-1"), systems=world.runtime.systems,
                          pii=world.runtime.pii, consents=BundleConsents.from_gateway(world.gw),
                          now=started - timedelta(hours=2)).bundle_no
    with world.runtime.engine.connect() as conn:
        case_no = conn.execute(select(bundle_parts.c.case_no).where(bundle_parts.c.bundle_no == bundle,
                                                                    bundle_parts.c.state == "released")).scalar_one()
        written = conn.execute(select(cases.c.updated_at).where(cases.c.case_no == case_no)).scalar_one()
    assert written >= started - timedelta(seconds=1)
