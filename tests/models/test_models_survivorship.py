"""Two copies, one case: the value-by-value merge's rules (``gateway.models.survivorship``), on documents.

The end-to-end behaviour over the sandbox systems is in ``tests/process/test_survivorship_e2e.py``; here the rules
themselves, and the properties that make the merge safe to run on every shared case: a copy merged onto its own
previous copy is the copy (the whole merge it replaces, for the one-system case), a copy that changed nothing
changes nothing, and merging the same copy twice is merging it once.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.models.survivorship import (
    EVERYTHING,
    HANDLING,
    MERGED_FIELDS,
    OUTCOME,
    Reads,
    carried_flags,
    ends_case,
    handled_by,
    merge_copy,
    setter_of,
    value_at,
)

ROLES = {"sd_hall": "hall", "sd_civil": "department", "sd_market": "department", "jn_estate": "department"}


def _doc(**fields: Any) -> dict[str, Any]:
    base = {name: None for name in MERGED_FIELDS}
    base.update(case_no="C1", status="submitted", deleted=False, events=[], quality=[], updated_at="t",
                applicant={"name": "张三", "id_number": "X", "phone": None})
    base.update(fields)
    return base


def _merge(case, copy, base, *, system="sd_civil", reads=EVERYTHING, origin="sd_hall", setters=None, newer=True,
           settled=False):
    return merge_copy(case, copy, base, system=system, reads=reads, from_hall=ROLES.get(system) == "hall",
                      origin=origin, setters=setters or {}, role_of=ROLES.get, newer=newer, settled=settled)


ACCEPTED = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00",
                events=[{"seq": 1, "name": "受理"}], office={"code": "JN-QCL", "name": "泉城路"})


def test_a_hall_status_refresh_keeps_the_departments_handling() -> None:
    hall_before = _doc(status="accepted", office={"code": "JN-QCL", "name": "泉城路"})  # as the push left it
    hall_now = _doc(status="in_progress", office={"code": "JN-QCL", "name": "泉城路"}, summary="refreshed")
    merged = _merge(ACCEPTED, hall_now, hall_before, system="sd_hall", origin="sd_civil")
    assert merged.document["status"] == "accepted"
    assert merged.document["accepted_at"] == ACCEPTED["accepted_at"] and merged.document["events"] == ACCEPTED["events"]
    assert merged.document["summary"] == "refreshed"  # what the hall speaks for still comes through
    assert merged.taken == ("summary",) and merged.overruled == ("status",)
    assert setter_of(merged.setters, "sd_hall", "accepted_at") == "sd_civil"
    assert setter_of(merged.setters, "sd_hall", "summary") == "sd_hall"


def test_the_hall_changes_a_deadline_it_set_itself() -> None:
    """The hall's 承诺办结时间, echoed by the department (which reads it) but never changed there: the hall's
    extension stands after the department accepted. Who set it is what counts, not who reads it."""
    before, after = _doc(promised_at="2026-03-20T17:00:00+08:00"), _doc(promised_at="2026-03-27T17:00:00+08:00")
    case = {**ACCEPTED, "promised_at": before["promised_at"]}
    merged = _merge(case, after, before, system="sd_hall", origin="sd_civil", setters={"promised_at": "sd_hall"})
    assert merged.document["promised_at"] == after["promised_at"] and merged.taken == ("promised_at",)
    # a deadline the department set is the department's
    merged = _merge(case, after, before, system="sd_hall", origin="sd_civil")
    assert merged.document["promised_at"] == before["promised_at"] and merged.overruled == ("promised_at",)


def test_values_inside_the_applicant_are_merged_one_by_one() -> None:
    """The department added the applicant's phone; the hall corrects the name: both stand (merged whole, the
    hall's applicant without a phone wiped it, and the push wiped it in the department)."""
    case = _doc(applicant={"name": "张三", "id_number": "X", "phone": "13800000000"})
    before = _doc(applicant={"name": "张三", "id_number": "X", "phone": None})
    after = _doc(applicant={"name": "张叁", "id_number": "X", "phone": None})
    merged = _merge(case, after, before, system="sd_hall", origin="sd_civil")
    assert merged.document["applicant"] == {"name": "张叁", "id_number": "X", "phone": "13800000000"}
    assert merged.taken == ("applicant.name",) and setter_of(merged.setters, "sd_hall", "applicant.phone") == "sd_civil"
    assert setter_of(merged.setters, "sd_hall", "applicant.name") == "sd_hall"


