"""Each foreign system's conventions, translated to and from the canonical models — in one place per system.

- the evaluator collection point: grades 1–5 (5 best), channels as words, ``yyyy-MM-dd HH:mm:ss``;
- the provincial 好差评 system: grades 01–05 (**01 best**), channels 1–5, ``yyyyMMddHHmmss``, appeal levels
  3 市级 / 2 省级, decisions 0 待审核 / 1 成立 / 2 驳回;
- the 12345 platform: matter types 1–6, ratings 1 满意 / 2 基本满意 / 3 不满意, the case number a citizen names
  either in ``glbjbh`` or in the free text (``办件编号：…``).

A record that cannot be used raises :class:`~gateway.contract.errors.RecordRejected` naming the record, the
field and the rule, which the caller writes to the dead-letter store with the raw payload; these functions
never raise anything else, whatever the payload (a property test holds them to that).

A rule that real data breaks without making the record unusable is a quality flag, not a dead letter: the
record comes out repaired, and its ``quality`` names record, field and rule of each repair (logged here as a
warning, for the caller to count and keep). Two such rules:

- ``text.unstorable``: NUL (PostgreSQL's text cannot hold it) and lone surrogates (JSON can carry ``\\ud800``;
  UTF-8, hence SQLite, PostgreSQL and orjson, cannot) in free text become U+FFFD. In a record's own key
  (``ratingId``, ``caseNo``, ``gdbh``) they are refused instead (``key.unstorable``): a key altered names another
  record;
- ``rated_at.after_change``: a rating time later than the rating's own change time (``updateTime``) by more than
  :data:`CLOCK_SKEW` (a device clock years ahead) is replaced by the change time — the moment the collection point
  had the rating, so its same-day callback falls due when it should, not in that future.

Codes and counts (``gdlx``, ``hfmyd``, ``blsx``, ``cbcs``) are read from integers, whole floats (``3.0``) or
integer-valued strings (``"3"``, ``"３"``, ``" 3 "``); a count may also carry its unit (``"3个工作日"``, ``"1次"``). A
code that is none of these is refused by name. An optional count that is none of these (``blsx "three"``,
``cbcs -1``) is its documented default — ``blsx`` 5, ``cbcs`` 0, as when absent — and a quality flag names
record, field and rule (``limit_days.number``, ``redo_count.number``) with the value sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from gateway.contract.errors import FieldIssue, RecordRejected
from gateway.models.case import CaseNo
from gateway.models.datetimes import EPOCH_MS_FLOOR, change_horizon
from gateway.models.identifiers import normalise
from gateway.models.text import UNSTORABLE, storable

from .models import CHANNEL_NAMES, MAX_LIMIT_DAYS, Evaluation, Level, WorkOrder

__all__ = ["APPEAL_LEVELS", "CLOCK_SKEW", "DECISIONS", "dead_letter_id", "raw_text", "from_evaluator", "from_hotline",
           "hotline_time", "named_case", "provincial_time", "to_provincial"]

_log = logging.getLogger(__name__)

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_PJDJ = {Level.VERY_SATISFIED: "01", Level.SATISFIED: "02", Level.BASIC: "03", Level.DISSATISFIED: "04",
         Level.VERY_DISSATISFIED: "05"}
_PJQD = {"pc": "1", "app": "2", "qrcode": "3", "device": "4", "sms": "5"}
APPEAL_LEVELS = {"city": "3", "province": "2"}
DECISIONS = {"0": "pending", "1": "upheld", "2": "rejected"}
_GDLX = {"1": "consult", "2": "help", "3": "complaint", "4": "report", "5": "suggestion", "6": "praise"}
_HFMYD = {"1": "satisfied", "2": "basic", "3": "unsatisfied"}
_CASE_IN_TEXT = re.compile(r"办件编号\s*[:：]?\s*([0-9A-Za-z\-]{10,50})")
CLOCK_SKEW = timedelta(minutes=5)
"""How far a rating time may lie after the rating's change time before it is a device clock running ahead."""
_EVALUATOR_FIELDS = {"ratingId": "rating_id", "caseNo": "case_no", "channel": "channel", "ratedAt": "rated_at",
                     "deviceSn": "device", "windowNo": "window", "staffNo": "staff", "orgCode": "dept_code",
                     "areaCode": "division", "comment": "comment"}
