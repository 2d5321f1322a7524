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
_SIZE = ("pagesize", "pagecount", "perpage", "rows", "limit", "size", "count", "num", "mys", "ps", "maxrows",
         "pagerows", "rowcount", "rowsperpage", "pagelength")
_OFFSET = ("offset", "start", "startrow", "startindex", "skip", "first")
_SINCE = ("since", "updatedsince", "modifiedafter", "changedsince", "starttime", "begintime", "fromtime",
          "lastupdatetime", "lasttime", "kssj", "qssj", "startdate", "begindate", "fromdate", "updatetime",
          "gxsj", "updatetimestart", "start_time", "begin", "startdatetime", "begindatetime", "daytimestart",
          "timestart", "timebegin", "datestart", "datebegin", "gxsjq", "gxsjks")
_UNTIL = ("until", "endtime", "totime", "enddate", "todate", "enddatetime", "daytimeend", "timeend", "dateend",
          "jssj", "jzsj", "zzsj", "updatetimeend", "gxsjz", "gxsjjs", "end")
_HUNGARIAN = re.compile(r"^(?:str|int|i|n|s|l|lng|dbl|f|dt|dte|p)(?=[A-Z])")
""".NET/VB type prefixes on parameter names (``iPage``, ``intPageIndex``, ``strStartTime``, ``dtBegin``)."""
_TIMEISH = {"time", "date", "datetime", "day", "daytime", "sj", "rq", "dt"}
_STARTISH = {"start", "strat", "begin", "from", "since", "ks", "qs"}  # "strat": a spelling real WSDLs use
_ENDISH = {"end", "to", "until", "js", "jz", "zz"}


def type_prefix(name: str) -> str | None:
    """The .NET/VB type prefix of a parameter name (``iPage`` → ``i``, ``strStartTime`` → ``str``), or ``None``."""
    found = _HUNGARIAN.match(name)
    return found.group(0) if found else None


def _spellings(name: str) -> tuple[str, ...]:
    """The normalised spellings a parameter name is matched by: as written, and without a type prefix."""
    plain = _words(name).replace("_", "")
    bare = _HUNGARIAN.sub("", name)
    return (plain,) if bare == name or not bare else (plain, _words(bare).replace("_", ""))


def _match(names: Iterable[str], vocabulary: Sequence[str]) -> str | None:
    """The first name (in the source's order) whose normalised spelling is in ``vocabulary``, best match first."""
    normal = {n: _spellings(n) for n in names}
    for wanted in vocabulary:
        for name, words in normal.items():
            if wanted.replace("_", "") in words:
                return name
    return None


def _window_edge(names: Iterable[str], edge: set[str]) -> str | None:
    """A time parameter named by parts (``strDayTimeStrat``, ``queryDateFrom``): a time word and an edge word."""
    for name in names:
        parts = set(_words(_HUNGARIAN.sub("", name) or name).split("_"))
        if parts & _TIMEISH and parts & edge:
            return name
    return None


def _is_date_typed(name: str) -> bool:
    return name.startswith(("dt", "dte")) and _HUNGARIAN.match(name) is not None


@dataclass(frozen=True, slots=True)
class PagingGuess:
    """The operation's own parameter names for paging and the change-time window (``None``: not found)."""

    page_param: str | None
    size_param: str | None
    offset_param: str | None
    since_param: str | None
    until_param: str | None = None
    """The end of a time window (``strDayTimeEnd``), when the operation takes one."""

    @property
    def kind(self) -> str | None:
        if self.page_param:
            return "page_number"
        if self.offset_param:
            return "offset"
        return None


def guess_paging(params: Sequence[str]) -> PagingGuess:
    """Page, size, offset and window parameters among an operation's (or endpoint's) parameter names, in the
    spellings of REST APIs (``pageNo``, ``updatedSince``), .NET services (``iPage``, ``iRows``, ``intPageIndex``,
    ``strStartTime``) and pinyin initials (``kssj`` 开始时间, ``jssj`` 结束时间)::

        guess_paging(["strPointCodes", "strDayTimeStrat", "strDayTimeEnd", "iPage", "iRows"])
        # PagingGuess(page_param="iPage", size_param="iRows", offset_param=None,
        #             since_param="strDayTimeStrat", until_param="strDayTimeEnd")
    """
    numbers = [p for p in params if not _is_date_typed(p)]
    page = _match(numbers, _PAGE)
    size = _match([p for p in numbers if p != page], _SIZE)
    offset = None if page else _match(numbers, _OFFSET)
    rest = [p for p in params if p not in {page, size, offset}]
    since = _match(rest, _SINCE) or _window_edge(rest, _STARTISH)
    rest = [p for p in rest if p != since]
    until = (_match(rest, _UNTIL) or _window_edge(rest, _ENDISH)) if since else None
    return PagingGuess(page, size, offset, since, until)


