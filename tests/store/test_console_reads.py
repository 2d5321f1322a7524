"""The console's bounded reads: the audit-log window found by bisecting the primary key gives exactly the rows a
filter on the time would, and the outbox counts are the queue's business only (pending, dead)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.store import console as reads
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import audit_log

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _engine(tmp_path):  # noqa: ANN001, ANN202
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}")
    upgrade(engine)
    return engine


def test_window_of_an_empty_log_and_of_a_log_older_than_the_window(tmp_path) -> None:  # noqa: ANN001
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        assert reads.first_audit_seq_since(conn, T0) is None
        conn.execute(audit_log.insert(), [{"seq": 1, "at": T0, "action": "query", "outcome": "ok", "prev_hash": "0",
                                           "hash": "1"}])
        assert reads.first_audit_seq_since(conn, T0 + timedelta(seconds=1)) is None
        assert reads.first_audit_seq_since(conn, T0) == 1
        tomorrow = reads.first_audit_seq_since(conn, T0 + timedelta(days=1))
        assert tomorrow is None and reads.certificate_uses_by_action(conn, first=tomorrow) == {}


@settings(max_examples=40, deadline=None)
@given(gaps=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=300),
       start=st.integers(min_value=1, max_value=10**6), probe=st.integers(min_value=-100, max_value=10**6))
def test_bisection_finds_the_first_entry_at_or_after_any_moment(tmp_path_factory, gaps, start, probe) -> None:  # noqa: ANN001
    engine = _engine(tmp_path_factory.mktemp("audit"))
    moments, at = [], T0
    for gap in gaps:  # non-decreasing times, repeated ones included (several entries in one second)
        at += timedelta(seconds=gap)
        moments.append(at)
    with engine.begin() as conn:
        conn.execute(audit_log.insert(), [{"seq": start + i, "at": m, "action": "release", "outcome": "ok",
                                           "prev_hash": "0", "hash": str(i)} for i, m in enumerate(moments)])
        since = T0 + timedelta(seconds=probe)
        expected = next((start + i for i, m in enumerate(moments) if m >= since), None)
        assert reads.first_audit_seq_since(conn, since) == expected
        counted = reads.certificate_uses_by_action(conn, first=reads.first_audit_seq_since(conn, since))
        assert sum(counted.get("release", {}).values()) == sum(1 for m in moments if m >= since)
    engine.dispose()


def test_uses_by_client_count_releases_once_and_every_refusal(tmp_path) -> None:  # noqa: ANN001
    """A jointly held certificate's release is one release (each co-holder's entry tells that holder); refusals
    are the ``denied:…`` outcomes of any action — none was ever written as action ``deny``, so the column read 0
    while refusals counted as releases."""
    engine = _engine(tmp_path)
    co_holder = "metadata; co-holder: released for the case's applicant"
    rows = [("release", "released", "A", None), ("release", "released", "A", co_holder),
            ("release", "denied:consent", "A", None), ("query", "denied:policy", "A", None),
            ("verify", "denied:policy", "A", None), ("verify", "genuine", "A", None), ("query", "released", "B", None)]
    with engine.begin() as conn:
        conn.execute(audit_log.insert(), [{"seq": n, "at": T0, "action": action, "outcome": outcome, "client_id": who,
                                           "detail": detail, "prev_hash": "0", "hash": str(n)}
                                          for n, (action, outcome, who, detail) in enumerate(rows, 1)])
        counted = {r["client_id"]: r for r in reads.certificate_uses_by_client(conn, first=1)}
    engine.dispose()
    assert (counted["A"]["entries"], counted["A"]["released"], counted["A"]["denied"]) == (6, 1, 3)
    assert (counted["B"]["released"], counted["B"]["denied"]) == (1, 0)
