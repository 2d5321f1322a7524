"""The mapping language, described once: every key with what it does and an example that is *run*.

``docs/mapping-reference.md`` is generated from :data:`OPERATIONS` (``python -m gateway.mapping.reference``):
each example is compiled and applied to its sample record when the page is generated, so the output shown
is what the compiler does, and an example that stops working fails the reference's drift test. A key the
compiler accepts but this table does not describe fails ``tests/mapping/test_reference_drift.py`` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Section = Literal["Top level", "Sources", "Short forms", "Modifiers", "Conditions"]
SECTIONS: tuple[Section, ...] = ("Top level", "Sources", "Short forms", "Modifiers", "Conditions")


@dataclass(frozen=True, slots=True)
class Example:
    """A mapping fragment (without ``system``/``version``) and a record to run it on."""

    yaml: str
    record: dict[str, Any]
    direction: Literal["inbound", "outbound"] = "inbound"
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Operation:
    key: str
    section: Section
    summary: str
    example: Example | None = None
    also: tuple[str, ...] = ()
    """Keys documented together with this one (``group`` and ``on_no_match`` with ``regex``)."""


OPERATIONS: tuple[Operation, ...] = (
    # -- top level ---------------------------------------------------------------------------------------------
    Operation("system", "Top level", "The system's name as in the systems file (required)."),
    Operation("version", "Top level", "The mapping's version (required). Recorded with every record it maps, "
              "together with a fingerprint of the file and its lookup files, so `tongban remap` knows what a "
              "fixed mapping should be re-applied to."),
    Operation("description", "Top level", "Free text for people."),
    Operation("fields", "Top level", "Canonical dotted path → field spec, for records read from the system "
              "(required). A string is a source path; a mapping is a spec built from the keys below. A target and "
              "a target inside it (`applicant` and `applicant.name`) are refused at load: one would overwrite the "
              "other."),
    Operation("outbound", "Top level", "`fields:` for the other direction: canonical record → the system's "
              "write format, for pushes.", Example(
                  'code_tables:\n  result: {"0": issued, "1": not_permitted}\n'
                  "fields:\n  result: {path: r, code: result}\n"
                  "outbound:\n  fields:\n"
                  "    BJJG: {path: result, code: {table: result, invert: true}}\n"
                  "    BJSJ: {path: finished_at, date: {to: yyyyMMddHHmmss}}\n"
                  "    version: {context: version}\n",
                  {"result": "issued", "finished_at": "2024-03-05T16:00:00+08:00"},
                  direction="outbound", context={"version": 3})),
    Operation("timezone", "Top level", "Offset of the system's local times (default `+08:00`); dates without "
              "an offset get it, written `+08:00` however the offset is spaced (`\"+08:00 \"`) or whether it has its "
              "colon (`+0800`)."),
    Operation("normalize", "Top level", "Normalisation steps for every field read by `path` or `concat` "
              "(default `[strip]`); a field's own `normalize` replaces it."),
    Operation("null_tokens", "Top level", "Strings the system writes for \"no value\". A source value equal to "
              "one (after stripping spaces), or blank / whitespace-only, becomes null *before* any other step "
              "— dates included — and counts as absent in `present` conditions. A field's own `null_tokens` "
              "replaces the list; `null_tokens: []` switches it off for that field. Without `null_tokens`, "
              "an empty string stays an empty string for text fields.", Example(
                  'null_tokens: ["null", "NULL", "-", "无", "0000-00-00 00:00:00"]\n'
                  "fields:\n"
                  '  finished_at: {path: finishTime, date: "yyyy-MM-dd HH:mm:ss"}\n'
                  "  result_reason: reason\n"
                  "  handler: handler\n"
                  "  raw_reason: {path: reason, null_tokens: []}\n",
                  {"finishTime": "null", "reason": " - ", "handler": "   "})),
    Operation("unread_source_fields", "Top level", "Source paths the mapping leaves unread on purpose "
              "(`[bz, sqr.bz, steps[].note]`, written as `path:` would read them): a field the system sends that "
              "no canonical field wants is otherwise reported on every sync, and by `mapping check`, as \"source "
              "fields the mapping does not read (schema drift?)\". A field listed here that the mapping does read "
              "is simply read."),
    Operation("code_tables", "Top level", "Named tables: the system's code → the canonical value. Used by "
              "`code:` (and read backwards by `code: {table: ..., invert: true}` in `outbound`)."),
    Operation("lookups", "Top level", "Catalogues looked up by `lookup:` — e.g. service item code (or a "
              "prefix of it) → the department (USCC and name) that handles it. A table has `entries` (inline "
              "`key: {column: value}`), and/or a `file` (CSV with a header row, YAML or JSON, relative to the "
              "mapping file; rows keyed by the `key` column — default `key`, or a CSV's first column); "
              "`match: prefix` (default: the longest key the value starts with, an exact key being the "
              "longest) or `match: exact`. Lookup files count in the mapping's fingerprint.", Example(
                  "lookups:\n  departments:\n    match: prefix\n    entries:\n"
                  '      "370100": {uscc: 11370100004306906K, name: 济南市人民政府办公厅}\n'
                  '      "370100-000201": {uscc: 11370100MB2840129T, name: 济南市市场监督管理局}\n'
                  "fields:\n"
                  "  dept_code: {path: itemCode, lookup: {table: departments, column: uscc}}\n"
                  "  dept_name: {path: itemCode, lookup: {table: departments, column: name}}\n",
                  {"itemCode": "370100-000201-003"})),
    Operation("rules", "Top level", "Severities of quality rules for this system: `reject` (dead-letter the "
              "record), `flag` (the default: keep the case with a quality flag) or `ignore`. Structural rules "
              "always reject and cannot be listed. The rules and their names are in "
              "[canonical-model.md](canonical-model.md#rules).", Example(
                  "rules:\n  case.reason_required: reject\n  division.unknown: ignore\n"
                  "fields:\n  case_no: id\n", {"id": "X1"})),
    # -- sources -----------------------------------------------------------------------------------------------
    Operation("path", "Sources", "A value from the record: keys joined by dots, list indexes as numbers "
              "(`qlr.0.xm`), `$` for the whole record. A missing key gives null. Digits read an object's key as "
              "written (`byYear.2024`, `items.007`: the key `\"007\"`, not position 7). A dot inside a key (a flat "
              "`\"sqr.xm\"` some systems send) is written `\\.`, in single quotes or none: `'sqr\\.xm'`.", Example(
                  "fields:\n  case_no: projectNo\n  applicant.name: qlr.0.xm\n  applicant.phone: {path: qlr.0.dh}\n"
                  "  dept_name: 'bm\\.mc'\n",
                  {"projectNo": "370102202400001", "qlr": [{"xm": "张伟", "dh": "13800000000"}], "bm.mc": "民政局"})),
    Operation("const", "Sources", "A constant. NaN and infinities (YAML's `.nan`, `.inf`) are refused at load, "
              "here and in `default`, `value` and `then`/`else`: no record holds them.", Example(
        "fields:\n  dept_name: {const: 山东省民政厅}\n  promised_days: {const: 0}\n", {})),
    Operation("concat", "Sources", "Several source paths (and `{const: ...}` parts) joined by `sep` (default "
              "empty); null parts (and null tokens) are skipped; nothing left gives null. A part that has no text (an "
              "object, a list, true/false) rejects the field (`mapping.type`), as it does in `slice`, `regex` and "
              "`lookup`.", Example(
                  "fields:\n  summary: {concat: [itemName, {const: 申请人}, applicant], sep: \" \"}\n",
                  {"itemName": "食品经营许可", "applicant": "王伟"}), also=("sep",)),
    Operation("cases", "Sources", "Branches tried in order: `when` a condition holds, the branch gives its "
              "`value` (a constant) or its `then` (a field spec of its own: a source path, or a mapping with "
              "any keys of this page). A last branch without `when` is the default; without one, null.",
              Example(
                  "fields:\n  status:\n    cases:\n"
                  "      - {when: {path: result, in: [\"3\"]}, value: deleted}\n"
                  "      - {when: {path: finishTime, present: true}, value: finished}\n"
                  "      - {value: submitted}\n"
                  "  finished_at:\n    cases:\n"
                  "      - {when: {path: status, equals: \"9\"}, then: {path: finishTime, date: yyyyMMddHHmmss}}\n"
                  "      - {when: {path: status, equals: \"8\"}, then: {path: cancelTime, date: yyyyMMddHHmmss}}\n",
                  {"result": None, "status": "8", "finishTime": "", "cancelTime": "20240305101200"}),
              also=("value",)),
    Operation("first", "Sources", "The first of several field specs that gives a value (not null, not "
              "empty) — e.g. the department from the catalogue, else the source's own department code.",
              Example(
                  "lookups:\n  departments:\n    entries:\n"
                  '      "370100-000201": {uscc: 11370100MB2840129T}\n'
                  "fields:\n  dept_code:\n    first:\n"
                  "      - {path: itemCode, lookup: {table: departments, column: uscc}}\n"
                  "      - {path: deptCode, normalize: [nfkc, strip_all_spaces, upper]}\n",
                  {"itemCode": "370100-009999", "deptCode": "１１３７０１００ＭＢ２８４０１２９Ｔ"})),
    Operation("any", "Sources", "`true` if any of the conditions holds (`all`: if every one does); as a value "
              "source, gives a boolean.", Example(
                  "fields:\n  deleted: {any: [{path: isDeleted, in: [1, \"1\"]}, {path: result, in: [\"2\", \"3\"]}]}\n",
                  {"isDeleted": 0, "result": "3"}), also=("all",)),
    Operation("list", "Sources", "A list built from one or more source lists: each `from` a path to a list "
              "(a single object counts as a list of one; a null token such as `\"null\"` or `\"无\"` as no list), "
              "each item mapped by its own `fields`.", Example(
                  "fields:\n  events:\n    list:\n"
                  "      - from: steps\n        fields: {seq: {position: true}, kind: {const: step}, name: name}\n"
                  "      - from: specials\n        fields: {seq: {position: true}, kind: {const: special}, name: type}\n",
                  {"steps": [{"name": "受理"}, {"name": "审核"}], "specials": {"type": "补正"}}),
              also=("from",)),
    Operation("where", "Sources", "Inside a `list` source: only the items that meet the condition (a condition "
              "as `when` takes, read on the item). Outbound, it splits one canonical list into a system's own "
              "lists: a department that keeps its 办理环节 and its 特别程序 apart gets each from `events`, so a push "
              "does not wipe the steps it keeps.", Example(
                  "fields:\n  steps:\n    list:\n"
                  "      - from: events\n        where: {path: kind, equals: step}\n"
                  "        fields: {seq: {position: true}, name: name}\n",
                  {"events": [{"kind": "step", "name": "受理"}, {"kind": "special", "name": "补正"},
                              {"kind": "step", "name": "审核"}]})),
    Operation("position", "Sources", "Inside a `list` item: its 1-based place in the built list."),
    Operation("context", "Sources", "A value the caller passes in (outbound: the push job's `version`, "
              "`operation`)."),
    # -- short forms -------------------------------------------------------------------------------------------
    Operation("field", "Short forms", "Another name for `path`, in field specs and in conditions."),
    Operation("when", "Short forms", "`{when: COND, then: SPEC, else: SPEC}` is a two-branch `cases`; the "
              "field's other keys (here `date`) apply to whichever branch gave the value. `else` may be left "
              "out (null).", Example(
                  "fields:\n  finished_at: {when: {field: status, in: [\"9\"]}, then: {field: finishTime}, else: null,\n"
                  "                date: \"yyyy-MM-dd HH:mm:ss\"}\n",
                  {"status": "9", "finishTime": "2024-03-05 10:12:00"}), also=("then", "else")),
    # -- modifiers ---------------------------------------------------------------------------------------------
    Operation("normalize", "Modifiers", "Text clean-up before anything else but null tokens: `strip`, `nfkc` "
              "(full-width → half-width), `strip_all_spaces` (every whitespace, U+3000 too: for codes and numbers), "
              "`squash_spaces`, `name_spaces` (for names: whitespace between CJK characters goes, `张 三` is "
              "`张三`; elsewhere a run of it is one space, `JOHN  SMITH` is `JOHN SMITH`), `upper`, `lower`.", Example(
                  "fields:\n  applicant.id_number: {path: certNo, normalize: [nfkc, strip_all_spaces, upper]}\n",
                  {"certNo": "３７０１０２ 19850601123x"})),
    Operation("slice", "Modifiers", "Part of the text, Python-style `[start, end]` (negative counts from the "
              "end; `[start]` to the end). Numbers are sliced as text. Nothing left gives null.", Example(
                  "fields:\n  division_code: {path: itemCode, slice: [0, 6]}\n  serial: {path: caseNo, slice: [-4]}\n",
                  {"itemCode": "370102-000201-001", "caseNo": "370102202400012345"})),
    Operation("regex", "Modifiers", "Capture part of the text: the pattern is searched for (anchor it with "
              "`^`/`$`), `group` picks the capture (a number or a name; default 1 when the pattern has "
              "groups, else the whole match). A pattern that repeats a repetition (`(\\d+)+`) is refused at load: "
              "on a near-matching value it backtracks for minutes. No match gives null — or, with `on_no_match: error`, rejects the "
              "record (`mapping.regex`); `flag` gives null and flags it (`mapping.regex_no_match`); `keep` leaves the "
              "value as it was.", Example(
                  "fields:\n  division_code: {path: caseNo, regex: '^(\\d{6})'}\n"
                  "  year: {path: caseNo, regex: '^\\d{6}(?P<year>\\d{4})', group: year, type: int}\n"
                  "  batch: {path: note, regex: 'batch (\\d+)', on_no_match: keep}\n",
                  {"caseNo": "370102202400012345", "note": "no batch"}), also=("group", "on_no_match")),
    Operation("type", "Modifiers", "Convert to `int`, `float`, `str` or `bool` (`bool` is true for the "
              "`true_values`, default `1 true True TRUE Y y yes 是`, and false for the `false_values`, default "
              "`0 false False FALSE N n no 否`; the two may not share a value). A value that does not convert — "
              "for a `bool`, one in neither list; for an `int`, a fraction (`2.5`, a decimal too) — rejects the "
              "record (`mapping.type`). `str` writes numbers as text; an object, a list, true/false or NaN is no "
              "text and rejects the record too.", Example(
                  "fields:\n  promised_days: {path: cnsx, type: int}\n  fee: {path: sfsf, type: bool}\n"
                  "  item_version: {path: ver, type: str}\n",
                  {"cnsx": "20", "sfsf": "是", "ver": 3}), also=("true_values", "false_values")),
    Operation("code", "Modifiers", "Translate the system's code through a code table (by name, or inline). "
              "Codes are looked up as text (`0` and `\"0\"` alike; `5.0` is `\"5\"`). A boolean is a code only in a "
              "table of the two codes `\"0\"` and `\"1\"` (a flag: `true` is `\"1\"`); in any other table it is no "
              "code at all — a `result: false` is `mapping.code_table`, never the code `\"0\"`. An unknown code "
              "rejects the record "
              "(`mapping.code_table`) unless `on_unknown: null` (null), `flag` (null, and the record kept but flagged "
              "`mapping.code_unknown`: counted in the run's quality, the rule for an optional code real data "
              "breaks) or `keep` (the code itself). Outbound, "
              "`{table: NAME, invert: true}` reads a table backwards (`{table: NAME}` alone is the same as `NAME`).", Example(
                  'code_tables:\n  result: {"0": issued, "1": not_permitted, "5": returned}\n'
                  "fields:\n  result: {path: bjjg, code: result}\n"
                  "  action: {path: dz, code: {SL: accept, SH: review}, on_unknown: null}\n",
                  {"bjjg": 0, "dz": "XX"}), also=("on_unknown",)),
    Operation("lookup", "Modifiers", "Look the value up in a `lookups:` table and take one `column` of the "
              "row: `{table: NAME, column: COLUMN}`. An unknown key gives null (`on_unknown: error` rejects the "
              "record with `mapping.lookup`, `flag` flags it `mapping.lookup_unknown`, `keep` keeps the key); "
              "combine with `first` or `default` for a "
              "fallback.", Example(
                  "lookups:\n  departments:\n    entries:\n"
                  '      "370102": {uscc: 11370102004214052W, name: 济南市历下区行政审批服务局}\n'
                  "fields:\n"
                  "  dept_name: {path: itemCode, lookup: {table: departments, column: name}, default: 未登记部门}\n"
                  "  dept_code: {path: itemCode, lookup: {table: departments, column: uscc}}\n",
                  {"itemCode": "370102-000201-001"})),
    Operation("date", "Modifiers", "Parse a date in one of the given formats into ISO 8601 with the "
              "mapping's offset: Java-style patterns (`yyyy MM dd HH mm ss SSS`; `M d H m s` unpadded, as .NET "
              "writes them: see [Date formats](#date-formats)), `iso8601` (an offset is "
              "added when missing), `epoch_ms`, `epoch_s`. `date_only: true` keeps the day. A value matching "
              "no format rejects the record (`mapping.date_format`); a date that does not exist (Feb 30) is "
              "rejected by the model (`type.datetime`). Outbound, `{to: FORMAT}` writes the system's format "
              "(`{from: ..., to: ...}` has no other keys). `epoch_ms`/`epoch_s` read a number or its text "
              "(`1709605860000`, `1.70960586E+12`); an exponent no date has (`1e999000`) rejects the record at once "
              "(`mapping.date_format`).",
              Example(
                  "fields:\n"
                  '  applied_at: {path: sqsj, date: ["yyyyMMddHHmmss", "yyyy-MM-dd HH:mm:ss"]}\n'
                  "  updated_at: {path: gxsj, date: epoch_ms}\n"
                  "  issued_on: {path: fzrq, date: yyyy-MM-dd, date_only: true}\n",
                  {"sqsj": "2024-03-05 10:12:00", "gxsj": 1709605860000, "fzrq": "2024-03-05"}),
              also=("date_only",)),
    Operation("default", "Modifiers", "The canonical value to use when the result would be null: missing at "
              "the source, a null token, nothing left after `slice`/`regex`, an unknown `lookup` or "
              "`code` with `on_unknown: null`. It is used as given (not converted).", Example(
                  "fields:\n  count: {path: fs, type: int, default: 1}\n  source: {path: ly, default: paper}\n",
                  {"fs": None})),
    Operation("required", "Modifiers", "Reject the record (`mapping.required`) when the result is null or "
              "empty (after `normalize` and `default`). `required`, `date_only`, `blank_as_null` and `present` take "
              "a YAML boolean, `true` or `false`: the text `'false'` in quotes is refused at load, not guessed.",
              Example(
                  "fields:\n  case_no: {path: projectNo, required: true}\n", {"projectNo": "  "})),
    Operation("blank_as_null", "Modifiers", "Whether an empty string counts as null without `null_tokens` "
              "(default: yes for fields with `type`, `code`, `lookup`, `date`, `slice` or `regex`; no for "
              "plain text).", Example(
                  "fields:\n  reason: r\n  reason_or_null: {path: r, blank_as_null: true}\n", {"r": ""})),
    Operation("null_tokens", "Modifiers", "This field's own null tokens, replacing the mapping's; `[]` switches "
              "them off (see the top-level key).", Example(
                  'null_tokens: ["-"]\nfields:\n  reason: r\n  grade: {path: g, null_tokens: ["0", "-"]}\n',
                  {"r": "-", "g": "0"})),
    # -- conditions --------------------------------------------------------------------------------------------
    Operation("equals", "Conditions", "`{path: P, equals: X}`: the source value equals X, compared as code tables "
              "read codes: as stripped text after the null tokens (`1`, `\"1\"` and a CHAR-padded `\"1 \"` are "
              "the same; `true` matches `true`, `1` and `\"1\"`). An object or a list in the record equals "
              "nothing. X is one value (text, a number, true/false, null), checked at load.", Example(
                  "fields:\n  applicant.type: {when: {path: kind, equals: \"1\"}, then: {const: \"1\"}, "
                  "else: {const: \"2\"}}\n",
                  {"kind": "1 "})),
    Operation("in", "Conditions", "`{path: P, in: [X, Y]}`: the value is one of them (`not_in`: none of them), "
              "compared as for `equals`. Always a list of values, checked at load (`in: \"12\"` is refused, not "
              "read as the codes 1 and 2; so is `in: [01, 02]`, which YAML reads as the numbers 1 and 2: quote "
              "codes with leading zeros).", also=("not_in",)),
    Operation("present", "Conditions", "`{path: P, present: true}`: the value is there — not null, not empty, "
              "not a null token (`present: false`: the opposite)."),
    Operation("matches", "Conditions", "`{path: P, matches: REGEX}`: the pattern is found in the value (as "
              "text).", Example(
                  "fields:\n  case_type:\n    cases:\n"
                  "      - {when: {path: itemCode, matches: '-JB$'}, value: instant}\n"
                  "      - {value: promised}\n",
                  {"itemCode": "370102-000201-JB"})),
    Operation("not", "Conditions", "`{not: COND}`, `{any: [COND, ...]}`, `{all: [COND, ...]}` combine "
              "conditions."),
)
"""Every key of the mapping language, in the order of the reference."""


def documented_keys(section: Section) -> set[str]:
    """The keys :data:`OPERATIONS` documents in ``section`` (with the keys documented alongside)."""
    keys: set[str] = set()
    for op in OPERATIONS:
        if op.section == section:
            keys.add(op.key)
            keys.update(op.also)
    return keys


__all__ = ["OPERATIONS", "SECTIONS", "Example", "Operation", "documented_keys"]
