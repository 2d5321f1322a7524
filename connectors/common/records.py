"""From a decoded body (JSON, or XML decoded to dicts) to :class:`RawRecord` objects: selectors, primary
keys, cursors, rejects. Shared by the REST and SOAP connectors.

One bad record must never fail a page (DESIGN: "the batch goes on"), so a record without a usable primary key
or cursor becomes a :class:`SkippableSyncError` carrying the raw record, and the engine dead-letters it.

A JSON body that the wire decoder marked for screening (:class:`~connectors.common.jsontext.JsonDocument`
``screen``: a value that cannot be represented, a repeated key, broken text) goes through two more checks:
:func:`check_envelope` fails the page for a problem *outside* the records (the envelope steers paging and the
success check, so a guess there could lose records silently), and :func:`screen_items` turns each record with a
problem into a :class:`RecordRejection` naming its source key, the field path and the rule, with the record's
raw JSON text kept; the page's other records go on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from gateway.contract.connector import RawRecord
from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    FieldIssue,
    RetriableSyncError,
    SkippableSyncError,
    WriteRejectedError,
)
from gateway.models.datetimes import change_horizon

from .cursors import CursorCodec
from .jsontext import DuplicateKeys, Problem, Unrepresentable, find_problems, render_json
from .settings import EnvelopeOutcome, FieldEquals, SuccessRule

_MISSING: Any = object()
_MESSAGE_FIELDS = ("msg", "message", "error", "errmsg", "error_description", "errorMsg")


def dig(data: Any, path: str, default: Any = _MISSING) -> Any:
    """Follow a dotted path (``data.rows``, ``items.0.id``) through dicts and lists; ``""``/``"."`` = data.

    Raises ``KeyError`` when a step is missing and no ``default`` is given.
    """
    if path in ("", "."):
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif _is_index(current, part):
            current = current[int(part)]
        else:
            if default is _MISSING:
                raise KeyError(path)
            return default
    return current


def _is_index(current: Any, part: str) -> bool:
    if not isinstance(current, list) or not part.lstrip("-").isdigit():
        return False
    return -len(current) <= int(part) < len(current)


def server_message(body: Any, message_field: str | None = None) -> str | None:
    """The server's own explanation of a failure, if the body carries one."""
    if not isinstance(body, Mapping):
        return None
    fields = (message_field,) if message_field else _MESSAGE_FIELDS
    for name in fields:
        value = dig(body, name, None)
        if value not in (None, ""):
            return str(value)
    return None


Rules = SuccessRule | FieldEquals | Sequence[SuccessRule | FieldEquals] | None
"""A stream's ``success``: none, one rule, or a list of rules checked in order."""


def envelope_outcome(body: Any, rule: Rules) -> tuple[EnvelopeOutcome, str]:
    """What an answer's own status says (:data:`EnvelopeOutcome`) and a sentence naming the code and the
    server's message, for errors and logs.

    A list of rules (an API gateway's own envelope, ``{"errcode": "20003", "errmsg": "调用频率超限"}``, before
    the business one, ``{"code": "200", ...}``) is checked in order, and the first rule that does not say ``ok``
    decides. A rule other than the last one applies only when its field is *present* in the body (the key is
    there, whatever its value, ``null`` included): the gateway adds its envelope only when it answers itself.
    The last rule always applies, as a single rule does: a body without its field (a missing business code) is
    judged by that rule with the value ``None``, never waved through because an earlier rule was absent."""
    if rule is None:
        return "ok", ""
    if isinstance(rule, Sequence):
        for i, one in enumerate(rule):
            if i < len(rule) - 1 and not _present(body, one.field):
                continue
            outcome, said = envelope_outcome(body, one)
            if outcome != "ok":
                return outcome, said
        return "ok", ""
    value = dig(body, rule.field, None) if isinstance(body, (Mapping, list)) else None
    if isinstance(rule, SuccessRule):
        outcome, expected = rule.outcome(value), rule.expected()
    else:
        outcome, expected = ("ok" if value == rule.equals else "fatal"), repr(rule.equals)
    if outcome == "ok":
        return outcome, ""
    message = server_message(body, rule.message_field)
    meaning = f" (code means: {outcome})" if isinstance(rule, SuccessRule) and rule.codes else ""
    return outcome, (f"{rule.field} = {value!r}, expected {expected}{meaning}{_unquoted_code(value, rule)}"
                     + (f": {message}" if message else ""))


