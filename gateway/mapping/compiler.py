"""Compile a YAML mapping into one Python function, once.

A mapping is data (reviewable, diffable, written by integration engineers), but interpreting it per field per
record would cost more than the rest of the sync path. So the compiler turns it into Python source — plain
``dict.get`` calls, compiled regexes and dict lookups, nothing dynamic — and ``exec``s it once. Every value in
the YAML enters the generated code through a constant table, never as code text, so a mapping cannot inject
code. ``Mapper.source`` shows the generated function for debugging.

Field specs (canonical dotted path on the left)::

    case_no: projectNo                                   # a source path (dots, list indexes: qlr.0.xm)
    applied_at: {path: applyTime, date: "yyyy-MM-dd HH:mm:ss"}     # or a list of formats; epoch_ms; iso8601
    case_type: {path: caseType, code: case_type}         # a code table by name, or an inline dict
    applicant.id_number: {path: applicant.certNo, normalize: [nfkc, strip_all_spaces, upper]}
    dept_name: {const: 山东省民政厅}
    summary: {concat: [itemName, {const: "·"}, applicant.name]}
    deleted: {any: [{path: isDeleted, in: [1, "1"]}, {path: result, in: ["2", "3"]}]}
    status: {cases: [{when: {path: finishTime, present: true}, value: finished}, {value: submitted}]}
    finished_at: {when: {path: status, in: ["9"]}, then: {path: finishTime}, else: null, date: yyyyMMddHHmmss}
    dept_code: {first: [{path: itemCode, lookup: {table: departments, column: uscc}}, deptCode]}
    division_code: {path: itemCode, regex: '^([0-9]{6})'}         # or slice: [0, 6]
    events: {list: [{from: steps, fields: {...}}, {from: specials, fields: {...}}]}
    seq: {position: true}                                # inside a list item: its 1-based place in the list
    version: {context: version}                          # outbound: values the push job passes in

Modifiers: ``required``, ``default``, ``type`` (int, float, str, bool), ``blank_as_null``, ``date_only``,
``date: {from: iso8601, to: "yyyyMMddHHmmss"}`` (outbound), ``on_unknown: error|null|keep`` for code tables
and lookups, ``null_tokens``, ``slice``, ``regex`` + ``group`` + ``on_no_match``, ``lookup``. A value read from
the source goes through: null tokens → normalize → slice → regex → type → code / lookup → date → default →
required. ``docs/mapping-reference.md`` documents every key with an example (:mod:`gateway.mapping.language`).
"""

from __future__ import annotations

import copy
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import timezone
from decimal import Decimal
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.contract.scaffold import is_placeholder
from gateway.kernel.yamlfile import WrittenInt, YamlDocument
from gateway.mapping import dates
from gateway.mapping.lookups import LookupTable
from gateway.mapping.steps import StepEmitter, _too_long
from gateway.mapping.steps import Writer as _Writer
from gateway.mapping.values import TextRefused, _as_text, _cond_key, _decimal_int, _short

MapFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[dict[str, Any], list[tuple[str, str, str]]]]

VALUE_KEYS = frozenset({"path", "const", "concat", "cases", "first", "any", "all", "list", "context", "position"})
"""Where a field's value comes from: exactly one per spec."""
MODIFIER_KEYS = frozenset({
    "normalize",
    "code",
    "date",
    "date_only",
    "type",
    "required",
    "default",
    "blank_as_null",
    "on_unknown",
    "sep",
    "true_values",
    "false_values",
    "null_tokens",
    "slice",
    "regex",
    "group",
    "on_no_match",
    "lookup",
})
"""What happens to the value afterwards."""
SUGAR_KEYS = frozenset({"field", "when", "then", "else"})
"""Short forms: ``field`` for ``path``; ``when``/``then``/``else`` for a two-branch ``cases``."""
CONDITION_KEYS = frozenset({"path", "field", "equals", "in", "not_in", "present", "matches", "any", "all", "not"})
"""What a ``when`` condition may say."""

