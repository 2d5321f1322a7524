"""Routing when an entry of the systems file is invalid (the runtime loads the file entry by entry): a case still
goes to the system its department's entry names, whatever else that entry gets wrong — the 通办目录's router saw
only the valid systems and refused a front-desk case back to the hall ("no connected system takes cases") for a
typo in its department's retries. An entry that says nothing about routing does not stop every sync; one that
would receive cases under a name that cannot stay does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.contract.errors import ConfigError
from gateway.kernel.config import parse_systems_isolated
from gateway.process.catalogue import TongbanCatalogue

REPO = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
CIVIL_DEPT = BASE["systems"]["sd_civil"]["departments"][0]


def _systems(**changes):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for name, entry in changes.items():
        if entry == "drop":
            data["systems"].pop(name)
        elif isinstance(entry, dict) and name in data["systems"]:
            data["systems"][name].update(entry)
        else:
            data["systems"][name] = entry
    return parse_systems_isolated(yaml.safe_dump(data, allow_unicode=True), base_dir=REPO / "config")[0]


def test_the_competent_department_is_found_when_its_entry_has_a_typo() -> None:
    systems = _systems(sd_civil={"retries": "three"})
    assert "sd_civil" in systems.invalid
    case = {"case_no": "370000202612050000001", "item_code": "X", "dept_code": CIVIL_DEPT}
    assert TongbanCatalogue().route(case, systems).target == "sd_civil"
    assert "sd_civil" in systems.targets_for(CIVIL_DEPT, origin="sd_hall")
    with pytest.raises(ConfigError, match="retries"):
        systems.get("sd_civil")
    assert systems.route("sd_civil").departments == [CIVIL_DEPT] and systems.route("sd_civil").writable
    with pytest.raises(ConfigError, match="unknown system"):
        systems.route("nope")


def test_an_emptied_entry_routes_as_the_defaults_say_and_a_bad_name_only_blocks_when_it_would_receive() -> None:
    assert _systems(old_system=None).targets_for(CIVIL_DEPT, origin="sd_hall")  # routes nothing to it
    assert _systems(**{"jn gjj": {"connector": "rest", "mapping": "x.yaml"}}).targets_for(CIVIL_DEPT, origin="sd_hall")
    receiving = _systems(**{"jn gjj": {"connector": "rest", "mapping": "x.yaml", "push": {"stream": "cases"},
                                       "departments": [CIVIL_DEPT]}})
    with pytest.raises(ConfigError, match="jn gjj"):
        receiving.targets_for(CIVIL_DEPT, origin="sd_hall")