def _unquoted_code(value: Any, rule: Any) -> str:
    """A hint when the code sent is text with leading zeros that YAML read as a number (``equals: 0000`` is the
    number 0, ``{0000: ok}`` the code ``'0'``): the YAML must quote it."""
    if not (isinstance(value, str) and len(value) > 1 and value.isdigit() and value[0] == "0"):
        return ""
    number = int(value)
    said = [repr(getattr(rule, "equals", None))] if getattr(rule, "equals", None) == number and not isinstance(
        getattr(rule, "equals", None), bool) else []
    said += [repr(k) for k in (getattr(rule, "codes", None) or {}) if k == str(number)]
    if not said:
        return ""
    return (f" — the system sends the text {value!r}, and YAML read {value} unquoted as the number {number}: "
            f"quote it in the YAML ('{value}')")


def expired_credentials(rule: Rules) -> Callable[[Any], str | None] | None:
    """For :meth:`Transport.get_document` ``expired``: the sentence naming a ``reauth`` code in a body (our
    cached token expired), ``None`` for any other body; ``None`` itself when the rule has no ``reauth`` code."""
    rules = rule if isinstance(rule, Sequence) else [rule]
    if not any(isinstance(r, SuccessRule) and ("reauth" in r.codes.values() or r.otherwise == "reauth")
               for r in rules):
        return None

    def expired(body: Any) -> str | None:
        outcome, said = envelope_outcome(body, rule)
        return said if outcome == "reauth" else None

    return expired


def _present(body: Any, path: str) -> bool:
    absent = object()
    return isinstance(body, (Mapping, list)) and dig(body, path, absent) is not absent


def check_success(body: Any, rule: Rules, *, where: str) -> Literal["ok", "skip"]:
    """Envelope check of a read (``{"code": 0, ...}``): ``ok`` or ``skip`` (no records for this request), or the
    error the code stands for — :class:`AuthenticationError`, :class:`RetriableSyncError` (when the transport's
    own retries of a busy answer ran out) or :class:`FatalSyncError`. ``reauth`` reaching here means the request
    was already sent again with fresh credentials (:meth:`Transport.get_document` ``expired``): ``auth``."""
    outcome, said = envelope_outcome(body, rule)
    if outcome in ("ok", "skip"):
        return outcome
    _raise_credentials_or_busy(outcome, said, where)
    raise FatalSyncError(f"{where}: {said}")


class CredentialsExpired(AuthenticationError):
    """A ``reauth`` code: the system says our (cached) credentials expired. Whoever can fetch new ones catches it
    and sends once more (a SOAP login); where it surfaces, fresh ones were refused too. ``said`` names the code and
    the system's message, ``where`` the call."""

    def __init__(self, where: str, said: str) -> None:
        super().__init__(f"{where}: the system refused our credentials, fresh ones too: {said}")
        self.where = where
        self.said = said


def _raise_credentials_or_busy(outcome: EnvelopeOutcome, said: str, where: str) -> None:
    """The errors the ``auth``, ``reauth`` and ``retry`` outcomes stand for, reads and writes alike."""
    if outcome == "auth":
        raise AuthenticationError(f"{where}: the system refused our credentials: {said}")
    if outcome == "reauth":
        raise CredentialsExpired(where, said)
    if outcome == "retry":
        raise RetriableSyncError(f"{where}: the system is busy: {said}")


