"""按时答复率 counts a reply when the department gives it; the platform may not have it yet, or ever (a reply whose
push was given up). Found by review: the summary said 100% on time while the reply sat undelivered, and nothing
showed the gap with the city's own figure: ``replies_not_received`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from citizen_testlib import migrated

from gateway.citizen import workorder_summary
from gateway.store.tables import citizen_outbox


def test_replies_the_platform_has_not_received_are_counted(tmp_path: Path) -> None:
    engine = migrated(f"sqlite:///{tmp_path / 'ledger.db'}")
    now = datetime.now(UTC)
    rows = [("df:G1:0", "pending"), ("df:G2:0", "dead"), ("df:G3:0", "delivered"), ("zp:G4", "pending")]
    with engine.begin() as conn:
        conn.execute(citizen_outbox.insert(), [
            dict(target="hotline", key=key, operation="/gd/api/df", payload="{}", status=status, attempts=0,
                 next_attempt_at=now, created_at=now - timedelta(minutes=5)) for key, status in rows])
    assert workorder_summary(engine, now=now)["replies_not_received"] == {"pending": 1, "dead": 1}
