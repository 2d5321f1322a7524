"""A windowed read (``incremental.max_window``) moves the watermark through the windows it finished, empty ones too.

An outside review found the watermark staying at the last record's change time: a source quiet for a year made
every scheduled run walk 52 empty windows again (one call a week more each week), which with a flaky service
meant no run ever finished. Each finished window now tells the engine it read through its end
(``Page.read_through``); the window still open at the read's start does not (changes may still land in it).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.sync.engine import sync_system
from sandbox import civil

BEIJING = timezone(timedelta(hours=8))
FORMAT = "%Y-%m-%d %H:%M:%S"
OLD = datetime.now(BEIJING).replace(microsecond=0) - timedelta(days=60)


def _rows() -> list[dict]:
    rows = [copy.deepcopy(civil.generate(7, i)) for i in range(3)]
    for n, row in enumerate(rows):
        row["updateTime"] = (OLD + timedelta(minutes=n)).strftime(FORMAT)
    return rows


def _source(rows: list[dict]):
    def answer(request: Seen) -> Answer:
        q = request.query
        if datetime.strptime(q["endTime"], FORMAT) - datetime.strptime(q["startTime"], FORMAT) > timedelta(days=7):
            return json_answer('{"code":"400","msg":"查询时间跨度不能超过7天"}'.encode())
        chosen = [r for r in rows if q["startTime"] <= r["updateTime"] <= q["endTime"]]
        size, number = int(q["pageSize"]), int(q["pageNum"])
        return json_answer(json.dumps({"code": "200", "data": {"total": len(chosen), "rows": chosen[
            (number - 1) * size: number * size]}}, ensure_ascii=False).encode())

    return answer


def _connector(url: str) -> RestConnector:
    return RestConnector(
        {"kind": "rest", "name": "civil", "base_url": url, "retry": {"max_attempts": 1},
         "streams": {"cases": {
             "path": "/api/cases", "record_selector": "data.rows", "primary_key": "id",
             "success": {"field": "code", "equals": "200"},
             "incremental": {"cursor_field": "updateTime", "cursor_format": FORMAT, "param": "startTime",
                             "end_param": "endTime", "max_window": "7d", "initial_lookback": "90d"},
             "pagination": {"type": "page_number", "page_param": "pageNum", "size_param": "pageSize", "size": 50}}}},
        session=plain_session())


def test_a_quiet_source_s_next_run_does_not_walk_its_empty_windows_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    runtime = Runtime(load_systems(Path(__file__).resolve().parents[2] / "config" / "systems.yaml"), engine)
    rows = _rows()
    try:
        with ScriptedServer(_source(rows)) as server:
            first = sync_system(runtime, "sd_civil", connector=_connector(server.url))
            first_calls = len(server.requests_to("/api/cases"))
            with engine.connect() as conn:
                watermark = ledger.get_watermark(conn, "sd_civil", runtime.systems.get("sd_civil").stream)
            second = sync_system(runtime, "sd_civil", connector=_connector(server.url))
            second_calls = len(server.requests_to("/api/cases")) - first_calls
    finally:
        runtime.close()
    assert first.counts.inserted == 3 and second.counts.inserted == 0
    assert first_calls >= 13  # 90 days in windows of 7
    assert watermark is not None and watermark > datetime.now(timezone.utc) - timedelta(days=8)
    assert second_calls <= 3  # from the watermark (less the lookback): the last window or two, not 13 again