_SURE_FLAGS = ("success", "issuccess", "succeed", "ok")
"""Fields (compared in lower case: .NET writes ``Success``) that can only say whether the call worked, as a boolean
or its text (``"false"``: a SOAP answer decoded from XML is text throughout)."""
_ERRCODE_FIELDS = ("errcode",)
_ENVELOPE_CODE_FIELDS = ("code", "returncode", "resultcode", "retcode", "rtncode", "respcode", "statuscode",
                         "status_code", "ret", "status")
"""Status codes of government and Java/.NET envelopes (``{"returnCode": "500", "returnMsg": "system error"}``):
a failure when other than 0 and 2xx, in an object shaped like an envelope."""
_ENVELOPE_FLAGS = ("result", "flag", "status")
"""Fields that say how the call went in an envelope, but are ordinary fields of an echoed record too (a case's
``result``): read only in an object shaped like an envelope."""
_FAILED_WORDS = frozenset({"false", "fail", "failed", "failure", "error", "失败"})
_SUCCESS_WORDS = frozenset({"true", "success", "succeed", "succeeded", "ok", "y", "yes", "是", "成功"})
_ENVELOPE_MESSAGES = ("msg", "message", "error", "errmsg", "error_description", "errormsg", "returnmsg",
                      "resultmsg", "retmsg", "rtnmsg", "respmsg", "errormessage", "reason", "submsg", "sub_msg")
_ENVELOPE_KEYS = frozenset({*_SURE_FLAGS, *_ERRCODE_FIELDS, *_ENVELOPE_CODE_FIELDS, *_ENVELOPE_FLAGS,
                            *_ENVELOPE_MESSAGES, "data", "timestamp", "time", "requestid", "request_id", "traceid",
                            "trace_id", "total", "count", "errors", "sign", "signtype", "sign_type", "nonce",
                            "appid", "app_id", "version", "charset", "format", "path", "subcode", "sub_code",
                            "errorcode", "error_code", "details"})
"""What an envelope holds besides the record it wraps (lower case): an object with any other key is a record
echoed back, whose ``code`` or ``result`` is its own."""
_SUCCESS_MESSAGE = re.compile(
    r"(?:(?:操作|保存|提交|处理|推送|接收|上报|同步|办理|请求|调用|数据|导入|写入|更新|新增|删除)?(?:成功|完成|完毕)"
    r"|已(?:受理|接收|收到|保存|提交|办结|处理|完成|入库)"
    r"|(?:success|succeeded|successful|ok|done|accepted|created|saved))[!！。.\s]*", re.IGNORECASE)
"""A message that says the call worked, whole (``保存成功``, ``已受理``, ``Success``): never a phrase with a
negation or a count in it (``保存不成功``, ``导入成功0条，失败1条``)."""


def _numeric_code(value: Any) -> str | None:
    """A status code written as a number (``500``, ``"500"``, ``"0000"``), as text without leading zeros;
    ``None`` for anything else (booleans, words, item codes such as ``"370100-XK-001"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    if not text or len(text) > 10 or not text.lstrip("-").isdigit():
        return None
    return str(int(text))


_ERROR_CODE = re.compile(
    r"(?:e\d{1,8}|err(?:or)?(?:[-_.]?\w+)?|fail(?:ed|ure)?(?:[-_.]?\w+)?|exception(?:[-_.]?\w+)?"
    r"|\w+[-_.](?:err(?:or)?|fail(?:ed|ure)?|exception|invalid|denied|timeout)"
    r"|invalid[-_.]\w+|[abc]\d{4})", re.IGNORECASE)
"""A status code written as a word that says failure: ``E500``, ``ERR_DB``, ``SYSTEM_ERROR``, ``INVALID_PARAM``,
``A0400`` / ``B0001`` / ``C0001`` (the Alibaba Java manual's user, system and third-party errors; ``00000`` is its
success, a number)."""


def _error_code(value: Any) -> bool:
    """Whether a code that is not a number names an error (:data:`_ERROR_CODE`)."""
    return isinstance(value, str) and len(value) <= 40 and _ERROR_CODE.fullmatch(value.strip()) is not None


def _word(value: Any) -> str | None:
    """A flag's value as a lower-case word: ``False`` → ``"false"``, ``" FAIL "`` → ``"fail"``; None otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip().lower()
    return None


