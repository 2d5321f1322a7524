"""Sync-side Prometheus metrics on the API's /metrics: lag per system, last run by outcome and status, dead
letters, outbox depth, open alerts by level — read from the ledger, so every gateway process says the same."""

from __future__ import annotations

from typing import Any

import requests
from gateway_testlib import ServerThread

from gateway.crypto import GatewayKeys
from gateway.ops.alerts import raise_alert
from gateway.sharing.api import create_app
from gateway.sharing.settings import GatewayRuntime
from gateway.sync.engine import sync_system


def test_metrics_expose_the_sync_side(make_world: Any) -> None:
    world = make_world(civil=25, estate=0)
    report = sync_system(world.runtime, "sd_civil")
    raise_alert(world.runtime.engine, "task_failed", "tongban_push.push_sd_hall", level="error",
                message="push failed")
    gw = GatewayRuntime.create(world.runtime, keys=GatewayKeys.generate())
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    try:
        text = requests.get(server.url + "/metrics", timeout=60).text
    finally:
        server.stop()
    assert 'tongban_sync_lag_seconds{system="sd_civil"}' in text
    assert 'tongban_sync_since_success_seconds{system="sd_civil"}' in text
    assert f'tongban_sync_last_run_records{{outcome="inserted",system="sd_civil"}} {float(report.counts.inserted)}' in text
    assert 'tongban_sync_last_run_status{status="succeeded",system="sd_civil"} 1.0' in text
    assert 'tongban_dead_letters_open{system="sd_civil"} 0.0' in text
    assert 'tongban_outbox_pending{target="sd_hall"} 25.0' in text  # every new case queued for the hall
    assert 'tongban_alerts_open{kind="task_failed",level="error"} 1.0' in text
    assert "tongban_api_requests" in text  # the API's own metrics stay
