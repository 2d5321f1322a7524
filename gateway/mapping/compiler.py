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
    events: {list: [{from: steps, fields: {...}}, {from: specials, fields: {...}}]}
    seq: {position: true}                                # inside a list item: its 1-based place in the list
    version: {context: version}                          # outbound: values the push job passes in

Modifiers: ``required``, ``default``, ``type`` (int, float, str, bool), ``blank_as_null``, ``date_only``,
``date: {from: iso8601, to: "yyyyMMddHHmmss"}`` (outbound), ``on_unknown: error|null|keep`` for code tables.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import timezone
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.mapping import dates

MapFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[dict[str, Any], list[tuple[str, str, str]]]]

_VALUE_KEYS = {"path", "const", "concat", "cases", "any", "all", "list", "context", "position"}
_MODIFIER_KEYS = {
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
}
_NORMALIZERS = {
    "strip": "v = v.strip()",
    "nfkc": "v = v if v.isascii() else _nfkc('NFKC', v)",
    "strip_all_spaces": "v = _WS.sub('', v)",
    "squash_spaces": "v = _WS.sub(' ', v).strip()",
    "upper": "v = v.upper()",
    "lower": "v = v.lower()",
}
_WS = re.compile(r"\s+")
_DEFAULT_TRUE = ("1", "true", "True", "TRUE", "Y", "y", "yes", "是")