def refuse_failure_envelope(body: Any, *, where: str) -> None:
    """For a read stream without a ``success`` rule: a :class:`FatalSyncError` when the answer says unmistakably
    that the request failed (:func:`failure_envelope`). ``{"code": "500", "msg": "系统异常", "data": []}`` taken for
    an empty page let a windowed read move its watermark past the window."""
    failed = failure_envelope(body)
    if failed is not None:
        raise FatalSyncError(f"{where}: the answer says the request failed ({failed}); nothing was taken from it. "
                             "If this is how the system says success, give the stream a `success` rule")


def failure_envelope(body: Any) -> str | None:
    """What an answer to a write says went wrong, when it says so unmistakably, for write streams without a
    ``success`` rule; ``None`` when it does not. Only the top level of the answer is looked at, its keys in any
    case (``Success``, ``Code``: .NET), in this order:

    1. the whole answer is the word ``false`` / ``fail`` (a SOAP ``<result>false</result>``), or the boolean;
    2. ``success`` / ``isSuccess`` / ``succeed`` / ``ok`` decides when present: false, or a word saying so
       (``"false"``, ``"fail"``, ``"失败"``; also ``0``) is a failure whatever the message says — a SOAP answer
       decoded from XML is text, so ``<success>false</success>`` arrives as ``"false"``; true is a delivery;
    3. ``errcode`` other than 0 (WeChat-style gateways) is a failure;
    4. a message that says, whole, that the call worked (``保存成功``, ``已受理``, ``Success``) is a delivery —
       never one with a negation or a count (``保存不成功``, ``成功0条，失败1条``);
    5. in an object shaped like an envelope — a message (``msg``, ``returnMsg``, ``reason`` …) and nothing but
       envelope keys (``data``, ``sign``, ``traceId`` …), not a record echoed back with codes of its own — a
       ``result`` / ``flag`` / ``status`` saying success is a delivery; a ``code`` / ``returnCode`` / ``ret`` …
       other than 0 and 2xx (``"0000"`` is 0), or written as a word naming an error (``E500``, ``SYSTEM_ERROR``,
       ``A0400``: :data:`_ERROR_CODE`), or one of those saying failed, is a failure.

    Anything else is a delivery: a system that says success another way (``code: 1`` with a message this does not
    read as success) needs a ``success`` rule, which replaces this check."""
    if not isinstance(body, Mapping):
        word = _word(body)
        return f"the answer is {body!r}" if word in ("false", "fail", "failed", "failure") else None
    keys = {str(k).lower(): k for k in body}
    value = {low: body[k] for low, k in keys.items()}.get
    for name in _SURE_FLAGS:
        if name in keys:
            word = _word(value(name))
            if word in _SUCCESS_WORDS:
                return None
            if word in _FAILED_WORDS or _numeric_code(value(name)) == "0":
                return f"{keys[name]} = {value(name)!r}" + _said(body, keys)
    code = _numeric_code(value("errcode"))
    if code is not None and code != "0":
        return f"{keys['errcode']} = {value('errcode')!r}" + _said(body, keys)
    message = _message(keys, value)
    if message is not None and _SUCCESS_MESSAGE.fullmatch(message.strip()):
        return None
    if message is None or not set(keys) <= _ENVELOPE_KEYS:
        return None
    if any(_word(value(name)) in _SUCCESS_WORDS for name in _ENVELOPE_FLAGS if name in keys):
        return None
    for name in _ENVELOPE_CODE_FIELDS:
        code = _numeric_code(value(name)) if name in keys else None
        if (code is not None and code != "0" and not 200 <= int(code) < 300) or (
                code is None and name in keys and _error_code(value(name))):
            return f"{keys[name]} = {value(name)!r}: {message[:200]}"
    for name in _ENVELOPE_FLAGS:
        if name in keys and _word(value(name)) in _FAILED_WORDS:
            return f"{keys[name]} = {value(name)!r}: {message[:200]}"
    return None