_WRITE_VERBS = ("receive", "submit", "save", "add", "insert", "update", "upd", "delete", "del", "remove", "set",
                "push", "send", "post", "put", "create", "modify", "edit", "write", "upload", "import", "cancel",
                "commit", "apply", "register", "approve", "audit", "reset", "change", "bind", "unbind", "sync",
                "notify", "report", "feedback", "return", "accept", "handle", "process", "transfer", "revoke",
                "logout", "logoff", "signout", "exit", "quit", "close", "destroy", "kill", "terminate", "expire",
                "invalidate", "unlock", "lock", "clear", "tj", "bc", "sc", "xg", "xz", "sb", "ts", "fs", "tb", "zf")
"""First words of operations that change the other system (English — ending a session counts: ``logout`` as a
check would end the session every other call of the connector uses; pinyin initials: tj 提交, bc 保存, sc 删除/上传,
xg 修改, xz 新增, sb 上报/申报, ts 推送, fs 发送, tb 同步, zf 作废). Pinyin initials are ambiguous (tj is also 统计,
statistics), which is why they only count as a separate first word (``tjSqxx``, ``TJ_SQXX``): a read wrongly
taken for a write only costs a check written by hand; a write taken for a read would submit to a live system."""
_LONG_WRITE_VERBS = tuple(v for v in _WRITE_VERBS if len(v) >= 4)


def looks_like_write(operation: str) -> str | None:
    """The word that makes ``operation`` look like it changes the other system (``receiveOaLoan`` →
    ``receive``), or ``None``. Never call such an operation to check a connection."""
    words = _words(operation).split("_")
    first = words[0] if words else ""
    if first in _WRITE_VERBS:
        return first
    if len(words) > 1 and words[0] + words[1] in _WRITE_VERBS:  # LogOut, SignOff: one verb written as two words
        return words[0] + words[1]
    lowered = operation.lower()
    return next((v for v in _LONG_WRITE_VERBS if lowered.startswith(v) and first == lowered), None)


_PASSWORD = ("pwd", "password", "passwd", "pass", "passwrod", "mm", "yhmm", "dlmm", "userpwd", "userpassword",
             "loginpwd", "loginpassword")
_USER = ("user", "username", "userid", "usercode", "usr", "uid", "login", "loginname", "loginid", "account",
         "accountname", "yhm", "yhmc", "dlm", "dlzh", "zh", "yhzh", "operator", "appuser")
_TOKEN = ("token", "accesstoken", "access_token", "authtoken", "ticket", "sessionid", "sessionkey", "authcode",
          "authkey")
_KEY = ("appkey", "apikey", "app_key", "api_key", "appsecret", "secret", "secretkey", "accesskey", "clientsecret",
        "appid_secret", "signkey", "key", "skey", "ak", "sk")


def guess_secret_params(params: Sequence[str]) -> dict[str, str]:
    """Parameters that carry credentials, and the secret each should come from::

        guess_secret_params(["strPointCode", "strUserName", "strUserPwd"])
        # {"strUserName": "username", "strUserPwd": "password"}

    A user name counts only beside a password (``userId`` alone is usually whose records to read)."""
    found: dict[str, str] = {}
    for name in params:
        spellings = _spellings(name)
        if any(s in _PASSWORD or s.endswith(("pwd", "password", "passwd")) for s in spellings):
            found[name] = "password"
        elif any(s in _TOKEN or s.endswith("token") for s in spellings):
            found[name] = "token"
        elif any(s in _KEY or s.endswith(("appkey", "apikey", "secret", "secretkey", "accesskey")) for s in spellings):
            found[name] = "api_key"
    if "password" in found.values():
        for name in params:
            if name not in found and any(s in _USER or s.endswith(("username", "userid", "usercode", "loginname",
                                                                     "account")) for s in _spellings(name)):
                found[name] = "username"
    return found


__all__ = ["FieldHint", "PagingGuess", "guess_cursor", "guess_paging", "guess_primary_key", "guess_secret_params",
           "looks_like_write", "type_prefix"]
