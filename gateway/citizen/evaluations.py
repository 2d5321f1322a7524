"""好差评: ratings from every channel into the ledger, linked to their cases, forwarded to the provincial system
once; a bad review opens a callback due the same working day and, once called back, a rectification with a
time limit; appeals against a mistaken bad review go up level by level (the city, then the province).

    report = sync_evaluations(engine, settings)          # read the collection point, queue what goes up
    deliver(engine, "provincial_pj", ProvincialClient(settings.provincial_pj))
    record_callback(engine, "R0000012", "已电话回访，群众表示理解")
    file_appeal(engine, "R0000012", "评价人误选")          # to the city; rejected there → to the province
    evaluation_summary(engine)                            # for the ops console

Times are injectable (``now=``) so that a test can put a rating at 17:59 on a Friday before a holiday.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import Engine

from gateway.contract.errors import (
    FatalSyncError,
    FieldIssue,
    RecordRejected,
    TongbanError,
    WriteRejectedError,
)
from gateway.crypto.pii import PiiCodec, redact, seal_text
from gateway.models.datetimes import beijing_minute, change_horizon
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.ops.periods import month_bounds
from gateway.store import alerts as alert_store
from gateway.store import citizen as store
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.sealing import require_ledger_keys

from .clients import EvaluatorClient, ProvincialClient
from .conventions import (
    APPEAL_LEVELS,
    DECISIONS,
    count_flags,
    dead_letter_id,
    epoch_ms_time,
    from_evaluator,
    provincial_time,
    raw_text,
    to_provincial,
)
from .models import Evaluation
from .outbox import FATAL_STREAK, key_part, queue_item
from .replay import replay_pages
from .settings import CitizenSettings, Policy

__all__ = ["list_evaluations", "relink", "replay_rejected", "CitizenError", "EvaluationReport", "callback_due", "evaluation_summary", "file_appeal",
           "finish_rectification", "poll_appeals", "record_callback", "sync_evaluations"]

SOURCE = "evaluator"
STREAM = "ratings"
LOOKBACK = timedelta(minutes=10)
DIVISION = re.compile(r"[0-9]{6}([0-9]{6})?")  # ASCII digits only: \d matches any script's digits
COVERAGE_TARGET = 0.7
"""At least 70% of cases should be evaluated (seed 000)."""


class CitizenError(TongbanError):
    """An operation the rules refuse (a callback for a good review, a second redo …): names record, field, rule."""

    def __init__(self, record: str, field: str, rule: str, message: str) -> None:
        self.issue = FieldIssue(record, field, rule, message)
        super().__init__(str(self.issue))


@dataclass
class EvaluationReport:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    bad: int = 0
    linked: int = 0
    relinked: int = 0
    """Ratings read earlier whose case has reached the ledger since (their case facts filled in now)."""
    rectifications_dated: int = 0
    """Callbacks of before every 差评 fell due for 整改, given their rectification due time (once, after an upgrade)."""
    superseded: int = 0
    """Dead-lettered versions a replay set aside: the ledger holds the rating as read later (never overwritten)."""
    flagged: int = 0
    """Quality flags raised on ratings kept (a value repaired: text no store can hold, a rating time after the
    record's change time): each names record, field and rule (``flags``, the first 20)."""
    rejections: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": self.rejected, "bad": self.bad, "linked": self.linked, "relinked": self.relinked,
                "superseded": self.superseded, "flagged": self.flagged, "rejections": self.rejections[:20],
                "flags": self.flags[:20]}


def _closing(day: date, closing: time) -> datetime:
    return datetime.combine(day, closing, BEIJING)


def callback_due(rated_at: datetime, calendar: WorkCalendar, closing: time = time(18, 0)) -> datetime:
    """The end of the working day the bad review arrived on ("差评件当天进行回访"); a review that arrives after
    closing time or on a day off is due at the close of the next working day.

    Why working days, not the Beijing calendar day nor 24 hours: the national rule (国办发〔2019〕51号, as local
    rules quote it: "第一时间安排专人回访核实") sets no clock; the reports' "当天" (DOMAIN.md) is a working office's day. A same-calendar-day
    rule would make a 差评 given at 23:00 or on a Sunday late before anyone could answer it — a measure of when
    citizens rate, not of the department. The summary therefore calls the figure 按时回访率 (by this due time), not
    当天回访率, which a 差评 given after closing and called back the next morning is not."""
    local = rated_at.astimezone(BEIJING)
    day = local.date()
    if not calendar.is_working_day(day) or local.time() > closing:
        day = calendar.add_days(day, 1)
    return _closing(day, closing)


def rectification_due(called_back: datetime, calendar: WorkCalendar, policy: Policy) -> datetime:
    """When the rectification (整改) of a 差评 called back at ``called_back`` is due: ``rectification_days`` working
    days later, at closing time. Set when the callback opens — from its own due time, as if called back on its last
    day — and again from the callback when it is made: a 差评 nobody ever called back was due for no 整改, so it was
    in no rectification figure (限时整改率 100% over a department that ignored its 差评)."""
    return _closing(calendar.add_days(called_back.astimezone(BEIJING).date(), policy.rectification_days),
                    policy.callback_closing)