def _message(keys: Mapping[str, Any], value: Any) -> str | None:
    for name in _ENVELOPE_MESSAGES:
        found = value(name) if name in keys else None
        if found not in (None, "") and not isinstance(found, (Mapping, list)):
            return str(found)
    return None


def _said(body: Mapping[str, Any], keys: Mapping[str, Any]) -> str:
    message = _message(keys, {low: body[k] for low, k in keys.items()}.get)
    return f": {message[:200]}" if message else ""


def check_write_success(body: Any, rule: Rules, *, where: str) -> None:
    """Envelope check of a write: a refused record (``skip`` or ``fatal`` codes) is a
    :class:`WriteRejectedError` (dead-lettered, the push goes on); ``auth`` and ``retry`` as for reads.

    Without a rule, an answer that carries an unmistakable failure envelope (:func:`failure_envelope`) is
    refused too: an HTTP 200 saying ``{"code": "500", "msg": "系统异常"}`` is not a delivery."""
    if rule is None:
        said = failure_envelope(body)
        if said is not None:
            raise WriteRejectedError(
                f"{where}: the answer says the write failed ({said}); HTTP 2xx notwithstanding, it is not "
                f"counted as applied. If this is how the system says success, give the write stream a "
                f"`success` rule"
            )
        return
    outcome, said = envelope_outcome(body, rule)
    if outcome == "ok":
        return
    _raise_credentials_or_busy(outcome, said, where)
    raise WriteRejectedError(f"{where}: {said}")


def select_items(body: Any, selector: str, *, where: str, checked: bool = False) -> list[Any]:
    """The list of records in a response body; a body of another shape is a response we cannot understand.

    A null at the last step of the path (``data.list: null``) is an empty page, as ``[]`` is. A null earlier on
    the path (``data: null`` for ``data.list``) is an empty page only when ``checked``: the stream has a success
    rule and the answer passed it (``{"code": "0", "msg": "查询无数据", "data": null}``). Without one, the same
    shape is how error envelopes look (``{"code": "401", "msg": "token已失效", "data": null}``), so it is an
    error saying the answer carried no records container, quoting the envelope's code and message. A key that
    is not there at all is an answer of another shape (a changed API, an error envelope the success check does
    not know): that stops the read, naming the part of the path that is missing and where the path got to."""
    if selector in ("", "."):
        items = body
    else:
        items = body
        reached: list[str] = []
        for part in selector.split("."):
            if items is None:  # data: null — nothing below it
                if checked:
                    return []
                raise FatalSyncError(_null_container(selector, reached, body, where=where))
            if isinstance(items, Mapping) and part in items:
                items = items[part]
            elif _is_index(items, part):
                items = items[int(part)]
            else:
                raise FatalSyncError(_missing_step(selector, reached, part, items, where=where))
            reached.append(part)
    if items is None:
        return []
    if not isinstance(items, list):
        shown = selector or "the body"
        raise FatalSyncError(f"{where}: {shown} is a {type(items).__name__}, expected a list of records")
    return items


_CODE_FIELDS = ("code", "errcode", "errCode", "errorCode", "resultCode", "ResultCode", "status", "ret")


def answer_says(body: Any) -> str | None:
    """The status code and the message an answer gives at its top level (``code = '401', message: 'token已失效'``),
    None when it gives neither: for errors that quote a system whose envelope no rule describes (a null records
    container, a token request, a login)."""
    if not isinstance(body, Mapping):
        return None
    said: list[str] = []
    code = next(((name, body[name]) for name in _CODE_FIELDS
                 if name in body and isinstance(body[name], (str, int, float, bool))), None)
    if code is not None:
        said.append(f"{code[0]} = {code[1]!r}")
    message = server_message(body)
    if message is not None:
        said.append(f"message: {message[:200]!r}")
    return ", ".join(said) or None


