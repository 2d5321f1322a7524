"""``mapping check`` coverage of a list field: it is filled in a record that has a non-empty list there, so
``events`` is never less covered than ``events[].name`` (it showed "filled 0, 0%" next to 14%)."""

from __future__ import annotations

from pathlib import Path

from gateway.kernel.config import load_systems
from gateway.mapping.check import check_mapping
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]


def test_a_list_is_filled_where_any_record_has_items() -> None:
    records = [civil.generate(42, i) for i in range(7)]
    for record in records[1:]:
        record["steps"] = []
        record.pop("specials", None)
    result = check_mapping(load_systems(REPO / "config" / "systems.yaml"), "sd_civil", records)
    fields = {f["field"]: f for f in result["fields"]}
    with_items = sum(1 for r in records if r["steps"] or r.get("specials"))
    assert with_items == 1
    assert fields["events"]["filled"] == with_items
    assert fields["events"]["coverage"] == with_items / len(records)
    assert fields["events[].name"]["filled"] == with_items


def test_every_record_with_events_fills_the_list() -> None:
    records = [civil.generate(42, i) for i in range(5)]
    result = check_mapping(load_systems(REPO / "config" / "systems.yaml"), "sd_civil", records)
    fields = {f["field"]: f for f in result["fields"]}
    assert fields["events"]["filled"] == fields["events[].name"]["filled"] == 5