def test_a_hall_that_ends_the_case_ends_it_over_the_department() -> None:
    before = _doc(status="submitted")
    returned = _doc(status="returned", result="returned", result_reason="材料不全")
    merged = _merge(ACCEPTED, returned, before, system="sd_hall", origin="sd_civil")
    assert (merged.document["status"], merged.document["result"]) == ("returned", "returned")
    withdrawn = _doc(status="deleted", deleted=True, result="withdrawn")
    merged = _merge(ACCEPTED, withdrawn, before, system="sd_hall", origin="sd_civil")
    assert merged.document["deleted"] is True and merged.document["status"] == "deleted"
    assert merged.document["accepted_at"] == ACCEPTED["accepted_at"]  # what the hall did not change stays


def test_a_case_a_department_voided_stays_voided_when_the_hall_touches_its_record() -> None:
    voided = {**ACCEPTED, "status": "voided", "deleted": True, "result": "voided"}
    merged = _merge(voided, _doc(status="in_progress"), _doc(status="accepted"), system="sd_hall", origin="sd_civil")
    assert merged.document["deleted"] is True and merged.document["status"] == "voided" and not merged.taken


def test_the_outcome_is_taken_together_or_not_at_all() -> None:
    """The hall reinstates a record it had withdrawn while the department's voiding stands: neither its live
    tombstone flag nor its status comes through alone (a live case whose status said deleted)."""
    ended = _doc(status="deleted", deleted=True, result="withdrawn")
    merged = _merge({**ended, "result": "voided", "status": "voided"}, _doc(status="in_progress", deleted=False),
                    ended, system="sd_hall", origin="sd_civil")
    assert merged.document["deleted"] is True and merged.document["status"] == "voided"
    assert set(merged.overruled) == {"status", "deleted", "result"} and not merged.taken
    assert {"status", "deleted"} <= OUTCOME


def test_a_copy_without_a_previous_one_speaks_only_for_what_its_mapping_reads() -> None:
    hall_case = _doc(office={"code": "JN-QCL", "name": "泉城路"}, agent={"name": "王芳"}, status="submitted")
    department = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00")  # no office, no agent: not read
    merged = _merge(hall_case, department, None, reads=Reads(["case_no", "status", "accepted_at", "office.code"]))
    # it reads the code and has none: a department's first copy got it from the hand-over (or never kept it) — it
    # fills in what the case lacks, it does not empty what the hall set
    assert merged.document["office"] == {"code": "JN-QCL", "name": "泉城路"}
    assert merged.document["agent"] == {"name": "王芳"}  # it cannot say anything about the agent
    assert merged.document["status"] == "accepted"
    filled = _merge({**hall_case, "summary": None}, {**department, "summary": "摘要"}, None)
    assert filled.document["summary"] == "摘要"  # what the case lacks, it fills


def test_a_departments_first_copy_does_not_empty_the_halls_newer_agent() -> None:
    """The hall added an agent after the hand-over; before Tongban read the department, its clerk accepted: the
    department's first copy (no agent, and newer) takes the acceptance and leaves the agent (it emptied it, and
    the read-first push then erased it in both systems)."""
    case = _doc(status="submitted", agent={"name": "王芳", "role": "proxy"})
    accepting = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00", events=[{"seq": 1, "name": "受理"}])
    merged = _merge(case, accepting, None, origin="sd_hall", newer=True)
    assert merged.document["status"] == "accepted" and merged.document["events"] == accepting["events"]
    assert merged.document["agent"] == {"name": "王芳", "role": "proxy"}


def test_a_departments_refusal_replaces_tongbans_deemed_acceptance_whole() -> None:
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20,
                  events=[{"seq": 1, "name": "视为受理"}])
    pending, refused = _doc(status="submitted"), _doc(status="returned", result="not_accepted", result_reason="不符合条件")
    merged = _merge(deemed, refused, pending, reads=Reads(set(MERGED_FIELDS) - {"promised_days"}),
                    origin="tongban.handoff")
    assert merged.document["accepted_at"] is None and merged.document["events"] == []
    assert (merged.document["status"], merged.document["result"]) == ("returned", "not_accepted")
    assert merged.document["promised_days"] is None  # Tongban's promise goes with its acceptance, read or not
    summary = _merge({**deemed, "summary": "大厅摘要"}, refused, pending, reads=Reads(set(MERGED_FIELDS) - {"summary"}),
                     origin="tongban.handoff", setters={"summary": "sd_hall"})
    assert summary.document["summary"] == "大厅摘要"  # what others set and its mapping does not read stays


