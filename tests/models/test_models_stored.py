"""The stored form of a case (gateway.models.stored): without its top-level defaults on disk, whole for readers."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from models_sample_data import make_cases, valid_case
from sqlalchemy import insert, select, update

from gateway.models import case_document, validate_cases
from gateway.models.stored import DEFAULTS, FIELDS, compact_case_json, expand_case_json, stored_case_json
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases


def _cases() -> list:
    records = make_cases(40) + [
        valid_case(result="not_accepted", certificate_name=None, certificate_no=None, status="returned"),  # a flag
        valid_case(channel="window", office={"code": "JN-1", "name": "便民服务中心", "division": "370102"},
                   stages=[{"name": "审核", "owner": "11370000004390448N", "limit_days": 3,
                            "started_at": "2024-03-01T09:30:00+08:00"}]),
        valid_case(deleted=True),
    ]
    result = validate_cases(records, [str(i) for i in range(len(records))])
    assert not result.rejected
    return [case for _, case in result.valid]


def test_the_stored_form_reads_back_as_the_whole_document_byte_for_byte() -> None:
    saved = 0
    for case in _cases():
        whole, _ = case_document(case)
        stored = stored_case_json(case)
        assert expand_case_json(stored) == whole  # what every reader got before
        assert compact_case_json(whole) == stored  # the same form from either side
        assert expand_case_json(whole) == whole  # idempotent on rows written whole
        kept = orjson.loads(stored)
        assert not [name for name, value in DEFAULTS.items()
                    if name in kept and kept[name] == value and type(kept[name]) is type(value)]
        saved += len(whole.encode()) - len(stored.encode())
    assert saved > 0


_VALUES = st.one_of(st.none(), st.just([]), st.just(False), st.just(True), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5),
                    st.lists(st.integers(0, 9), max_size=2), st.dictionaries(st.sampled_from(["phone", "x"]), st.none()))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELDS, "unknown_key", "其他"]), _VALUES, max_size=len(FIELDS)))
def test_compacting_loses_nothing_a_reader_can_see(doc: dict) -> None:
    """Whatever the document (defaults or not, unknown keys, any order), the reader sees the same JSON values
    from the compact form as from the document itself; nested nulls are never touched."""
    text = orjson.dumps(doc).decode()
    assert orjson.loads(expand_case_json(compact_case_json(text))) == orjson.loads(expand_case_json(text))
    for name, value in doc.items():
        if name not in DEFAULTS or value != DEFAULTS[name] or type(value) is not type(DEFAULTS[name]):
            assert orjson.loads(compact_case_json(text))[name] == value


def test_not_json_is_left_alone() -> None:
    for text in ("", "not json", "[1, 2]", '"a string"'):
        assert compact_case_json(text) == text and expand_case_json(text) == text


def test_the_column_stores_compact_and_reads_whole(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    case = _cases()[0]
    whole, digest = case_document(case)
    row = {"case_no": case.case_no, "version": 1, "content_hash": digest, "data": whole, "origin_system": "t",
           "origin_source_id": "1", "source_updated_at": case.updated_at, "dept_code": case.dept_code,
           "item_code": case.item_code, "deleted": False, "updated_at": case.updated_at}
    with engine.begin() as conn:
        conn.execute(insert(cases), [row])  # a writer that gives the whole document
        on_disk = conn.exec_driver_sql("SELECT data FROM cases").scalar_one()
        assert on_disk == stored_case_json(case) and len(on_disk) < len(whole)
        assert conn.execute(select(cases.c.data)).scalar_one() == whole
        assert conn.execute(select(cases.c.case_no).where(cases.c.data.like('%"finished_at":"%'))).all() \
            == ([(case.case_no,)] if case.finished_at else [])
        conn.execute(update(cases).values(data=stored_case_json(case)))  # or the stored form: the same on disk
        assert conn.exec_driver_sql("SELECT data FROM cases").scalar_one() == on_disk
    engine.dispose()
