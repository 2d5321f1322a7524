"""The intake parts of a case (issue 15): channel, accepting office, agent, stages, deferred materials.

All optional (old records validate and hash as before); what real data breaks is a flag, never a rejection."""

from __future__ import annotations

import orjson
from models_sample_data import valid_case

from gateway.models import Case, CaseChannel
from gateway.models.hashing import case_document


def _validate(record: dict) -> Case:
    return Case.model_validate(record, context={"flags": []})


def test_old_records_validate_and_keep_their_hash() -> None:
    case = _validate(valid_case())
    assert case.channel is None and case.office is None and case.agent is None
    assert case.stages == [] and case.deferred_materials == []
    data, digest = case_document(case)
    # the hash of a case without the intake parts is the hash of its document without them
    import hashlib
    import json

    doc = json.loads(data)
    for key in ("channel", "office", "agent", "stages", "deferred_materials", "quality", "updated_at"):
        doc.pop(key)
    old = orjson.dumps(doc)[:-1]  # the hash covers the document up to the change time, without its brace
    assert hashlib.blake2b(old, digest_size=16).hexdigest() == digest


def test_intake_parts_round_trip_and_change_the_hash() -> None:
    record = valid_case(
        channel="window",
        office={"code": "JN-LX-QCL", "name": "泉城路街道便民服务中心", "division": "370102"},
        agent={"name": "李四", "role": "proxy", "authorised_by": "张三丰", "authorisation": "WT-2026-001"},
        stages=[{"name": "审核", "owner": "11370000004390448N", "limit_days": 3,
                 "started_at": "2024-03-01T09:30:00+08:00"}],
        deferred_materials=[{"name": "户口簿", "kind": "tolerated", "due_at": "2024-03-08T17:00:00+08:00"}],
    )
    case = _validate(record)
    assert case.channel is CaseChannel.WINDOW and case.channel.label == "窗口"
    assert case.office is not None and case.office.division == "370102"
    assert case.stages[0].unit is None  # the source gave none: the 目录 plan's unit applies (deadlines.stages)
    assert case.quality == []
    assert case_document(case)[1] != case_document(_validate(valid_case()))[1]
    assert CaseChannel.labels() == {"window": "窗口", "online": "网上", "mobile": "移动端", "kiosk": "自助终端",
                                    "post": "快递"}


def test_what_real_data_breaks_is_flagged_not_rejected() -> None:
    record = valid_case(
        office={"code": "X1", "division": "37010"},        # not 6 digits
        agent={"name": "李四", "role": "proxy"},            # no authorisation
        stages=[{"name": "审核", "started_at": "2024-03-02T09:00:00+08:00", "ended_at": "2024-03-01T09:00:00+08:00"}],
        deferred_materials=[{"name": "户口簿", "kind": "pledged"},
                            {"name": "租赁合同", "kind": "tolerated", "due_at": "2024-02-01T00:00:00+08:00"}],
    )
    case = _validate(record)
    assert sorted((f.rule, f.field) for f in case.quality) == [
        ("case.agent_authorisation", "agent.authorisation"),
        ("case.date_order", "stages.0.ended_at"),
        ("case.deferred_due", "deferred_materials.0.due_at"),
        ("case.deferred_due", "deferred_materials.1.due_at"),
        ("case.office_division", "office.division"),
    ]
    # an assistant (帮办) needs no written authorisation
    assert _validate(valid_case(agent={"name": "王五", "role": "assistant"})).quality == []
