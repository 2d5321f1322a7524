"""``on_unknown: flag``: an optional code real data breaks (a material's submission mode, the application channel)
keeps the case flowing — the field null, the finding counted as a quality flag naming record, field and rule —
where ``error`` dead-lettered the whole case and ``null`` hid the finding. The mapping's ``rules:`` may still
make the rule ``reject`` or ``ignore`` it."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from gateway.contract.connector import RawRecord
from gateway.contract.errors import ConfigError
from gateway.kernel.config import load_systems
from gateway.mapping.mapper import Mapper
from gateway.models import BEIJING, Case
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, dead_letters
from gateway.sync.ingest import IngestContext, ingest_page
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]
CURSOR = datetime(2026, 12, 1, 9, tzinfo=BEIJING)


def _mapper(tmp_path: Path, on_unknown: str = "flag", rules: dict[str, str] | None = None) -> Mapper:
    spec: dict[str, Any] = {
        "system": "t", "version": "1",
        "code_tables": {"mode": {"1": "paper", "2": "electronic"}, "result": {"0": "issued"}},
        "fields": {"case_no": {"path": "no", "required": True},
                   "result": {"path": "jg", "code": "result"},
                   "materials": {"list": [{"from": "cl", "fields": {
                       "name": "mc", "source": {"path": "fs", "code": "mode", "on_unknown": on_unknown}}}]}},
    }
    if rules:
        spec["rules"] = rules
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return Mapper.from_file(path)


RECORD = {"no": "C1", "jg": "0", "cl": [{"mc": "身份证", "fs": "1"}, {"mc": "营业执照", "fs": "9"}]}


def test_an_unknown_optional_code_is_left_null_and_flagged(tmp_path: Path) -> None:
    mapper = _mapper(tmp_path)
    canonical, issues = mapper.map(RECORD)
    assert canonical["materials"] == [{"name": "身份证", "source": "paper"}, {"name": "营业执照"}]
    rejections, flags = mapper.split_issues(issues)
    assert rejections == []
    assert flags == [("materials.1.source", "mapping.code_unknown",
                      "value '9' is not in code table 'mode': left null")]


def test_an_unknown_required_kind_of_code_still_rejects(tmp_path: Path) -> None:
    mapper = _mapper(tmp_path)
    _, issues = mapper.map({**RECORD, "jg": "7", "cl": []})  # result has no on_unknown: error, the default
    rejections, flags = mapper.split_issues(issues)
    assert [r[:2] for r in rejections] == [("result", "mapping.code_table")] and flags == []


@pytest.mark.parametrize(("severity", "rejected", "flagged"), [("reject", 1, 0), ("ignore", 0, 0)])
def test_the_mappings_rules_may_reject_or_ignore_the_flag(tmp_path: Path, severity: str, rejected: int,
                                                          flagged: int) -> None:
    mapper = _mapper(tmp_path, rules={"mapping.code_unknown": severity})
    rejections, flags = mapper.split_issues(mapper.map(RECORD)[1])
    assert (len(rejections), len(flags)) == (rejected, flagged)


def test_a_policy_other_than_null_flag_error_keep_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="null, flag, error or keep"):
        _mapper(tmp_path, on_unknown="warn")


def test_a_sync_keeps_the_case_and_counts_the_flag(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        systems = load_systems(REPO / "config" / "systems.yaml")
        system = systems.get("sd_civil")
        ctx = IngestContext(system=system, systems=systems, mapper=Mapper.from_file(system.mapping_path, model=Case),
                            stream=system.stream)
        record = copy.deepcopy(civil.generate(7, 3))
        assert record["materials"], "the sandbox record has materials"
        record["materials"][0]["mode"] = "9"  # a submission mode the civil system added last week
        with engine.begin() as conn:
            counts = ingest_page(conn, ctx, [RawRecord(record["id"], CURSOR, record)])
        assert counts.inserted == 1 and counts.rejected == 0
        with engine.connect() as conn:
            assert conn.execute(select(dead_letters.c.id)).first() is None
            data = conn.execute(select(cases.c.data)).scalar_one()
        materials = json.loads(data)["materials"]
        assert materials[0]["source"] is None and materials[0]["name"]  # kept, its mode unknown
        flagged = ctx.quality.as_dict()["flag"]["mapping.code_unknown"]
        assert flagged["records"] == 1 and flagged["fields"] == ["materials[].source"]
    finally:
        engine.dispose()


def test_the_connector_acceptance_kit_keeps_what_the_sync_keeps() -> None:
    """connectors.testing (the acceptance test every scaffold writes) counted a flagged miss as a mapping problem:
    a new connector failed its acceptance on data the sync takes."""
    from connectors.testing import records_map_to_canonical

    mapper = Mapper.from_file(REPO / "mappings" / "sd_civil.yaml", model=Case)
    record = copy.deepcopy(civil.generate(7, 1))
    record["applyChannel"] = "99"
    assert records_map_to_canonical([RawRecord(record["id"], CURSOR, record)], mapper, system="sd_civil") == 1