_HOTLINE_FIELDS = {"gdbh": "order_no", "gdlx": "matter_type", "ywfl": "category", "qhdm": "division",
                   "nr": "content", "sqr": "citizen", "glbjbh": "case_no", "blsx": "limit_days",
                   "zt": "platform_status", "cbdw": "dept_code", "cbdwmc": "dept_name", "hfmyd": "rating",
                   "cbcs": "redo_count", "thyy": "return_reason", "pdsj": "received_at", "gxsj": "changed_at",
                   "hfsj": "rated_at", "dfsj": "replied_at", "zpsj": "dispatched_at", "qssj": "signed_at"}


def _storable_payload(payload: dict[str, Any], record: str, keys: tuple[str, ...], names: dict[str, str],
                      flags: list[FieldIssue]) -> dict[str, Any]:
    """``payload`` with its text made storable: a key holding NUL or a lone surrogate is refused
    (``key.unstorable``); any other text has them replaced by U+FFFD and is flagged (``text.unstorable``)."""
    out = payload
    for name, value in payload.items():
        if not isinstance(value, str) or not UNSTORABLE.search(value):
            continue
        field = names.get(name, str(name))
        if name in keys:
            raise _reject(record, field, "key.unstorable",
                          f"{name} {value!r} holds NUL or a lone surrogate, which no store can hold; a key altered "
                          "would name another record")
        if out is payload:
            out = dict(payload)
        out[name] = storable(value)
        flags.append(FieldIssue(record, field, "text.unstorable",
                                f"{name} held {len(UNSTORABLE.findall(value))} character(s) no store can hold (NUL, "
                                "lone surrogate): replaced by U+FFFD"))
    return out


FLAG_EXAMPLES = 20


def count_flags(report: Any, flags: Sequence[FieldIssue]) -> None:
    """Add one record's quality flags to its run's report: ``flagged`` counts them, ``flags`` keeps the first
    examples (record, field, rule, message) — so a run says what it repaired, not only the log."""
    report.flagged += len(flags)
    room = FLAG_EXAMPLES - len(report.flags)
    if room > 0:
        report.flags.extend(str(issue) for issue in flags[:room])


def _flagged(model: Any, flags: list[FieldIssue]) -> Any:
    for issue in flags:
        _log.warning("quality flag: %s", issue)
    return model.model_copy(update={"quality": tuple(flags)}) if flags else model


def _number(value: Any) -> int | None:
    """A code or count sent as an integer, a whole float (``3.0``) or an integer-valued string (ASCII or full-width
    digits, spaces around: ``"3"``, ``"３"``, ``" 3 "``); None for anything else (a bool, ``3.5``, ``"3a"``,
    ``"-1"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10 ** 9 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and 0 <= value < 10 ** 9 else None
    if not isinstance(value, str):
        return None
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _optional_number(record: str, field: str, name: str, value: Any, default: int | None) -> int | None:
    """``value`` read by :func:`_number`; absent (None, empty, spaces) is ``default``, anything else unreadable is
    refused by name (``<field>.number``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    number = _number(value)
    if number is None:
        raise _reject(record, field, f"{field}.number", f"{name} {value!r} is not a whole number")
    return number


_COUNT_WITH_UNIT = re.compile(r"([0-9]{1,9})\s*(?:个工作日|工作日|天|日|次)", re.ASCII)
"""A count written with its unit (``"3个工作日"``, ``"3 天"``, ``"1次"``), after NFKC and stripping."""


def _optional_count(record: str, field: str, name: str, value: Any, default: int, flags: list[FieldIssue], *,
                    most: int | None = None) -> int:
    """An optional count: read by :func:`_number`, or a leading integer and its unit (``"3个工作日"`` is 3); absent
    (None, empty, spaces) is ``default``. Anything else — or a count past ``most``, what the model holds (a limit
    of 999 working days) — is ``default`` too, the order kept, and flagged (``<field>.number``, naming the value
    sent): a count real data breaks is no reason to lose the order."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    number = _number(value)
    if number is None and isinstance(value, str):
        match = _COUNT_WITH_UNIT.fullmatch(unicodedata.normalize("NFKC", value).strip())
        number = int(match.group(1)) if match else None
    if number is None:
        flags.append(FieldIssue(record, field, f"{field}.number",
                                f"{name} {_shown(value)} is not a whole number: taken as {default}, as when absent"))
        return default
    if most is not None and number > most:
        flags.append(FieldIssue(record, field, f"{field}.number",
                                f"{name} {number} is past the most a {name} can be ({most}): taken as {default}, "
                                "as when absent"))
        return default
    return number


def _shown(value: Any) -> str:
    """A value for a flag's message, kept short (an integer too long for text is named as such)."""
    try:
        text = repr(value)
    except ValueError:
        return "an integer of more than 4,300 digits"
    return text if len(text) <= 60 else f"{text[:57]}…"


def raw_text(raw: Any) -> str:
    """A raw payload as JSON text for the dead-letter store, whatever it holds (orjson refuses integers beyond 64
    bits, which a foreign system may well send; the standard library does not)."""
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        text = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=repr)
        if UNSTORABLE.search(text):  # a lone surrogate (orjson refuses those too): escaped, kept as sent
            text = json.dumps(raw, ensure_ascii=True, sort_keys=True, default=repr)
        return text


