"""Lookup tables: a mapping's catalogues, such as service item code (or prefix) → department.

Many systems do not say which department handles a case; the service item does (实施主体). A mapping names
the catalogue once, inline or in a file next to it, and a field looks a value up in it::

    lookups:
      departments:
        match: prefix                     # the longest key that starts the value wins (exact keys too)
        file: catalogues/jinan_items.csv  # CSV with a header, YAML or JSON; relative to the mapping file
        key: item_code                    # the column that holds the key (default: "key", or CSV's first)
        entries:                          # inline rows, merged over the file's
          "370100-000201": {uscc: 11370100MB2840129T, name: 济南市市场监督管理局}
    fields:
      dept_code: {path: itemCode, lookup: {table: departments, column: uscc}}

Per record a lookup is one dict probe: answers are memoised per distinct value (item codes repeat).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from gateway.contract.errors import ConfigError
from gateway.kernel.yamlfile import load_yaml

MatchMode = Literal["exact", "prefix"]
_MEMO_LIMIT = 65_536
_MISS = object()
_TABLE_KEYS = {"match", "file", "key", "entries", "description"}


class LookupTable:
    """Rows by key; :meth:`find` answers the row for a value by exact key or longest prefix."""

    __slots__ = ("_lengths", "_memo", "columns", "entries", "match", "name")

    def __init__(self, name: str, entries: Mapping[str, Mapping[str, Any]], *, match: MatchMode = "prefix") -> None:
        self.name = name
        self.match = match
        self.entries: dict[str, dict[str, Any]] = {str(k): dict(v) for k, v in entries.items()}
        self.columns: set[str] = {c for row in self.entries.values() for c in row}
        self._lengths = sorted({len(k) for k in self.entries}, reverse=True)
        self._memo: dict[str, dict[str, Any] | None] = {}

    def find(self, value: str) -> dict[str, Any] | None:
        """The row for ``value``: its own key, or (``match: prefix``) the longest key it starts with."""
        row = self._memo.get(value, _MISS)
        if row is not _MISS:
            return row  # type: ignore[return-value]
        if self.match == "exact":
            row = self.entries.get(value)
        else:
            row = None
            n = len(value)
            for length in self._lengths:
                if length <= n:
                    row = self.entries.get(value[:length])
                    if row is not None:
                        break
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[value] = row
        return row

    def __len__(self) -> int:
        return len(self.entries)


def load_lookups(spec: Any, *, where: str, base_dir: Path) -> tuple[dict[str, LookupTable], str]:
    """Build the ``lookups:`` section's tables. Returns them and a digest of the files read (for the
    mapping's fingerprint: a changed catalogue is a changed mapping)."""
    if spec is None:
        return {}, ""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: lookups must map table names to tables")
    tables: dict[str, LookupTable] = {}
    digest = hashlib.sha256()
    for name, table in spec.items():
        at = f"{where}: lookups.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{at}: a lookup table is a mapping with entries and/or file")
        unknown = set(table) - _TABLE_KEYS
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {sorted(unknown)}; expected {sorted(_TABLE_KEYS)}")
        match = table.get("match", "prefix")
        if match not in ("exact", "prefix"):
            raise ConfigError(f"{at}: match must be exact or prefix, got {match!r}")
        if "file" not in table and "entries" not in table:
            raise ConfigError(f"{at}: needs entries, file, or both")
        key_column = table.get("key")
        rows: dict[str, Mapping[str, Any]] = {}
        if "file" in table:
            path = (base_dir / str(table["file"])).resolve()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"{at}: cannot read {path}: {exc.strerror or exc}") from None
            digest.update(str(name).encode() + b"\0" + data)
            rows.update(_rows_from_file(path, data, key_column, at))
        if "entries" in table:
            rows.update(_rows(table["entries"], key_column, at))
        tables[str(name)] = LookupTable(str(name), rows, match=match)
    return tables, digest.hexdigest() if tables else ""


def _rows_from_file(path: Path, data: bytes, key_column: str | None, at: str) -> dict[str, Mapping[str, Any]]:
    text = data.decode("utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise ConfigError(f"{at}: {path.name} has no header row")
        key = key_column or reader.fieldnames[0]
        if key not in reader.fieldnames:
            raise ConfigError(f"{at}: {path.name} has no column {key!r} (columns: {reader.fieldnames})")
        return {row[key].strip(): {c: ((v or "").strip() or None) for c, v in row.items() if c != key}
                for row in reader if (row.get(key) or "").strip()}
    if suffix != ".json":
        return _rows(load_yaml(text, where=f"{at}: {path}"), key_column, f"{at} ({path.name})")
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{at}: {path.name} is not valid JSON: {exc}") from None
    return _rows(loaded, key_column, f"{at} ({path.name})")


def _rows(data: Any, key_column: str | None, at: str) -> dict[str, Mapping[str, Any]]:
    """``{key: {column: value}}`` or ``[{key_column: ..., column: value}, ...]``."""
    if isinstance(data, Mapping):
        out: dict[str, Mapping[str, Any]] = {}
        for key, row in data.items():
            if not isinstance(row, Mapping):
                raise ConfigError(f"{at}: entry {key!r} must map column names to values")
            out[str(key)] = row
        return out
    if isinstance(data, list):
        key = key_column or "key"
        out = {}
        for i, row in enumerate(data):
            if not isinstance(row, Mapping) or row.get(key) in (None, ""):
                raise ConfigError(f"{at}: row {i} must be a mapping with a {key!r} column")
            out[str(row[key])] = {c: v for c, v in row.items() if c != key}
        return out
    raise ConfigError(f"{at}: entries must be a mapping of key → columns or a list of rows")


__all__ = ["LookupTable", "MatchMode", "load_lookups"]
