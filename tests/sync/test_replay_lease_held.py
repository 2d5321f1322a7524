"""A replay of every system goes on past a system whose sync holds the lease: each system commits on its own,
so stopping at the held one would leave the earlier ones replayed and the operator told "not replayed"."""

from __future__ import annotations

from pathlib import Path

from gateway_testlib import plant_dead_letters

from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store.db import make_engine
from gateway.store.lease import Lease
from gateway.store.migrate import upgrade
from gateway.sync.reprocess import replay_dead_letters

REPO = Path(__file__).resolve().parents[2]


def test_replay_skips_the_held_system_and_replays_the_others(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    plant_dead_letters(engine, ("sd_civil", "jn_estate", "sd_hall"))
    runtime = Runtime(load_systems(REPO / "config" / "systems.yaml"), engine)
    with Lease(engine, "sync:jn_estate"):
        report = replay_dead_letters(runtime)
    assert set(report.skipped) == {"jn_estate"} and "jn_estate" not in report.systems
    assert report.systems["sd_civil"].read and report.systems["sd_hall"].read  # before the held one and after it
    assert report.summary().endswith("skipped: jn_estate (lease held)")
    assert report.as_dict()["skipped"] == {"jn_estate": report.skipped["jn_estate"]}


def test_a_replay_of_every_system_names_an_entry_that_does_not_load(tmp_path: Path) -> None:
    """An entry of the systems file that does not validate (its mapping file moved away) was left out without a
    word: the summary named only the systems replayed (review's find). Its letters stay open, and it is named."""
    import yaml

    from gateway.kernel.config import load_systems_isolated

    base = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
    systems = {}
    for name in ("sd_civil", "jn_estate"):
        entry = base["systems"][name]
        systems[name] = {**entry, "connector_config": str(REPO / "config" / entry["connector_config"]),
                         "mapping": str((REPO / "config" / entry["mapping"]).resolve())}
    systems["jn_estate"]["mapping"] = str(tmp_path / "moved_away.yaml")
    path = tmp_path / "systems.yaml"
    path.write_text(yaml.safe_dump({"defaults": base["defaults"], "systems": systems}, allow_unicode=True),
                    encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    plant_dead_letters(engine, ("sd_civil", "jn_estate"))
    report = replay_dead_letters(Runtime(load_systems_isolated(path)[0], engine))
    assert "moved_away.yaml" in report.unreplayable["jn_estate"]
    assert "not replayable here: jn_estate (" in report.summary()
    assert report.systems["sd_civil"].read == 1 and report.still_open >= 1
