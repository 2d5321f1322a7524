"""Which open alerts come first (``tongban status`` shows the 50 most urgent, the console its first rows): the most
severe level, then the longest overdue, then the newest. Ordering by "seen last" alone put a time limit missed a
minute ago above one missed a week ago, and on a busy ledger the week-old one fell off the list."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.ops.alerts import AlertSpec, open_alerts, raise_alert, sync_alerts
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade


def test_the_most_severe_then_the_longest_overdue_come_first(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    now = datetime.now(timezone.utc)
    overdue = {"CASE-WEEK": now - timedelta(days=7), "CASE-MINUTE": now - timedelta(minutes=1),
               "CASE-DAY": now - timedelta(days=1)}
    # written longest-overdue first, so the newest-seen is the least overdue
    sync_alerts(engine, "deadline", [AlertSpec(key=k, level="red", case_no=k, message=f"{k} past its limit",
                                               details={"due_at": due.isoformat(), "stage": "审查"})
                                     for k, due in sorted(overdue.items(), key=lambda kv: kv[1])])
    raise_alert(engine, "sync_failed", "sd_civil", level="error", system="sd_civil", message="sync failed")
    raise_alert(engine, "behind", "jn_estate", level="warning", system="jn_estate", message="behind")
    order = [a["key"] for a in open_alerts(engine)]
    assert order[0] == "sd_civil"  # an error first
    assert [k for k in order if k.startswith("CASE")] == ["CASE-WEEK", "CASE-DAY", "CASE-MINUTE"]
    assert [a["key"] for a in open_alerts(engine, kind="deadline", limit=1)] == ["CASE-WEEK"]
    engine.dispose()