_NORMALIZERS = {
    "strip": "v = v.strip()",
    "nfkc": "v = v if v.isascii() else _nfkc('NFKC', v)",
    "strip_all_spaces": "v = v if v.isalnum() else _WS.sub('', v)",  # letters and digits only: nothing to strip
    "squash_spaces": "v = _WS.sub(' ', v).strip()",
    # names: 张 三 is 张三, but JOHN  SMITH is JOHN SMITH (not JOHNSMITH), IBM (China) Co., Ltd. keeps its spaces
    "name_spaces": "v = v if v.isalnum() else _WS.sub(' ', _CJK_GAP.sub('', v)).strip()",
    "upper": "v = v.upper()",
    "lower": "v = v.lower()",
}
NORMALIZE_STEPS = tuple(_NORMALIZERS)
"""The steps ``normalize`` may list, in the order documented."""
_WS = re.compile(r"\s+")
_CJK = ("[\u00b7\u2027\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
        "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\U00020000-\U0003134f]")
_CJK_GAP = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")
"""Whitespace (full-width spaces too) between two CJK characters (Han, kana, CJK and full-width punctuation, the
middle dot of transcribed names): in a Chinese name it is padding, never part of the name."""


class _Issue(Exception):
    """Raised inside generated code for one field; caught per field so every broken field is reported."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.message = message


def dig(record: Any, keys: tuple[str | int, ...]) -> Any:
    """The value at ``keys`` in a raw record (dict keys, list positions), or None: what compiled mappings read.
    Any mapping is an object and any sequence but text a list (a SOAP client's tuple, a ``MappingProxyType``);
    the exact types are tested first, the abstract ones only when those fail. A part written in digits is a
    list's position, or an object's key as written (``{"2024": …}``, ``{"007": …}``: a year, a numbered item)."""
    for key in keys:
        if record is None:
            return None
        if key.__class__ is str:
            if record.__class__ is dict:
                record = record.get(key)
            else:
                record = record.get(key) if isinstance(record, Mapping) else None
        elif record.__class__ is list or _is_list(record):
            record = record[key] if -len(record) <= key < len(record) else None  # type: ignore[operator]
        elif isinstance(record, Mapping):
            record = record.get(key.text if isinstance(key, Position) else str(key))
        else:
            return None
    return record


class Position(int):
    """A source path's part written in digits (``qlr.0.xm``, ``byYear.2024``): a list's position, or the key of an
    object as written — ``007`` is position 7 of a list, key ``"007"`` of an object."""

    text: str

    def __new__(cls, text: str) -> Position:
        position = super().__new__(cls, int(text))
        position.text = text
        return position

    def __reduce__(self) -> tuple[Any, ...]:
        return Position, (self.text,)


def _is_list(value: Any) -> bool:
    """Whether a value that is not a ``list`` is read as one: a tuple or another sequence, not text or bytes."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _as_list(value: Any) -> list[Any]:
    """A list source that is not a ``list``: a tuple (or another sequence) as its items, anything else (one
    object where a system sends a list only when there are several) as a list of one."""
    return list(value) if _is_list(value) else [value]


def _get(value: Any, key: str) -> Any:
    """``value.get(key)`` for a mapping that is not a ``dict``; None for anything else (a nested path read
    through a value that is no object)."""
    return value.get(key) if isinstance(value, Mapping) else None


def path_keys(path: str) -> tuple[str | int, ...]:
    """A source path as :func:`dig` reads it: dotted keys, digits a :class:`Position` (``qlr.0.xm``); a dot that
    is part of a key is written ``\\.`` (``fields: {name: 'applicant\\.name'}`` reads the key ``applicant.name``,
    which some systems send flat)."""
    return tuple(Position(p) if _DIGITS.fullmatch(p) else p for p in split_path(path))


def split_path(path: str) -> list[str]:
    """A source path's keys: split at each dot not written ``\\.``, each ``\\.`` then a dot of its key."""
    if "\\" not in path:
        return path.split(".")
    return [part.replace("\\.", ".") for part in PATH_DOT.split(path)]


def escape_key(key: str) -> str:
    """A key as one part of a source path (its dots written ``\\.``): how a report names a flat dotted key."""
    return key.replace(".", "\\.")


_DIGITS = re.compile(r"-?\d+")
PATH_DOT = re.compile(r"(?<!\\)\.")
"""A dot that separates two keys of a source path (one written ``\\.`` is part of its key)."""


def _is_null(value: Any, tokens: frozenset[str]) -> bool:
    """Whether a source value counts as absent under the mapping's null tokens (conditions use it)."""
    return value is None or (value.__class__ is str and value.strip() in tokens)


_TRUE_TEXTS = frozenset({"1", "true", "True", "TRUE"})
_FALSE_TEXTS = frozenset({"0", "false", "False", "FALSE"})


def _matches(value: Any, regex: re.Pattern[str]) -> bool:
    """``matches``: a value that has no text (an object, a list, true/false) matches no pattern — its Python repr
    is no text a system sent."""
    if value is None:
        return False
    if value.__class__ is not str:
        try:
            value = _as_text(value)
        except TextRefused:
            return False
    return regex.search(value) is not None


def _text_step(value: Any) -> str:
    """The text a text step (``slice``, ``regex``, ``lookup``, ``concat``) works on: a number as its text; an object,
    a list, true/false or NaN is no text (``mapping.type``) — its Python repr passed as valid text, a nested object
    leaking whatever it held (an ID number) into a free-text field."""
    try:
        return _as_text(value)
    except TextRefused as exc:
        raise _Issue("mapping.type", f"value {_short(value)} is {exc}, not text or a number") from None


class MappingCompiler(StepEmitter):
    """Turns the ``fields`` of one mapping (and its code tables) into Python source."""

    def __init__(
        self,
        *,
        where: str,
        code_tables: Mapping[str, Mapping[Any, Any]],
        tz_offset: str,
        default_normalize: list[str],
        null_tokens: Any = None,
        lookups: Mapping[str, LookupTable] | None = None,
        document: YamlDocument | None = None,
        section: str | None = None,
        doc_root: tuple[Any, ...] = (),
    ) -> None:
        self.where = where
        self.document = document  # with section: errors name the line (``m.yaml: line 9: fields: a: …``)
        self.section = section
        self._doc_base: tuple[Any, ...] = doc_root  # the YAML path of the object being compiled (for lines)
        self._doc_path: tuple[Any, ...] = doc_root  # … and of the field being compiled
        self.code_tables = {name: {str(k): v for k, v in table.items()} for name, table in code_tables.items()}
        self.tz: timezone = dates.parse_offset(tz_offset)
        self.tz_offset = tz_offset = dates.offset_text(tz_offset)  # "+08:00 " and "+0800" are written +08:00
        self.default_normalize = default_normalize
        self.null_tokens = self._token_set(null_tokens, "null_tokens")
        self.lookups = dict(lookups or {})
        self.namespace: dict[str, Any] = {
            "_Issue": _Issue,
            "_dig": dig,
            "_get": _get,
            "_as_list": _as_list,
            "_Mapping": Mapping,
            "_short": _short,
            "_is_null": _is_null,
            "_matches": _matches,
            "_ck": _cond_key,
            "_as_text": _as_text,
            "_txt": _text_step,
            "_copy": copy.deepcopy,
            "_TextRefused": TextRefused,
            "_Decimal": Decimal,
            "_decimal_int": _decimal_int,
            "_nfkc": unicodedata.normalize,
            "_WS": _WS,
            "_CJK_GAP": _CJK_GAP,
            "_iso_from_epoch": dates.iso_from_epoch,
            "_EpochUnitError": dates.EpochUnitError,
            "_iso_normalise": dates.iso_normalise,
            "_format_datetime": dates.format_datetime,
            "_TZ": self.tz,
            "_OFFSET": tz_offset,
        }
        self.functions: list[str] = []
        self._sets: dict[frozenset[Any], str] = {}
        self._counter = 0
        self._target = ""

    def _token_set(self, tokens: Any, where: str) -> frozenset[str] | None:
        """``null_tokens`` as the set a stripped string is looked up in (``""`` always in it: blank is null);
        ``None`` when there are none (an empty list switches them off)."""
        if tokens is None:
            return None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise self.fail(where, f"null_tokens must be a list of strings, got {tokens!r}")
        return frozenset(t.strip() for t in tokens) | {""} if tokens else None

    def tokens_for(self, spec: Mapping[str, Any], where: str) -> frozenset[str] | None:
        """The null tokens in force for one field: its own ``null_tokens`` or the mapping's."""
        if "null_tokens" in spec:
            return self._token_set(spec["null_tokens"], where)
        return self.null_tokens

    # -- reading source values -------------------------------------------------------------------------

    def get_expr(self, path: Any, where: str, *, inline: bool = False) -> str:
        """The expression reading ``path`` from the raw record ``r``. ``inline``: a nested path of keys is read by
        nested ``.get`` expressions rather than a call of :func:`dig` per value (a tenth of a mapping's time);
        only where an assignment expression may stand (not in a comprehension's iterable)."""
        if not isinstance(path, str) or not path:
            raise self.fail(where, f"path must be a non-empty string, got {path!r}")
        if is_placeholder(path):  # read as a source path, it rejected every record (no such field in any of them)
            raise self.fail(where, f"{path} is a placeholder written by `tongban connector new`: replace it with the "
                                   "path of the source field that holds it (the `# Source record fields:` comment at "
                                   "the top of the skeleton lists them)")
        if path == "$":
            return "r"
        keys = path_keys(path)
        if len(keys) == 1 and isinstance(keys[0], str):
            return f"r.get({self.const(keys[0], 'k')})"
        if inline and all(isinstance(k, str) for k in keys):
            expr = f"r.get({self.const(keys[0], 'k')})"
            for key in keys[1:]:  # what dig does for dict keys: a non-dict on the way reads as None
                k = self.const(key, "k")  # a dict first; another mapping (not None: no call) by _get
                expr = f"(_w.get({k}) if isinstance(_w := {expr}, dict) else None if _w is None else _get(_w, {k}))"
            return expr
        return f"_dig(r, {self.const(tuple(keys), 'p')})"

    def condition_expr(self, cond: Any, where: str) -> str:
        if not isinstance(cond, Mapping):
            raise self.fail(where, f"a condition must be a mapping, got {cond!r}")
        for key in ("any", "all"):
            if key in cond:
                if not isinstance(cond[key], list) or not cond[key]:
                    raise self.fail(where, f"{key} must be a non-empty list of conditions, got {cond[key]!r}")
                joined = f" {'or' if key == 'any' else 'and'} ".join(self.condition_expr(c, where) for c in cond[key])
                return "(" + joined + ")"
        if "not" in cond:
            return f"(not {self.condition_expr(cond['not'], where)})"
        unknown = set(cond) - CONDITION_KEYS
        if unknown:
            raise self.fail(where, f"condition has unknown key(s) {sorted(unknown)}; expected {sorted(CONDITION_KEYS)}")
        path = cond.get("path", cond.get("field"))
        if path is None:
            raise self.fail(where, f"condition {dict(cond)!r} needs path (or any/all/not)")
        get = self.get_expr(path, where)
        # equals / in / not_in compare the value as stripped text after the null tokens, as code tables read it
        # (a CHAR-padded "1 " or the number 1 is the code "1"); an object or a list matches none of the values.
        key = f"_ck({get}, {self.const(self.null_tokens, 'nt')})"
        if "equals" in cond:
            return f"({key} in {self.const(self._cond_texts([cond['equals']], where, 'equals'))})"
        if "in" in cond:
            return f"({key} in {self.const(self._cond_texts(cond['in'], where, 'in'))})"
        if "not_in" in cond:
            return f"({key} not in {self.const(self._cond_texts(cond['not_in'], where, 'not_in'))})"
        if "present" in cond:
            self.flag(cond, "present", where, empty_is_default=False)
            if self.null_tokens is not None:  # "null", "-" … are as absent here as in the fields
                nt = self.const(self.null_tokens, "nt")
                present = f"((_p := {get}) is not None and not (_p.__class__ is str and _p.strip() in {nt}))"
                return f"{present} is {bool(cond['present'])}"
            return f"(({get}) not in (None, '')) is {bool(cond['present'])}"
        if "matches" in cond:
            return f"_matches({get}, {self.const(self._regex(cond['matches'], where), 'rx')})"
        raise self.fail(where, f"condition {dict(cond)!r} needs equals, in, not_in, present or matches")

    def _cond_texts(self, values: Any, where: str, key: str) -> frozenset[Any]:
        """The condition values of ``equals`` (one) or ``in`` / ``not_in`` (a list) as the keys they match: each a
        scalar (text, number, true/false, null), checked at load (``in: "12"`` is not the codes 1 and 2)."""
        if key != "equals" and not isinstance(values, list):
            raise self.fail(where, f"{key} must be a list of values (text, numbers, true/false), got {values!r}: "
                                   f"write {key}: [{values!r}] for one value")
        texts: set[Any] = set()
        for value in values:
            if isinstance(value, WrittenInt):
                raise self.fail(where, f"{key}: {value.written} is read by YAML as the number {int(value)}, so a record's "
                                       f"'{value.written}' never matches it: quote it ('{value.written}') if the code "
                                       f"was meant, or write {int(value)}")
            if value is True:
                texts |= _TRUE_TEXTS
            elif value is False:
                texts |= _FALSE_TEXTS
            elif _too_long(value):
                raise self.fail(where, f"{key}: an integer of more than {sys.get_int_max_str_digits()} digits is no "
                                       f"code a record holds: quote it if text was meant")
            elif value is None or value.__class__ in (str, int, float):
                texts.add(_cond_key(value, None))
            else:
                said = "" if key == "equals" else " in the list"
                raise self.fail(where, f"{key}: {value!r}{said} is not a value (text, a number, true/false, null): "
                                       f"a condition compares one value at a time")
        return frozenset(texts)

    # -- one field -------------------------------------------------------------------------------------

    def normalise_spec(self, spec: Any, where: str) -> dict[str, Any]:
        if isinstance(spec, str):
            return {"path": spec}
        if not isinstance(spec, Mapping):
            raise self.fail(where, f"expected a source path or a mapping, got {spec!r}")
        spec = dict(spec)
        if "field" in spec:
            if "path" in spec:
                raise self.fail(where, "field is another name for path: give one of them")
            spec["path"] = spec.pop("field")
        if "when" in spec:
            if "then" not in spec:
                raise self.fail(where, "when needs then (and may have else)")
            if "cases" in spec:
                raise self.fail(where, "give either when/then/else or cases")
            spec["cases"] = [{"when": spec.pop("when"), "then": spec.pop("then")}, {"then": spec.pop("else", None)}]
        elif "then" in spec or "else" in spec:
            raise self.fail(where, "then/else need when")
        keys = set(spec)
        value_keys = keys & VALUE_KEYS
        unknown = keys - VALUE_KEYS - MODIFIER_KEYS - {"from", "fields"}
        if unknown:
            expected = sorted(VALUE_KEYS | MODIFIER_KEYS | SUGAR_KEYS)
            raise self.fail(where, f"unknown key(s) {sorted(unknown)}; expected {expected}")
        if len(value_keys) != 1:
            raise self.fail(where, f"needs exactly one of {sorted(VALUE_KEYS)}, got {sorted(value_keys) or 'none'}")
        if "code" in spec and "lookup" in spec:
            raise self.fail(where, "give either code or lookup")
        return spec

    def emit_field(self, w: _Writer, indent: int, spec: dict[str, Any], where: str) -> None:
        """Emit code that leaves the field's value in ``v`` or raises ``_Issue``."""
        if "list" in spec:
            self.emit_list(w, indent, spec, where)
            return
        if "const" in spec:
            w.emit(indent, f"v = {self.constant(spec['const'], where, 'const')}")
            return
        if "position" in spec:
            if spec["position"] is not True:
                raise self.fail(where, f"position must be true (a boolean), got {spec['position']!r}: write "
                                       f"position: true, without quotes")
            w.emit(indent, "v = _pos")
            return
        if "any" in spec or "all" in spec:
            w.emit(indent, f"v = bool({self.condition_expr(spec, where)})")
            return
        raw = True  # the value comes straight from the source: null tokens apply to it
        if "context" in spec:
            name = spec["context"]
            if name.__class__ is not str or not name:
                raise self.fail(where, f"context names a value the job passes in (version, operation …): expected "
                                       f"its name as text, got {name!r}")
            w.emit(indent, f"v = _ctx.get({self.const(name)})")
        elif "path" in spec:
            w.emit(indent, f"v = {self.get_expr(spec['path'], where, inline=True)}")
        elif "concat" in spec:
            self.emit_concat(w, indent, spec, where)
            raw = False
        elif "cases" in spec:
            self.emit_cases(w, indent, spec, where)
            raw = False
        elif "first" in spec:
            self.emit_first(w, indent, spec, where)
            raw = False
        self.emit_pipeline(w, indent, spec, where, raw=raw)

    def emit_concat(self, w: _Writer, indent: int, spec: dict[str, Any], where: str) -> None:
        if not isinstance(spec["concat"], list) or not spec["concat"]:
            raise self.fail(where, f"concat must be a non-empty list of source paths and {{const: …}} parts, "
                                   f"got {spec['concat']!r}")
        parts = []
        for part in spec["concat"]:
            if isinstance(part, Mapping) and "const" in part:
                if _too_long(part["const"]):
                    self.constant(part["const"], where, "concat const")  # says what is wrong
                parts.append(self.const(str(part["const"])))
            else:
                parts.append(self.get_expr(part, where))
        sep = self.const(str(spec.get("sep", "")))
        tokens = self.tokens_for(spec, where)
        keep = "_x not in (None, '')" if tokens is None else f"not _is_null(_x, {self.const(tokens, 'nt')})"
        w.emit(indent, f"_parts = [_x if _x.__class__ is str else _txt(_x) for _x in ({', '.join(parts)},) if {keep}]")
        w.emit(indent, f"v = {sep}.join(_parts) if _parts else None")

    def emit_cases(self, w: _Writer, indent: int, spec: dict[str, Any], where: str) -> None:
        branches = spec["cases"]
        if not isinstance(branches, list) or not branches:
            raise self.fail(where, "cases must be a non-empty list")
        for i, branch in enumerate(branches):
            at = f"{where}.cases[{i}]"
            if not isinstance(branch, Mapping):
                raise self.fail(at, f"a branch is a mapping with when and value (or then), got {branch!r}")
            unknown = set(branch) - {"when", "value", "then"}
            if unknown:
                raise self.fail(at, f"unknown key(s) {sorted(unknown)} in a branch; expected when, value, then")
            if "value" in branch and "then" in branch:
                raise self.fail(at, "a branch has a constant value or a then spec, not both")
            if "when" in branch:
                w.emit(indent, f"{'if' if i == 0 else 'elif'} {self.condition_expr(branch['when'], at)}:")
            elif i != len(branches) - 1:
                raise self.fail(at, "only the last branch may go without when")
            else:
                w.emit(indent, "else:" if i else "if True:")
            self.emit_branch(w, indent + 1, branch, at)
        if "when" in branches[-1]:
            w.emit(indent, "else:")
            w.emit(indent + 1, "v = None")

    def emit_branch(self, w: _Writer, indent: int, branch: Mapping[str, Any], where: str) -> None:
        """A branch's value: ``value`` is a constant; ``then`` (and ``else``) a field spec of its own."""
        if "then" not in branch:
            w.emit(indent, f"v = {self.constant(branch.get('value'), where, 'value')}")
            return
        then = branch["then"]
        if then is None:
            w.emit(indent, "v = None")
        elif isinstance(then, (str, Mapping)):
            self.emit_field(w, indent, self.normalise_spec(then, where), where)
        else:
            w.emit(indent, f"v = {self.constant(then, where, 'then')}")

    def emit_first(self, w: _Writer, indent: int, spec: dict[str, Any], where: str) -> None:
        """The first alternative that gives a value (not null, not empty)."""
        alternatives = spec["first"]
        if not isinstance(alternatives, list) or not alternatives:
            raise self.fail(where, "first must be a non-empty list of field specs")
        for i, alternative in enumerate(alternatives):
            if i:
                w.emit(indent + i - 1, "if v is None or v == '':")
            self.emit_field(w, indent + i, self.normalise_spec(alternative, f"{where}.first[{i}]"), where)

    def emit_pipeline(self, w: _Writer, indent: int, spec: dict[str, Any], where: str, *, raw: bool = True) -> None:
        typed = any(k in spec for k in ("code", "date", "type", "lookup", "slice", "regex"))
        blank_as_null = self.flag(spec, "blank_as_null", where, default=typed)
        required = self.flag(spec, "required", where)
        tokens = self.tokens_for(spec, where) if raw else None
        ops = spec.get("normalize", self.default_normalize if "path" in spec or "concat" in spec else [])
        if isinstance(ops, str):
            ops = [ops]
        if not isinstance(ops, list):
            raise self.fail(where, f"normalize must be a list of steps, got {ops!r}; expected steps from "
                                   f"{sorted(_NORMALIZERS)}")
        for op in ops:
            if op.__class__ is not str or op not in _NORMALIZERS:
                raise self.fail(where, f"unknown normalize step {op!r}; expected one of {sorted(_NORMALIZERS)}")
        steps = [step for step in ("slice", "regex", "type", "code", "lookup", "date") if step in spec]
        if tokens is not None and ops and ops[0] == "strip":
            # Tokens are compared stripped, so when stripping is the first step anyway it goes first, once,
            # and the token test is one set lookup on its result (the common case: normalize: [strip]).
            nt = self.const(tokens, "nt")
            w.emit(indent, "if v.__class__ is str:")
            w.emit(indent + 1, "v = v.strip()")
            w.emit(indent + 1, f"if v in {nt}:")
            w.emit(indent + 2, "v = None")
            ops = ops[1:]
            tokens = None
            blank_as_null = False  # "" is a token
        if tokens is not None or blank_as_null or ops or steps:
            if tokens is not None:
                w.emit(indent, f"if v is None or (v.__class__ is str and v.strip() in {self.const(tokens, 'nt')}):")
            else:
                w.emit(indent, "if v is None or v == '':" if blank_as_null else "if v is None:")
            w.emit(indent + 1, "v = None")
            w.emit(indent, "else:")
            body = indent + 1
            if ops:
                w.emit(body, "if v.__class__ is str:")
                for op in ops:
                    w.emit(body + 1, _NORMALIZERS[op])
            # Each step after one that can give null runs only on a value.
            at, maybe_null = body, False
            for step in steps:
                if maybe_null:
                    w.emit(at, "if v is not None:")
                    at += 1
                maybe_null = getattr(self, f"emit_{step}")(w, at, spec, where)
            w.emit(body, "pass  # nothing to convert")
        if spec.get("default") is not None:
            default = self.constant(spec["default"], where, "default")
            w.emit(indent, "if v is None:")
            w.emit(indent + 1, f"v = {default}")
        if required:
            w.emit(indent, "if v is None or v == '':")
            w.emit(indent + 1, f"raise _Issue('mapping.required', {self.const(f'no value at {self._src(spec)}')})")

    def _src(self, spec: Mapping[str, Any]) -> str:
        for key in ("path", "context", "concat", "cases", "first"):
            if key in spec:
                return f"{key} {spec[key]!r}"
        return "source"

    def emit_list(self, w: _Writer, indent: int, spec: Mapping[str, Any], where: str) -> None:
        target = self._target  # the list's own path in its object, for issue paths like events.2.started_at
        sources = spec["list"]
        if isinstance(sources, Mapping):
            sources = [sources]
        tokens = self.tokens_for(spec, where)
        w.emit(indent, "v = []")
        for i, source in enumerate(sources):
            if not isinstance(source, Mapping) or "from" not in source or "fields" not in source:
                raise self.fail(f"{where}.list[{i}]", "each list source needs from and fields")
            unknown = set(source) - {"from", "fields", "where"}
            if unknown:
                raise self.fail(f"{where}.list[{i}]", f"unknown key(s) {sorted(unknown)} in a list source; expected "
                                "from, fields and (optionally) where")
            keep = None
            if "where" in source:  # only the items that meet the condition (the steps among a case's events)
                keep = self._name("where")
                test = self.condition_expr(source["where"], f"{where}.list[{i}].where")
                self.functions.append(f"def {keep}(r):\n    return {test}")
            field_path, base = self._doc_path, self._doc_base
            self._doc_base = (*field_path, "list", *((i,) if isinstance(spec["list"], list) else ()), "fields")
            item_fn = self.compile_object(source["fields"], f"{where}.list[{i}]")
            self._doc_path, self._doc_base = field_path, base
            w.emit(indent, f"_s = {self.get_expr(source['from'], where)}")
            if tokens is not None:  # a list written as a null token ("null", "无", "-") is no list, as in a field
                w.emit(indent, f"if _s.__class__ is str and _s.strip() in {self.const(tokens, 'nt')}:")
                w.emit(indent + 1, "_s = None")
            w.emit(indent, "if _s:")
            w.emit(indent + 1, "if _s.__class__ is not list: _s = _as_list(_s)")
            w.emit(indent + 1, "for _x in _s:")
            if keep is not None:  # an item that is no object is not filtered: its own fields say what is wrong
                w.emit(indent + 2, f"if (_x.__class__ is dict or isinstance(_x, _Mapping)) and not {keep}(_x): continue")
            w.emit(indent + 2, f"v.append({item_fn}(_x, _ctx, _iss, '%s%s.%d.' % (_pfx, {target!r}, len(v)), len(v) + 1))")

    # -- an object (the record, or one list item) -------------------------------------------------------

    def compile_object(self, fields: Any, where: str) -> str:
        if not isinstance(fields, Mapping) or not fields:
            raise self.fail(where, "fields must be a non-empty mapping of target path -> spec")
        fn = self._name("obj")
        w = _Writer()
        w.emit(0, f"def {fn}(r, _ctx, _iss, _pfx, _pos=0):")
        w.emit(1, "if r.__class__ is not dict and not isinstance(r, _Mapping):")  # exact type first: the hot path
        w.emit(2, "_iss.append((_pfx.rstrip('.') or '$', 'mapping.shape', 'expected an object, got %s' % _short(r)))")
        w.emit(2, "return None")
        self._refuse_nested_targets(fields, where)
        for target in fields:
            if not isinstance(target, str) or "" in target.split("."):  # '.a' and 'a' wrote one key; 'a.' a key ''
                self._doc_path = (*self._doc_base, target)
                raise self.fail(f"{where}.{target}" if where else str(target),
                                f"target {target!r} has an empty part: write it as dotted names (office.code)")
        containers: dict[str, str] = {"": "o"}
        w.emit(1, "o = {}")
        for target in sorted(fields, key=lambda t: (t.count("."), t)):
            parts = target.split(".")
            for depth in range(1, len(parts)):
                prefix = ".".join(parts[:depth])
                if prefix not in containers:
                    var = f"o{len(containers)}"
                    containers[prefix] = var
                    parent = containers[".".join(parts[: depth - 1])]
                    w.emit(1, f"{var} = {parent}.setdefault({self.const(parts[depth - 1], 'k')}, {{}})")
        for target, raw_spec in fields.items():
            field_where = f"{where}.{target}" if where else target
            self._doc_path = (*self._doc_base, target)
            try:
                spec = self.normalise_spec(raw_spec, field_where)
                parts = target.split(".")
                container = containers[".".join(parts[:-1])]
                key = self.const(parts[-1], "k")
                w.emit(1, "try:")
                self._target = target
                self.emit_field(w, 2, spec, field_where)
                w.emit(2, f"{container}[{key}] = v")
                w.emit(1, "except _Issue as _e:")
                w.emit(2, f"_iss.append((_pfx + {target!r}, _e.rule, _e.message))")
            except ConfigError as exc:  # every field's mistake in one go, not one per attempt (compile() raises)
                self._mistakes.append(str(exc))
        w.emit(1, "return o")
        self.functions.append("\n".join(w.lines))
        return fn

    def _refuse_nested_targets(self, fields: Mapping[str, Any], where: str) -> None:
        """A target and a target inside it (``applicant`` and ``applicant.name``): whichever is set last overwrote
        the other, silently. Each clash is a mistake of the inner field (its line)."""
        for target in fields:
            parts = str(target).split(".")
            for depth in range(1, len(parts)):
                outer = ".".join(parts[:depth])
                if outer in fields:
                    self._doc_path = (*self._doc_base, target)
                    self._mistakes.append(str(self.fail(
                        f"{where}.{target}" if where else str(target),
                        f"{outer} and {target} are both targets: {target} is set inside {outer}, and one would "
                        f"overwrite the other: map {outer} as a whole or its parts ({target}, ...), not both")))

    def compile(self, fields: Mapping[str, Any]) -> tuple[MapFunction, str]:
        """The mapping function of ``fields``, or a :class:`ConfigError` naming every field written wrong (each
        with its line), not only the first: an engineer filling in a scaffold's skeleton fixes them in one pass."""
        self._mistakes: list[str] = []
        root = self.compile_object(fields, "")
        if len(self._mistakes) == 1:
            raise ConfigError(self._mistakes[0])
        if self._mistakes:
            raise ConfigError(f"{len(self._mistakes)} fields written wrong:\n" + "\n".join(self._mistakes))
        entry = (
            "def map_record(r, _ctx=None):\n"
            "    _iss = []\n"
            f"    o = {root}(r, _ctx or {{}}, _iss, '')\n"
            "    return o, _iss\n"
        )
        source = "\n\n".join([*self.functions, entry])
        try:
            code = compile(source, f"<mapping {self.where}>", "exec")
        except (SyntaxError, RecursionError, MemoryError) as exc:  # first: with 96 alternatives, not: 200 deep
            raise ConfigError(f"{self.where}: the mapping nests too deeply for Python to compile it "
                              f"({type(exc).__name__}: {getattr(exc, 'msg', exc)}): split a long first: or cases: "
                              "list, or a deep any/all/not, into fewer levels") from None
        exec(code, self.namespace)  # noqa: S102 - generated from validated specs; values enter as constants
        return self.namespace["map_record"], source
