"""The conversion steps of the mapping compiler: what happens to one value after it is read.

Each ``emit_*`` method writes Python source that transforms ``v`` in place (or raises ``_Issue``) and
returns whether the step can leave ``v`` null, so that the compiler guards the steps after it. Values from
the YAML enter the generated code through :meth:`StepEmitter.const`, never as code text.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from datetime import timezone
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.kernel.yamlfile import YamlDocument
from gateway.mapping import dates
from gateway.mapping.lookups import LookupTable
from gateway.mapping.values import _NOT_SCALAR, _cond_key

FLAGGED: dict[str, str] = {"mapping.code_table": "mapping.code_unknown", "mapping.lookup": "mapping.lookup_unknown",
                           "mapping.regex": "mapping.regex_no_match"}
"""A step's miss under ``on_unknown: flag`` / ``on_no_match: flag``: the quality rule it is flagged under (the field
left null, the record kept), by the rule ``error`` rejects under."""
FLAG_RULES: frozenset[str] = frozenset(FLAGGED.values())
"""The rules of mapping issues that flag a record instead of rejecting it (unless the mapping's ``rules:`` say)."""

_DEFAULT_TRUE = ("1", "true", "True", "TRUE", "Y", "y", "yes", "是")
_DEFAULT_FALSE = ("0", "false", "False", "FALSE", "N", "n", "no", "否")


class Writer:
    """Lines of generated source, indented four spaces a level."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


class StepEmitter:
    """Constants, errors and the per-value steps (slice, regex, type, code, lookup, date) of a compiler."""

    where: str
    namespace: dict[str, Any]
    code_tables: dict[str, dict[str, Any]]
    lookups: dict[str, LookupTable]
    tz_offset: str
    tz: timezone
    _counter: int
    _sets: dict[frozenset[Any], str]

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"_{prefix}{self._counter}"

    def const(self, value: Any, prefix: str = "c") -> str:
        """An expression for ``value``: a literal for plain scalars (their ``repr`` is a safe Python literal and
        loads faster than a global), otherwise a name bound in the generated module's namespace."""
        if value is None or value.__class__ in (str, int, float, bool):
            return repr(value)
        if value.__class__ is frozenset:  # null-token sets repeat on every field: one name each
            known = self._sets.get(value)
            if known is not None:
                return known
        name = self._name(prefix)
        self.namespace[name] = value
        if value.__class__ is frozenset:
            self._sets[value] = name
        return name

    def constant(self, value: Any, where: str, key: str) -> str:
        """:meth:`const` for a constant the mapping gives a field (``const``, ``default``, a branch's ``value`` or
        ``then``), checked first: YAML reads ``.nan``/``.inf`` as floats (``repr`` writes them as names the generated
        code does not have, and no record can hold them) and ``0b1…`` as an integer of any length."""
        if _non_finite(value):
            raise self.fail(where, f"{key} {value!r} is NaN or infinite (YAML reads .nan and .inf as numbers), which "
                                   f"no record can hold: quote it (\".nan\", \".inf\") if text was meant")
        if _too_long(value):
            raise self.fail(where, f"{key} is an integer of more than {sys.get_int_max_str_digits()} digits, longer "
                                   f"than any value a record holds: quote it if text was meant")
        if isinstance(value, (list, dict)):  # each record its own copy: one shared object was every record's, and
            return f"_copy({self.const(value)})"  # the mapping's own spec's (a caller's edit changed them all)
        return self.const(value)

    def flag(self, spec: Mapping[str, Any], key: str, where: str, *, default: bool = False,
             empty_is_default: bool = True) -> bool:
        """A yes/no setting (``required``, ``date_only`` …): a YAML boolean, or 1/0 as mappings written before this
        check say it; left empty (``required: ~``) it is the default, where the setting has one that reads so
        (``present: ~`` has none: present or absent is the whole condition). Text is refused, not guessed: ``'false'`` is
        truthy, so reading it as Python does would do the opposite of what was written."""
        value = spec.get(key, default)
        if value is None and empty_is_default:
            return default
        if value.__class__ is int and value in (0, 1):
            return bool(value)
        if value.__class__ is not bool:
            got = f"the text {value!r}" if isinstance(value, str) else repr(value)
            raise self.fail(where, f"{key} must be true or false (a boolean), got {got}: write {key}: true or "
                                   f"{key}: false, without quotes")
        return bool(value)

    def fail(self, where: str, message: str) -> ConfigError:
        """A mistake in the mapping, naming the file, the line of the field being compiled (when the document is
        known), the section and the setting: ``m.yaml: line 9: fields: deleted: in must be a list …``."""
        document: YamlDocument | None = getattr(self, "document", None)
        section: str | None = getattr(self, "section", None)
        path: tuple[Any, ...] = getattr(self, "_doc_path", ())
        if document is not None and section is not None:
            for end in range(len(path), 0, -1):  # the field's own line, else the nearest enclosing one known
                line = document.line(*path[:end])
                if line is not None:
                    return ConfigError(f"{document.where}: line {line}: {section}: {where}: {message}")
        return ConfigError(f"{self.where}: {where}: {message}")

    def _regex(self, pattern: Any, where: str) -> re.Pattern[str]:
        if not isinstance(pattern, str):
            raise self.fail(where, f"a regex must be a string, got {pattern!r}")
        shown = repr(pattern) if len(pattern) <= 60 else repr(pattern)[:57] + "..."
        too_deep = f"regex {shown} does not compile: it is nested too deeply (more than {_MAX_NESTING} groups inside " \
                   "one another)"
        if _group_depth(pattern) > _MAX_NESTING:  # checked, not left to Python's recursion limit (another library
            raise self.fail(where, too_deep)      # in the process may raise it, and then the parser recurses on)
        try:
            compiled = re.compile(pattern)
        except (re.error, OverflowError) as exc:  # a{4294967296}: the repetition number is too large
            raise self.fail(where, f"regex {shown} does not compile: {exc}") from None
        except RecursionError:
            raise self.fail(where, too_deep) from None
        if _nested_repetition(pattern):
            raise self.fail(where, f"regex {shown} repeats a group that itself repeats ((\\d+)+, (a*)*): on a value "
                                   "that almost matches it backtracks for minutes, and one such value in a record "
                                   "stops the sync. Repeat once: \\d+ for (\\d+)+")
        return compiled

    def emit_slice(self, w: Writer, indent: int, spec: Mapping[str, Any], where: str) -> bool:
        bounds = spec["slice"]
        if (not isinstance(bounds, list) or not 1 <= len(bounds) <= 2
                or not all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds)):
            raise self.fail(where, f"slice must be [start] or [start, end] (integers, Python-style), got {bounds!r}")
        start, end = (bounds + [None])[:2]
        w.emit(indent, f"v = (v if v.__class__ is str else _txt(v))[{start!r}:{end!r}] or None")
        return True

    def emit_regex(self, w: Writer, indent: int, spec: Mapping[str, Any], where: str) -> bool:
        regex = self._regex(spec["regex"], where)
        group = spec.get("group", 1 if regex.groups else 0)
        if isinstance(group, bool) or not (
            (isinstance(group, int) and 0 <= group <= regex.groups) or (isinstance(group, str) and group in regex.groupindex)
        ):
            raise self.fail(where, f"group {group!r} is not a group of regex {spec['regex']!r}")
        rx = self.const(regex, "rx")
        w.emit(indent, f"_m = {rx}.search(v if v.__class__ is str else _txt(v))")
        w.emit(indent, "if _m is None:")
        self._emit_miss(w, indent + 1, spec, "on_no_match", "mapping.regex", f"does not match {spec['regex']!r}",
                        where)
        w.emit(indent, "else:")
        w.emit(indent + 1, f"v = _m.group({group!r}) or None")
        return True

    def emit_lookup(self, w: Writer, indent: int, spec: Mapping[str, Any], where: str) -> bool:
        ref = spec["lookup"]
        if not isinstance(ref, Mapping) or set(ref) != {"table", "column"}:
            raise self.fail(where, f"lookup must be {{table: NAME, column: COLUMN}}, got {ref!r}")
        name, column = str(ref["table"]), str(ref["column"])
        table = self.lookups.get(name)
        if table is None:
            raise self.fail(where, f"lookup table {name!r} is not defined (have {sorted(self.lookups)})")
        if table.columns and column not in table.columns:
            raise self.fail(where, f"lookup table {name!r} has no column {column!r} (has {sorted(table.columns)})")
        w.emit(indent, f"_r = {self.const(table, 'lk')}.find(v if v.__class__ is str else _txt(v))")
        w.emit(indent, "if _r is None:")
        self._emit_miss(w, indent + 1, spec, "on_unknown", "mapping.lookup", f"is not in lookup table {name!r}",
                        where)
        w.emit(indent, "else:")
        w.emit(indent + 1, f"v = _r.get({self.const(column)})")
        return True

    def _emit_miss(self, w: Writer, indent: int, spec: Mapping[str, Any], key: str, rule: str, said: str,
                   where: str, *, default: str = "null") -> None:
        """What a step does when it finds nothing (a regex without a match, a key not in a lookup or code table):
        the spec's ``key`` says ``null`` (the value becomes null), ``flag`` (null, and a quality flag under the
        rule's flagged twin — :data:`~gateway.mapping.compiler.FLAGGED`: the record goes on, the finding is
        counted), ``error`` (reject under ``rule``) or ``keep`` (the value stays as it was). YAML reads a bare
        ``null`` as None."""
        policy = spec.get(key, default)
        if policy in ("null", None):
            w.emit(indent, "v = None")
        elif policy == "flag":  # the field's wrapper records the issue and leaves the field out (null)
            w.emit(indent, f"raise _Issue({FLAGGED[rule]!r}, 'value %s %s: left null' % (_short(v), "
                           f"{self.const(said)}))")
        elif policy == "error":
            w.emit(indent, f"raise _Issue({rule!r}, 'value %s %s' % (_short(v), {self.const(said)}))")
        elif policy == "keep":
            w.emit(indent, "pass")
        else:
            raise self.fail(where, f"{key} must be null, flag, error or keep, got {policy!r}")

    def emit_type(self, w: Writer, indent: int, spec: Mapping[str, Any], where: str) -> bool:
        kind = spec["type"]
        if kind in ("int", "float"):
            # never a silent change of the value: 1.9 is not the int 1, true is not 1, NaN and 1e400 are no float
            w.emit(indent, "try:")
            if kind == "int":
                w.emit(indent + 1, "if v.__class__ is bool or (v.__class__ is float and not v.is_integer()):")
                w.emit(indent + 2, "raise ValueError")
                # a SOAP client's xsd:decimal: int(Decimal('1E+999999')) costs a minute, and 2.5 is not the int 2
                w.emit(indent + 1, "v = int(v) if v.__class__ is not _Decimal else _decimal_int(v)")
            else:
                w.emit(indent + 1, "if v.__class__ is bool:")
                w.emit(indent + 2, "raise ValueError")
                w.emit(indent + 1, "v = float(v)")
                w.emit(indent + 1, "if v != v or v - v != 0.0:  # NaN, or infinite")
                w.emit(indent + 2, "raise ValueError")
            w.emit(indent, "except (TypeError, ValueError, ArithmeticError):")
            w.emit(indent + 1, f"raise _Issue('mapping.type', 'value %s is not {'an' if kind == 'int' else 'a finite'} {kind}' % _short(v))")
        elif kind == "str":
            # numbers become their text; an object, a list, true/false or NaN has no text a field should hold
            w.emit(indent, "if v.__class__ is not str:")
            w.emit(indent + 1, "try:")
            w.emit(indent + 2, "v = _as_text(v)")
            w.emit(indent + 1, "except _TextRefused as _e:")
            w.emit(indent + 2, "raise _Issue('mapping.type', 'value %s is %s, not text or a number' % (_short(v), _e))")
        elif kind == "bool":
            # a yes/no the system writes its own way (是/否, Y/N, 收费/免费): true for a true value, false for a false
            # one, and anything else is no yes/no at all — never read as "no" (a county writing 收费 is not free)
            truthy = self.const(self._bool_values(spec, "true_values", _DEFAULT_TRUE, where))
            falsy = self.const(self._bool_values(spec, "false_values", _DEFAULT_FALSE, where))
            w.emit(indent, "if v.__class__ is not bool:")
            # 1, 1.0 and "1"; Yes, YES and yes: the same answer whatever the type or case the system wrote it in
            w.emit(indent + 1, "_k = (str(int(v)) if v.__class__ is float and v.is_integer() else str(v)).strip().casefold()")
            w.emit(indent + 1, "_k = _k[:-2] if _k.endswith('.0') and _k[:-2].isdigit() else _k")
            w.emit(indent + 1, "if not _k:")  # blank (spaces, a full-width space): no value, as an empty string is
            w.emit(indent + 2, "v = None")
            w.emit(indent + 1, f"elif _k in {truthy}:")
            w.emit(indent + 2, "v = True")
            w.emit(indent + 1, f"elif _k in {falsy}:")
            w.emit(indent + 2, "v = False")
            w.emit(indent + 1, "else:")
            w.emit(indent + 2, "raise _Issue('mapping.type', 'value %s is neither one of the true_values nor one of the "
                               "false_values' % _short(v))")
        else:
            raise self.fail(where, f"type must be int, float, str or bool, got {kind!r}")
        return False

    def _bool_values(self, spec: Mapping[str, Any], key: str, default: tuple[str, ...], where: str) -> frozenset[str]:
        values = spec.get(key, list(default))
        if (not isinstance(values, list) or not values
                or not all(x.__class__ in (str, int, float, bool) for x in values)):
            raise self.fail(where, f"{key} must be a non-empty list of values (text, numbers), got "
                                   f"{values!r}: write {key}: [{values!r}] for one value")
        found = frozenset(str(x).strip().casefold() for x in values)
        if key == "false_values":
            truthy = {str(x).strip().casefold() for x in spec.get("true_values", list(_DEFAULT_TRUE))}
            if found & truthy:
                raise self.fail(where, f"false_values and true_values share {sorted(found & truthy)!r}")
        return found

    def emit_code(self, w: Writer, indent: int, spec: Mapping[str, Any], where: str) -> bool:
        table_ref = spec["code"]
        if isinstance(table_ref, str):
            table, label = self._named(table_ref, where), table_ref
        elif isinstance(table_ref, Mapping) and "table" in table_ref and set(table_ref) <= {"table", "invert"}:
            # {table: NAME} reads the named table as `code: NAME` does; {table: NAME, invert: true} backwards. (Read
            # as an inline table, {table: NAME} mapped the code "table" to NAME and every real value to nothing.)
            invert = table_ref.get("invert", False)
            if not isinstance(invert, bool):
                raise self.fail(where, f"code: invert must be true or false, got {invert!r}")
            if invert:
                table, label = self._inverted(table_ref["table"], where), f"{table_ref['table']} (inverted)"
            else:
                table, label = self._named(table_ref["table"], where), str(table_ref["table"])
        elif isinstance(table_ref, Mapping):
            table, label = {str(k): val for k, val in table_ref.items()}, "inline"
        else:
            raise self.fail(where, "code must name a code table or be an inline mapping")
        on_unknown = spec.get("on_unknown", "error")
        name = self.const(table, "ct")
        # the code as conditions read it (one function, _ck): stripped text, 5.0 and 5 the code "5"; true and false
        # are "1" and "0" only in a table of those two codes (a flag): in any other a boolean is no code — a
        # result of false was read as the code "0", 已办结 with a certificate issued, and nothing said so
        if set(table) <= {"0", "1"}:
            w.emit(indent, "_k = v.strip() if v.__class__ is str else _ck(v, None)")
        else:
            w.emit(indent, "_k = v.strip() if v.__class__ is str else None if v.__class__ is bool else _ck(v, None)")
        w.emit(indent, f"_c = {name}.get(_k, _Issue)")
        w.emit(indent, "if _c is _Issue:")
        self._emit_miss(w, indent + 1, spec, "on_unknown", "mapping.code_table", f"is not in code table {label!r}",
                        where, default="error")
        w.emit(indent, "else:")
        w.emit(indent + 1, "v = _c")
        return on_unknown in ("null", "flag", None)

    def _named(self, name: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(name, str) or name not in self.code_tables:
            raise self.fail(where, f"code table {name!r} is not defined (have {sorted(self.code_tables)})")
        return self.code_tables[name]  # type: ignore[no-any-return]

    def _inverted(self, name: str, where: str) -> dict[str, Any]:
        """A code table read backwards, for outbound mappings: canonical value -> the system's code."""
        inverted: dict[str, Any] = {}
        for code, value in self._named(name, where).items():
            key = _cond_key(value, None)  # as the value is looked up (emit_code): true is "1", 2.0 is "2"
            if key is not None and key is not _NOT_SCALAR:
                inverted.setdefault(key, code)  # several codes for one value: the first one is the system's usual
        return inverted

    def emit_date(self, w: Writer, indent: int, spec: Mapping[str, Any], where: str) -> bool:
        date_spec = spec["date"]
        target = None
        if isinstance(date_spec, Mapping):
            unknown = set(date_spec) - {"from", "to"}
            if unknown:  # {format: yyyyMMdd} was read as iso8601, silently
                raise self.fail(where, f"date has unknown key(s) {sorted(map(str, unknown))}; expected from (the "
                                       f"format(s) read) and to (the format written, outbound)")
            target = date_spec.get("to")
            if target is not None and not isinstance(target, str):
                raise self.fail(where, f"date to must be one format written as text (a pattern such as "
                                       f"yyyyMMddHHmmss, or iso8601, epoch_ms, epoch_s), got {target!r}: quote it "
                                       f"if YAML read it as something else")
            formats = date_spec.get("from", "iso8601")
        else:
            formats = date_spec
        formats = [formats] if isinstance(formats, str) else formats
        if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
            raise self.fail(where, f"date must name a format or give a non-empty list of formats, got {formats!r}")
        date_only = self.flag(spec, "date_only", where)
        if target and target not in dates.SPECIAL_FORMATS:
            try:  # checked now, not at the first push that formats a date with it
                dates.compile_pattern(target)
            except ConfigError as exc:
                raise self.fail(where, f"date to: {exc}") from None
        w.emit(indent, "_d = None")
        epoch = any(fmt in ("epoch_ms", "epoch_s") for fmt in formats)
        if epoch:
            w.emit(indent, "_eh = ''")
        for fmt in formats:
            w.emit(indent, "if _d is None:")
            if fmt == "iso8601":
                w.emit(indent + 1, "try:")  # free unless raised (3.11): an instant outside the years 1-9999 here
                w.emit(indent + 2, f"_d = _iso_normalise(v, _OFFSET, date_only={date_only}) if v.__class__ is str else None")
                w.emit(indent + 1, "except ValueError as _e:")
                w.emit(indent + 2, "raise _Issue('mapping.date_format', 'value %s is %s' % (_short(v), _e))")
            elif fmt in ("epoch_ms", "epoch_s"):
                w.emit(indent + 1, "try:")
                w.emit(indent + 2, f"_d = _iso_from_epoch(v, _TZ, millis={fmt == 'epoch_ms'}, date_only={date_only})")
                w.emit(indent + 1, "except _EpochUnitError as _e:")  # seconds as ms: 1970 otherwise, said
                w.emit(indent + 2, "_d, _eh = None, ' — it ' + str(_e)")
                w.emit(indent + 1, "except (TypeError, ValueError, ArithmeticError, OSError):")  # decimal's too
                w.emit(indent + 2, "_d = None")
            else:
                try:
                    compiled = dates.compile_pattern(fmt)
                except ConfigError as exc:
                    raise self.fail(where, str(exc)) from None
                rx = self.const(compiled.regex, "rx")
                build = compiled.iso_expression("_g", self.tz_offset, date_only=date_only)
                # an integer is matched as its digits: Java backends send 20261207 as a JSON number (not a bool)
                w.emit(indent + 1, f"_m = {rx}.fullmatch(v) if v.__class__ is str else "
                                   f"{rx}.fullmatch(str(v)) if v.__class__ is int and 0 <= v < 10 ** 20 else None")
                w.emit(indent + 1, "if _m is not None:")
                w.emit(indent + 2, "_g = _m.groups()")
                w.emit(indent + 2, f"_d = {build}")
        msg = self.const(f"does not match the date format(s) {', '.join(formats)}")
        unpadded = _unpadded_variant(formats)
        w.emit(indent, "if _d is None:")
        if unpadded is None:
            tail = " + _eh" if epoch else ""
            w.emit(indent + 1, f"raise _Issue('mapping.date_format', 'value %s %s' % (_short(v), {msg}){tail})")
        else:  # a cold path: only a value that failed pays for the second look
            rx = self.const(dates.compile_pattern(unpadded).regex, "rx")
            hint = self.const(f" — it matches {unpadded} (numbers without their leading zero, as .NET's M/d/H "
                              f"write them): add that format to the list")
            w.emit(indent + 1, f"_h = {hint} if v.__class__ is str and {rx}.fullmatch(v) is not None else ''")
            w.emit(indent + 1, f"raise _Issue('mapping.date_format', 'value %s %s%s' % (_short(v), {msg}, _h))")
        if target and target != "iso8601":
            w.emit(indent, "try:")
            w.emit(indent + 1, f"_d = _format_datetime(_d, {self.const(target)}, _TZ)")
            w.emit(indent, "except ValueError as _e:")
            w.emit(indent + 1, "raise _Issue('mapping.date_value', 'value %s is not a real date: %s' % (_short(v), _e))")
        w.emit(indent, "v = _d")
        return False


_MAX_NESTING = 100
"""The deepest nesting of groups a mapping's regex may have (no real pattern comes near it)."""


_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


def _nested_repetition(pattern: str) -> bool:
    """Whether the pattern repeats (more than once) something that itself repeats: the shape that makes Python's
    backtracking engine take exponential time on a near-match. (Overlapping alternatives, ``(a|ab)*``, are not
    caught.)"""
    try:
        from re import _parser as parser  # type: ignore[attr-defined]  # Python 3.11+
    except ImportError:  # pragma: no cover - older Pythons
        import sre_parse as parser  # type: ignore[no-redef]

    unbounded = parser.MAXREPEAT

    def repeats(items: Any, inside: bool) -> bool:
        """``inside``: within a repetition without an upper bound; a variable repetition there is the finding
        (an exact one, ``(\\d{2})+``, splits a value one way only)."""
        for op, arg in items:
            name = str(op)
            if name in _REPEATS:
                low, high, body = arg
                if inside and low != high:
                    return True
                if repeats(body, inside or high == unbounded):
                    return True
            elif name == "SUBPATTERN":
                if repeats(arg[-1], inside):
                    return True
            elif name == "BRANCH":
                if any(repeats(alternative, inside) for alternative in arg[1]):
                    return True
            elif name in ("ASSERT", "ASSERT_NOT"):
                if repeats(arg[1], inside):
                    return True
        return False

    try:
        return repeats(parser.parse(pattern), False)
    except Exception:  # noqa: BLE001 - compiled above: a parser this check cannot read is no finding
        return False


def _group_depth(pattern: str) -> int:
    """How deep the pattern's groups nest (escapes and character classes skipped)."""
    depth = deepest = 0
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
    return deepest


def _non_finite(value: Any) -> bool:
    """Whether a constant is, or holds, a NaN or an infinite float."""
    if value.__class__ is float:
        return bool(value != value or value - value != 0.0)
    if isinstance(value, Mapping):
        return any(_non_finite(k) or _non_finite(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(item) for item in value)
    return False


def _too_long(value: Any) -> bool:
    """Whether a constant is an integer Python cannot write as text (``repr`` raises past 4300 digits)."""
    if value.__class__ is not int:
        return False
    try:
        repr(value)
    except ValueError:
        return True
    return False


__all__ = ["StepEmitter", "Writer"]


_PADDED = (("yyyy", "yyyy"), ("MM", "M"), ("dd", "d"), ("HH", "H"))
"""Month, day and hour: the fields systems write without a leading zero (.NET's zh-CN ``yyyy/M/d H:mm:ss``);
minutes and seconds keep theirs."""


def _unpadded_variant(formats: list[str]) -> str | None:
    """The first pattern among ``formats`` with its two-digit fields written unpadded (``yyyy年MM月dd日 HH:mm`` →
    ``yyyy年M月d日 H:mm``), when that is a different pattern not listed already; else None."""
    for fmt in formats:
        if fmt in dates.SPECIAL_FORMATS:
            continue
        out, i = [], 0
        while i < len(fmt):
            for token, short in _PADDED:
                if fmt.startswith(token, i):
                    out.append(short)
                    i += len(token)
                    break
            else:
                out.append(fmt[i])
                i += 1
        variant = "".join(out)
        if variant != fmt and variant not in formats:
            try:
                dates.compile_pattern(variant)
            except ConfigError:
                return None
            return variant
    return None