def _hash(ev: Evaluation) -> str:
    return hashlib.sha256(orjson.dumps(ev.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _case_facts(doc_text: str | None) -> tuple[datetime | None, str | None, str | None]:
    """(finished_at, office code, dept code) of a case document, read defensively: the office and channel
    fields are new (the one-window issue) and may be absent or spelled otherwise."""
    if not doc_text:
        return None, None, None
    try:
        doc = orjson.loads(doc_text)
    except orjson.JSONDecodeError:
        return None, None, None
    finished: datetime | None = None
    if isinstance(doc.get("finished_at"), str):
        try:
            finished = datetime.fromisoformat(doc["finished_at"])
            finished = finished if finished.tzinfo else finished.replace(tzinfo=BEIJING)
        except ValueError:
            finished = None
    office = doc.get("office")
    code = office.get("code") if isinstance(office, dict) else (office if isinstance(office, str) else None)
    dept = doc.get("dept_code") if isinstance(doc.get("dept_code"), str) else None
    return finished, code, dept


def _row(ev: Evaluation, doc: str | None, now: datetime, pii: PiiCodec | None = None) -> dict[str, Any]:
    """A rating as the ledger keeps it, its comment (the citizen's words) sealed with ``pii``."""
    finished, office, dept = _case_facts(doc)
    return {"rating_id": ev.rating_id, "case_no": ev.case_no, "level": int(ev.level), "bad": ev.bad,
            "channel": ev.channel, "device": ev.device, "window_no": ev.window, "staff": ev.staff,
            "dept_code": ev.dept_code or dept, "division": ev.division, "office_code": office,
            "rated_at": ev.rated_at, "month": ev.rated_at.astimezone(BEIJING).strftime("%Y-%m"),
            "case_finished_at": finished, "comment": seal_text(ev.comment, pii), "revoked": ev.revoked,
            "content_hash": _hash(ev), "updated_at": now}


def sync_evaluations(engine: Engine, settings: CitizenSettings, *, client: EvaluatorClient | None = None,
                     calendar: WorkCalendar | None = None, now: datetime | None = None,
                     pii: PiiCodec | None = None) -> EvaluationReport:
    """Read the ratings changed since the watermark; each page is one transaction (rows, callbacks, outbox,
    dead letters, watermark). A rating that cannot be used goes to the dead-letter store naming its field, its raw
    payload sealed with ``pii`` (the ledger's keys: a sealed ledger refuses a run without them)."""
    calendar = calendar or WorkCalendar.load()
    report = EvaluationReport()
    own = client is None
    source = client or EvaluatorClient(settings.evaluator)
    try:
        with Lease(engine, f"citizen:{SOURCE}") as lease:
            with engine.begin() as conn:
                require_ledger_keys(conn, pii, what="sync the 好差评 ratings")
                mark = ledger.get_watermark(conn, f"citizen:{SOURCE}", STREAM)
                report.rectifications_dated = date_old_rectifications(conn, calendar, settings.policy)
            since = None if mark is None else int((mark - LOOKBACK).timestamp() * 1000)
            for page in source.pages(since):
                stamp = now or datetime.now(timezone.utc)
                with engine.begin() as conn:
                    # kept when a page is first read (a first run that fails before reading keeps nothing), and
                    # whatever callbacks_from says: the setting may go, the first read stays what it was
                    first = _first_read(conn, stamp)
                    high = _ingest(conn, page, settings, calendar, stamp, report,
                                   settings.policy.callbacks_from or first, pii=pii)
                    if high is not None and (mark is None or high > mark):
                        ledger.set_watermark(conn, f"citizen:{SOURCE}", STREAM, high)
                        mark = high
                    lease.renew(conn)
            report.relinked = relink(engine, now=now)
    finally:
        if own:
            source.close()
    return report


def date_old_rectifications(conn: Any, calendar: WorkCalendar, policy: Policy) -> int:
    """Give the callbacks opened before every 差评 fell due for 整改 their rectification due time, as they would have
    it now: from the callback's own due time, or from the callback when it was made, whichever is earlier (what
    opening and recording a callback set). Without it a 差评 of before the upgrade stayed in no rectification
    figure, however long it went unrectified. Nothing to do after the first run."""
    rows = store.callbacks_without_rectification_due(conn)
    for row in rows:
        due = rectification_due(row["due_at"], calendar, policy)
        if row["done_at"] is not None:
            due = min(due, rectification_due(row["done_at"], calendar, policy))
        store.date_rectification(conn, row["rating_id"], due)
    return len(rows)


def relink(engine: Engine, *, now: datetime | None = None, days: int = 60) -> int:
    """Fill in the case facts of the last ``days``' ratings read before their case reached the ledger (a rating
    can arrive before the case sync brings its case); the misuse rules need the case's finish time."""
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    done = 0
    after: tuple[datetime, str] | None = None
    while True:
        with engine.connect() as conn:
            pending = store.unlinked_ratings(conn, rated_since=since, after=after, limit=900)
            docs = store.case_documents(conn, [c for _, c, _ in pending])
        rows = []
        for rating_id, case_no, _ in pending:
            finished, office, dept = _case_facts(docs.get(case_no))
            if finished is not None:
                rows.append({"k_id": rating_id, "finished": finished, "office": office, "dept": dept})
        if rows:
            with engine.begin() as conn:
                store.link_ratings(conn, rows, now=now or datetime.now(timezone.utc))
        done += len(rows)
        if len(pending) < 900:
            return done
        after = (pending[-1][2], pending[-1][0])


def _change_time(raw: Any) -> datetime | None:
    """The collection point's change time of a raw rating (``updateTime``, ms), or None when it has none usable
    (seconds, past any calendar, or past this machine's clock: a 2099 stamp moved the watermark to 2099, and every
    rating after it — a new 差评 — was never read)."""
    changed = epoch_ms_time(raw.get("updateTime") if isinstance(raw, dict) else None)
    return changed if changed is not None and changed <= change_horizon() else None


def _dead_record(raw: Any, exc: RecordRejected, now: datetime) -> dict[str, Any]:
    """A rating's record dead letter; its cursor is the rating's change time (what a replay compares)."""
    return {"kind": "record", "system": SOURCE, "stream": STREAM, "source_id": dead_letter_id(raw, "ratingId"),
            "case_no": None, "cursor": _change_time(raw), "raw": raw_text(raw), "reason": str(exc),
            "issues": orjson.dumps([{"record": i.record, "field": i.field, "rule": i.rule,
                                     "message": i.message} for i in exc.issues]).decode(),
            "mapping_version": None, "status": "open", "attempts": 1, "created_at": now, "updated_at": now}


def _case_division(doc_text: str | None) -> str | None:
    """The division code (``division_code``) of a case document, when it holds a well-formed one."""
    try:
        doc = orjson.loads(doc_text) if doc_text else None
    except orjson.JSONDecodeError:
        return None
    code = doc.get("division_code") if isinstance(doc, dict) else None
    return code if isinstance(code, str) and DIVISION.fullmatch(code) else None


def _division(ev: Evaluation, doc: str | None, district: str | None) -> str:
    """The 行政区划 a rating is reported under: its own (``areaCode``), else its case's in the ledger, else the
    district's configured code. None of them: the rating cannot be reported (the province refuses a rating without
    ``xzqh`` for good, and its callback and rectification with it), so it is refused here, where it can be replayed
    once its case has arrived or ``district`` is configured."""
    division = ev.division or _case_division(doc) or district
    if division is None:
        record = f"evaluator:{ev.rating_id}"
        raise RecordRejected(record, [FieldIssue(
            record, "division", "division.required",
            f"no areaCode, case {ev.case_no} is not in the ledger and citizen settings name no district: the "
            "provincial system refuses a rating without xzqh")])
    return division


def _first_read(conn: Any, now: datetime) -> datetime:
    """When Tongban first read the collection point (:func:`gateway.store.ledger.first_read`): the default cut-over
    of 差评 callbacks (``Policy.callbacks_from``). A ledger that holds callbacks from before this mark was kept
    (upgraded past migration 0020) takes the first callback it opened — the first read that brought them — never
    ``now``, which would make history of the 差评 read since."""
    return ledger.first_read(conn, f"citizen:{SOURCE}", now, before=lambda: store.first_callback_opened(conn))


def _ingest(conn: Any, page: list[Any], settings: CitizenSettings, calendar: WorkCalendar, now: datetime,
            report: EvaluationReport, cutover: datetime | None = None, *, pii: PiiCodec | None = None
            ) -> datetime | None:
    """One page of ratings in the caller's transaction. A 差评 whose callback was due before ``cutover`` is the
    collection point's history: its callback is kept (``predates``), not counted in the 回访 figures nor alerted —
    read at the first sync, a past month's 差评 was "overdue" at once and could only be cleared by recording a
    callback after the fact, sent to the province as new."""
    policy = settings.policy
    good: list[tuple[Evaluation, Any]] = []
    dead: list[dict[str, Any]] = []
    high: datetime | None = None
    for raw in page:
        report.read += 1
        moment = _change_time(raw)
        if moment is not None:
            high = moment if high is None or moment > high else high
        try:
            rating = from_evaluator(raw)
        except RecordRejected as exc:
            report.rejected += 1
            report.rejections.append(redact(str(exc)))  # to the CLI and the task result: masked
            dead.append(_dead_record(raw, exc, now))
            continue
        count_flags(report, rating.quality)
        good.append((rating, raw))
    latest = {e.rating_id: (e, raw) for e, raw in good}  # the same rating twice in a page: the later copy
    docs = store.case_documents(conn, [e.case_no for e, _ in latest.values()])
    placed: list[tuple[Evaluation, Any, str]] = []
    for ev, raw in latest.values():
        try:
            placed.append((ev, raw, _division(ev, docs.get(ev.case_no), settings.district)))
        except RecordRejected as exc:
            report.rejected += 1
            report.rejections.append(redact(str(exc)))  # to the CLI and the task result: masked
            dead.append(_dead_record(raw, exc, now))
    ledger.add_dead_letters(conn, list({d["source_id"]: d for d in dead}.values()), pii=pii)
    refused = {d["source_id"] for d in dead}
    # a good version of a rating settles the dead letters of its earlier, refused ones: a replay must never
    # bring an older version back over it
    ledger.resolve_dead_letters(conn, kind="record", system=SOURCE, stream=STREAM,
                                source_ids=[ev.rating_id for ev, _, _ in placed if ev.rating_id not in refused])
    hashes = store.evaluation_hashes(conn, [ev.rating_id for ev, _, _ in placed])
    was_bad = store.bad_ratings(conn, [ev.rating_id for ev, _, _ in placed if ev.rating_id in hashes and ev.bad])
    inserts, updates, outbox, callbacks, revoked = [], [], [], [], []
    for ev, raw, division in placed:
        row = _row(ev, docs.get(ev.case_no), now, pii) | {"division": division,
                                                          "source_changed_at": _change_time(raw)}
        report.linked += ev.case_no in docs
        old = hashes.get(ev.rating_id)
        if old == row["content_hash"]:
            report.unchanged += 1
            continue
        sent = ev.model_copy(update={"division": division})
        if old is None:
            inserts.append(row)
            report.inserted += 1
            if not ev.revoked:  # withdrawn before it was ever read: nothing for the province to hold
                outbox.append(queue_item("provincial_pj", f"rating:{key_part(ev.rating_id)}", "sbPj", to_provincial(sent),
                                         now=now))
        else:
            # changed at the collection point (a later level, a comment): the province gets the rating as it now
            # stands, as revision n after revision n-1 (outbox.prerequisite: delivered in the order given, never
            # a stale one last; the same text again is a new revision, not a key seen before), and a rating that
            # became 差评 needs its callback and rectification like any other (the figures drop one that is no
            # longer). A withdrawal (revoked) is no revision: the provincial interface has no field for it, and
            # the same rating sent again would leave the 差评 standing there — a person must withdraw it there.
            updates.append(row)
            report.updated += 1
            if ev.revoked:
                if _withdrawn_now(conn, ev.rating_id):
                    revoked.append(ev)
            else:
                outbox.append(_revision(conn, sent, now))
        if ev.bad and not ev.revoked:  # a new 差评, or one a revision made (a callback already open stays one)
            # due from when the 差评 arrived: the rating time of a new one, the change time of a revision
            arrived = ev.rated_at if old is None else min(row["source_changed_at"] or now, now)
            due = callback_due(max(arrived, ev.rated_at), calendar, policy.callback_closing)
            callbacks.append({"rating_id": ev.rating_id, "due_at": due, "created_at": now,
                              "rect_due_at": rectification_due(due, calendar, policy),
                              "predates": cutover is not None and due < cutover,
                              "again": old is not None and ev.rating_id not in was_bad})
    store.insert_evaluations(conn, inserts)
    store.update_evaluations(conn, updates)
    report.bad += store.insert_callbacks(conn, callbacks)  # 差评 newly to call back, new or changed to bad
    store.enqueue(conn, outbox, pii=pii)
    _alert_revoked(conn, revoked, now)
    return high


def _rating_part(conn: Any, rating_id: str) -> str:
    """The rating's id as its outbox keys hold it: escaped (:func:`~.outbox.key_part`) — or as it was written, for a
    rating holding ``:`` or ``%`` that an older Tongban queued before ids were escaped (its appeals, revisions and
    withdrawal are still found under the keys it has)."""
    part = key_part(rating_id)
    if part == rating_id or store.outbox_status(conn, "provincial_pj", f"rating:{part}") is not None:
        return part
    base, _, tail = rating_id.rpartition(":")
    if tail.isascii() and tail.isdigit() and base and store.evaluation(conn, base) is not None:
        return part  # rating:PJ-7:1 is revision 1 of the rating PJ-7 the ledger holds, not this one's own key
    return rating_id if store.outbox_status(conn, "provincial_pj", f"rating:{rating_id}") is not None else part


def _revision(conn: Any, ev: Evaluation, now: datetime) -> dict[str, Any]:
    """The outbox item of a changed rating: revision n after n-1 — or the rating itself under ``rating:R`` when it
    never went up (it was withdrawn when first read, and is no longer)."""
    part = _rating_part(conn, ev.rating_id)
    if store.outbox_status(conn, "provincial_pj", f"rating:{part}") is None:
        return queue_item("provincial_pj", f"rating:{part}", "sbPj", to_provincial(ev), now=now)
    revision = store.revision_count(conn, part) + 1  # a page holds each rating once
    return queue_item("provincial_pj", f"rating:{part}:{revision}", "sbPj", to_provincial(ev), now=now)


def _withdrawn_now(conn: Any, rating_id: str) -> bool:
    """Is this revoked version the withdrawal itself (the ledger holds the rating unrevoked)? A withdrawn rating
    changed again must not reopen the alert an operator has resolved."""
    held = store.evaluation(conn, rating_id)
    return held is not None and not held["revoked"]


REVOKED_ALERT = "evaluation_revoked"
"""The alert of a rating withdrawn at the collection point after it was forwarded: the provincial interface has
no form to withdraw one, so a person does it there (and resolves the alert)."""


def _alert_revoked(conn: Any, revoked: list[Evaluation], now: datetime) -> None:
    for ev in revoked:
        if store.outbox_status(conn, "provincial_pj", f"rating:{_rating_part(conn, ev.rating_id)}") is None:
            continue  # never forwarded: the province holds nothing to withdraw
        alert_store.upsert_alert(
            conn, REVOKED_ALERT, ev.rating_id, level="red" if ev.bad else "yellow", system="provincial_pj",
            case_no=ev.case_no, details=None, stage=None, due_at=None, now=now,
            message=f"rating {ev.rating_id} (case {ev.case_no}, {ev.level.label}) was withdrawn (revoked) at the "
                    "collection point after it was queued for the province; the provincial 好差评 system (sbPj) has no form to "
                    "withdraw it — withdraw it there by hand, then resolve this alert")


def replay_rejected(engine: Engine, settings: CitizenSettings, *, calendar: WorkCalendar | None = None,
                    now: datetime | None = None, pii: PiiCodec | None = None) -> EvaluationReport:
    """Run the dead-lettered ratings through the conventions again (after a fix there, a case arrived, a district
    configured) and ingest those that now go through, as if just read — forwarded, called back — resolving their
    dead letters; the rest stay, counted. A dead-lettered version no newer than the one the ledger holds is
    resolved without being ingested: an older version never overwrites a newer one. Holds the sync's lease: the
    two must not write the same ratings at once."""
    calendar, now = calendar or WorkCalendar.load(), now or datetime.now(timezone.utc)
    report = EvaluationReport()

    def handle(conn: Any, rows: Any) -> None:
        page, stale = _replayable(conn, rows)
        ledger.resolve_dead_letters(conn, kind="record", system=SOURCE, stream=STREAM, source_ids=stale)
        report.superseded += len(stale)
        _ingest(conn, page, settings, calendar, now, report, settings.policy.callbacks_from or _first_read(conn, now),
                pii=pii)

    replay_pages(engine, SOURCE, handle, pii=pii, what="replay the 好差评 ratings' dead letters")
    return report


def _replayable(conn: Any, rows: Any) -> tuple[list[Any], list[str]]:
    """(raw ratings to ingest again, dead-letter ids superseded): a dead-lettered version whose change time is not
    after the change time of the version the ledger holds is older; it is resolved, never ingested. (A rating
    stored before the ledger kept its change time is compared with the moment it was stored: the collection point
    serves each rating as it stands, so a version read earlier is older.)"""
    page: list[Any] = []
    stale: list[str] = []
    for row in rows:
        raw = orjson.loads(row.raw) if row.raw else None
        changed = row.cursor or _change_time(raw)
        held = store.evaluation(conn, str(row.source_id)) if changed is not None else None
        if held is not None and changed is not None and changed <= (held["source_changed_at"] or held["updated_at"]):
            stale.append(str(row.source_id))
        else:
            page.append(raw)
    return page, stale


# -- callbacks and rectifications --------------------------------------------------------------------------


def record_callback(engine: Engine, rating_id: str, result: str, *, at: datetime | None = None,
                    calendar: WorkCalendar | None = None, policy: Policy | None = None,
                    pii: PiiCodec | None = None) -> dict[str, Any]:
    """The callback of a bad review is done: opens the rectification (due in ``rectification_days`` working
    days) and queues the callback result for the provincial system (sealed with ``pii``, the ledger's keys)."""
    at = at or datetime.now(timezone.utc)
    calendar, policy = calendar or WorkCalendar.load(), policy or Policy()
    if not result.strip():
        raise CitizenError(f"evaluation:{rating_id}", "callback.result", "required", "a callback needs its result")
    rect_due = rectification_due(at, calendar, policy)
    with engine.begin() as conn:
        ev = store.evaluation(conn, rating_id)
        if ev is None:
            raise CitizenError(f"evaluation:{rating_id}", "rating_id", "unknown", "no such rating")
        _still_standing(ev, f"evaluation:{rating_id}", "callback")
        row = store.callback_row(conn, rating_id)
        if row is None or not ev["bad"]:  # a 差评 the citizen turned good is owed no callback (its row stays)
            raise CitizenError(f"evaluation:{rating_id}", "level", "callback.bad_only",
                               f"only a bad review (不满意/非常不满意) is called back; this one is level {ev['level']}")
        if row["done_at"] is not None:
            raise CitizenError(f"evaluation:{rating_id}", "callback", "callback.once",
                               f"called back already at {beijing_minute(row['done_at'])}")
        opened = row["rect_due_at"]  # due since the callback opened: a late callback does not move it later
        if opened is not None and opened < rect_due:
            rect_due = opened
        store.set_callback(conn, rating_id, done_at=at, result=result, rect_due_at=rect_due)
        store.enqueue(conn, [queue_item("provincial_pj", f"callback:{_rating_part(conn, rating_id)}:1", "sbHf",
                                        {"pjbh": rating_id, "lx": "1", "wcsj": provincial_time(at), "jg": result},
                                        now=at)], pii=pii)
    return {"rating_id": rating_id, "done_at": at, "on_time": at <= row["due_at"], "rect_due_at": rect_due,
            "predates": bool(row["predates"])}


def _still_standing(ev: Any, record: str, what: str) -> None:
    """Refuse a callback or an appeal of a rating the citizen withdrew (revoked) at the collection point: it
    stands in no figure, and the province is to withdraw it (the ``evaluation_revoked`` alert), not answer it."""
    if ev["revoked"]:
        raise CitizenError(record, "revoked", f"{what}.revoked",
                           f"the rating was withdrawn (revoked) at the collection point: no {what} is owed")


def finish_rectification(engine: Engine, rating_id: str, note: str, *, at: datetime | None = None,
                         pii: PiiCodec | None = None) -> dict[str, Any]:
    """The rectification is done: queued for the provincial system (sealed with ``pii``); on time if by its due
    time (限时整改)."""
    at = at or datetime.now(timezone.utc)
    with engine.begin() as conn:
        ev = store.evaluation(conn, rating_id)
        if ev is not None:
            _still_standing(ev, f"evaluation:{rating_id}", "rectification")
            if not ev["bad"]:  # turned good since its callback: out of the 差评 figures, nothing to report up
                raise CitizenError(f"evaluation:{rating_id}", "level", "rectification.bad_only",
                                   f"the rating is no longer a bad review (level {ev['level']}): no rectification "
                                   "is owed")
        row = store.callback_row(conn, rating_id)
        if row is None or row["done_at"] is None:  # the 整改 falls due from the start; it is done after a callback
            raise CitizenError(f"evaluation:{rating_id}", "rectification", "rectification.after_callback",
                               "no rectification is open: record the callback first")
        if row["rect_done_at"] is not None:
            raise CitizenError(f"evaluation:{rating_id}", "rectification", "rectification.once",
                               "the rectification is finished already")
        store.set_callback(conn, rating_id, rect_done_at=at, rect_note=note)
        store.enqueue(conn, [queue_item("provincial_pj", f"callback:{_rating_part(conn, rating_id)}:2", "sbHf",
                                        {"pjbh": rating_id, "lx": "2", "wcsj": provincial_time(at), "jg": note},
                                        now=at)], pii=pii)
    return {"rating_id": rating_id, "rect_done_at": at, "on_time": at <= row["rect_due_at"]}


# -- appeals -------------------------------------------------------------------------------------------------

_NEXT = {"city": "province"}


def _queue_appeal(conn: Any, rating_id: str, level: str, reason: str, at: datetime, pii: PiiCodec | None) -> None:
    store.insert_appeal(conn, {"rating_id": rating_id, "level": level, "status": "pending", "reason": reason,
                               "filed_at": at})
    store.enqueue(conn, [queue_item("provincial_pj", f"appeal:{_rating_part(conn, rating_id)}:{APPEAL_LEVELS[level]}", "tjSs",
                                    {"pjbh": rating_id, "sscj": APPEAL_LEVELS[level], "ssly": reason,
                                     "tjsj": provincial_time(at)}, now=at)], pii=pii)


def file_appeal(engine: Engine, rating_id: str, reason: str, *, at: datetime | None = None,
                pii: PiiCodec | None = None) -> dict[str, Any]:
    """Appeal a bad review the district thinks mistaken: to the city first (queued sealed with ``pii``)."""
    at = at or datetime.now(timezone.utc)
    record = f"evaluation:{rating_id}"
    if not reason.strip():
        raise CitizenError(record, "appeal.reason", "required", "an appeal needs its reason")
    with engine.begin() as conn:
        ev = store.evaluation(conn, rating_id)
        if ev is None:
            raise CitizenError(record, "rating_id", "unknown", "no such rating")
        _still_standing(ev, record, "appeal")
        if not ev["bad"]:
            raise CitizenError(record, "level", "appeal.bad_only", "only a bad review can be appealed")
        if store.appeal_rows(conn, rating_id):
            raise CitizenError(record, "appeal", "appeal.once", "this rating is appealed already")
        _queue_appeal(conn, rating_id, "city", reason, at, pii)
        store.set_appeal(conn, rating_id, "city", status="pending", decided_at=None, opinion=None,
                         evaluation_appeal="pending")
    return {"rating_id": rating_id, "level": "city", "status": "pending"}


def poll_appeals(engine: Engine, client: ProvincialClient, *, now: datetime | None = None,
                 pii: PiiCodec | None = None) -> list[dict[str, Any]]:
    """Ask the provincial system about every pending appeal it has received; a city's rejection goes up to the
    province (queued sealed with ``pii``) while the 差评 still stands, the province's is final, an appeal upheld
    takes the review out of the 差评 figures. One poll at a time (a lease; :class:`LeaseHeldError` while another
    runs): two at once took a city's rejection twice and queued the province's appeal twice. An appeal the province
    refuses to answer (2001 申诉不存在) is listed with ``decision: error`` and the others are still asked (it stopped
    every poll, every run); a poll in which no appeal's answer could be read (:data:`FATAL_STREAK` or more failed,
    none answered) fails — that is the province, not the appeals — after asking every one."""
    with Lease(engine, "appeals:provincial_pj") as lease, lease.kept_alive():
        return _poll_appeals(engine, client, lease, now=now or datetime.now(timezone.utc), pii=pii)


def _poll_appeals(engine: Engine, client: ProvincialClient, lease: Lease, *, now: datetime,
                  pii: PiiCodec | None) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    with engine.begin() as conn:  # a process without the ledger's keys asks the province nothing
        require_ledger_keys(conn, pii, what="ask the province about appeals")
        pending = store.appeals_pending(conn)
    failed = answered = 0
    for appeal in pending:
        lease.renew()
        try:
            answer = client.call("cxSs", {"pjbh": appeal["rating_id"], "sscj": APPEAL_LEVELS[appeal["level"]]}) \
                if _delivered(engine, appeal) else None
        except (WriteRejectedError, FatalSyncError) as exc:  # this appeal's trouble (申诉不存在): said, and the
            changes.append({"rating_id": appeal["rating_id"], "level": appeal["level"],  # appeals after it are
                            "decision": "error", "next": None, "error": redact(str(exc))[:500]})  # still asked
            failed += isinstance(exc, FatalSyncError)
            continue
        answered += 1
        decision = DECISIONS.get((answer or {}).get("zt", "0"), "pending")
        if decision == "pending":
            continue
        with engine.begin() as conn:
            ev = store.evaluation(conn, appeal["rating_id"])
            standing = ev is not None and ev["bad"] and not ev["revoked"]  # withdrawn or turned good: nothing to
            up = _NEXT.get(appeal["level"]) if decision == "rejected" and standing else None  # take further
            final = "upheld" if decision == "upheld" else ("rejected" if up is None else "pending")
            store.set_appeal(conn, appeal["rating_id"], appeal["level"], status=decision, decided_at=now,
                             opinion=(answer or {}).get("shyj"), evaluation_appeal=final)
            if up is not None:
                _queue_appeal(conn, appeal["rating_id"], up, appeal["reason"], now, pii)
        changes.append({"rating_id": appeal["rating_id"], "level": appeal["level"], "decision": decision,
                        "next": up})
    if failed >= FATAL_STREAK and not answered:  # every appeal asked, none answered in a form the client can place:
        raise FatalSyncError(f"provincial_pj: none of {failed} appeal queries could be read, the first: "  # the
                             f"{next(c['error'] for c in changes if c['decision'] == 'error')}")  # province (alerted)
    return changes


def _delivered(engine: Engine, appeal: Any) -> bool:
    """Has the provincial system received this appeal? (Asking about one it has not would be refused.)"""
    with engine.connect() as conn:
        key = f"appeal:{_rating_part(conn, appeal['rating_id'])}:{APPEAL_LEVELS[appeal['level']]}"
        return store.outbox_status(conn, "provincial_pj", key) == "delivered"


# -- the summary ----------------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rectifications(b: Any) -> dict[str, int]:
    """The rectification (整改) counts of one :func:`gateway.store.citizen.callback_groups` row, of the 差评 after
    the cut-over: ``rectified`` (done: a rectification recorded, ``rect_done_at`` — possible only after the callback,
    which always sets the due time), of them ``rect_in_time`` by their due time, and ``rect_overdue`` (not done,
    past due). Done = counted (done, or past due) − overdue: the store's row gives no count of the done alone."""
    counted, in_time, overdue = (int(b[k] or 0) for k in ("rect_counted", "rect_in_time", "rect_overdue"))
    return {"rectified": counted - overdue, "rect_in_time": in_time, "rect_overdue": overdue}


def evaluation_summary(engine: Engine, *, now: datetime | None = None,
                       rateable_cases: int | None = None, period: str | None = None) -> dict[str, Any]:
    """The 好差评 figures for the ops console and ``tongban evaluations summary --json``.

    ``period`` (``2026-11``, ``2026``: the monthly or yearly report): the ratings given in it (Beijing month of the
    rating) and their 差评, callbacks, rectifications, appeals and items forwarded to the province, and 评价率 over
    the cases finished in it. None: everything.

    ``rateable_cases``: the cases that can be rated, when the caller knows it — the ops console and the KPI summary
    take it from the KPI facts' sums (cached per refresh); by default it is counted from the ledger's case
    documents now (a read of every case: seconds at a million cases).

    Every key stays what it was (department systems read them); new ones are added. Returns::

        {"evaluations": int,              # ratings counted: one per case (一事一评) — its newest, unless a standing
                                          # 差评 holds its place (store._counted_of_its_case) — revoked ones excluded
         "superseded": int,               # the other ratings of a case (kept, not counted)
         "unlinked": int,                 # of the ratings counted (one per case: so, of the rated cases), those
                                          # naming a case the ledger does not hold: in 好评率 and 差评 (real
                                          # ratings), in no 评价率 — said beside 好评率 (of the period's, with one)
         "cases": int,                    # live cases with a finish time (the cases that can be rated)
         "evaluated_cases": int,          # of those, cases with at least one rating (a rating naming a case
                                          # the ledger does not hold rates nothing here)
         "coverage": float | None,        # evaluated_cases / cases ("≥ 70% of cases evaluated")
         "coverage_target": 0.7, "coverage_ok": bool | None,
         "by_level": {"非常满意": int, "满意": int, "基本满意": int, "不满意": int, "非常不满意": int},
         "good_ratio": float | None,      # 好评率: levels 基本满意 and better / ratings
         "bad": int,                      # 差评 among the ratings counted (不满意 + 非常不满意 of by_level): the
                                          # base of 评价数 and 好评率
         "bad_received": int,             # every 差评 received and not set aside by an upheld appeal — one a later
                                          # rating of its case replaced included: the base of the callback and
                                          # rectification figures (the work a 差评 calls for is done either way)
         "reply_ratio": float | None,     # 差评回复率: bad reviews called back / bad reviews received (of those
                                          # after the cut-over: Policy.callbacks_from, else Tongban's first read)
         "callback_on_time_ratio": float | None,   # 按时回访率: called back by the due time (:func:`callback_due`:
                                          # the close of the working day the 差评 arrived, the next working day's
                                          # when it arrived after closing or on a day off) / called back. Not
                                          # "当天" (the same calendar day): why, in callback_due
         "rectified": int,                # 差评 rectified (整改 recorded done) of those received after the cut-over
         "rectified_in_time": int, "rectified_late": int,  # of them, done by their due time / after it
         "rectifications_open": int,      # 差评 after the cut-over not rectified yet (called back or not: the 整改
                                          # is due from the start); rectifications_overdue of them past due
         "rectification_ratio": float | None,  # 差评整改率: rectified / bad reviews received after the cut-over
                                          # (the base of reply_ratio; target 100%)
         "rectification_on_time_ratio": float | None,  # 限时整改率 (was labelled 限时办结率, the name of a case
                                          # KPI): rectified by the due time / rectifications done or past due
         "callbacks_open": int, "callbacks_overdue": int, "rectifications_overdue": int,
         "callbacks_before_tongban": int, # 差评 whose callback was due before the cut-over: history, not counted
         "appeals": {"pending": int, "upheld": int, "rejected": int},
         "forwarded": {"delivered": int, "pending": int, "dead": int},   # items to the provincial system (a
                                          # rating and each revision of it)
         "flagged": int,                  # ratings counted flagged by the misuse rules
         "by_channel": {"device": int, ...},
         "by_month": [{"month": "2026-09", "evaluations": int, "good_ratio": float | None, "bad": int,
                       "bad_received": int, "reply_ratio": float | None, "rectified": int,
                       "rectification_ratio": float | None}],
         "by_unit": [{"dept_code": str | None, ... as by_month}],
         "by_unit_month": [{"dept_code": str | None, "month": "2026-09", ... as by_month}]}
    """
    now = now or datetime.now(timezone.utc)
    first, last = month_bounds(period)
    with engine.connect() as conn:
        rated = [r for r in store.evaluation_groups(conn) if first <= r["month"] <= last]
        bad = [b for b in store.callback_groups(conn, now=now) if first <= b["month"] <= last]
        if period is not None:  # the cases finished in the period, read from their documents
            cases = store.finished_case_count(conn, finished_in=period)
            evaluated = store.evaluated_case_count(conn, finished_in=period)
        else:
            cases = store.finished_case_count(conn) if rateable_cases is None else rateable_cases
            evaluated = store.evaluated_case_count(conn, from_facts=rateable_cases is not None)  # one count basis
        superseded = store.superseded_rating_count(conn)
        months = None if period is None else (first, last)
        unlinked = store.unlinked_rating_count(conn, months)
        appeals = store.appeal_states(conn, months)
        if months is None:
            forwarded = {s: n for (t, op, s), n in store.outbox_counts(conn).items()
                         if (t, op) == ("provincial_pj", "sbPj")}
        else:
            forwarded = store.forwarded_rating_counts(conn, months)
    labels = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
    total = sum(r["n"] for r in rated)
    good = sum(r["n"] for r in rated if r["level"] >= 3)
    sums = {k: sum(int(b[k] or 0) for b in bad) for k in ("bad", "predates", "done", "done_in_time", "overdue")}
    rect = {k: sum(_rectifications(b)[k] for b in bad) for k in ("rectified", "rect_in_time", "rect_overdue")}
    tracked = sums["bad"] - sums["predates"]  # the 差评 whose callbacks Tongban counts (after the cut-over)

    def group(*keys: str) -> list[dict[str, Any]]:
        # key → [ratings, good, bad counted, bad received, called back, bad received after the cut-over, rectified]
        acc: dict[tuple[Any, ...], list[int]] = {}
        for r in rated:
            g = acc.setdefault(tuple(r[k] for k in keys), [0] * 7)
            g[0] += r["n"]
            g[1] += r["n"] if r["level"] >= 3 else 0
            g[2] += r["n"] if r["level"] <= 2 else 0
        for b in bad:
            g = acc.setdefault(tuple(b[k] for k in keys), [0] * 7)
            g[3] += int(b["bad"] or 0)
            g[4] += int(b["done"] or 0)
            g[5] += int(b["bad"] or 0) - int(b["predates"] or 0)
            g[6] += _rectifications(b)["rectified"]
        order = sorted(acc, key=lambda v: tuple((x is None, x or "") for x in v))
        return [{**dict(zip(keys, v)), "evaluations": acc[v][0], "good_ratio": _ratio(acc[v][1], acc[v][0]),
                 "bad": acc[v][2], "bad_received": acc[v][3], "reply_ratio": _ratio(acc[v][4], acc[v][5]),
                 "rectified": acc[v][6], "rectification_ratio": _ratio(acc[v][6], acc[v][5])}
                for v in order]

    coverage = _ratio(evaluated, cases)
    return {
        "period": period,
        "evaluations": total, "superseded": superseded, "unlinked": unlinked, "cases": cases,
        "evaluated_cases": evaluated, "coverage": coverage,
        "coverage_target": COVERAGE_TARGET, "coverage_ok": None if coverage is None else coverage >= COVERAGE_TARGET,
        "by_level": {labels[k]: sum(r["n"] for r in rated if r["level"] == k) for k in (5, 4, 3, 2, 1)},
        "good_ratio": _ratio(good, total),
        "bad": sum(r["n"] for r in rated if r["level"] <= 2), "bad_received": sums["bad"],
        "reply_ratio": _ratio(sums["done"], tracked),
        "callback_on_time_ratio": _ratio(sums["done_in_time"], sums["done"]),
        "rectified": rect["rectified"], "rectified_in_time": rect["rect_in_time"],
        "rectified_late": rect["rectified"] - rect["rect_in_time"],
        "rectifications_open": tracked - rect["rectified"],
        "rectification_ratio": _ratio(rect["rectified"], tracked),
        "rectification_on_time_ratio": _ratio(rect["rect_in_time"], rect["rectified"] + rect["rect_overdue"]),
        "callbacks_open": tracked - sums["done"], "callbacks_overdue": sums["overdue"],
        "callbacks_before_tongban": sums["predates"],
        "rectifications_overdue": rect["rect_overdue"],
        "appeals": {s: appeals.get(s, 0) for s in ("pending", "upheld", "rejected")},
        "forwarded": {s: forwarded.get(s, 0) for s in ("delivered", "pending", "dead")},
        "flagged": sum(r["flagged"] for r in rated),
        "by_channel": {ch: sum(r["n"] for r in rated if r["channel"] == ch)
                       for ch in ("pc", "app", "qrcode", "device", "sms")},
        "by_month": group("month"),
        "by_unit": group("dept_code"),
        "by_unit_month": group("dept_code", "month"),
    }


def list_evaluations(engine: Engine, *, bad: bool = False, flagged: bool = False,
                     limit: int = 50) -> list[dict[str, Any]]:
    """Ratings, newest first (``tongban evaluations list``): the bad ones with their callback, or the flagged."""
    with engine.connect() as conn:
        rows = store.evaluation_rows(conn)
        callbacks = {c["rating_id"]: c for c in store.callback_rows(conn)}
    out = []
    for r in reversed(rows):
        if (bad and not r["bad"]) or (flagged and not r["flags"]):
            continue
        c = callbacks.get(r["rating_id"])
        out.append({"rating_id": r["rating_id"], "case_no": r["case_no"], "level": r["level"],
                    "channel": r["channel"], "device": r["device"], "rated_at": r["rated_at"],
                    "dept_code": r["dept_code"], "appeal": r["appeal"],
                    "flags": orjson.loads(r["flags"]) if r["flags"] else [],
                    "callback_due_at": c["due_at"] if c else None, "called_back_at": c["done_at"] if c else None,
                    "rectification_due_at": c["rect_due_at"] if c else None,
                    "rectified_at": c["rect_done_at"] if c else None,
                    "callback_predates": bool(c["predates"]) if c else None})
        if len(out) >= limit:
            break
    return out