def test_a_department_edit_that_decides_nothing_keeps_the_deemed_acceptance() -> None:
    """Read before the deemed acceptance reached the department: a step of its own, no acceptance of its own."""
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", events=[{"seq": 1, "name": "视为受理"}])
    pending = _doc(status="submitted")
    edited = _doc(status="submitted", applicant={"name": "张三", "id_number": "X", "phone": "13900000000"})
    merged = _merge(deemed, edited, pending, origin="tongban.handoff")
    assert merged.document["accepted_at"] == deemed["accepted_at"] and merged.document["status"] == "accepted"
    assert merged.document["applicant"]["phone"] == "13900000000"


def test_a_copy_older_than_tongbans_version_gives_no_handling_but_its_other_changes() -> None:
    """Older than the deemed version and no answer (a status of its own, an agent): the handling Tongban set
    stands; what is not handling comes through."""
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00")
    edited = _doc(status="in_progress", agent={"name": "王芳"})
    merged = _merge(deemed, edited, _doc(), origin="tongban.handoff", newer=False, settled=True)
    assert merged.document["status"] == "accepted" and merged.document["result"] is None
    assert merged.document["agent"] == {"name": "王芳"}


def test_a_late_answer_entered_before_the_deemed_version_is_kept_beside_it() -> None:
    """The clerk refused 30 s after the due time, before the (late) scan deemed the case; Tongban read it after:
    a late answer however it is read — the refusal is the case's result, the deemed clock stays, the clerk's steps
    stand with 视为受理 beside them (overruled as older, the push wrote 视为受理 over the department's record)."""
    step = {"seq": 1, "name": "视为受理", "handler": "tongban.handoff", "started_at": "2026-03-02T10:10:00+08:00"}
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20, events=[step])
    clerk = {"seq": 1, "name": "初审", "handler": "李四", "started_at": "2026-03-02T10:10:30+08:00"}
    refused = _doc(status="returned", result="not_accepted", result_reason="材料不全",
                   finished_at="2026-03-02T10:10:30+08:00", events=[clerk])
    merged = _merge(deemed, refused, _doc(), origin="tongban.handoff", newer=False, settled=True)
    assert (merged.document["status"], merged.document["result"]) == ("returned", "not_accepted")
    assert merged.document["accepted_at"] == deemed["accepted_at"] and merged.document["promised_days"] == 20
    assert [e["name"] for e in merged.document["events"]] == ["视为受理", "初审"]


def test_an_acceptance_after_the_deemed_one_was_read_back_is_a_late_answer_that_keeps_the_clock() -> None:
    """The department's system held the deemed acceptance (pushed, read back); then the clerk accepted: its own
    acceptance, after the deemed one, is a late answer — the case clock keeps the deemed time (it moved to the
    clerk's, and 视为受理 stood before the acceptance) and the merge hands the acceptance to the hand-off."""
    step = {"seq": 1, "name": "视为受理", "handler": "tongban.handoff", "started_at": "2026-03-02T10:10:00+08:00"}
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20, events=[step])
    echoed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20)
    clerk = {"seq": 1, "name": "受理", "handler": "李四", "started_at": "2026-03-02T10:30:00+08:00"}
    accepted = _doc(status="accepted", accepted_at="2026-03-02T10:30:00+08:00", promised_days=20, events=[clerk])
    merged = _merge(deemed, accepted, echoed, origin="tongban.handoff", setters={"accepted_at": "tongban.handoff"})
    assert merged.document["accepted_at"] == deemed["accepted_at"]
    assert [e["name"] for e in merged.document["events"]] == ["视为受理", "受理"]
    assert merged.late_acceptance is not None and merged.late_acceptance.isoformat() == "2026-03-02T10:30:00+08:00"
    # the echo itself read again says nothing; an acceptance time the department edits later is its own to edit
    assert _merge(deemed, echoed, echoed, origin="tongban.handoff").late_acceptance is None
    edited = _merge(ACCEPTED, {**ACCEPTED, "accepted_at": "2026-03-02T09:00:00+08:00"}, ACCEPTED, origin="sd_civil")
    assert edited.document["accepted_at"] == "2026-03-02T09:00:00+08:00" and edited.late_acceptance is None


