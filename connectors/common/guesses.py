"""Educated guesses for scaffolds: which field is a record's key, which its change time, which operation
parameters page and window a query.

A scaffold writes a starting YAML that an engineer reviews; a bad guess there is expensive (a result code taken
as the primary key collapses 1,500 records onto 7 keys), so these rules prefer saying "pick by hand" to guessing
a field that looks like a code, a type, a status or a time. Names in government systems are English, camelCase,
snake_case or pinyin initials (``sblsh`` 申报流水号, ``bjbh`` 办件编号, ``gxsj`` 更新时间); documentation, where a
WSDL or OpenAPI document has it, is read too (``流水号``, ``更新时间``).

    guess_primary_key([FieldHint("BJJG", "string"), FieldHint("SBLSH", "string")])   # -> "SBLSH"
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldHint:
    """What a scaffold knows of one field: its name, its schema type (``string``, ``dateTime``, ``long``...),
    whether it repeats, and any documentation."""

    name: str
    type: str = "string"
    repeated: bool = False
    doc: str = ""


def _words(name: str) -> str:
    """``caseNo`` → ``case_no``, ``SBLSH`` → ``sblsh``: one lower-case spelling to match suffixes on."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return spaced.replace("-", "_").lower()


_KEY_SUFFIXES = (("lsh", 6), ("guid", 6), ("uuid", 6), ("bjbh", 6), ("sblsh", 7), ("projid", 6), ("bh", 4),
                 ("_id", 4), ("id", 3), ("_no", 4), ("no", 2), ("ywh", 5), ("number", 2), ("num", 1))
_KEY_DOC = ("流水号", "编号", "唯一标识", "主键", "业务号", "办件号")
_NOT_A_KEY = ("code", "dm", "type", "lx", "status", "zt", "state", "result", "jg", "flag", "bz", "time", "sj",
              "date", "rq", "name", "mc", "count", "total", "size", "page", "id_type", "zjlx", "idcard", "zjhm",
              "sfz", "phone", "dh", "mobile")
_NOT_A_KEY_DOC = ("代码", "类型", "状态", "结果", "标志", "时间", "日期", "名称", "证件", "电话")


def _key_score(hint: FieldHint) -> int:
    if hint.repeated:
        return 0
    word = _words(hint.name)
    doc = hint.doc
    score = 0
    for suffix, weight in _KEY_SUFFIXES:
        if word == suffix or word.endswith(suffix):
            score = max(score, weight)
    if any(k in doc for k in _KEY_DOC):
        score = max(score, 6)
    parts = set(word.split("_"))
    if any(bad == word or word.endswith(bad) or bad in parts for bad in _NOT_A_KEY) or any(
            k in doc for k in _NOT_A_KEY_DOC):
        # a code, a type, a time... is never the key, whatever its suffix says ("zjhm" ends in "hm", "bjzt")
        if not any(k in doc for k in _KEY_DOC):
            return 0
    if hint.type.lower() in {"boolean", "datetime", "date", "decimal", "double", "float"}:
        return 0
    if word in {"id", "guid", "uuid", "rowguid", "row_guid"}:
        score += 2
    return score


def guess_primary_key(fields: Sequence[FieldHint]) -> str | None:
    """The field most like a record identifier, or ``None`` when nothing is (the scaffold then says so)."""
    scored = [(_key_score(f), -i, f.name) for i, f in enumerate(fields)]
    best = max(scored, default=(0, 0, None))
    return best[2] if best[0] >= 3 else None


_CURSOR_NAMES = ("update", "modif", "change", "gxsj", "xgsj", "bgsj", "last_time", "lasttime", "sync_time",
                 "tbsj", "timestamp", "gxrq", "xgrq")
_CURSOR_DOC = ("更新时间", "修改时间", "变更时间", "同步时间", "最后")
_CREATED = ("create", "cjsj", "insert", "sbsj", "slsj")


def guess_cursor(fields: Sequence[FieldHint]) -> str | None:
    """The change-time field (update/modify time), else a creation time, else ``None``."""
    def score(f: FieldHint) -> int:
        if f.repeated:
            return 0
        word = _words(f.name).replace("_", "")
        timeish = f.type.lower() in {"datetime", "date", "long"} or "time" in word or "sj" in word or "rq" in word
        if any(n.replace("_", "") in word for n in _CURSOR_NAMES) or any(k in f.doc for k in _CURSOR_DOC):
            return 3 if timeish else 2
        if timeish and any(n in word for n in _CREATED):
            return 1
        return 0

    best = max(((score(f), -i, f.name) for i, f in enumerate(fields)), default=(0, 0, None))
    return best[2] if best[0] > 0 else None


_PAGE = ("pageno", "pageindex", "pagenum", "pagenumber", "currentpage", "curpage", "page", "pn", "dqy", "ym",
         "pageidx", "startpage")
_SIZE = ("pagesize", "pagecount", "perpage", "rows", "limit", "size", "count", "num", "mys", "ps", "maxrows")
_OFFSET = ("offset", "start", "startrow", "startindex", "skip", "first")
_SINCE = ("since", "updatedsince", "modifiedafter", "changedsince", "starttime", "begintime", "fromtime",
          "lastupdatetime", "lasttime", "kssj", "qssj", "startdate", "begindate", "fromdate", "updatetime",
          "gxsj", "updatetimestart", "start_time", "begin")


def _match(names: Iterable[str], vocabulary: Sequence[str]) -> str | None:
    """The first name (in the source's order) whose normalised spelling is in ``vocabulary``, best match first."""
    normal = {n: _words(n).replace("_", "") for n in names}
    for wanted in vocabulary:
        for name, word in normal.items():
            if word == wanted.replace("_", ""):
                return name
    return None


@dataclass(frozen=True, slots=True)
class PagingGuess:
    """The operation's own parameter names for paging and the change-time window (``None``: not found)."""

    page_param: str | None
    size_param: str | None
    offset_param: str | None
    since_param: str | None

    @property
    def kind(self) -> str | None:
        if self.page_param:
            return "page_number"
        if self.offset_param:
            return "offset"
        return None


def guess_paging(params: Sequence[str]) -> PagingGuess:
    """Page, size, offset and window parameters among an operation's (or endpoint's) parameter names."""
    page = _match(params, _PAGE)
    size = _match([p for p in params if p != page], _SIZE)
    offset = None if page else _match(params, _OFFSET)
    since = _match([p for p in params if p not in {page, size, offset}], _SINCE)
    return PagingGuess(page, size, offset, since)


__all__ = ["FieldHint", "PagingGuess", "guess_cursor", "guess_paging", "guess_primary_key"]