def _null_container(selector: str, reached: list[str], body: Any, *, where: str) -> str:
    at = ".".join(reached) or "the body"
    said = answer_says(body)
    quoted = f" (the answer says {said})" if said else ""
    return (f"{where}: record_selector {selector!r}: {at} is null, the answer carried no records container"
            f"{quoted}. Without a `success` rule this is not read as an empty page (error envelopes look the "
            f"same); give the stream a `success` rule if the system answers no results this way")


def _missing_step(selector: str, reached: list[str], part: str, found: Any, *, where: str) -> str:
    at = ".".join(reached) or "the body"
    if isinstance(found, Mapping):
        keys = ", ".join(repr(k) for k in list(found)[:8]) + (", …" if len(found) > 8 else "")
        has = f"it has {keys}" if keys else "it is an empty object"
        return (f"{where}: record_selector {selector!r} not found in the response: {at} has no key {part!r} "
                f"({has}). A null on the path would be an empty page; a missing key is an answer of another "
                f"shape")
    return (f"{where}: record_selector {selector!r} not found in the response: {at} is a {type(found).__name__}, "
            f"not an object with {part!r}")


class RecordRejection(SkippableSyncError):
    """A record the connector rejects for named reasons: ``issues`` lists each broken rule as a
    :class:`~gateway.contract.errors.FieldIssue` (``record`` = the source key or ``"?"``, ``field`` = the dotted
    path in the source record, ``rule`` such as ``number.not_finite``). ``raw`` is the record's JSON text as it
    came (markers and repeated keys included), always storable as UTF-8."""

    def __init__(self, message: str, *, source_id: str | None, raw: object, issues: list[FieldIssue]) -> None:
        super().__init__(message, source_id=source_id, raw=raw)
        self.issues = issues


def source_key(item: Mapping[str, Any], primary_key: str | list[str]) -> str | None:
    """The record's source key (parts joined by ``:``), or ``None`` when a part is missing, empty or not a
    scalar. Cheap: it runs for every record of every page."""
    paths = [primary_key] if isinstance(primary_key, str) else primary_key
    parts: list[str] = []
    for path in paths:
        value = dig(item, path, None)
        if value is None or value == "" or isinstance(value, (dict, list, Unrepresentable)):
            return None
        parts.append(str(value))
    return ":".join(parts)


def _rejected_source_key(item: Any, primary_key: str | list[str]) -> str | None:
    """:func:`source_key` of a record being rejected, ``None`` also when a part is unreadable: text that is not
    Unicode, or a key that appears twice on the way (which value would be the key?)."""
    if not isinstance(item, Mapping):
        return None
    paths = [primary_key] if isinstance(primary_key, str) else primary_key
    for path in paths:
        current: Any = item
        for part in path.split(".") if path not in ("", ".") else ():
            if isinstance(current, DuplicateKeys) and part in current.duplicates:
                return None
            current = dig(current, part, None)
        if isinstance(current, str) and find_problems(current, limit=1):
            return None
    return source_key(item, primary_key)


def check_envelope(body: Any, selector: str, *, where: str, damaged: bool = False,
                   charset_hint: str | None = None) -> None:
    """Fail the page for a problem outside the records at ``selector`` (call it for screened bodies only).
    ``charset_hint`` (:attr:`JsonDocument.charset_hint`): the broken text is GBK read as UTF-8, which a setting
    fixes — said instead of asking the system to fix its response."""
    skip = "" if selector in ("", ".") else selector  # dig's spellings of "the body is the list"
    problems = find_problems(body, damaged=damaged, skip=skip, limit=3)
    if problems:
        shown = "; ".join(_describe(p) for p in problems)
        encoding = charset_hint is not None and any(p.rule == "text.invalid_encoding" for p in problems)
        remedy = (f"{charset_hint[0].upper()}{charset_hint[1:]}" if encoding and charset_hint else
                  "The same request would get the same answer; the system must fix its response")
        raise FatalSyncError(
            f"{where}: the response envelope (outside the records at record_selector {selector!r}) cannot be "
            f"used: {shown}. {remedy}"
        )


