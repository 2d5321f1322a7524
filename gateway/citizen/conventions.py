"""Each foreign system's conventions, translated to and from the canonical models — in one place per system.

- the evaluator collection point: grades 1–5 (5 best), channels as words, ``yyyy-MM-dd HH:mm:ss``;
- the provincial 好差评 system: grades 01–05 (**01 best**), channels 1–5, ``yyyyMMddHHmmss``, appeal levels
  3 市级 / 2 省级, decisions 0 待审核 / 1 成立 / 2 驳回;
- the 12345 platform: matter types 1–6, ratings 1 满意 / 2 基本满意 / 3 不满意, the case number a citizen names
  either in ``glbjbh`` or in the free text (``办件编号：…``).

A record that cannot be used raises :class:`~gateway.contract.errors.RecordRejected` naming the record, the
field and the rule, which the caller writes to the dead-letter store with the raw payload; these functions
never raise anything else, whatever the payload (a property test holds them to that).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from pydantic import ValidationError

from gateway.contract.errors import FieldIssue, RecordRejected

from .models import CHANNEL_NAMES, Evaluation, Level, WorkOrder

__all__ = ["APPEAL_LEVELS", "DECISIONS", "dead_letter_id", "raw_text", "from_evaluator", "from_hotline", "hotline_time", "named_case",
           "provincial_time", "to_provincial"]

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_PJDJ = {Level.VERY_SATISFIED: "01", Level.SATISFIED: "02", Level.BASIC: "03", Level.DISSATISFIED: "04",
         Level.VERY_DISSATISFIED: "05"}
_PJQD = {"pc": "1", "app": "2", "qrcode": "3", "device": "4", "sms": "5"}
APPEAL_LEVELS = {"city": "3", "province": "2"}
DECISIONS = {"0": "pending", "1": "upheld", "2": "rejected"}
_GDLX = {"1": "consult", "2": "help", "3": "complaint", "4": "report", "5": "suggestion", "6": "praise"}
_HFMYD = {"1": "satisfied", "2": "basic", "3": "unsatisfied"}
_CASE_IN_TEXT = re.compile(r"办件编号\s*[:：]?\s*([0-9A-Za-z\-]{10,50})")


def raw_text(raw: Any) -> str:
    """A raw payload as JSON text for the dead-letter store, whatever it holds (orjson refuses integers beyond 64
    bits, which a foreign system may well send; the standard library does not)."""
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(raw, ensure_ascii=False, sort_keys=True, default=repr)


def dead_letter_id(raw: Any, id_field: str) -> str:
    """The dead letter's source id of a raw record: its own id when it has a usable one, else a digest of the
    payload — two records without ids must not become one dead letter (the second would replace the first)."""
    rid = raw.get(id_field) if isinstance(raw, dict) else None
    if isinstance(rid, str) and rid and len(rid) <= 128:
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
    record = f"evaluator:{rid}"
    if not isinstance(rid, str) or not rid:
        raise _reject(record, "rating_id", "required", "ratingId is missing")
    case_no = payload.get("caseNo")
    if not isinstance(case_no, str) or not case_no.strip():
        raise _reject(record, "case_no", "required", "caseNo is missing: a rating must name its case")
    grade = payload.get("grade")
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 5:
        raise _reject(record, "level", "level.code", f"grade {grade!r} is not one of 1–5")
    channel = payload.get("channel")
    if not isinstance(channel, str) or channel not in CHANNEL_NAMES:
        raise _reject(record, "channel", "channel.code", f"channel {channel!r} is not one of {sorted(CHANNEL_NAMES)}")
    rated_at = _dash_time(record, "rated_at", payload.get("ratedAt"))
    text = payload.get("comment")
    return _validated(Evaluation, record, {  # type: ignore[no-any-return]
        "rating_id": rid, "case_no": case_no.strip(), "level": grade, "channel": channel, "rated_at": rated_at,
        "device": payload.get("deviceSn") or None, "window": payload.get("windowNo") or None,
        "staff": payload.get("staffNo") or None, "dept_code": payload.get("orgCode") or None,
        "division": payload.get("areaCode") or None, "comment": text if isinstance(text, str) else "",
        "revoked": bool(payload.get("revoked"))})


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
    record = f"hotline:{number}"
    if not isinstance(number, str) or not number:
        raise _reject(record, "order_no", "required", "gdbh is missing")
    gdlx = payload.get("gdlx")
    if not isinstance(gdlx, str) or gdlx not in _GDLX:
        raise _reject(record, "matter_type", "matter_type.code", f"gdlx {gdlx!r} is not one of 1–6")
    rating = payload.get("hfmyd")
    if rating not in (None, "") and (not isinstance(rating, str) or rating not in _HFMYD):
        raise _reject(record, "rating", "rating.code", f"hfmyd {rating!r} is not one of 1–3")
    content = payload.get("nr") if isinstance(payload.get("nr"), str) else ""
    received = _dash_time(record, "received_at", payload.get("pdsj"))
    changed = _dash_time(record, "changed_at", payload.get("gxsj") or payload.get("pdsj"))
    rated = _dash_time(record, "rated_at", payload["hfsj"]) if payload.get("hfsj") else None
    replied = _dash_time(record, "replied_at", payload["dfsj"]) if payload.get("dfsj") else None
    dispatched = _dash_time(record, "dispatched_at", payload["zpsj"]) if payload.get("zpsj") else None
    signed = _dash_time(record, "signed_at", payload["qssj"]) if payload.get("qssj") else None
    dept_name = payload.get("cbdwmc")
    limit = payload.get("blsx")
    return _validated(WorkOrder, record, {  # type: ignore[no-any-return]
        "order_no": number, "matter_type": _GDLX[gdlx], "category": payload.get("ywfl"),
        "division": payload.get("qhdm"), "content": content, "citizen": payload.get("sqr"),
        "case_no": named_case(payload.get("glbjbh"), content), "received_at": received,
        "limit_days": limit if isinstance(limit, int) and not isinstance(limit, bool) else 5,
        "platform_status": str(payload.get("zt") or ""), "dept_code": payload.get("cbdw") or None,
        "dept_name": dept_name[:128] if isinstance(dept_name, str) and dept_name else None,
        "dispatched_at": dispatched, "signed_at": signed, "replied_at": replied,
        "rating": _HFMYD.get(rating) if rating else None, "rated_at": rated,
        "redo_count": payload.get("cbcs") if isinstance(payload.get("cbcs"), int) else 0,
        "return_reason": payload.get("thyy") or None, "changed_at": changed})
