"""Validating a batch leaves no reference cycles: what it builds is freed by reference counting alone.

The write path pauses the cyclic collector for a run and collects the young generation between pages, which is
cheap only while a page leaves no cyclic garbage. An exception kept in a local of the frame it was raised
through is such a cycle (exception → traceback → frame → the local); a frame reaches its callers' frames, so one
repaired or rejected record kept the whole page (every raw record, case and row) alive until the collector walked
it: ~21 objects a record, ~12 µs a record of the insert round. Each kind of record the model handles differently
is here: sound, flagged, repaired (a number above its bound, an over-long opinion) and rejected.
"""

from __future__ import annotations

import gc

from models_sample_data import make_cases, valid_case

from gateway.models import validate_case, validate_cases
from gateway.models.validation import RecordRejected


def _batch() -> list[dict]:
    records = make_cases(40)
    records.append(valid_case(promised_days=9999))  # repaired: left out and flagged
    records.append(valid_case(stages=[{"name": "审核", "limit_days": 10**20}]))  # repaired deeper down
    records.append(valid_case(promised_days=-1))  # rejected after the repair found nothing to repair
    records.append(valid_case(case_no=None))  # rejected by pydantic outright
    records.append({**valid_case(), "applied_at": "not a time"})  # rejected
    return records


def _cyclic_garbage_after(work) -> int:
    work()  # warm: caches filled once are not garbage
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        work()
        return gc.collect()
    finally:
        if was_enabled:
            gc.enable()


def test_a_batch_with_repaired_and_rejected_records_leaves_no_cyclic_garbage() -> None:
    records = _batch()
    refs = [f"t:{i}" for i in range(len(records))]

    def work() -> None:
        result = validate_cases(records, refs)
        assert len(result.rejected) == 3 and len(result.valid) == len(records) - 3
        assert any(f.rule == "range.implausible" for _, f in result.flags)

    assert _cyclic_garbage_after(work) == 0


def test_one_record_repaired_or_rejected_leaves_no_cyclic_garbage() -> None:
    def work() -> None:
        case, flags = validate_case(valid_case(promised_days=9999), "t:1")
        assert flags and case.promised_days is None
        try:
            validate_case(valid_case(promised_days=-1), "t:2")
        except RecordRejected:
            pass
        else:
            raise AssertionError("a negative promise should reject the case")

    assert _cyclic_garbage_after(work) == 0