def dead_letter_id(raw: Any, id_field: str) -> str:
    """The dead letter's source id of a raw record: its own id when it has a usable one, else a digest of the
    payload — two records without ids must not become one dead letter (the second would replace the first)."""
    rid = raw.get(id_field) if isinstance(raw, dict) else None
    if isinstance(rid, str) and rid and len(rid) <= 128 and not UNSTORABLE.search(rid):
        return rid
    return "sha256:" + hashlib.sha256(raw_text(raw).encode()).hexdigest()[:32]


def _reject(record: str, field: str, rule: str, message: str) -> RecordRejected:
    return RecordRejected(record, [FieldIssue(record, field, rule, message)])


def _dash_time(record: str, field: str, value: Any) -> datetime:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time, aware."""
    if not isinstance(value, str):
        raise _reject(record, field, "time.missing", f"expected yyyy-MM-dd HH:mm:ss, got {value!r}")
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        raise _reject(record, field, "time.format", f"{value!r} is not a valid yyyy-MM-dd HH:mm:ss time") from None


def _validated(cls: Any, record: str, data: dict[str, Any]) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        issues = [FieldIssue(record, ".".join(map(str, e["loc"])) or "record", f"model.{e['type']}", e["msg"])
                  for e in exc.errors()]
        raise RecordRejected(record, issues) from None


def from_evaluator(payload: Any) -> Evaluation:
    """A rating of the evaluator collection point → :class:`Evaluation`."""
    if not isinstance(payload, dict):
        raise _reject("evaluator:?", "record", "record.type", f"expected a JSON object, got {type(payload).__name__}")
    rid = payload.get("ratingId")
    record = storable(f"evaluator:{rid}")
    if not isinstance(rid, str) or not rid:
        raise _reject(record, "rating_id", "required", "ratingId is missing")
    flags: list[FieldIssue] = []
    payload = _storable_payload(payload, record, ("ratingId", "caseNo"), _EVALUATOR_FIELDS, flags)
    case_no = _case_number(payload.get("caseNo"))
    if case_no is None:
        raise _reject(record, "case_no", "required", "caseNo is missing: a rating must name its case")
    if not _is_case_no(case_no):  # 鲁审2026-001: links no case, but the rating counts (and can be withdrawn)
        flags.append(FieldIssue(record, "case_no", "case_no.format",
                                f"caseNo {payload.get('caseNo')!r} is no case number of the ledger's form (letters, "
                                "digits and -, at most 50): kept, linked to no case"))
    grade = _number(payload.get("grade"))  # 4, "4", "４", 4.0: one grade however the collection point writes it
    if grade is None or not 1 <= grade <= 5:
        raise _reject(record, "level", "level.code", f"grade {payload.get('grade')!r} is not one of 1–5")
    channel = payload.get("channel")
    if not isinstance(channel, str) or channel not in CHANNEL_NAMES:
        raise _reject(record, "channel", "channel.code", f"channel {channel!r} is not one of {sorted(CHANNEL_NAMES)}")
    rated_at = _dash_time(record, "rated_at", payload.get("ratedAt"))
    stamp = payload.get("updateTime")
    changed = epoch_ms_time(stamp)
    if changed is None and isinstance(stamp, int) and not isinstance(stamp, bool) and 0 < stamp < EPOCH_MS_FLOOR:
        flags.append(FieldIssue(record, "updateTime", "update_time.unit",
                                f"updateTime {stamp} looks like seconds since 1970, not milliseconds: not used as "
                                "the rating's change time"))
    if changed is not None and changed > change_horizon():
        flags.append(FieldIssue(record, "updateTime", "update_time.future",
                                f"updateTime {changed.astimezone(BEIJING):%Y-%m-%d %H:%M:%S} is after this machine's "
                                "clock: not used as the rating's change time"))
        changed = None
    if changed is not None and rated_at > changed + CLOCK_SKEW:
        flags.append(FieldIssue(record, "rated_at", "rated_at.after_change",
                                f"ratedAt {payload.get('ratedAt')!r} is after the rating's own change time "
                                f"{changed.astimezone(BEIJING):%Y-%m-%d %H:%M:%S} (updateTime): the change time "
                                "stands in"))
        rated_at = changed.astimezone(BEIJING).replace(microsecond=0)
    text = payload.get("comment")
    if text is not None and not isinstance(text, str):  # 666, ["办事慢"]: what the citizen wrote, kept as written
        flags.append(FieldIssue(record, "comment", "comment.type",
                                f"comment is a {type(text).__name__}, not text: kept as its JSON"))
        text = json.dumps(text, ensure_ascii=False)  # not orjson: a JSON integer past 64 bits is a comment too
    return _flagged(_validated(Evaluation, record, {  # type: ignore[no-any-return]
        "rating_id": rid, "case_no": case_no, "level": grade, "channel": channel, "rated_at": rated_at,
        "device": _code_text(payload.get("deviceSn")), "window": _code_text(payload.get("windowNo")),
        "staff": _code_text(payload.get("staffNo")), "dept_code": _code_text(payload.get("orgCode")),
        "division": _code_text(payload.get("areaCode")), "comment": text or "",
        "revoked": _revoked(record, payload.get("revoked"), flags)}), flags)


_CASE_NO = TypeAdapter(CaseNo)


def _is_case_no(text: str) -> bool:
    """Whether ``text`` is a case number as the canonical model takes it (its own rule: ``CaseNo``)."""
    try:
        _CASE_NO.validate_python(text)
    except ValidationError:
        return False
    return True

_TRUE = frozenset({"1", "TRUE", "Y", "YES", "T", "是"})
_FALSE = frozenset({"", "0", "FALSE", "N", "NO", "F", "否"})


def _case_number(value: Any) -> str | None:
    """The case a rating names, as the ledger writes case numbers: an integer as its digits, text NFKC and without
    spaces (a full-width number named no case and reached the province full width); None when there is none."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if not isinstance(value, str):
        return None
    text = "".join(unicodedata.normalize("NFKC", value).split())
    if len(text) > 64:  # NFKC lengthens some characters (㈠ → (一)): past the column, kept as typed
        text = "".join(value.split())
    return text or None