class _Issue(Exception):
    """Raised inside generated code for one field; caught per field so every broken field is reported."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.message = message


def _dig(record: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        if record is None:
            return None
        if key.__class__ is int:
            record = record[key] if record.__class__ is list and -len(record) <= key < len(record) else None  # type: ignore[operator]
        else:
            record = record.get(key) if isinstance(record, dict) else None
    return record


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


class MappingCompiler:
    """Turns the ``fields`` of one mapping (and its code tables) into Python source."""

    def __init__(
        self,
        *,
        where: str,
        code_tables: Mapping[str, Mapping[Any, Any]],
        tz_offset: str,
        default_normalize: list[str],
    ) -> None:
        self.where = where
        self.code_tables = {name: {str(k): v for k, v in table.items()} for name, table in code_tables.items()}
        self.tz_offset = tz_offset
        self.tz: timezone = dates.parse_offset(tz_offset)
        self.default_normalize = default_normalize
        self.namespace: dict[str, Any] = {
            "_Issue": _Issue,
            "_dig": _dig,
            "_short": _short,
            "_nfkc": unicodedata.normalize,
            "_WS": _WS,
            "_iso_from_epoch": dates.iso_from_epoch,
            "_iso_normalise": dates.iso_normalise,
            "_format_datetime": dates.format_datetime,
            "_TZ": self.tz,
            "_OFFSET": tz_offset,
        }
        self.functions: list[str] = []
        self._counter = 0
        self._target = ""

    # -- constants and names ---------------------------------------------------------------------------

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"_{prefix}{self._counter}"

    def const(self, value: Any, prefix: str = "c") -> str:
        """An expression for ``value``: a literal for plain scalars (their ``repr`` is a safe Python literal and
        loads faster than a global), otherwise a name bound in the generated module's namespace."""
        if value is None or value.__class__ in (str, int, float, bool):
            return repr(value)
        name = self._name(prefix)
        self.namespace[name] = value
        return name

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {where}: {message}")

    # -- reading source values -------------------------------------------------------------------------

    def get_expr(self, path: Any, where: str) -> str:
        if not isinstance(path, str) or not path:
            raise self.fail(where, f"path must be a non-empty string, got {path!r}")
        if path == "$":
            return "r"
        keys: list[str | int] = [int(p) if re.fullmatch(r"-?\d+", p) else p for p in path.split(".")]
        if len(keys) == 1 and isinstance(keys[0], str):
            return f"r.get({self.const(keys[0], 'k')})"
        return f"_dig(r, {self.const(tuple(keys), 'p')})"

    def condition_expr(self, cond: Any, where: str) -> str:
        if not isinstance(cond, Mapping):
            raise self.fail(where, f"a condition must be a mapping, got {cond!r}")
        if "any" in cond:
            return "(" + " or ".join(self.condition_expr(c, where) for c in cond["any"]) + ")"
        if "all" in cond:
            return "(" + " and ".join(self.condition_expr(c, where) for c in cond["all"]) + ")"
        if "not" in cond:
            return f"(not {self.condition_expr(cond['not'], where)})"
        if "path" not in cond:
            raise self.fail(where, f"condition {dict(cond)!r} needs path (or any/all/not)")
        get = self.get_expr(cond["path"], where)
        if "equals" in cond:
            return f"({get} == {self.const(cond['equals'])})"
        if "in" in cond:
            return f"({get} in {self.const(frozenset(cond['in']))})"
        if "not_in" in cond:
            return f"({get} not in {self.const(frozenset(cond['not_in']))})"
        if "present" in cond:
            return f"(({get}) not in (None, '')) is {bool(cond['present'])}"
        raise self.fail(where, f"condition {dict(cond)!r} needs equals, in, not_in or present")

    # -- one field -------------------------------------------------------------------------------------

    def normalise_spec(self, spec: Any, where: str) -> dict[str, Any]:
        if isinstance(spec, str):
            return {"path": spec}
        if not isinstance(spec, Mapping):
            raise self.fail(where, f"expected a source path or a mapping, got {spec!r}")
        keys = set(spec)
        value_keys = keys & _VALUE_KEYS
        unknown = keys - _VALUE_KEYS - _MODIFIER_KEYS - {"from", "fields"}
        if unknown:
            raise self.fail(where, f"unknown key(s) {sorted(unknown)}; expected {sorted(_VALUE_KEYS | _MODIFIER_KEYS)}")
        if len(value_keys) != 1:
            raise self.fail(where, f"needs exactly one of {sorted(_VALUE_KEYS)}, got {sorted(value_keys) or 'none'}")
        return dict(spec)

    def emit_field(self, w: _Writer, indent: int, spec: dict[str, Any], where: str) -> None:
        """Emit code that leaves the field's value in ``v`` or raises ``_Issue``."""
        if "list" in spec:
            self.emit_list(w, indent, spec, where)
            return
        if "const" in spec:
            w.emit(indent, f"v = {self.const(spec['const'])}")
            return
        if "position" in spec:
            w.emit(indent, "v = _pos")
            return
        if "context" in spec:
            w.emit(indent, f"v = _ctx.get({self.const(spec['context'])})")
        elif "path" in spec:
            w.emit(indent, f"v = {self.get_expr(spec['path'], where)}")
        elif "concat" in spec:
            parts = []
            for part in spec["concat"]:
                if isinstance(part, Mapping) and "const" in part:
                    parts.append(self.const(str(part["const"])))
                else:
                    parts.append(self.get_expr(part, where))
            sep = self.const(str(spec.get("sep", "")))
            w.emit(indent, f"_parts = [str(_x) for _x in ({', '.join(parts)},) if _x not in (None, '')]")
            w.emit(indent, f"v = {sep}.join(_parts) if _parts else None")
        elif "cases" in spec:
            branches = spec["cases"]
            if not isinstance(branches, list) or not branches:
                raise self.fail(where, "cases must be a non-empty list")
            first = True
            for branch in branches:
                if "when" in branch:
                    keyword = "if" if first else "elif"
                    w.emit(indent, f"{keyword} {self.condition_expr(branch['when'], where)}:")
                else:
                    w.emit(indent, "else:" if not first else "if True:")
                w.emit(indent + 1, f"v = {self.const(branch.get('value'))}")
                first = False
            if all("when" in b for b in branches):
                w.emit(indent, "else:")
                w.emit(indent + 1, "v = None")
        elif "any" in spec or "all" in spec:
            w.emit(indent, f"v = bool({self.condition_expr(spec, where)})")
            return
        self.emit_pipeline(w, indent, spec, where)

    def emit_pipeline(self, w: _Writer, indent: int, spec: dict[str, Any], where: str) -> None:
        typed = any(k in spec for k in ("code", "date", "type"))
        blank_as_null = spec.get("blank_as_null", typed)
        w.emit(indent, "if v is None or v == '':" if blank_as_null else "if v is None:")
        if spec.get("required"):
            w.emit(indent + 1, f"raise _Issue('mapping.required', {self.const(f'no value at {self._src(spec)}')})")
        else:
            w.emit(indent + 1, f"v = {self.const(spec.get('default'))}")
        w.emit(indent, "else:")
        body = indent + 1
        ops = spec.get("normalize", self.default_normalize if "path" in spec or "concat" in spec else [])
        if isinstance(ops, str):
            ops = [ops]
        if ops:
            w.emit(body, "if v.__class__ is str:")
            for op in ops:
                if op not in _NORMALIZERS:
                    raise self.fail(where, f"unknown normalize step {op!r}; expected one of {sorted(_NORMALIZERS)}")
                w.emit(body + 1, _NORMALIZERS[op])
        if "type" in spec:
            self.emit_type(w, body, spec, where)
        if "code" in spec:
            self.emit_code(w, body, spec, where)
        if "date" in spec:
            self.emit_date(w, body, spec, where)
        w.emit(body, "pass  # nothing to convert")

    def _src(self, spec: Mapping[str, Any]) -> str:
        for key in ("path", "context", "concat", "cases"):
            if key in spec:
                return f"{key} {spec[key]!r}"
        return "source"

    def emit_type(self, w: _Writer, indent: int, spec: Mapping[str, Any], where: str) -> None:
        kind = spec["type"]
        if kind in ("int", "float"):
            w.emit(indent, "try:")
            w.emit(indent + 1, f"v = {kind}(v)")
            w.emit(indent, "except (TypeError, ValueError):")
            w.emit(indent + 1, f"raise _Issue('mapping.type', 'value %s is not {'an' if kind == 'int' else 'a'} {kind}' % _short(v))")
        elif kind == "str":
            w.emit(indent, "v = v if v.__class__ is str else str(v)")
        elif kind == "bool":
            truthy = self.const(frozenset(spec.get("true_values", _DEFAULT_TRUE)))
            w.emit(indent, f"v = v if v.__class__ is bool else (v == 1 if v.__class__ is int else str(v) in {truthy})")
        else:
            raise self.fail(where, f"type must be int, float, str or bool, got {kind!r}")

    def emit_code(self, w: _Writer, indent: int, spec: Mapping[str, Any], where: str) -> None:
        table_ref = spec["code"]
        if isinstance(table_ref, str):
            if table_ref not in self.code_tables:
                raise self.fail(where, f"code table {table_ref!r} is not defined (have {sorted(self.code_tables)})")
            table, label = self.code_tables[table_ref], table_ref
        elif isinstance(table_ref, Mapping) and set(table_ref) == {"table", "invert"}:
            table, label = self._inverted(table_ref["table"], where), f"{table_ref['table']} (inverted)"
        elif isinstance(table_ref, Mapping):
            table, label = {str(k): val for k, val in table_ref.items()}, "inline"
        else:
            raise self.fail(where, "code must name a code table or be an inline mapping")
        on_unknown = spec.get("on_unknown", "error")
        name = self.const(table, "ct")
        w.emit(indent, "_k = v if v.__class__ is str else str(v)")
        w.emit(indent, f"_c = {name}.get(_k, _Issue)")
        w.emit(indent, "if _c is _Issue:")
        if on_unknown == "error":
            msg = self.const(f"is not in code table {label!r}")
            w.emit(indent + 1, f"raise _Issue('mapping.code_table', 'value %s %s' % (_short(v), {msg}))")
        elif on_unknown in ("null", None):  # YAML reads a bare null as None
            w.emit(indent + 1, "_c = None")
        elif on_unknown == "keep":
            w.emit(indent + 1, "_c = v")
        else:
            raise self.fail(where, f"on_unknown must be error, null or keep, got {on_unknown!r}")
        w.emit(indent, "v = _c")

    def _inverted(self, name: str, where: str) -> dict[str, Any]:
        """A code table read backwards, for outbound mappings: canonical value -> the system's code."""
        if name not in self.code_tables:
            raise self.fail(where, f"code table {name!r} is not defined (have {sorted(self.code_tables)})")
        inverted: dict[str, Any] = {}
        for code, value in self.code_tables[name].items():
            inverted.setdefault(str(value), code)  # several codes for one value: the first one is the system's usual
        return inverted

    def emit_date(self, w: _Writer, indent: int, spec: Mapping[str, Any], where: str) -> None:
        date_spec = spec["date"]
        target = None
        if isinstance(date_spec, Mapping):
            target = date_spec.get("to")
            formats = date_spec.get("from", "iso8601")
        else:
            formats = date_spec
        formats = [formats] if isinstance(formats, str) else list(formats)
        date_only = bool(spec.get("date_only"))
        w.emit(indent, "_d = None")
        for fmt in formats:
            w.emit(indent, "if _d is None:")
            if fmt == "iso8601":
                w.emit(indent + 1, f"_d = _iso_normalise(v, _OFFSET, date_only={date_only}) if v.__class__ is str else None")
            elif fmt in ("epoch_ms", "epoch_s"):
                w.emit(indent + 1, "try:")
                w.emit(indent + 2, f"_d = _iso_from_epoch(v, _TZ, millis={fmt == 'epoch_ms'}, date_only={date_only})")
                w.emit(indent + 1, "except (TypeError, ValueError, OverflowError, OSError):")
                w.emit(indent + 2, "_d = None")
            else:
                try:
                    compiled = dates.compile_pattern(fmt)
                except ConfigError as exc:
                    raise self.fail(where, str(exc)) from None
                rx = self.const(compiled.regex, "rx")
                build = compiled.iso_expression("_g", self.tz_offset, date_only=date_only)
                w.emit(indent + 1, f"_m = {rx}.fullmatch(v) if v.__class__ is str else None")
                w.emit(indent + 1, "if _m is not None:")
                w.emit(indent + 2, "_g = _m.groups()")
                w.emit(indent + 2, f"_d = {build}")
        msg = self.const(f"does not match the date format(s) {', '.join(formats)}")
        w.emit(indent, "if _d is None:")
        w.emit(indent + 1, f"raise _Issue('mapping.date_format', 'value %s %s' % (_short(v), {msg}))")
        if target and target != "iso8601":
            w.emit(indent, "try:")
            w.emit(indent + 1, f"_d = _format_datetime(_d, {self.const(target)}, _TZ)")
            w.emit(indent, "except ValueError as _e:")
            w.emit(indent + 1, "raise _Issue('mapping.date_value', 'value %s is not a real date: %s' % (_short(v), _e))")
        w.emit(indent, "v = _d")

    def emit_list(self, w: _Writer, indent: int, spec: Mapping[str, Any], where: str) -> None:
        target = self._target  # the list's own path in its object, for issue paths like events.2.started_at
        sources = spec["list"]
        if isinstance(sources, Mapping):
            sources = [sources]
        w.emit(indent, "v = []")
        for i, source in enumerate(sources):
            if not isinstance(source, Mapping) or "from" not in source or "fields" not in source:
                raise self.fail(f"{where}.list[{i}]", "each list source needs from and fields")
            item_fn = self.compile_object(source["fields"], f"{where}.list[{i}]")
            w.emit(indent, f"_s = {self.get_expr(source['from'], where)}")
            w.emit(indent, "if _s:")
            w.emit(indent + 1, "if _s.__class__ is not list: _s = [_s]")
            w.emit(indent + 1, "for _x in _s:")
            w.emit(indent + 2, f"v.append({item_fn}(_x, _ctx, _iss, '%s%s.%d.' % (_pfx, {target!r}, len(v)), len(v) + 1))")

    # -- an object (the record, or one list item) -------------------------------------------------------

    def compile_object(self, fields: Any, where: str) -> str:
        if not isinstance(fields, Mapping) or not fields:
            raise self.fail(where, "fields must be a non-empty mapping of target path -> spec")
        fn = self._name("obj")
        w = _Writer()
        w.emit(0, f"def {fn}(r, _ctx, _iss, _pfx, _pos=0):")
        w.emit(1, "if r.__class__ is not dict:")
        w.emit(2, "_iss.append((_pfx.rstrip('.') or '$', 'mapping.shape', 'expected an object, got %s' % _short(r)))")
        w.emit(2, "return None")
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
        w.emit(1, "return o")
        self.functions.append("\n".join(w.lines))
        return fn

    def compile(self, fields: Mapping[str, Any]) -> tuple[MapFunction, str]:
        root = self.compile_object(fields, "")
        entry = (
            "def map_record(r, _ctx=None):\n"
            "    _iss = []\n"
            f"    o = {root}(r, _ctx or {{}}, _iss, '')\n"
            "    return o, _iss\n"
        )
        source = "\n\n".join([*self.functions, entry])
        code = compile(source, f"<mapping {self.where}>", "exec")
        exec(code, self.namespace)  # noqa: S102 - generated from validated specs; values enter as constants
        return self.namespace["map_record"], source