def screen_items(items: list[Any], primary_key: str | list[str], *, where: str,
                 damaged: bool = False, charset_hint: str | None = None) -> list[Any]:
    """The items, with each record holding a problem replaced by a :class:`RecordRejection` (screened bodies);
    ``charset_hint`` is added to the message of a record whose text did not decode."""
    screened: list[Any] = []
    for item in items:
        problems = find_problems(item, damaged=damaged)
        if not problems:
            screened.append(item)
            continue
        source_id = _rejected_source_key(item, primary_key)
        reference = source_id or "?"
        issues = [FieldIssue(reference, p.path or "$", p.rule, p.message) for p in problems]
        hint = f" ({charset_hint})" if charset_hint and any(p.rule == "text.invalid_encoding" for p in problems) \
            else ""
        screened.append(RecordRejection(
            f"{where}: record {reference}: " + "; ".join(_describe(p) for p in problems) + hint,
            source_id=source_id,
            raw=render_json(item),
            issues=issues,
        ))
    return screened


def _named(source_id: str | None, field: str, rule: str, message: str, item: Any) -> RecordRejection:
    """A record refused by the reader, naming the field and rule (so dead letters group by them, not as one
    undifferentiated "decode")."""
    return RecordRejection(message, source_id=source_id, raw=render_json(item),
                           issues=[FieldIssue(source_id or "?", field, rule, message)])


def _describe(problem: Problem) -> str:
    return f"{problem.path or '$'}: {problem.message} [{problem.rule}]"


