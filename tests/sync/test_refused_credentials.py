"""Credentials a source refuses are an operator's to fix: the error says which variable holds them."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.sync.engine import sync_system


def test_refused_credentials_name_the_variable_to_fix(make_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync whose credentials the source refused said so, and not which variable holds them (operator
    walkthrough's find): the error, the run and the alert now name it."""
    from gateway.ops.alerts import open_alerts
    from gateway.sync.engine import SyncFailed

    world = make_world(civil=2, estate=0, social=0, welfare=0, systems=("sd_civil",))
    monkeypatch.setenv("TONGBAN_SD_CIVIL_API_KEY", "not-the-key")
    with pytest.raises(SyncFailed) as failed:
        sync_system(world.runtime, "sd_civil")
    assert "the system's secrets: api_key from $TONGBAN_SD_CIVIL_API_KEY" in str(failed.value)
    (alert,) = open_alerts(world.runtime.engine, kind="sync_failed")
    assert "$TONGBAN_SD_CIVIL_API_KEY" in alert["message"]
    from sqlalchemy import select

    from gateway.store.tables import runs

    with world.runtime.engine.connect() as conn:
        assert "$TONGBAN_SD_CIVIL_API_KEY" in conn.execute(select(runs.c.error)).scalar_one()