def test_an_answer_in_time_read_after_the_deemed_version_still_decides() -> None:
    """A refusal dated within the window, read only after the scan wrote the deemed version (``settled``): an
    answer given in time stands however late it is read — the deemed acceptance goes, the refusal decides (kept
    as older, the push then wrote the deemed version over the refusal in the department's own system)."""
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", events=[{"seq": 1, "name": "视为受理",
                                                                                     "handler": "tongban.handoff"}])
    refused = _doc(status="returned", result="not_accepted", result_reason="材料不全",
                   finished_at="2026-03-02T10:05:00+08:00")
    merged = _merge(deemed, refused, _doc(), origin="tongban.handoff", newer=False, settled=True)
    assert (merged.document["status"], merged.document["result"]) == ("returned", "not_accepted")
    assert merged.document["accepted_at"] is None and merged.document["events"] == []


def test_an_ending_wins_the_handling_not_the_halls_newer_agent() -> None:
    """The department's first copy ends the case (a refusal), changed before the hall added an agent: the refusal
    takes the handling and the outcome, the newer agent stays the hall's (the ending took every value its mapping
    reads, the agent emptied with them)."""
    case = _doc(status="submitted", agent={"name": "王芳", "role": "proxy"})
    refused = _doc(status="returned", result="not_accepted", result_reason="材料不全",
                   finished_at="2026-03-02T10:05:00+08:00")
    merged = _merge(case, refused, None, origin="sd_hall", newer=False)
    assert (merged.document["status"], merged.document["result"]) == ("returned", "not_accepted")
    assert merged.document["agent"] == {"name": "王芳", "role": "proxy"}
    assert any(path.startswith("agent") for path in merged.overruled), merged.overruled


def test_a_department_does_not_bring_back_a_case_the_hall_ended() -> None:
    withdrawn = _doc(status="deleted", deleted=True, result="withdrawn")
    accepting = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00")
    merged = _merge(withdrawn, accepting, _doc(status="submitted"))
    assert merged.document["status"] == "deleted" and merged.document["deleted"] is True


def test_collisions_go_to_the_newer_change() -> None:
    case = _doc(summary="由大厅修改")
    before, after = _doc(summary="原摘要"), _doc(summary="部门修改")
    assert _merge(case, after, before, newer=False).document["summary"] == "由大厅修改"
    assert _merge(case, after, before, newer=True).document["summary"] == "部门修改"


def test_an_older_change_nobody_else_made_applies() -> None:
    """The hall's phone change read after the department's acceptance: whole-copy merging dropped it for good."""
    case = {**ACCEPTED, "applicant": {"name": "张三", "id_number": "X", "phone": "13800000000"}}
    before = _doc(applicant={"name": "张三", "id_number": "X", "phone": "13800000000"})
    after = _doc(applicant={"name": "张三", "id_number": "X", "phone": "13900000000"})
    merged = _merge(case, after, before, system="sd_hall", origin="sd_civil", newer=False)
    assert merged.document["applicant"]["phone"] == "13900000000" and merged.taken == ("applicant.phone",)


def test_flags_travel_with_the_values_they_were_found_on() -> None:
    repaired = {"field": "promised_days", "rule": "range.implausible", "message": "99999 days"}
    order = {"field": "accepted_at", "rule": "case.date_order", "message": "before applied_at"}
    copy = _doc(promised_days=None, quality=[repaired, order])
    case = _doc(promised_days=None, quality=[])
    merged = _merge(case, copy, None).document  # the value was None already: the repair flag still travels
    assert carried_flags(merged, copy, case) == [repaired]  # the cross-field one is found again, or not


def test_handled_by_names_who_gave_the_result_or_the_acceptance() -> None:
    data = {"result": "not_accepted", "accepted_at": None}
    assert handled_by("sd_hall", {"result": "sd_civil"}, data) == "sd_civil"
    assert handled_by("sd_civil", None, {"result": None, "accepted_at": "t"}) == "sd_civil"
    assert handled_by("sd_hall", {"accepted_at": "sd_civil"}, {"result": None, "accepted_at": "t"}) == "sd_civil"


def test_ends_case_reads_the_canonical_words() -> None:
    assert ends_case({"deleted": True}) and ends_case({"status": "returned"}) and ends_case({"result": "withdrawn"})
    assert ends_case({"result": "not_accepted"}) and not ends_case({"result": "issued", "status": "finished"})
    assert not ends_case({"status": "accepted"}) and not ends_case(None) and not ends_case({"status": ["x"]})


def test_reads_covers_the_values_inside_and_on_the_way_to_a_target() -> None:
    reads = Reads(["office.code", "applicant", "status"])
    assert "office" in reads and "office.code" in reads and "office.name" not in reads
    assert "applicant.phone" in reads and "status" in reads and "agent.name" not in reads
    assert value_at({"a": {"b": [1]}}, "a.b.0") == [1] and value_at({"a": None}, "a.b") is None
    assert HANDLING <= set(MERGED_FIELDS)


