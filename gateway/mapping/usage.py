"""Which source fields a mapping reads, and which fields real records carry that it does not (schema drift).

A system adds a field (a new 受理方式, a second phone) without telling anyone; the mapping keeps working and the
new data silently stays behind. ``tongban mapping check`` lists such fields on a sample, and every sync logs them
once per run, so the engineer who owns the mapping hears of it.

    used = source_paths(mapper.spec["fields"])            # {"projectNo", "applicant.certNo", "steps[].name", ...}
    unmapped_fields(records, used)                         # ["applicant.email", "channel"]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.mapping.compiler import PATH_DOT, escape_key

_PATH_KEYS = ("path", "field")
_INDEX = re.compile(r"\.\d+(?=\.|$)")
_NESTED_LISTS = ("cases", "any", "all", "first", "concat", "list")


def paths_accounted_for(spec: Mapping[str, Any], keys: Iterable[str] = (), cursor: str | None = None) -> set[str]:
    """The source paths schema drift is measured against: those the mapping's fields read, the stream's key and
    cursor, and those the mapping declares left unread on purpose (``unread_source_fields``: a field the system
    sends that no canonical field wants stops being reported as drift on every run)."""
    unread = spec.get("unread_source_fields") or []
    return source_paths(spec.get("fields") or {}) | set(keys) | ({cursor} if cursor else set()) | set(unread)


def source_paths(fields: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Every source path the field specs read (``steps[].name`` for fields of list items; an index such as
    ``qlr.0.xm`` counts as reading ``qlr[].xm`` — and, digits being an object's key too (``byYear.2024``), as
    written)."""
    used: set[str] = set()
    for spec in fields.values():
        used |= _paths_of(spec, prefix)
    return _both_readings(used)


def field_source_paths(spec: Any) -> set[str]:
    """The source paths one canonical field's spec reads (both readings of digits, as :func:`source_paths`)."""
    return _both_readings(_paths_of(spec, ""))


def _both_readings(paths: set[str]) -> set[str]:
    """Each path as written and with its digit parts as list items (``qlr.0.xm`` and ``qlr[].xm``): digits read a
    list's position or an object's key as written, and only the record says which."""
    return paths | {_INDEX.sub("[]", p) for p in paths}


def _join(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if prefix else path


def _paths_of(spec: Any, prefix: str) -> set[str]:
    """The source paths one field spec reads: its ``path``/``field``, the paths inside conditions and
    alternatives (``cases``, ``any``, ``first``, ``concat``, ``when``/``then``/``else``) and list mappings."""
    if isinstance(spec, str):
        return {_join(prefix, spec)}
    used: set[str] = set()
    if isinstance(spec, list):
        for item in spec:
            used |= _paths_of(item, prefix)
        return used
    if not isinstance(spec, Mapping):
        return used
    for key in _PATH_KEYS:
        if isinstance(spec.get(key), str):
            used.add(_join(prefix, spec[key]))
    if isinstance(spec.get("from"), str):  # a list mapping: its fields read the items of that list
        inner = _join(prefix, spec["from"]) + "[]"
        if isinstance(spec.get("fields"), Mapping):
            used |= source_paths(spec["fields"], inner)
        else:
            used.add(inner)
    for key in (*_NESTED_LISTS, "when", "then", "else"):
        value = spec.get(key)
        if isinstance(value, Mapping | list) or (key in ("first", "concat", "any") and isinstance(value, str)):
            used |= _paths_of(value, prefix)
    return used


def _leaf_paths(value: Any, prefix: str = "") -> Iterable[str]:
    if isinstance(value, Mapping):
        if not value and prefix:
            yield prefix
        for key, item in value.items():
            yield from _leaf_paths(item, _join(prefix, escape_key(str(key))))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for item in value:
            yield from _leaf_paths(item, prefix + "[]")
    elif prefix:
        yield prefix


def _covered(path: str, used: set[str]) -> bool:
    """A path is read when it, one of its parents (a whole object taken) or its list form is named."""
    if any(u.startswith((path + ".", path + "[]")) for u in used):  # an empty object or list the mapping reads into
        return True
    parts = PATH_DOT.split(path)  # a key's own dots (written \.) stay in their part
    for end in range(len(parts), 0, -1):
        head = ".".join(parts[:end])
        if head in used or head.replace("[]", "") in used or head.rstrip("[]") in used:
            return True
    return False


def unmapped_fields(records: Iterable[Mapping[str, Any]], used: set[str]) -> list[str]:
    """Source fields present (with any value) in ``records`` that no mapping field reads, sorted."""
    seen: set[str] = set()
    for record in records:
        seen.update(_leaf_paths(record))
    return sorted(p for p in seen if not _covered(p, used))


__all__ = ["field_source_paths", "source_paths", "unmapped_fields"]
