"""Every statement of the processes (issue 15): the front-desk hand-off's rows and audit trail, the case versions
the hand-off writes itself (deemed acceptance, refusal at routing), and the 办不成事 tickets.

State moves by compare-and-set (``UPDATE … WHERE state = :expected``): two scans racing over the same due
hand-off — a DAG run and a CLI run, or a run retried after a crash — cannot both deem it, so the department and
the hall are told exactly once. Each function takes the ``Connection`` of a transaction the caller owns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, or_, select, text, update

from gateway.models.datetimes import beijing_iso
from gateway.models.hashing import content_hash
from gateway.models.survivorship import handled_by, rewritten_setters
from gateway.store.ledger import add_dead_letters, add_outbox, dumps, loads, utcnow
from gateway.store.outbox import DEAD, PENDING, SUPERSEDED
from gateway.store.tables import (
    DEFERRAL_PREDICATE,
    cases,
    dead_letters,
    outbox,
    process_events,
    process_handoffs,
    process_tickets,
    source_records,
)

__all__ = [
    "add_ticket", "cancel_undelivered", "cases_with_certificate_deferrals", "clock_starts", "delivered_at", "due_handoffs", "events", "handoff_state_counts", "frontdesk_candidates", "get_handoff",
    "handoffs", "handoffs_waiting_first", "held_by", "insert_handoff", "live_handoffs", "log", "log_late_answer", "move", "open_tickets", "outbox_statuses", "queue", "queued_targets",
    "read_case", "record_late_acceptance", "record_late_answer", "refuse_to_dead_letters", "reply_ticket", "ticket_exists", "unreturned", "withdrawn_from", "write_case_version",
]

# -- hand-offs ---------------------------------------------------------------------------------------------

def frontdesk_candidates(conn: Connection, halls: Sequence[str], *, limit: int = 500) -> list[dict[str, Any]]:
    """Front-desk cases (a hall's own records) that have no hand-off yet: ``case_no, version, data, hall_system``.
    Whatever system wrote the newest version (a department's echo may come first). Read through the halls' own
    source records (their primary key starts with the system, so the scan covers front-desk records only, never
    the whole ledger) joined to the merged case."""
    if not halls:
        return []
    s, c, h = source_records.c, cases.c, process_handoffs.c
    handed = select(h.case_no).where(h.case_no == c.case_no)
    rows = conn.execute(
        select(c.case_no, c.version, c.data, s.system.label("hall_system"))
        .select_from(source_records.join(cases, c.case_no == s.case_no))
        .where(s.system.in_(list(halls)), c.deleted.is_(False), ~handed.exists())
        .order_by(c.case_no).limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def held_by(conn: Connection, case_no: str, systems: Sequence[str]) -> bool:
    """Whether any of ``systems`` holds a source record of the case (a hall's front-desk record, whoever wrote the
    case's newest version)."""
    if not systems:
        return False
    s = source_records.c
    return conn.execute(select(s.case_no).where(s.case_no == case_no, s.system.in_(list(systems))).limit(1)
                        ).first() is not None


def insert_handoff(conn: Connection, row: dict[str, Any]) -> bool:
    """A new hand-off; False when one exists already for the case (another scan got there first)."""
    if conn.execute(select(process_handoffs.c.case_no).where(process_handoffs.c.case_no == row["case_no"])).first():
        return False
    conn.execute(insert(process_handoffs).values(**{"forwarded_version": 0, **row}))
    return True


def get_handoff(conn: Connection, case_no: str) -> dict[str, Any] | None:
    row = conn.execute(select(process_handoffs).where(process_handoffs.c.case_no == case_no)).mappings().first()
    return dict(row) if row else None


def handoffs(conn: Connection, *, states: Iterable[str] | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Hand-offs, newest first (all, or those in ``states``)."""
    query = select(process_handoffs).order_by(process_handoffs.c.registered_at.desc()).limit(limit)
    if states is not None:
        query = query.where(process_handoffs.c.state.in_(list(states)))
    return [dict(r) for r in conn.execute(query).mappings()]


WAITING = ("awaiting_delivery", "pending")
"""Hand-off states someone may have to act on: not yet with the department, or its window still running."""


def handoffs_waiting_first(conn: Connection, *, state: str | None = None, offset: int = 0,
                           limit: int = 100) -> list[dict[str, Any]]:
    """Hand-offs, ``limit`` from ``offset`` (in ``state`` when given): those awaiting delivery or pending first,
    soonest due first (the undelivered, which have no window yet, after the running windows), then the others
    newest first — ordered in SQL over all of them, so a pending hand-off older than the newest page is first in
    line, not lost behind it (the console's panel and its hand-offs page)."""
    h = process_handoffs.c
    waiting = h.state.in_(WAITING)
    query = (select(process_handoffs)
             .order_by(case((waiting, 0), else_=1), case((waiting & h.due_at.is_(None), 1), else_=0),
                       case((waiting, h.due_at)), h.registered_at.desc(), h.case_no)
             .offset(offset).limit(limit))
    if state is not None:
        query = query.where(h.state == state)
    return [dict(r) for r in conn.execute(query).mappings()]


def handoff_state_counts(conn: Connection) -> tuple[dict[str, int], int]:
    """``({state: hand-offs}, late answers)`` over every hand-off, grouped in SQL: the console's cards and the
    CLI's totals must not depend on how many rows a page reads."""
    h = process_handoffs.c
    by_state = {state: int(n) for state, n in conn.execute(
        select(h.state, func.count()).group_by(h.state))}
    late = conn.execute(select(func.count()).where(h.late_decision.is_not(None))).scalar_one()
    return by_state, int(late)


def live_handoffs(conn: Connection, states: Sequence[str], *, since: datetime | None = None) -> list[dict[str, Any]]:
    """The hand-offs in ``states`` (registered since ``since``), oldest due first: the scan's working set."""
    h = process_handoffs.c
    query = select(process_handoffs).where(h.state.in_(list(states)))
    if since is not None:
        query = query.where(h.registered_at >= since)
    return [dict(r) for r in conn.execute(query.order_by(h.due_at, h.case_no)).mappings()]


def due_handoffs(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Pending hand-offs whose window is over."""
    h = process_handoffs.c
    return [dict(r) for r in conn.execute(
        select(process_handoffs).where(h.state == "pending", h.due_at <= now).order_by(h.due_at)).mappings()]


_ANY: Any = object()


def move(conn: Connection, case_no: str, expected: str, *, holder: str | None = _ANY, **values: Any) -> bool:
    """Compare-and-set: update the hand-off only if it is still in state ``expected`` — and, given ``holder``, still
    routed to that department system (an operator may have moved it since the caller read it: ``handoff
    reroute`` keeps the state ``awaiting_delivery``); True if this call did. On PostgreSQL a concurrent writer's
    change is seen by the condition (the row is re-checked after its lock), so the loser matches no row."""
    h = process_handoffs.c
    where = [h.case_no == case_no, h.state == expected]
    if holder is not _ANY:
        where.append(h.target_system.is_(None) if holder is None else h.target_system == holder)
    values.setdefault("answers_seen_version", None)  # moved: its answers are read afresh
    return bool(conn.execute(update(process_handoffs).where(*where).values(**values)).rowcount)


def forwardable_handoffs(conn: Connection, states: Sequence[str], *, since: datetime,
                         halls: Sequence[str]) -> list[dict[str, Any]]:
    """The hand-offs in ``states`` registered since ``since`` whose case has a version of one of ``halls`` newer
    than the one forwarded (what the hand-off scan forwards): one join, however many months of decided hand-offs
    the ledger holds — read one by one, every minute, they made a scan cost ~0.6 ms each, minutes at a district's
    half-year of them."""
    h, c = process_handoffs.c, cases.c
    query = (select(process_handoffs).join(cases, c.case_no == h.case_no)
             .where(h.state.in_(list(states)), h.registered_at >= since, h.hall_system.in_(list(halls)),
                    h.target_system.is_not(None), c.origin_system == h.hall_system,
                    c.version > h.forwarded_version)
             .order_by(h.due_at, h.case_no))
    return [dict(r) for r in conn.execute(query).mappings()]


def answer_candidates(conn: Connection, *, since: datetime) -> list[dict[str, Any]]:
    """The hand-offs whose department's answer a scan must look for: every pending one registered since ``since``,
    and each deemed one without a late answer whose case changed since a scan last found no answer in it
    (``answers_seen_version``) — not every deemed hand-off of half a year, every minute."""
    h, c = process_handoffs.c, cases.c
    unseen = or_(h.answers_seen_version.is_(None), c.version.is_(None), c.version != h.answers_seen_version)
    query = (select(process_handoffs).outerjoin(cases, c.case_no == h.case_no)
             .where(h.registered_at >= since,
                    or_(h.state == "pending", and_(h.state == "deemed", h.late_decision.is_(None), unseen)))
             .order_by(h.due_at, h.case_no))
    return [dict(r) for r in conn.execute(query).mappings()]


def answers_seen(conn: Connection, case_no: str, version: int) -> None:
    """A scan found no (new) answer in version ``version`` of a deemed hand-off's case: skipped until it changes."""
    h = process_handoffs.c
    conn.execute(update(process_handoffs).where(h.case_no == case_no, h.state == "deemed", h.late_decision.is_(None))
                 .values(answers_seen_version=version))


def clock_starts(conn: Connection, case_nos: Sequence[str]) -> dict[str, datetime]:
    """``case_no → decided_at`` of the decided hand-offs among ``case_nos``: where each case clock starts
    (deemed acceptance included), whatever later versions of the case say its acceptance time was."""
    if not case_nos:
        return {}
    h = process_handoffs.c
    out: dict[str, datetime] = {}
    for i in range(0, len(case_nos), 900):
        for case_no, decided in conn.execute(select(h.case_no, h.decided_at).where(
                h.case_no.in_(list(case_nos[i:i + 900])), h.state.in_(["accepted", "deemed"]),
                h.decided_at.is_not(None))):
            out[case_no] = decided
    return out


def record_late_answer(conn: Connection, h: dict[str, Any], decision: str, at: datetime, reason: str | None, *,
                       now: datetime, via: str | None = None) -> bool:
    """A department's answer given after its hand-off was deemed accepted, recorded once: on the hand-off
    (``late_decision``) and in its trail. The case clock keeps the deemed time. ``h``: the deemed hand-off as the
    caller read it; ``via``: the system whose version carried the answer, when not the department's own. False
    when the hand-off moved on or an answer was recorded first (a scan and a sync racing)."""
    c = process_handoffs.c
    recorded = conn.execute(update(process_handoffs).where(
        c.case_no == h["case_no"], c.state == "deemed", c.target_system == h["target_system"],
        c.late_decision.is_(None)).values(late_decision=decision, late_decided_at=at, late_reason=reason,
                                          updated_at=now)).rowcount
    if recorded:
        log_late_answer(conn, h["case_no"], h["target_system"], decision, at, reason, deemed_at=h["decided_at"],
                        now=now, via=via)
    return bool(recorded)


def log_late_answer(conn: Connection, case_no: str, system: str, decision: str, at: datetime, reason: str | None, *,
                    deemed_at: datetime, now: datetime, via: str | None = None) -> None:
    """The trail's ``late_answer`` entry: the department's answer, dated when it was given, beside the deemed
    acceptance it came after and the instant Tongban saw it."""
    log(conn, case_no, at, "late_answer", system, decision=decision, reason=reason, deemed_at=beijing_iso(deemed_at),
        seen_at=beijing_iso(now), **({"via": via} if via else {}))


def record_late_acceptance(conn: Connection, case_no: str, system: str, at: datetime, *, now: datetime) -> bool:
    """``system``'s acceptance of a case, given at ``at`` after its hand-off was deemed accepted — read by a sync,
    which keeps the deemed acceptance time on the case (:data:`gateway.models.survivorship.CLOCK`): the
    department's answer is recorded here as late, as the scan records a late refusal the case shows."""
    h = get_handoff(conn, case_no)
    if (h is None or h["state"] != "deemed" or h["target_system"] != system or h["late_decision"] is not None
            or h["decided_at"] is None or at <= h["decided_at"]):
        return False
    return record_late_answer(conn, h, "accepted", at, None, now=now)


# -- the audit trail --------------------------------------------------------------------------------------

def log(conn: Connection, case_no: str, at: datetime, step: str, actor: str, **detail: Any) -> None:
    conn.execute(insert(process_events).values(case_no=case_no, at=at, step=step, actor=actor,
                                               detail=dumps(detail) if detail else None))


def events(conn: Connection, case_no: str) -> list[dict[str, Any]]:
    """The audit trail of one case's hand-off, in order: ``at, step, actor, detail``."""
    e = process_events.c
    return [{"at": r.at, "step": r.step, "actor": r.actor, "detail": loads(r.detail) or {}}
            for r in conn.execute(select(e.at, e.step, e.actor, e.detail).where(e.case_no == case_no)
                                  .order_by(e.id))]


# -- cases and the outbox -----------------------------------------------------------------------------------

def read_case(conn: Connection, case_no: str) -> dict[str, Any] | None:
    """The merged case: ``case_no, version, data`` (parsed), ``origin_system``, ``source_updated_at``,
    ``deleted``, and ``handled_by``: who gave its result or acceptance (:func:`~gateway.models.survivorship.
    handled_by` — a version the hall wrote can carry a department's decision)."""
    c = cases.c
    row = conn.execute(select(c.case_no, c.version, c.data, c.origin_system, c.field_sources, c.source_updated_at,
                              c.deleted).where(c.case_no == case_no)).mappings().first()
    if row is None:
        return None
    case = {**dict(row), "data": loads(row["data"])}
    sources = case.pop("field_sources")
    case["handled_by"] = handled_by(case["origin_system"], loads(sources) if sources else None, case["data"])
    return case


def queued_targets(conn: Connection, case_no: str) -> set[str]:
    """Systems that have an outbox row for the case (any version, any status)."""
    o = outbox.c
    return {r[0] for r in conn.execute(select(o.target_system).where(o.case_no == case_no).distinct())}


def delivered_at(conn: Connection, case_no: str, target: str, *, min_version: int = 0) -> datetime | None:
    """When ``target`` first accepted a version of the case (the department system has it from then on): an
    upsert (a delete it accepted is the case leaving it), of ``min_version`` or later (a case moved back to a
    department that had it before is that department's again from the version the move sent)."""
    o = outbox.c
    row = conn.execute(select(o.delivered_at).where(o.case_no == case_no, o.target_system == target,
                                                    o.status == "delivered", o.delivered_at.is_not(None),
                                                    o.operation == "upsert", o.version >= min_version)
                       .order_by(o.delivered_at).limit(1)).first()
    return row[0] if row else None


def outbox_statuses(conn: Connection, case_no: str, target: str | None) -> list[str]:
    """``"v<version> <status>"`` of every outbox row of the case to ``target``, oldest version first."""
    if not target:
        return []
    o = outbox.c
    return [f"v{v} {st}" for v, st in conn.execute(select(o.version, o.status).where(
        o.case_no == case_no, o.target_system == target).order_by(o.version))]


def queue(conn: Connection, case_no: str, version: int, targets: Iterable[str], now: datetime, *,
          operation: str = "upsert") -> None:
    """Outbox rows for one case version (idempotent: the outbox is unique per case, version and target). Due at
    once: at the earlier of ``now`` and the wall clock, so a scan run as of a later instant (a test's injected
    clock, a DAG run's own time) never parks the rows in the future. ``operation="delete"`` withdraws the case from
    the targets (a re-routed hand-off's first department)."""
    due = min(now, utcnow())
    add_outbox(conn, [{"case_no": case_no, "version": version, "target_system": t, "operation": operation,
                       "status": PENDING, "attempts": 0, "next_attempt_at": due, "created_at": due}
                      for t in sorted(set(targets))])


def cancel_undelivered(conn: Connection, case_no: str, target: str, *, now: datetime) -> int:
    """Cancel the case's pushes to ``target`` that never reached it (marked ``superseded``: the case went
    elsewhere): those still pending, and those given up (``dead``), whose push dead letters are resolved — a replay
    of one would send the case to a department it was moved away from. Returns how many."""
    o = outbox.c
    where = (o.case_no == case_no, o.target_system == target, o.status.in_([PENDING, DEAD]))
    versions = [v for (v,) in conn.execute(select(o.version).where(*where, o.status == DEAD))]
    moved = max(conn.execute(update(outbox).where(*where).values(status=SUPERSEDED)).rowcount, 0)
    if versions:
        d = dead_letters.c
        conn.execute(update(dead_letters).where(d.kind == "push", d.system == target, d.status == "open",
                                                d.source_id.in_([f"{case_no}:{v}" for v in versions]))
                     .values(status="resolved", updated_at=now))
    return moved


def withdrawn_from(conn: Connection, system: str, case_nos: Sequence[str]) -> set[str]:
    """Those of ``case_nos`` that ``system`` was last told to delete (its newest outbox row is a ``delete``, whatever
    became of it: an operator moved the case to another department). The sync does not take that system's
    tombstone of such a case for the end of the case (see ingest); a case moved back to it is its own again."""
    if not case_nos:
        return set()
    o = outbox.c
    newest: dict[str, tuple[int, str]] = {}
    for i in range(0, len(case_nos), 900):
        for case_no, version, operation in conn.execute(select(o.case_no, o.version, o.operation).where(
                o.target_system == system, o.case_no.in_(list(case_nos[i:i + 900])))):
            if case_no not in newest or version >= newest[case_no][0]:
                newest[case_no] = (version, operation)
    return {case_no for case_no, (_, operation) in newest.items() if operation == "delete"}


def unreturned(conn: Connection, halls: Sequence[str], *, since: datetime) -> list[dict[str, Any]]:
    """Front-desk cases of ``halls`` whose newest version came from elsewhere (the department, the hand-off) and
    is not queued for the hall that accepted them yet: ``case_no, version, hall_system``."""
    if not halls:
        return []
    h, c, o = process_handoffs.c, cases.c, outbox.c
    queued = select(o.id).where(o.case_no == c.case_no, o.version == c.version, o.target_system == h.hall_system)
    rows = conn.execute(select(h.case_no, c.version, h.hall_system)
                        .join(cases, c.case_no == h.case_no)
                        .where(h.hall_system.in_(list(halls)), h.state != "refused_routing", h.registered_at >= since,
                               c.origin_system != h.hall_system, ~queued.exists()))
    return [dict(r._mapping) for r in rows]


def write_case_version(conn: Connection, case_no: str, expected_version: int, data: dict[str, Any], *,
                       origin: str) -> int | None:
    """A new version of the merged case written by Tongban itself (deemed acceptance, refusal at routing):
    the next version number, or None when the case moved on meanwhile (the caller scans again).

    The version sits among the sources' changes, which the merge orders by their own times (newer wins), at now on
    the wall clock (whatever instant it stands for, earlier, or a test's injected future): a source's change after
    it still wins. ``updated_at`` is the wall clock whatever
    the scan runs as of: the KPI refresh and every incremental reader take it as their watermark (a scan as of a
    later instant froze them). Who set each value is kept: what Tongban changed is Tongban's, the rest keeps its
    setter (:func:`~gateway.models.survivorship.rewritten_setters`)."""
    version = expected_version + 1
    written = utcnow()
    c = cases.c
    before = conn.execute(select(c.data, c.origin_system, c.field_sources)
                          .where(c.case_no == case_no, c.version == expected_version)).first()
    if before is None:
        return None
    sources = rewritten_setters(loads(before.data), data, origin=before.origin_system,
                                setters=loads(before.field_sources) if before.field_sources else None, writer=origin)
    result = conn.execute(
        update(cases).where(and_(c.case_no == case_no, c.version == expected_version))
        .values(version=version, data=dumps(data), content_hash=content_hash(data, exclude=("updated_at",)),
                origin_system=origin, origin_source_id=case_no, origin_digest=None,
                field_sources=dumps(sources) if sources else None, source_updated_at=written, updated_at=written))
    return version if result.rowcount else None


def refuse_to_dead_letters(conn: Connection, *, system: str, case_no: str, reason: str, rule: str,
                           field: str, raw: dict[str, Any], now: datetime, pii: Any = None) -> None:
    """A case refused at routing is a dead letter (kind ``routing``) with the rule and the reason, besides the
    refusal written back to the hall: an operator sees it next to every other record that did not go through.
    ``raw`` (the case document: names, phones, addresses) is sealed whole with ``pii``."""
    add_dead_letters(conn, [{
        "kind": "routing", "system": system, "stream": "handoff", "source_id": case_no, "case_no": case_no,
        "cursor": None, "raw": dumps(raw),
        "reason": f"{case_no}: {field}: {rule}: {reason}",
        "issues": dumps([{"record": case_no, "field": field, "rule": rule, "message": reason}]),
        "mapping_version": None, "status": "open", "attempts": 1, "created_at": now, "updated_at": now,
    }], pii=pii)


# -- deferred materials (容缺/承诺) ----------------------------------------------------------------------------

def cases_with_certificate_deferrals(conn: Connection, *, after: str = "", limit: int = 500) -> list[dict[str, Any]]:
    """Live cases, by number after ``after``, whose document names a certificate type on a deferred material
    (its JSON has ``"certificate_type":"`` only for a non-empty one; a document written with spaces after the
    colons, by hand or by another tool, is matched too): ``case_no, version, data, dept_code, origin_system``.
    Read through the partial index of such cases (:data:`DEFERRAL_PREDICATE`, repeated as literal SQL so both
    databases see that it applies), not by scanning every live case's document."""
    c = cases.c
    rows = conn.execute(select(c.case_no, c.version, c.data, c.dept_code, c.origin_system)
                        .where(text(DEFERRAL_PREDICATE), c.deleted.is_(False), c.case_no > after,
                               or_(c.data.like('%"certificate_type":"%'), c.data.like('%"certificate_type": "%')))
                        .order_by(c.case_no).limit(limit)).mappings()
    return [{**dict(r), "data": loads(r["data"])} for r in rows]


# -- 办不成事 tickets ------------------------------------------------------------------------------------------

def add_ticket(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(process_tickets).values(**row))


def ticket_exists(conn: Connection, ticket_no: str) -> bool:
    t = process_tickets.c
    return conn.execute(select(t.ticket_no).where(t.ticket_no == ticket_no)).first() is not None


def reply_ticket(conn: Connection, ticket_no: str, *, at: datetime, reply: str) -> bool:
    t = process_tickets.c
    result = conn.execute(update(process_tickets).where(t.ticket_no == ticket_no, t.replied_at.is_(None))
                          .values(replied_at=at, reply=reply))
    return bool(result.rowcount)


def open_tickets(conn: Connection) -> list[dict[str, Any]]:
    t = process_tickets.c
    return [dict(r) for r in conn.execute(select(process_tickets).where(t.replied_at.is_(None))
                                          .order_by(t.opened_at)).mappings()]