# -- properties ------------------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.sampled_from(["a", "b", "accepted", "returned", "voided"]), st.booleans(),
                     st.lists(st.integers(0, 3), max_size=2))
_values = st.one_of(_scalars, st.fixed_dictionaries({"x": _scalars, "y": _scalars}))
_documents = st.fixed_dictionaries({name: _values for name in MERGED_FIELDS})
_who = st.sampled_from(["sd_hall", "sd_civil", "sd_market", "tongban.handoff"])
_flags = st.fixed_dictionaries({"system": _who.filter(lambda s: not s.startswith("tongban")), "origin": _who,
                                "newer": st.booleans(), "settled": st.booleans()})


def _run(case, copy, base, flags, reads=EVERYTHING):
    return merge_copy(case, copy, base, system=flags["system"], reads=reads,
                      from_hall=ROLES[flags["system"]] == "hall", origin=flags["origin"], setters={},
                      role_of=ROLES.get, newer=flags["newer"], settled=flags["settled"])


@settings(max_examples=300, deadline=None)
@given(case=_documents, copy=_documents, base=st.one_of(st.none(), _documents), flags=_flags)
def test_merging_a_copy_twice_is_merging_it_once_and_makes_nothing_up(case, copy, base, flags) -> None:
    once = _run(case, copy, base, flags)
    again = merge_copy(once.document, copy, base, system=flags["system"], reads=EVERYTHING,
                       from_hall=ROLES[flags["system"]] == "hall", origin=flags["system"], setters=once.setters,
                       role_of=ROLES.get, newer=flags["newer"], settled=flags["settled"])
    assert again.document == once.document
    for name in MERGED_FIELDS:  # every value is the case's or the copy's, or an emptied part (None)
        value = once.document[name]
        if isinstance(value, dict):
            for key, inner in value.items():
                assert inner in (value_at(case, f"{name}.{key}"), value_at(copy, f"{name}.{key}")), (name, key)
        elif name == "events" and isinstance(value, list) and value not in (case[name], copy[name]):
            # Tongban's steps kept beside the copy's: every item is one of theirs
            assert isinstance(case[name], list) and isinstance(copy[name], list)
            assert all(item in case[name] or item in copy[name] for item in value), value
        else:
            assert value in (case[name], copy[name], None), name


@settings(max_examples=300, deadline=None)
@given(case=_documents, base=_documents, flags=_flags)
def test_a_copy_that_changed_nothing_changes_nothing(case, base, flags) -> None:
    merged = _run(case, base, base, flags)
    emptied = {k: None if isinstance(v, dict) and all(x is None for x in v.values()) else v for k, v in case.items()}
    assert not merged.taken and not merged.overruled and merged.document == emptied


def test_a_deciding_department_does_not_override_another_departments_handling() -> None:
    """Two departments hold one case number (the sandbox's estate and market do): the handling one set is not
    the other's to replace by deciding — the newer change speaks, as between any two copies."""
    estate = _doc(status="finished", accepted_at="2021-01-24T05:25:53+08:00", result="issued", handler="赵敏")
    market = _doc(status="finished", accepted_at="2021-01-23T10:00:00+08:00", result="issued", handler="孙志勇")
    older = _merge(estate, market, None, system="sd_market", origin="jn_estate", newer=False)
    assert older.document["handler"] == "赵敏" and older.document["accepted_at"] == estate["accepted_at"]
    newer = _merge(estate, market, None, system="sd_market", origin="jn_estate", newer=True)
    assert newer.document["handler"] == "孙志勇"


def test_a_late_department_acceptance_does_not_move_the_deemed_one() -> None:
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20,
                  events=[{"seq": 1, "name": "视为受理", "handler": "tongban.handoff", "started_at": "2026-03-02T10:10:00+08:00"}])
    late = _doc(status="accepted", accepted_at="2026-03-02T11:00:00+08:00", promised_days=30,
                events=[{"seq": 1, "name": "受理", "handler": "李明", "started_at": "2026-03-02T11:00:00+08:00"}])
    merged = _merge(deemed, late, _doc(), origin="tongban.handoff")
    assert merged.document["accepted_at"] == deemed["accepted_at"] and merged.document["promised_days"] == 20
    assert [e["name"] for e in merged.document["events"]] == ["视为受理", "受理"]  # Tongban's step kept beside
    in_time = {**late, "accepted_at": "2026-03-02T10:05:00+08:00"}  # dated within the window: it stands
    assert _merge(deemed, in_time, _doc(), origin="tongban.handoff").document["accepted_at"] == in_time["accepted_at"]


