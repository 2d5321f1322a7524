"""A finding the mapping keeps (``on_unknown: flag``: the field left null) is part of the case's own quality, not
only the run's tally: ``Case.quality`` is "pushed with the case so the hall sees them", and a material whose
submission mode the source system added last week was stored with ``source: null`` and ``quality: []`` — the
hall saw a hole and no finding. The mapping's flags come first, built as the model's own flags are; the mapping's
``rules:`` still decide their severity (``Mapper.split_issues``), and ``mapping check`` counts what the sync
counts."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.contract.connector import RawRecord
from gateway.kernel.config import load_systems
from gateway.mapping.check import check_mapping
from gateway.mapping.mapper import Mapper
from gateway.models import BEIJING, Case
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases
from gateway.sync.ingest import IngestContext, ingest_page
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]
CURSOR = datetime(2026, 12, 1, 9, tzinfo=BEIJING)


def _systems() -> Any:
    return load_systems(REPO / "config" / "systems.yaml")


def _mapper() -> Mapper:
    return Mapper.from_file(_systems().get("sd_civil").mapping_path, model=Case)


def _unknown_mode(seed: int, i: int) -> dict[str, Any]:
    record = copy.deepcopy(civil.generate(seed, i))
    assert record["materials"], "the sandbox record has materials"
    record["materials"][0]["mode"] = "9"  # a submission mode the civil system added last week
    return record


def test_the_mappings_flag_is_on_the_validated_case_first_and_in_record_order() -> None:
    mapper = _mapper()
    raws = [civil.generate(7, 1), _unknown_mode(7, 3), civil.generate(7, 5)]
    raws[1]["applyTime"] = "2030-01-01 00:00:00"  # and a flag of the model's own: case.date_order
    mapped, flags = [], {}
    for index, raw in enumerate(raws):
        canonical, issues = mapper.map(raw)
        rejections, flagged = mapper.split_issues(issues)
        assert rejections == []
        if flagged:
            flags[index] = flagged
        mapped.append(canonical)
    assert list(flags) == [1]
    result = mapper.validate(mapped, [f"sd_civil:{i}" for i in range(3)], flags)
    assert [i for i, _ in result.valid] == [0, 1, 2]
    case = result.valid[1][1]
    assert case.materials[0].source is None
    rules = [(f.rule, f.field) for f in case.quality]
    assert rules[0] == ("mapping.code_unknown", "materials.0.source")
    assert "case.date_order" in {rule for rule, _ in rules[1:]}
    assert "'9'" in case.quality[0].message
    # the batch's flags: the same findings, in record order, each naming its record
    assert [(i, f.record, f.rule) for i, f in result.flags][0] == (1, "sd_civil:1", "mapping.code_unknown")
    assert [(f.rule, f.field) for i, f in result.flags if i == 1] == rules
    assert all(case.quality == [] for i, case in result.valid if i != 1)


def test_a_rejected_record_gets_no_flags_and_the_others_keep_theirs() -> None:
    mapper = _mapper()
    first, second = mapper.map(_unknown_mode(7, 3))[0], mapper.map(_unknown_mode(7, 4))[0]
    second = {**second, "dept_code": "not-a-credit-code"}
    found = [("materials.0.source", "mapping.code_unknown", "value '9' is not in code table: left null")]
    result = mapper.validate([first, second], ["s:1", "s:2"], {0: found, 1: found})
    assert [i for i, _ in result.valid] == [0] and [i for i, _ in result.rejected] == [1]
    assert [f.rule for f in result.valid[0][1].quality] == ["mapping.code_unknown"]
    assert [(i, f.record) for i, f in result.flags] == [(0, "s:1")]


def test_the_stored_case_carries_the_flag_and_the_run_counts_it_once(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        systems = _systems()
        system = systems.get("sd_civil")
        ctx = IngestContext(system=system, systems=systems, mapper=_mapper(), stream=system.stream)
        records = [_unknown_mode(7, 3), civil.generate(7, 6), _unknown_mode(7, 4)]
        with engine.begin() as conn:
            counts = ingest_page(conn, ctx, [RawRecord(r["id"], CURSOR, r) for r in records])
        assert counts.inserted == 3 and counts.rejected == 0
        with engine.connect() as conn:
            stored = {json.loads(d)["case_no"]: json.loads(d) for d in conn.execute(select(cases.c.data)).scalars()}
        flagged = [data for data in stored.values() if data["materials"][0]["source"] is None]
        assert len(flagged) == 2
        for data in flagged:
            first = data["quality"][0]
            assert (first["rule"], first["field"]) == ("mapping.code_unknown", "materials.0.source")
            assert "'9'" in first["message"]
        tally = ctx.quality.as_dict()["flag"]["mapping.code_unknown"]
        assert tally["records"] == 2 and tally["fields"] == ["materials[].source"]
    finally:
        engine.dispose()


def test_mapping_check_counts_what_the_case_carries() -> None:
    records = [_unknown_mode(7, 3), civil.generate(7, 6), _unknown_mode(7, 4)]
    report = check_mapping(_systems(), "sd_civil", records)
    assert report["valid"] == 3
    assert report["quality"]["mapping.code_unknown"]["records"] == 2
    mapper = _mapper()
    mapped = [mapper.map(r) for r in records]
    result = mapper.validate([m for m, _ in mapped], [str(i) for i in range(3)],
                             {i: mapper.split_issues(issues)[1] for i, (_, issues) in enumerate(mapped) if issues})
    assert report["warnings"] == len(result.flags) == sum(len(case.quality) for _, case in result.valid)
