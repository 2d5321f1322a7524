"""A loaded, compiled mapping for one system: raw records in, canonical dicts out (and back, for writes).

    mapper = Mapper.from_file("mappings/sd_civil.yaml")
    canonical, issues = mapper.map(raw_record)
    outbound = mapper.outbound(canonical_row, version=3)     # the system's own format, for pushes

The mapping's ``version`` is recorded with every record it maps, so the ledger can tell which records a fixed
mapping should be re-applied to (``tongban remap``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.contract.errors import ConfigError, FieldIssue
from gateway.mapping.compiler import MapFunction, MappingCompiler

_TOP_KEYS = {"system", "version", "description", "timezone", "normalize", "code_tables", "fields", "outbound"}


@dataclass(slots=True)
class Mapper:
    system: str
    version: str
    path: str
    inbound: MapFunction
    source: str
    outbound_fn: MapFunction | None = None
    outbound_source: str | None = None
    fingerprint: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path) -> Mapper:
        text = Path(path).read_text(encoding="utf-8")
        return cls.from_text(text, where=str(path))

    @classmethod
    def from_text(cls, text: str, *, where: str = "<mapping>") -> Mapper:
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML: {exc}") from None
        return cls.from_spec(spec, where=where, fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16])

    @classmethod
    def from_spec(cls, spec: Any, *, where: str = "<mapping>", fingerprint: str = "") -> Mapper:
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: a mapping file must be a YAML mapping")
        unknown = set(spec) - _TOP_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown top-level key(s) {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
        for key in ("system", "version", "fields"):
            if key not in spec:
                raise ConfigError(f"{where}: missing required key {key!r}")
        code_tables = spec.get("code_tables") or {}
        if not isinstance(code_tables, Mapping) or not all(isinstance(t, Mapping) for t in code_tables.values()):
            raise ConfigError(f"{where}: code_tables must map names to {{code: value}} tables")

        def compiler(section: str) -> MappingCompiler:
            return MappingCompiler(
                where=f"{where}: {section}",
                code_tables=code_tables,
                tz_offset=str(spec.get("timezone", "+08:00")),
                default_normalize=list(spec.get("normalize", ["strip"])),
            )

        inbound, source = compiler("fields").compile(spec["fields"])
        outbound_fn = outbound_source = None
        if spec.get("outbound"):
            out_spec = spec["outbound"]
            if not isinstance(out_spec, Mapping) or "fields" not in out_spec:
                raise ConfigError(f"{where}: outbound needs fields")
            outbound_fn, outbound_source = compiler("outbound").compile(out_spec["fields"])
        return cls(
            system=str(spec["system"]),
            version=str(spec["version"]),
            path=where,
            inbound=inbound,
            source=source,
            outbound_fn=outbound_fn,
            outbound_source=outbound_source,
            fingerprint=fingerprint,
            spec=spec,
        )

    def map(self, raw: Mapping[str, Any], **context: Any) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
        """Map one raw record. Returns the canonical dict and ``(field, rule, message)`` issues (maybe empty)."""
        return self.inbound(raw, context)

    def outbound(self, canonical: Mapping[str, Any], **context: Any) -> dict[str, Any]:
        """Canonical record → the system's own format. Raises :class:`ConfigError` if the mapping has no
        ``outbound`` section and :class:`gateway.contract.errors.RecordRejected`-style issues as ValueError text."""
        if self.outbound_fn is None:
            raise ConfigError(f"{self.path}: no outbound section: {self.system} cannot receive pushed records")
        record, issues = self.outbound_fn(canonical, context)
        if issues:
            detail = "; ".join(f"{f}: {m} [{r}]" for f, r, m in issues)
            raise ValueError(f"cannot build the {self.system} record: {detail}")
        return record

    @staticmethod
    def issues_for(ref: str, issues: list[tuple[str, str, str]]) -> list[FieldIssue]:
        return [FieldIssue(record=ref, field=f, rule=r, message=m) for f, r, m in issues]
