"""``where`` on a list source: only the items that meet the condition (``gateway.mapping.compiler``).

Written for the outbound side: a department that keeps its 办理环节 and 特别程序 in two lists (sd_civil's ``steps``
and ``specials``) and whose API replaces the whole record on a write lost its own steps on every push, because the
canonical ``events`` could not be split back. The civil round trip below goes through the shipped mapping.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper
from gateway.models import Case

HEAD = 'system: t\nversion: "1"\nfields:\n  case_no: {path: cn}\n'


def _mapper(items: str) -> Mapper:
    return Mapper.from_text(HEAD + "  steps:\n    list:\n" + items, where="m.yaml")


def test_only_the_items_that_meet_the_condition_are_mapped_and_positions_count_them() -> None:
    mapper = _mapper("      - from: events\n        where: {path: kind, equals: step}\n"
                     "        fields: {seq: {position: true}, name: name}\n")
    record = {"cn": "A1", "events": [{"kind": "step", "name": "受理"}, {"kind": "special", "name": "补正"},
                                     {"kind": "step", "name": "审核"}, {"kind": " step ", "name": "办结"}]}
    assert mapper.map(record) == ({"case_no": "A1", "steps": [{"seq": 1, "name": "受理"}, {"seq": 2, "name": "审核"},
                                                              {"seq": 3, "name": "办结"}]}, [])


def test_an_item_that_is_no_object_is_not_filtered_away_but_named() -> None:
    mapper = _mapper("      - from: events\n        where: {any: [{path: kind, equals: step}, {path: x, present: true}]}\n"
                     "        fields: {name: name}\n")
    canonical, issues = mapper.map({"cn": "A1", "events": ["受理", {"kind": "special"}, None]})
    assert canonical["steps"] == [None, None] and [i[1] for i in issues] == ["mapping.shape", "mapping.shape"]


@pytest.mark.parametrize(("items", "message"), [
    ("      - from: events\n        where: {path: kind}\n        fields: {name: name}\n",
     "steps.list[0].where: condition {'path': 'kind'} needs equals"),
    ("      - from: events\n        filter: {path: kind, equals: step}\n        fields: {name: name}\n",
     "unknown key(s) ['filter'] in a list source"),
])
def test_a_where_written_wrong_fails_at_load(items: str, message: str) -> None:
    with pytest.raises(ConfigError, match="m.yaml") as err:
        _mapper(items)
    assert message in str(err.value)


def test_the_civil_department_gets_its_steps_and_specials_back_from_the_canonical_events() -> None:
    from pathlib import Path

    mapper = Mapper.from_file(Path(__file__).resolve().parents[2] / "mappings" / "sd_civil.yaml", model=Case)
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    events = [
        {"seq": 1, "kind": "step", "name": "受理", "action": "accept", "started_at": at.isoformat(),
         "ended_at": at.isoformat(), "handler": "李明", "opinion": "材料齐全，予以受理", "special_type": None,
         "reason": None, "result": None},
        {"seq": 2, "kind": "special", "name": "补正", "action": None, "started_at": at.isoformat(), "ended_at": None,
         "handler": None, "opinion": None, "special_type": "correction", "reason": "缺身份证复印件", "result": None},
        {"seq": 3, "kind": "step", "name": "审核", "action": "review", "started_at": at.isoformat(), "ended_at": None,
         "handler": "王强", "opinion": None, "special_type": None, "reason": None, "result": None},
    ]
    written = mapper.outbound_fn({"case_no": "C1", "events": events}, {})[0]
    assert [(s["seq"], s["name"], s["action"], s["start"]) for s in written["steps"]] == [
        (1, "受理", "0", "2026-03-02 10:00:00"), (2, "审核", "2", "2026-03-02 10:00:00")]
    assert written["specials"] == [{"type": "补正", "start": "2026-03-02 10:00:00", "end": None,
                                    "reason": "缺身份证复印件", "result": None}]
    read, _ = mapper.inbound({**written, "updateTime": "2026-03-02 10:05:00"}, {})
    assert [(e["kind"], e["name"]) for e in read["events"]] == [("step", "受理"), ("step", "审核"), ("special", "补正")]