def test_a_copy_read_again_byte_for_byte_decides_nothing() -> None:
    case = _doc(status="accepted", accepted_at="2026-03-02T10:00:00+08:00")
    remapped = _doc(status="returned", result="not_accepted")
    merged = merge_copy(case, remapped, None, system="sd_civil", reads=EVERYTHING, from_hall=False, origin="sd_market",
                        setters={}, role_of=ROLES.get, newer=False, restating=True)
    assert merged.document["status"] == "accepted" and merged.document["result"] is None


def test_after_the_deemed_acceptance_reached_it_a_department_edits_its_deadline() -> None:
    """Not an answer (its previous copy held the deemed acceptance already): its extension merges like any edit."""
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_at="2026-03-30T17:00:00+08:00")
    pushed = dict(deemed)
    extended = {**deemed, "promised_at": "2026-04-15T17:00:00+08:00"}
    merged = _merge(deemed, extended, pushed, origin="tongban.handoff")
    assert merged.document["promised_at"] == "2026-04-15T17:00:00+08:00"


def test_a_late_refusal_keeps_the_deemed_clock() -> None:
    """Refused after the deemed time: the refusal is the case's result (the hand-off records the late answer
    from it), but the case clock started at the deemed acceptance and keeps its promise."""
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20)
    refused = _doc(status="returned", result="not_accepted", finished_at="2026-03-02T11:00:00+08:00")
    merged = _merge(deemed, refused, _doc(), origin="tongban.handoff")
    assert merged.document["result"] == "not_accepted"
    assert merged.document["accepted_at"] == deemed["accepted_at"] and merged.document["promised_days"] == 20


def test_a_department_acceptance_after_the_halls_window_acceptance_is_its_own() -> None:
    hall = _doc(status="accepted", accepted_at="2026-03-02T09:00:00+08:00")
    civil = _doc(status="in_progress", accepted_at="2026-03-02T10:00:00+08:00", handler="李明",
                 events=[{"seq": 1, "name": "受理", "handler": "李明", "started_at": "2026-03-02T10:00:00+08:00"}])
    merged = _merge(hall, civil, None, origin="sd_hall", newer=False)
    assert merged.document["status"] == "in_progress" and merged.document["handler"] == "李明"


def test_a_late_refusal_beside_the_echo_of_the_deemed_acceptance_is_late() -> None:
    """civil held the deemed acceptance (pushed) and refused after it before its sync read the acceptance: the
    acceptance is Tongban's own come back, the refusal is judged by when it was given — late."""
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00", promised_days=20)
    refused = _doc(status="returned", result="not_accepted", accepted_at="2026-03-02T10:10:00+08:00",
                   finished_at="2026-03-02T11:00:00+08:00")
    merged = _merge(deemed, refused, _doc(), origin="tongban.handoff")
    assert merged.document["promised_days"] == 20 and merged.document["accepted_at"] == deemed["accepted_at"]


def test_a_department_the_case_was_moved_away_from_decides_nothing() -> None:
    """An operator moved the case from the market department to the civil one, which the hand-off then deemed
    accepted; the market department's refusal, dated before that deemed instant, is no answer — it is not the
    competent department's (it replaced the deemed acceptance, and the ledger pushed a refusal everywhere)."""
    deemed = _doc(status="accepted", accepted_at="2026-03-02T10:10:00+08:00",
                  events=[{"seq": 1, "name": "视为受理", "handler": "tongban.handoff"}])
    refused = _doc(status="returned", result="not_accepted", result_reason="不属于本部门",
                   finished_at="2026-03-02T10:05:00+08:00")
    kept = merge_copy(deemed, refused, _doc(), system="sd_market", reads=EVERYTHING, from_hall=False,
                      origin="tongban.handoff", setters={}, role_of=ROLES.get, newer=True, released=True)
    assert kept.document["status"] == "accepted" and kept.document["result"] is None, kept.document
    assert kept.document["accepted_at"] == deemed["accepted_at"]
    taken = merge_copy(deemed, refused, _doc(), system="sd_market", reads=EVERYTHING, from_hall=False,
                       origin="tongban.handoff", setters={}, role_of=ROLES.get, newer=True)
    assert taken.document["result"] == "not_accepted"  # the competent department's refusal in time decides
