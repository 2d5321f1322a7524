"""``tongban mapping check``: how well a mapping covers a system's real records, field by field.

An integration engineer writing the 106th mapping needs to see which canonical fields stay empty, which source
values fall outside a code table and which dates come in a format nobody declared — on the system's live
sample, before the first sync sends anything to the dead-letter store.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.kernel.config import SystemsConfig
from gateway.kernel.registry import build_connector
from gateway.mapping.mapper import Mapper
from gateway.models import QualityTally


def load_sample(path: Path) -> list[dict[str, Any]]:
    """A JSON list, a JSON object with a list under ``records``, or NDJSON."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, Mapping):
        data = data.get("records", [data])
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise ConfigError(f"{path}: expected a list of records")
    return [dict(r) for r in data]


def sample_from_system(systems: SystemsConfig, name: str, *, limit: int) -> list[dict[str, Any]]:
    system = systems.get(name)
    connector = build_connector(system.connector, system.load_connector_config(), system.resolve_secrets())
    records: list[dict[str, Any]] = []
    with connector:
        for page in connector.read(system.stream, mode="full_refresh"):
            records.extend(dict(r.payload) for r in page.records)
            if len(records) >= limit:
                break
    return records[:limit]


def _leaves(value: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and isinstance(value[0], Mapping):
        for item in value:
            yield from _leaves(item, f"{prefix}[]")
    else:
        yield prefix, value


def check_mapping(systems: SystemsConfig, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    mapper = Mapper.from_file(systems.get(name).mapping_path)
    filled: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    rules: dict[str, set[str]] = defaultdict(set)
    examples: list[str] = []
    mapped, refs = [], []
    for index, raw in enumerate(records):
        canonical, issues = mapper.map(raw)
        ref = f"{name}:sample[{index}]"
        for field, rule, message in issues:
            key = _generic(field)
            failures[key] += 1
            rules[key].add(rule)
            examples.append(f"{ref}: {field}: {message} [{rule}]")
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
            mapped.append(canonical)
            refs.append(ref)
    result = mapper.validate(mapped, refs)
    tally = QualityTally()
    tally.add_flags(result.flags)
    for _, rejection in result.rejected:
        for issue in rejection.issues:
            key = _generic(issue.field)
            failures[key] += 1
            rules[key].add(issue.rule)
            examples.append(str(issue))
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
    }


def _generic(field: str) -> str:
    """``events.3.started_at`` → ``events[].started_at`` so that list items count together."""
    parts = field.split(".")
    out: list[str] = []
    for part in parts:
        if part.isdigit() and out:
            out[-1] += "[]"
        else:
            out.append(part)
    return ".".join(out)