@dataclass(slots=True)
class RecordDecoder:
    """Builds RawRecords for one stream and drops re-deliveries at the cursor boundary.

    Re-anchored paging asks again from the highest cursor seen (inclusive), so records sharing that value
    arrive twice. Only records *at* the boundary can repeat, so remembering their keys is enough: memory
    stays bounded by the number of records sharing one change time, not by the size of the read.
    """

    primary_key: str | list[str]
    cursor_field: str | None = None
    codec: CursorCodec | None = None
    boundary: datetime | None = None
    max_cursor: datetime | None = None
    _boundary_keys: set[str] = field(default_factory=set)
    _seen_rejects: set[str] = field(default_factory=set)
    _horizon: datetime = field(default_factory=change_horizon)
    """The latest cursor that may anchor a read or mark a boundary (now + the allowed clock skew), taken again for
    each page: a record beyond it (a change time typed 9999) is read, and moves neither."""
    _beyond_horizon: set[str] = field(default_factory=set)
    _read_since_anchor: dict[str, datetime] | None = None
    """Re-anchored paging only (:meth:`track_from`): source id → change time of each record read at or after the
    current anchor. The anchor is where the page's order proves the rest of the read starts
    (:func:`~gateway.contract.connector.ordered_high`), not the highest change time seen, so the records between
    come again: each only once. Pruned at each re-anchor: bounded by the records past the anchor."""

    def decode(
        self, items: Iterable[Any], *, seen: Callable[[RawRecord], None] | None = None
    ) -> tuple[list[RawRecord], list[SkippableSyncError]]:
        """The page's new records and rejects. ``seen`` is shown every record in the order it arrived, before
        re-deliveries are dropped (the reader checks the source's order with it)."""
        records: list[RawRecord] = []
        rejects: list[SkippableSyncError] = []
        self._horizon = change_horizon()
        for item in items:
            result = self._one(item)
            if isinstance(result, RawRecord):
                if seen is not None:
                    seen(result)
                if self._is_new(result):
                    records.append(result)
            elif self._is_new_reject(result):
                rejects.append(result)
        return records, rejects

    def records_at(self, items: Iterable[Any], cursor: datetime) -> list[RawRecord]:
        """The records among ``items`` whose change time is ``cursor`` — without taking them (no bookkeeping): the
        reader asks whether a source declared inclusive left out records at its anchor (an exclusive filter)."""
        return [r for r in self._peek(items) if r.cursor == cursor]

    def any_up_to(self, items: Iterable[Any], cursor: datetime) -> bool:
        """Whether any of ``items`` changed at or before ``cursor`` — without taking them: what a page asked for
        "changed since" an inclusive anchor holds (the anchor's records, and with a coarse parameter format the
        records just before it)."""
        return any(r.cursor is not None and r.cursor <= cursor for r in self._peek(items))

    def _peek(self, items: Iterable[Any]) -> Iterator[RawRecord]:
        """The records among ``items``, built as :meth:`decode` builds them but not taken (no bookkeeping)."""
        for item in items:
            record = self._one(item)
            if isinstance(record, RawRecord):
                yield record

    def one(self, item: Any) -> RawRecord | SkippableSyncError:
        """One item as :meth:`decode` makes it, without the repeat bookkeeping: a record, or why it is none."""
        return self._one(item)

    def _one(self, item: Any) -> RawRecord | SkippableSyncError:
        if isinstance(item, SkippableSyncError):  # the wire decoder already gave up on it (bad bytes)
            return item
        if not isinstance(item, Mapping):
            return _named(None, "$", "record.not_object", f"record is a {type(item).__name__}, not an object", item)
        source_id = self._source_id(item)
        if source_id is None:
            key = self.primary_key if isinstance(self.primary_key, str) else ",".join(self.primary_key)
            return _named(None, key, "record.key_missing", f"primary key {self.primary_key!r} is missing or empty",
                          item)
        cursor: datetime | None = None
        if self.codec is not None and self.cursor_field is not None:
            raw_cursor = dig(item, self.cursor_field, None)
            try:
                cursor = self.codec.parse(raw_cursor)
            except (ValueError, TypeError, OverflowError) as exc:
                return _named(source_id, self.cursor_field, "cursor.format",
                              f"cursor {self.cursor_field!r} = {raw_cursor!r} is not {self.codec.fmt!r}: {exc}", item)
        return RawRecord(source_id=source_id, cursor=cursor, payload=item)

    def _source_id(self, item: Mapping[str, Any]) -> str | None:
        return source_key(item, self.primary_key)

    def _is_new(self, record: RawRecord) -> bool:
        cursor = record.cursor
        if cursor is None:
            return True
        if cursor > self._horizon:  # a typo of 9999: no boundary of its own; read once, however often it comes
            if record.source_id in self._beyond_horizon:
                return False
            self._beyond_horizon.add(record.source_id)
            return True
        read = self._read_since_anchor
        if read is not None:
            if read.get(record.source_id) == cursor:
                return False  # read since the anchor, unchanged: the re-anchored query's re-delivery
            read[record.source_id] = cursor
        if self.max_cursor is None or cursor > self.max_cursor:
            self.max_cursor = cursor
        if self.boundary is None or cursor > self.boundary:
            self.boundary = cursor
            self._boundary_keys = {record.source_id}
            return True
        if cursor == self.boundary:
            if record.source_id in self._boundary_keys:
                return False
            self._boundary_keys.add(record.source_id)
        return True

    def track_from(self, anchor: datetime | None) -> None:
        """Drop the re-deliveries of a read re-anchored at ``anchor`` (``None``: the read's start): records at or
        after it read already, at the same change time, are not new."""
        if self._read_since_anchor is None:
            self._read_since_anchor = {}
        elif anchor is not None:
            self._read_since_anchor = {k: c for k, c in self._read_since_anchor.items() if c >= anchor}

    def _is_new_reject(self, reject: SkippableSyncError) -> bool:
        try:
            fingerprint = json.dumps(reject.raw, sort_keys=True, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            return True
        if fingerprint in self._seen_rejects:
            return False
        self._seen_rejects.add(fingerprint)
        return True


__all__ = [
    "RecordDecoder",
    "CredentialsExpired",
    "RecordRejection",
    "answer_says",
    "check_envelope",
    "check_success",
    "check_write_success",
    "dig",
    "expired_credentials",
    "failure_envelope",
    "screen_items",
    "select_items",
    "server_message",
    "source_key",
    "refuse_failure_envelope",
]
