"""The bundle scan reaches every live bundle, however many are older than it (keyset paging)."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from bundles_testlib import CATALOGUE, SPEC, application

from gateway.process import bundles as process
from gateway.process.bundles import scan_bundles
from gateway.store import bundles as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import bundle_applications, bundle_parts

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SYSTEMS = types.SimpleNamespace(systems={"sd_market": 1, "jn_seal": 1, "jn_tax": 1})


def _plant(engine: object, numbers: list[tuple[str, datetime, str]]) -> None:
    """Bundles in progress: the first part in ``state``, the others waiting (one transaction for all)."""
    form = orjson.dumps({"form": SPEC.check(application())[0]}).decode()
    apps, parts = [], []
    for no, at, state in numbers:
        apps.append({"bundle_no": no, "bundle_code": SPEC.code, "reference": None, "submitted_by": "",
                     "application_sha256": None, "applicant_name": "x", "form": form, "consent": False,
                     "status": "in_progress", "submitted_at": at, "due_at": None, "updated_at": at})
        parts += [{"bundle_no": no, "part": code, "case_no": f"{no}-{n:02d}", "system": SPEC.parts[code].system,
                   "item_code": SPEC.parts[code].item_code, "state": state if n == 1 else "waiting",
                   "seen_version": 0, "updated_at": at} for n, code in enumerate(SPEC.order(), start=1)]
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(bundle_applications.insert(), apps)
        conn.execute(bundle_parts.insert(), parts)


def test_a_bundle_behind_a_thousand_older_live_ones_is_scanned(sqlite_url: str) -> None:
    """Review r4: the scan read the oldest 1,000 live bundles and no more, and reported live=1000."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    _plant(engine, [(f"OLD{i:04d}", T0 + timedelta(seconds=i), "released") for i in range(1000)])
    _plant(engine, [("NEW0001", T0 + timedelta(days=1), "waiting")])
    report = scan_bundles(engine, CATALOGUE, systems=SYSTEMS, pii=None, now=T0 + timedelta(days=2))
    with engine.connect() as conn:
        states = {p["part"]: p["state"] for p in store.parts_of(conn, "NEW0001")}
    assert report.released == 1 and states[SPEC.order()[0]] == "released"
    assert report.live == 1001
    engine.dispose()


def test_pages_skip_nothing_and_repeat_nothing(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    same = T0 + timedelta(hours=1)  # several bundles submitted in the same instant: the bundle number breaks ties
    _plant(engine, [(f"B{i:02d}", same if i % 2 else T0 + timedelta(minutes=i), "waiting") for i in range(9)])
    monkeypatch.setattr(process, "SCAN_PAGE", 2)
    seen: list[str] = []
    real = process._release

    def counting(engine: object, spec: object, bundle_no: str, *args: object) -> None:
        seen.append(bundle_no)
        real(engine, spec, bundle_no, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(process, "_release", counting)
    report = scan_bundles(engine, CATALOGUE, systems=SYSTEMS, pii=None, now=T0 + timedelta(days=2))
    assert sorted(seen) == [f"B{i:02d}" for i in range(9)] and report.released == 9 and report.live == 9
    engine.dispose()
