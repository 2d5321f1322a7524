"""A replay in a process without the PII key (a console or a shell where TONGBAN_KEY_FILE was not set) meets
sealed dead letters: it names the system it cannot replay and why, and goes on with the others — before, the
first sealed letter raised out of the replay, the console answered a bare 500, and the systems after it were
never tried. With the key, the same letters replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import dead_letters
from gateway.sync.reprocess import replay_dead_letters

REPO = Path(__file__).resolve().parents[2]


def _ledger(tmp_path: Path, codec: PiiCodec) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    raw = json.dumps({"id": 1})
    systems = load_systems(REPO / "config" / "systems.yaml")
    with engine.begin() as conn:
        conn.execute(dead_letters.insert(), [
            dict(kind="record", system=system, stream=systems.get(system).stream, source_id=f"{system}-1", case_no=None,
                 raw=codec.seal_blob(raw) if system == "jn_estate" else raw, reason="bad", issues="[]",
                 mapping_version=None, status="open", attempts=1, created_at=now, updated_at=now)
            for system in ("sd_civil", "jn_estate", "sd_hall")])
    engine.dispose()
    return url


def test_a_replay_without_the_key_names_the_sealed_system_and_replays_the_others(tmp_path: Path) -> None:
    codec = PiiCodec(GatewayKeys.generate())
    url = _ledger(tmp_path, codec)
    systems = load_systems(REPO / "config" / "systems.yaml")

    keyless = Runtime(systems, make_engine(url))
    report = replay_dead_letters(keyless)
    assert set(report.unreplayable) == {"jn_estate"} and "jn_estate" not in report.systems
    assert "sealed" in report.unreplayable["jn_estate"] and "TONGBAN_KEY_FILE" in report.unreplayable["jn_estate"]
    assert report.systems["sd_civil"].read == 1 and report.systems["sd_hall"].read == 1  # before it and after it
    assert "not replayable here: jn_estate (this payload is sealed" in report.summary()
    assert report.as_dict()["unreplayable"] == report.unreplayable
    keyless.close()

    keyed = Runtime(systems, make_engine(url), pii=codec)
    again = replay_dead_letters(keyed, system="jn_estate")
    assert again.unreplayable == {} and again.systems["jn_estate"].read == 1
    keyed.close()


def test_the_cli_says_which_system_it_could_not_replay_and_exits_non_zero(tmp_path: Path) -> None:
    from gateway.cli import app

    url = _ledger(tmp_path, PiiCodec(GatewayKeys.generate()))
    result = CliRunner().invoke(app, ["dead-letters", "replay", "--systems", str(REPO / "config" / "systems.yaml"),
                                      "--database-url", url], env={"TONGBAN_KEY_FILE": "", "TONGBAN_PII_KEYS": ""})
    assert result.exit_code == 1, result.output
    assert "jn_estate: not replayed: this payload is sealed" in result.output
    assert "sd_civil: replayed 1" in result.output and "sd_hall: replayed 1" in result.output


def test_a_push_dead_letter_sealed_by_keys_rotate_is_requeued_by_a_replay(tmp_path: Path) -> None:
    """`keys rotate` now seals every dead letter kept in clear (push ones name only their outbox row, but the
    column is sealed whole): the replay's re-queue read the raw as clear JSON and failed on the sealed text."""
    codec = PiiCodec(GatewayKeys.generate())
    url = _ledger(tmp_path, codec)
    now = datetime.now(UTC)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(dead_letters.insert().values(
            kind="push", system="sd_civil", stream="cases", source_id="C1:1", case_no="C1",
            raw=codec.seal_blob(json.dumps({"outbox_id": 424242, "operation": "upsert", "version": 1})),
            reason="refused", issues="[]", mapping_version=None, status="open", attempts=1, created_at=now,
            updated_at=now))
    engine.dispose()
    keyed = Runtime(load_systems(REPO / "config" / "systems.yaml"), make_engine(url), pii=codec)
    report = replay_dead_letters(keyed, system="sd_civil")
    assert report.unreplayable == {} and report.requeued_pushes == 1
    keyed.close()
