"""``tongban mapping check``: how well a mapping covers a system's real records, field by field.

An integration engineer writing the 106th mapping needs to see which canonical fields stay empty, which source
values fall outside a code table and which dates come in a format nobody declared — on the system's live
sample, before the first sync sends anything to the dead-letter store.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError, FieldIssue
from gateway.crypto.pii import redact
from gateway.kernel.config import SystemsConfig
from gateway.mapping.compiler import dig, path_keys
from gateway.mapping.mapper import Mapper
from gateway.mapping.usage import field_source_paths, paths_accounted_for, unmapped_fields
from gateway.models import BatchResult, Case, QualityTally
from gateway.models.quality import generic_path


def load_sample(path: Path, *, record_selector: str = "", charset: str | None = None) -> list[dict[str, Any]]:
    """A JSON list, a JSON object with a list under ``records``, NDJSON — or an answer of the system saved as it
    came (``curl … > sample.json``): its records are read where the stream's ``record_selector`` finds them, and
    its bytes in the connector's ``charset`` when they are not UTF-8. (A saved answer was one record whose every
    field was missing, and a GBK one "cannot read it", with no hint.)"""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--sample {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode(charset or "")
        except (UnicodeDecodeError, LookupError):
            said = f" nor {charset} (the connector's charset)" if charset else ""
            raise ConfigError(f"--sample {path}: neither UTF-8{said}: save it as UTF-8, or set the connector's "
                              "`charset` (gbk) to the one the system sends") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--sample {path}: neither JSON nor NDJSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, Mapping):
        selected = dig(data, path_keys(record_selector)) if record_selector else None
        if isinstance(selected, list):
            data = selected
        elif "records" in data:
            data = data["records"]
        elif record_selector:
            raise ConfigError(f"--sample {path}: an object with no list at the stream's record_selector "
                              f"{record_selector!r}: save the system's answer as it came, or a JSON list of records")
        else:
            data = [data]
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise ConfigError(f"{path}: expected a list of records")
    return [dict(r) for r in data]


def sample_from_system(systems: SystemsConfig, name: str, *, limit: int) -> list[dict[str, Any]]:
    system = systems.get(name)
    connector = system.build_connector()
    records: list[dict[str, Any]] = []
    refused: list[Any] = []
    with connector:
        for page in connector.read(system.stream, mode="full_refresh"):
            records.extend(dict(r.payload) for r in page.records)
            refused.extend(page.rejects)
            if len(records) + len(refused) >= limit or (not records and refused):
                break  # a first page of refused records is the connector's config, not the data: stop there
    if not records and refused:  # nothing to map, and not because the system is empty: say why
        raise ConfigError(f"mapping check {name}: the connector refused all {len(refused)} records it read from "
                          f"stream {system.stream!r} (first: {refused[0]}); `tongban connector check {name}` says "
                          "which setting of the connector YAML does not fit them")
    return records[:limit]


def _leaves(value: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and isinstance(value[0], Mapping):
        yield prefix, value  # the list itself: filled in a record that has any item there (as events[].name)
        for item in value:
            yield from _leaves(item, f"{prefix}[]")
    else:
        yield prefix, value


def stream_fields(systems: SystemsConfig, name: str) -> tuple[list[str], str | None]:
    """The system's record key fields and change-time field, from its connector YAML (read by the connector,
    not by the mapping: they are never schema drift)."""
    system = systems.get(name)
    try:
        stream = (system.load_connector_config().get("streams") or {}).get(system.stream) or {}
    except ConfigError:
        return [], None
    key = stream.get("primary_key") or []
    cursor = (stream.get("incremental") or {}).get("cursor_field")
    return ([key] if isinstance(key, str) else [str(k) for k in key]), cursor


def _source_key(record: Mapping[str, Any], keys: list[str], index: int) -> str:
    values = []
    for key in keys:
        value: Any = record
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        values.append(value)
    if keys and all(v not in (None, "") for v in values):
        return ":".join(str(v) for v in values)
    return f"sample[{index}]"


def _excerpt(record: Mapping[str, Any], limit: int = 400) -> str:
    """The raw record as JSON, personal data masked, cut to ``limit`` characters."""
    text = redact(json.dumps(record, ensure_ascii=False, default=str))
    return text if len(text) <= limit else text[:limit] + "…"


def _raw_input(record: Mapping[str, Any], field: str, fields: Mapping[str, Any]) -> str:
    """What the source sent for a canonical field: ``{"applyTime": "2024/13/45"}`` (masked); the record's
    excerpt when the field reads nothing simple (a list item, a constant)."""
    spec = fields.get(field) or fields.get(field.split(".")[0])
    paths = sorted(field_source_paths(spec)) if spec is not None else []
    values = {p: dig(record, path_keys(p)) for p in paths if "[]" not in p}
    if not values:
        return _excerpt(record)
    return redact(json.dumps(values, ensure_ascii=False, default=str))


def _map(mapper: Mapper, raw: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, str, str]]]:
    """One record mapped; an exception is that record's failure (``mapping.internal``, as ingest names it),
    never the end of the check: the rest of the sample is still checked."""
    try:
        return mapper.map(raw)
    except Exception as exc:  # noqa: BLE001 - one record's failure, reported with the record
        return None, [("$", "mapping.internal", f"the mapping failed on this record: {type(exc).__name__}: {exc}")]


def _validate(mapper: Mapper, mapped: list[dict[str, Any]], refs: list[str],
              flags: dict[int, list[tuple[str, str, str]]]) -> tuple[BatchResult, list[FieldIssue]]:
    """The mapped records validated in one call (with the flags the mapping kept, by index: they join the cases'
    quality, as in the sync); when that raises, one at a time, so that the record that makes validation fail is
    reported (``validation.internal``) and the others are still checked."""
    try:
        return mapper.validate(mapped, refs, flags), []
    except Exception:  # noqa: BLE001 - one of them makes it raise: validated one at a time below, to say which
        merged, crashed = BatchResult(), list[FieldIssue]()
    for index, (record, ref) in enumerate(zip(mapped, refs, strict=True)):
        try:
            one = mapper.validate([record], [ref], {0: flags[index]} if index in flags else None)
        except Exception as exc:  # noqa: BLE001 - this record's failure, reported with the record
            crashed.append(FieldIssue(ref, "$", "validation.internal",
                                      f"validation failed on this record: {type(exc).__name__}: {exc}"))
            continue
        merged.valid += [(index, case) for _, case in one.valid]
        merged.rejected += [(index, rejection) for _, rejection in one.rejected]
        merged.flags += [(index, flag) for _, flag in one.flags]
    return merged, crashed


def quality_lines(result: Mapping[str, Any]) -> list[str]:
    """The quality flags of a check for people, one line per rule: the rule, how many records it flagged, on
    which fields, and an example record (the flagged records map and sync; the flag is the warning)."""
    lines = []
    for rule, entry in (result.get("quality") or {}).items():
        noun = "record" if entry["records"] == 1 else "records"
        line = f"{rule}: {entry['records']} {noun} flagged ({', '.join(entry['fields'])})"
        lines.append(f"{line}, e.g. {entry['examples'][0]}" if entry["examples"] else line)
    return lines


def explain_missing_source(issue: FieldIssue, payload: Any, mapper: Mapper, canonical: Any = None) -> FieldIssue:
    """``issue`` — and, when every source path its field is read from is absent from the record, that too; or,
    when the field came out empty from a value the source did send, which value the mapping read as none.

    A field renamed at the source leaves the canonical field empty, and validation then says what an empty field
    breaks (``applicant.name: Input should be a valid string``); the engineer wants to hear that the record has
    no ``sqrxm`` any more — or that its ``sqsj`` was ``0000-00-00 00:00:00``, a "no value" the mapping's
    ``null_tokens`` read as none, so that the time is missing, not malformed. Only rejections pay for this."""
    spec = (mapper.spec.get("fields") or {}).get(issue.field)
    if spec is None:
        return issue
    paths = sorted(p for p in field_source_paths(spec) if "[]" not in p)
    if not paths:
        return issue
    sent = {p: dig(payload, path_keys(p)) for p in paths}
    if all(v is None for v in sent.values()):
        return replace(issue, message=f"{issue.message} (the source record has no value at "
                                      f"{', '.join(paths)}: renamed or left out at the source?)")
    if isinstance(canonical, dict) and dig(canonical, path_keys(issue.field)) is None:
        said = ", ".join(f"{p} = {v!r}" for p, v in sent.items() if v is not None)
        return replace(issue, message=f"{issue.message} (the source sent {said[:200]}, which the mapping read as "
                                      "no value: missing, not malformed)")
    return issue


def check_mapping(systems: SystemsConfig, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage and failures of ``name``'s mapping on ``records``: records named by their source key, the raw
    input of each failure (masked), quality flags per rule, and the source fields the mapping does not read."""
    mapper = Mapper.from_file(systems.get(name).mapping_path, model=Case)
    keys, cursor = stream_fields(systems, name)
    spec_fields: Mapping[str, Any] = mapper.spec.get("fields") or {}
    filled: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    rules: dict[str, set[str]] = defaultdict(set)
    examples: list[str] = []
    mapped, refs = [], []
    mapping_flags: dict[int, list[tuple[str, str, str]]] = {}  # index in `mapped` → what the mapping flagged
    inputs: dict[str, Mapping[str, Any]] = {}
    for index, raw in enumerate(records):
        canonical, issues = _map(mapper, raw)
        ref = f"{name}:{_source_key(raw, keys, index)}"
        inputs[ref] = raw
        issues, flagged = mapper.split_issues(issues)  # kept and flagged, as the sync does
        for field, rule, message in issues:
            key = generic_path(field)
            failures[key] += 1
            rules[key].add(rule)
            examples.append({"record": ref, "field": field, "rule": rule, "message": message,
                             "input": _raw_input(raw, field, spec_fields)})
        if canonical is None:
            continue
        counted: set[str] = set()
        for path, value in _leaves(canonical):
            if path not in counted:
                seen[path] += 1
                counted.add(path)
                if value not in (None, "", []):
                    filled[path] += 1
        if not issues:
            if flagged:
                mapping_flags[len(mapped)] = flagged
            mapped.append(canonical)
            refs.append(ref)
    result, crashed = _validate(mapper, mapped, refs, mapping_flags)
    for issue in crashed:
        failures["$"] += 1
        rules["$"].add(issue.rule)
        examples.append({"record": issue.record, "field": issue.field, "rule": issue.rule,
                         "message": issue.message, "input": _excerpt(inputs.get(issue.record, {}))})
    tally = QualityTally()
    tally.add_flags(result.flags)  # the mapping's flags of the kept cases with the model's, as the sync counts them
    for index, rejection in result.rejected:
        for issue in rejection.issues:
            issue = explain_missing_source(issue, inputs.get(issue.record, {}), mapper, mapped[index])
            key = generic_path(issue.field)
            failures[key] += 1
            rules[key].add(issue.rule)
            examples.append({"record": issue.record, "field": issue.field, "rule": issue.rule,
                             "message": issue.message,
                             "input": _raw_input(inputs.get(issue.record, {}), issue.field, spec_fields)})
    used = paths_accounted_for(mapper.spec, keys, cursor)
    total = len(records) or 1
    fields = sorted(set(seen) | set(failures))
    return {
        "system": name,
        "mapping_version": mapper.version,
        "records": len(records),
        "valid": len(result.valid),
        "rejected": len(records) - len(result.valid),
        "warnings": len(result.flags),
        "quality": tally.as_dict()["flag"],
        "fields": [
            {
                "field": f,
                "filled": filled[f],
                "coverage": filled[f] / total,
                "failures": failures[f],
                "rules": sorted(rules[f]),
            }
            for f in fields
        ],
        "examples": examples[:50],
        "unmapped_source_fields": unmapped_fields(records, used),
    }
