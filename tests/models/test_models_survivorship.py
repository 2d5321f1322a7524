"""Two copies, one case: the field-by-field merge's rules (``gateway.models.survivorship``), on documents.

The end-to-end behaviour over the sandbox systems is in ``tests/process/test_survivorship_e2e.py``; here the rules
themselves, and the properties that make the merge safe to run on every shared case: a copy merged onto its own
previous copy is the copy (the whole merge it replaces, for the one-system case), a copy that changed nothing
changes nothing, and merging the same copy twice is merging it once.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.models.survivorship import HANDLING, MERGED_FIELDS, ends_case, merge_copy, top_level

EVERYTHING = frozenset(MERGED_FIELDS)


def _doc(**fields: Any) -> dict[str, Any]:
    base = {name: None for name in MERGED_FIELDS}
    base.update(case_no="C1", status="submitted", deleted=False, events=[], quality=[], updated_at="t")
    base.update(fields)
    return base


def _merge(case, copy, base, *, reads=EVERYTHING, hall=False, departments=frozenset(), newer=True):
    return merge_copy(case, copy, base, reads=reads, from_hall=hall, department_reads=departments, newer=newer)


ACCEPTED = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00",
                events=[{"seq": 1, "name": "受理"}], office={"code": "JN-QCL"})


def test_a_hall_status_refresh_keeps_the_departments_handling() -> None:
    hall_before = _doc(status="accepted", office={"code": "JN-QCL"})  # the hall's record, as the push left it
    hall_now = _doc(status="in_progress", office={"code": "JN-QCL"}, summary="refreshed")
    merged = _merge(ACCEPTED, hall_now, hall_before, hall=True, departments=frozenset({"status", "accepted_at"}))
    assert merged.document["status"] == "accepted"
    assert merged.document["accepted_at"] == ACCEPTED["accepted_at"] and merged.document["events"] == ACCEPTED["events"]
    assert merged.document["summary"] == "refreshed"  # what the hall speaks for still comes through
    assert merged.taken == ("summary",) and merged.overruled == ("status",)


def test_the_hall_changes_handling_no_holding_department_reads() -> None:
    """A deadline extension entered at the hall, for a department whose mapping has no 承诺办结时间: it stands
    (the first fix froze every handling field once a department had handled the case)."""
    before, after = _doc(promised_at="2026-03-20T17:00:00+08:00"), _doc(promised_at="2026-03-27T17:00:00+08:00")
    case = {**ACCEPTED, "promised_at": before["promised_at"]}
    merged = _merge(case, after, before, hall=True, departments=frozenset({"status", "accepted_at", "events"}))
    assert merged.document["promised_at"] == after["promised_at"] and merged.taken == ("promised_at",)


def test_a_hall_that_ends_the_case_ends_it_over_the_department() -> None:
    before = _doc(status="submitted")
    returned = _doc(status="returned", result="returned", result_reason="材料不全")
    merged = _merge(ACCEPTED, returned, before, hall=True, departments=EVERYTHING)
    assert (merged.document["status"], merged.document["result"]) == ("returned", "returned")
    withdrawn = _doc(status="deleted", deleted=True, result="withdrawn")
    merged = _merge(ACCEPTED, withdrawn, before, hall=True, departments=EVERYTHING)
    assert merged.document["deleted"] is True and merged.document["status"] == "deleted"
    assert merged.document["accepted_at"] == ACCEPTED["accepted_at"]  # what the hall did not change stays


def test_a_departments_refusal_replaces_tongbans_deemed_acceptance_whole() -> None:
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20,
                  events=[{"seq": 1, "name": "视为受理"}])
    pending, refused = _doc(status="submitted"), _doc(status="returned", result="not_accepted", result_reason="不符合条件")
    merged = _merge(deemed, refused, pending, reads=EVERYTHING - {"promised_days"})
    assert merged.document["accepted_at"] is None and merged.document["events"] == []
    assert (merged.document["status"], merged.document["result"]) == ("returned", "not_accepted")
    assert merged.document["promised_days"] == 20  # a field its mapping does not read is not its to clear


def test_a_department_does_not_bring_back_a_case_the_hall_ended() -> None:
    withdrawn = _doc(status="deleted", deleted=True, result="withdrawn")
    accepting = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00")
    merged = _merge(withdrawn, accepting, _doc(status="submitted"))
    assert merged.document["status"] == "deleted" and merged.document["deleted"] is True
    assert merged.document["accepted_at"] == accepting["accepted_at"]  # no collision: nobody else set it


def test_a_case_a_department_voided_stays_voided_when_the_hall_touches_its_record() -> None:
    voided = {**ACCEPTED, "status": "voided", "deleted": True, "result": "voided"}
    hall_before, hall_now = _doc(status="accepted"), _doc(status="in_progress")
    merged = _merge(voided, hall_now, hall_before, hall=True, departments=frozenset({"status"}))
    assert merged.document["deleted"] is True and merged.document["status"] == "voided" and not merged.taken
    # and a hall field no department reads still cannot bring the case back half alive by a collision
    merged = _merge(voided, _doc(status="in_progress"), _doc(status="submitted"), hall=True)
    assert merged.document["status"] == "voided"


def test_a_copy_without_a_previous_one_speaks_only_for_what_its_mapping_reads() -> None:
    hall_case = _doc(office={"code": "JN-QCL"}, agent={"name": "王芳"}, status="submitted")
    department = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00")  # no office, no agent: not read
    merged = _merge(hall_case, department, None, reads=frozenset({"case_no", "status", "accepted_at", "office"}))
    assert merged.document["office"] is None  # it reads the office, and says there is none
    assert merged.document["agent"] == {"name": "王芳"}  # it cannot say anything about the agent
    assert merged.document["status"] == "accepted"


def test_a_department_speaks_for_its_handling_and_collisions_go_to_the_newer_change() -> None:
    case = _doc(status="accepted", summary="由大厅修改")
    before = _doc(status="submitted", summary="原摘要")
    after = _doc(status="in_progress", summary="部门修改")
    older = _merge(case, after, before, newer=False)  # a department's copy, older than the case's version
    assert older.document["status"] == "in_progress"  # its handling, whatever the time
    assert older.document["summary"] == "由大厅修改" and older.overruled == ("summary",)
    newer = _merge(case, after, before, newer=True)
    assert newer.document["summary"] == "部门修改"


def test_an_older_change_nobody_else_made_applies() -> None:
    """The hall's phone change read after the department's acceptance: whole-copy merging dropped it for good."""
    case = {**ACCEPTED, "applicant": {"name": "张三", "phone": "13800000000"}}
    before = _doc(applicant={"name": "张三", "phone": "13800000000"})
    after = _doc(applicant={"name": "张三", "phone": "13900000000"})
    merged = _merge(case, after, before, hall=True, departments=frozenset({"status"}), newer=False)
    assert merged.document["applicant"]["phone"] == "13900000000" and merged.taken == ("applicant",)


def test_ends_case_reads_the_canonical_words() -> None:
    assert ends_case({"deleted": True}) and ends_case({"status": "returned"}) and ends_case({"result": "withdrawn"})
    assert ends_case({"result": "not_accepted"}) and not ends_case({"result": "issued", "status": "finished"})
    assert not ends_case({"status": "accepted"})


def test_top_level_reads_the_first_part_of_each_target() -> None:
    assert top_level(["office.code", "office.name", "applicant.id_number", "status"]) == {"office", "applicant",
                                                                                          "status"}
    assert HANDLING <= EVERYTHING


# -- properties ------------------------------------------------------------------------------------------------

_values = st.one_of(st.none(), st.sampled_from(["a", "b", "accepted", "returned", "voided"]), st.booleans(),
                    st.lists(st.integers(0, 3), max_size=2))
_documents = st.fixed_dictionaries({name: _values for name in MERGED_FIELDS})
_flags = st.fixed_dictionaries({"hall": st.booleans(), "newer": st.booleans(),
                                "departments": st.frozensets(st.sampled_from(MERGED_FIELDS))})


@settings(max_examples=300, deadline=None)
@given(base=_documents, copy=_documents, flags=_flags)
def test_a_copy_merged_onto_its_own_previous_copy_is_the_copy(base, copy, flags) -> None:
    """The one-system case: the case is the record's previous copy, so the merge is the whole copy — unless the
    copy is a hall's changing what a department reads (nothing but another copy could have set it then) or the
    case had ended; those are the rules, not a drift."""
    merged = merge_copy(base, copy, base, reads=EVERYTHING, from_hall=flags["hall"],
                        department_reads=flags["departments"], newer=flags["newer"])
    for name in MERGED_FIELDS:
        if name in merged.overruled:
            assert flags["hall"] and name in HANDLING and name in flags["departments"] and not (
                ends_case(copy) and not ends_case(base))
        else:
            assert merged.document[name] == copy[name], name


@settings(max_examples=300, deadline=None)
@given(case=_documents, base=_documents, flags=_flags, reads=st.frozensets(st.sampled_from(MERGED_FIELDS)))
def test_a_copy_that_changed_nothing_changes_nothing_but_a_departments_handling(case, base, flags, reads) -> None:
    merged = merge_copy(case, base, base, reads=reads, from_hall=flags["hall"],
                        department_reads=flags["departments"], newer=flags["newer"])
    assert not merged.overruled
    for name in MERGED_FIELDS:
        speaks = not flags["hall"] and name in HANDLING and name in reads and not (
            ends_case(case) and not ends_case(base))
        assert merged.document[name] == (base[name] if speaks else case[name]), name


@settings(max_examples=300, deadline=None)
@given(case=_documents, copy=_documents, base=st.one_of(st.none(), _documents), flags=_flags,
       reads=st.frozensets(st.sampled_from(MERGED_FIELDS)))
def test_merging_a_copy_twice_is_merging_it_once(case, copy, base, flags, reads) -> None:
    kwargs = {"reads": reads, "from_hall": flags["hall"], "department_reads": flags["departments"],
              "newer": flags["newer"]}
    once = merge_copy(case, copy, base, **kwargs)
    twice = merge_copy(once.document, copy, base, **kwargs)
    assert twice.document == once.document
    for name in MERGED_FIELDS:  # every field is the case's or the copy's: nothing else is made up
        assert once.document[name] in (case[name], copy[name])
