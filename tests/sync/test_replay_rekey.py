"""A connector configured with the wrong primary key reads records it cannot key: each is a dead letter under a
placeholder key. Once the config is fixed, ``dead-letters replay`` keys them by the connector's current config and
they enter the ledger under their real keys; the placeholder letters are done with (before, they stayed open for
good: replay could only retry them under the placeholder)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from sqlalchemy import func, select

from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.models.hashing import UNREADABLE_KEY_PREFIX
from gateway.store.tables import dead_letters, source_records
from gateway.sync.engine import sync_system

REPO = Path(__file__).resolve().parents[2]


def _point_at(world, connector_config: Path) -> None:
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data["systems"]["sd_civil"]["connector_config"] = str(connector_config)
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    world.runtime.close()
    world.runtime = Runtime(load_systems(world.systems_path), world.runtime.engine)


def _counts(world) -> tuple[int, int, int]:
    d = dead_letters.c
    with world.runtime.engine.connect() as conn:
        placeholders = conn.execute(select(func.count()).where(
            d.system == "sd_civil", d.status == "open", d.source_id.like(UNREADABLE_KEY_PREFIX + "%"))).scalar()
        resolved = conn.execute(select(func.count()).where(
            d.system == "sd_civil", d.status == "resolved", d.source_id.like(UNREADABLE_KEY_PREFIX + "%"))).scalar()
        held = conn.execute(select(func.count()).select_from(source_records)
                            .where(source_records.c.system == "sd_civil")).scalar()
    return placeholders, resolved, held


def test_records_read_without_their_key_are_keyed_by_the_fixed_config_on_replay(make_world, tmp_path) -> None:
    world = make_world(civil=60, estate=5)
    connector = yaml.safe_load((REPO / "config" / "connectors" / "sd_civil.yaml").read_text(encoding="utf-8"))
    streams = connector["streams"]
    stream = next(iter(streams.values()))
    right = stream["primary_key"]
    stream["primary_key"] = "recordId"  # a typo: no such field in the civil system's records
    wrong_path = tmp_path / "sd_civil.wrong.yaml"
    wrong_path.write_text(yaml.safe_dump(connector, allow_unicode=True), encoding="utf-8")
    _point_at(world, wrong_path)

    report = sync_system(world.runtime, "sd_civil")
    placeholders, resolved, held = _counts(world)
    assert report.counts.rejected == report.counts.read == placeholders > 0 and held == 0

    stream["primary_key"] = right  # the engineer fixes the config
    fixed_path = tmp_path / "sd_civil.fixed.yaml"
    fixed_path.write_text(yaml.safe_dump(connector, allow_unicode=True), encoding="utf-8")
    _point_at(world, fixed_path)
    replayed = subprocess.run(world.cli("dead-letters", "replay", "--system", "sd_civil", "--json"),
                              capture_output=True, text=True, env=world.env, timeout=300, check=False)
    assert replayed.returncode == 0, replayed.stderr
    answer = json.loads(replayed.stdout)
    assert answer["rekeyed"] == placeholders
    after_placeholders, after_resolved, after_held = _counts(world)
    assert (after_placeholders, after_resolved) == (0, placeholders)
    broken = answer["systems"]["sd_civil"]["rejected"]  # the sandbox's own broken records stay dead letters,
    assert after_held == placeholders - broken               # now under their real keys
    d = dead_letters.c
    with world.runtime.engine.connect() as conn:
        keyed = conn.execute(select(func.count()).where(d.system == "sd_civil", d.status == "open")).scalar()
    assert keyed == broken


def test_records_whose_change_time_the_connector_could_not_read_are_read_again_on_replay(make_world,
                                                                                         tmp_path) -> None:
    """A cursor format written wrong: every record is a connector dead letter under its real key (the raw kept as
    the text it came as). A replay before the fix counts them as still refused by the connector (it passed them
    over without a word); after the fix they enter the ledger and their letters are resolved."""
    world = make_world(civil=30, estate=5)
    connector = yaml.safe_load((REPO / "config" / "connectors" / "sd_civil.yaml").read_text(encoding="utf-8"))
    stream = next(iter(connector["streams"].values()))
    right = stream["incremental"]["cursor_format"]
    stream["incremental"]["cursor_format"] = "%Y/%m/%d %H:%M:%S"  # the wrong separators
    wrong_path = tmp_path / "sd_civil.wrong.yaml"
    wrong_path.write_text(yaml.safe_dump(connector, allow_unicode=True), encoding="utf-8")
    _point_at(world, wrong_path)
    report = sync_system(world.runtime, "sd_civil")
    assert report.counts.rejected == report.counts.read == 30

    def replay() -> dict:
        done = subprocess.run(world.cli("dead-letters", "replay", "--system", "sd_civil", "--json"),
                              capture_output=True, text=True, env=world.env, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    assert replay()["connector_rejected"] == {"sd_civil": 30}
    stream["incremental"]["cursor_format"] = right
    fixed_path = tmp_path / "sd_civil.fixed.yaml"
    fixed_path.write_text(yaml.safe_dump(connector, allow_unicode=True), encoding="utf-8")
    _point_at(world, fixed_path)
    answer = replay()
    assert answer["connector_rejected"] == {}
    broken = answer["systems"]["sd_civil"]["rejected"]  # the sandbox's own broken records stay dead letters
    _, _, held = _counts(world)
    assert held == 30 - broken
    d = dead_letters.c
    with world.runtime.engine.connect() as conn:
        still = conn.execute(select(func.count()).where(d.system == "sd_civil", d.status == "open")).scalar()
    assert still == broken