def _code_text(value: Any) -> str | None:
    """A device, window, staff, department or area code as text: an integer (window 12) as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None if value is None or value == [] or value == {} else str(value)


def _revoked(record: str, value: Any, flags: list[FieldIssue]) -> bool:
    """Whether the rating was withdrawn: a boolean, 0/1, or the words for yes and no (``"false"``, ``"否"`` and
    ``"N"`` were read as *withdrawn*, and the 差评 vanished from every list). Anything else keeps the rating
    standing, flagged ``revoked.value``: a 差评 is never dropped on a word nobody can read."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = normalise(value)
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    flags.append(FieldIssue(record, "revoked", "revoked.value",
                            f"revoked {value!r} is neither yes nor no: the rating is kept standing"))
    return False


def epoch_ms_time(stamp: Any) -> datetime | None:
    """A change time in epoch milliseconds, or None when there is none usable (the rating is not compared): not an
    integer, past any calendar, or below :data:`~gateway.models.datetimes.EPOCH_MS_FLOOR` (seconds, read as
    milliseconds, were January 1970: a 2026 差评 filed as history)."""
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp < EPOCH_MS_FLOOR:
        return None
    try:
        return datetime.fromtimestamp(stamp / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def provincial_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def to_provincial(evaluation: Evaluation) -> dict[str, str]:
    """The ``sbPj`` fields of a rating, in the provincial system's codes."""
    return {"pjbh": evaluation.rating_id, "bjbh": evaluation.case_no, "pjdj": _PJDJ[evaluation.level],
            "pjqd": _PJQD[evaluation.channel], "pjsj": provincial_time(evaluation.rated_at),
            "xzqh": evaluation.division or "", "jgdm": evaluation.dept_code or "", "pjnr": evaluation.comment}


def hotline_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def named_case(linked: Any, content: str) -> str | None:
    """The case number the citizen named: the platform's ``glbjbh``, else ``办件编号：…`` in the text."""
    if isinstance(linked, str) and linked.strip():
        return linked.strip()
    match = _CASE_IN_TEXT.search(content)
    return match.group(1) if match else None


def from_hotline(payload: Any) -> WorkOrder:
    """A 12345 work order → :class:`WorkOrder`."""
    if not isinstance(payload, dict):
        raise _reject("hotline:?", "record", "record.type", f"expected a JSON object, got {type(payload).__name__}")
    number = payload.get("gdbh")
    record = storable(f"hotline:{number}")
    if not isinstance(number, str) or not number:
        raise _reject(record, "order_no", "required", "gdbh is missing")
    flags: list[FieldIssue] = []
    payload = _storable_payload(payload, record, ("gdbh",), _HOTLINE_FIELDS, flags)
    gdlx = _number(payload.get("gdlx"))
    if gdlx is None or str(gdlx) not in _GDLX:
        raise _reject(record, "matter_type", "matter_type.code", f"gdlx {payload.get('gdlx')!r} is not one of 1–6")
    rating = _optional_number(record, "rating", "hfmyd", payload.get("hfmyd"), None)
    if rating is not None and str(rating) not in _HFMYD:
        raise _reject(record, "rating", "rating.code", f"hfmyd {payload.get('hfmyd')!r} is not one of 1–3")
    limit = _optional_count(record, "limit_days", "blsx", payload.get("blsx"), 5, flags, most=MAX_LIMIT_DAYS)
    redo = _optional_count(record, "redo_count", "cbcs", payload.get("cbcs"), 0, flags)
    content = payload.get("nr") if isinstance(payload.get("nr"), str) else ""
    received = _dash_time(record, "received_at", payload.get("pdsj"))
    changed = _dash_time(record, "changed_at", payload.get("gxsj") or payload.get("pdsj"))
    rated = _dash_time(record, "rated_at", payload["hfsj"]) if payload.get("hfsj") else None
    replied = _dash_time(record, "replied_at", payload["dfsj"]) if payload.get("dfsj") else None
    dispatched = _dash_time(record, "dispatched_at", payload["zpsj"]) if payload.get("zpsj") else None
    signed = _dash_time(record, "signed_at", payload["qssj"]) if payload.get("qssj") else None
    dept_name = payload.get("cbdwmc")
    return _flagged(_validated(WorkOrder, record, {  # type: ignore[no-any-return]
        "order_no": number, "matter_type": _GDLX[str(gdlx)], "category": payload.get("ywfl"),
        "division": payload.get("qhdm"), "content": content, "citizen": payload.get("sqr"),
        "case_no": named_case(payload.get("glbjbh"), content), "received_at": received,
        "limit_days": limit,
        "platform_status": str(payload.get("zt") or ""), "dept_code": payload.get("cbdw") or None,
        "dept_name": dept_name[:128] if isinstance(dept_name, str) and dept_name else None,
        "dispatched_at": dispatched, "signed_at": signed, "replied_at": replied,
        "rating": _HFMYD[str(rating)] if rating is not None else None, "rated_at": rated,
        "redo_count": redo, "return_reason": payload.get("thyy") or None, "changed_at": changed}), flags)
