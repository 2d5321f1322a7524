"""A loaded, compiled mapping for one system: raw records in, canonical dicts out (and back, for writes).

    mapper = Mapper.from_file("mappings/sd_civil.yaml")
    canonical, issues = mapper.map(raw_record)
    rejections, flags = mapper.split_issues(issues)          # a miss written `flag` keeps the record
    result = mapper.validate([canonical, ...], refs, {0: flags})  # the rule severities; the flags join quality
    outbound = mapper.outbound(canonical_row, version=3)     # the system's own format, for pushes

The mapping's ``version`` is recorded with every record it maps, so the ledger can tell which records a fixed
mapping should be re-applied to (``tongban remap``); its ``fingerprint`` covers the file and every lookup file
it reads. Top-level keys: ``system``, ``version``, ``fields`` (required); ``description``, ``timezone``,
``normalize``, ``null_tokens``, ``code_tables``, ``lookups``, ``rules``, ``outbound``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gateway.contract.errors import ConfigError, FieldIssue, RecordRejected
from gateway.kernel.yamlfile import YamlDocument, load_yaml_document, read_config_text
from gateway.mapping.compiler import MapFunction, MappingCompiler
from gateway.mapping.lookups import LookupTable, load_lookups
from gateway.mapping.steps import FLAG_RULES
from gateway.mapping.targets import check_targets, code_table_of
from gateway.models import BatchResult, Severity, rule_policy, validate_cases

TOP_KEYS = frozenset({
    "system", "version", "description", "timezone", "normalize", "null_tokens", "code_tables", "lookups", "rules",
    "fields", "outbound", "unread_source_fields",
})
"""The keys a mapping file may have at its top level."""


class OutboundRejected(ValueError):
    """A canonical record the outbound mapping cannot turn into the system's format. ``issues`` keeps every
    ``(field, rule, message)`` as the mapping found it, so the push's dead letter names the field and the rule
    (``mapping.code_table``) rather than one flat message; ``str()`` is the one-line message.

        try:
            body = mapper.outbound(canonical, version=3)
        except OutboundRejected as exc:
            exc.issues  # [("applicant.kind", "mapping.code_table", "value 'foreign_org' is not in ...")]
    """

    def __init__(self, system: str, issues: Sequence[tuple[str, str, str]]) -> None:
        self.system = system
        self.issues: list[tuple[str, str, str]] = [(str(f), str(r), str(m)) for f, r, m in issues]
        detail = "; ".join(f"{f}: {m} [{r}]" for f, r, m in self.issues)
        super().__init__(f"cannot build the {system} record: {detail}")

    def field_issues(self, ref: str) -> list[FieldIssue]:
        """The issues as :class:`FieldIssue` of the record ``ref`` (``case_no@vN``)."""
        return [FieldIssue(record=ref, field=f, rule=r, message=m) for f, r, m in self.issues]


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
    rules: dict[str, Severity] = field(default_factory=dict)
    """The quality rules whose severity this mapping changes (``rules:``), for :meth:`validate`."""
    lookups: dict[str, LookupTable] = field(default_factory=dict)
    code_tables_by_field: dict[str, str] = field(default_factory=dict)
    """Canonical field → the code table it is read through (``"inline"`` for an inline one), to name it when a
    value still misses the code list."""

    @classmethod
    def from_file(cls, path: str | Path, *, model: type[BaseModel] | None = None) -> Mapper:
        path = Path(path)
        text = read_config_text(path)
        return cls.from_text(text, where=str(path), base_dir=path.parent, model=model)

    @classmethod
    def from_text(cls, text: str, *, where: str = "<mapping>", base_dir: str | Path | None = None,
                  model: type[BaseModel] | None = None) -> Mapper:
        document = load_yaml_document(text, where=where)  # an integer over 4300 digits: its ConfigError
        return cls.from_spec(document.data, where=where, fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16],
                             base_dir=base_dir, model=model, document=document)

    @classmethod
    def from_spec(cls, spec: Any, *, where: str = "<mapping>", fingerprint: str = "",
                  base_dir: str | Path | None = None, model: type[BaseModel] | None = None,
                  document: YamlDocument | None = None) -> Mapper:
        """Compile a parsed mapping. Lookup files are read relative to ``base_dir`` (default: the working
        directory; :meth:`from_file` passes the mapping file's folder). With ``model`` (the canonical model the
        mapping fills: ``Case``, a catalogue entry, a certificate), every target must be a field of it and every
        constant it produces (code-table values, const, default, cases values) a value that field can hold
        (:mod:`gateway.mapping.targets`; ``document`` gives the lines)."""
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: a mapping file must be a YAML mapping")
        unknown = set(spec) - TOP_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown top-level key(s) {sorted(unknown)}; expected {sorted(TOP_KEYS)}")
        for key in ("system", "version", "fields"):
            if key not in spec:
                raise ConfigError(f"{where}: missing required key {key!r}")
        unread = spec.get("unread_source_fields")
        if unread is not None and not (isinstance(unread, list) and all(isinstance(p, str) and p for p in unread)):
            raise ConfigError(f"{where}: unread_source_fields must be a list of source paths (as `path:` writes "
                              f"them: `bz`, `sqr.bz`, `steps[].note`), got {unread!r}")
        code_tables = spec.get("code_tables") or {}
        if not isinstance(code_tables, Mapping) or not all(isinstance(t, Mapping) for t in code_tables.values()):
            raise ConfigError(f"{where}: code_tables must map names to {{code: value}} tables")
        lookups, files_digest = load_lookups(spec.get("lookups"), where=where,
                                             base_dir=Path(base_dir) if base_dir is not None else Path.cwd())
        if files_digest and fingerprint:
            fingerprint = hashlib.sha256(f"{fingerprint}:{files_digest}".encode()).hexdigest()[:16]
        rules = rule_policy(spec.get("rules"), where=where)

        default_normalize = spec.get("normalize", ["strip"])
        if isinstance(default_normalize, str):  # one step, as a field's normalize may say it (not its letters)
            default_normalize = [default_normalize]
        if not isinstance(default_normalize, list) or not all(isinstance(op, str) for op in default_normalize):
            raise ConfigError(f"{where}: normalize must be a list of steps, got {default_normalize!r}")

        def compiler(section: str, null_tokens: Any) -> MappingCompiler:
            return MappingCompiler(
                where=f"{where}: {section}",
                document=document,
                section=section,
                doc_root=("fields",) if section == "fields" else ("outbound", "fields"),
                code_tables=code_tables,
                tz_offset=str(spec.get("timezone", "+08:00")),
                default_normalize=default_normalize,
                null_tokens=null_tokens,
                lookups=lookups,
            )

        # Null tokens are the source's habit: they apply to what is read in, not to canonical data going out.
        if model is not None:  # first: a target the model lacks (case_no.x beside case_no) is the mistake to name
            check_targets(spec["fields"], model, code_tables=code_tables, where=where, document=document)
        inbound, source = compiler("fields", spec.get("null_tokens")).compile(spec["fields"])
        outbound_fn = outbound_source = None
        if spec.get("outbound"):
            out_spec = spec["outbound"]
            if not isinstance(out_spec, Mapping) or "fields" not in out_spec:
                raise ConfigError(f"{where}: outbound needs fields")
            outbound_fn, outbound_source = compiler("outbound", None).compile(out_spec["fields"])
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
            rules=rules,
            lookups=lookups,
            code_tables_by_field={str(target): table for target, field_spec in spec["fields"].items()
                                  if (table := code_table_of(field_spec)) is not None},
        )

    def map(self, raw: Mapping[str, Any], **context: Any) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
        """Map one raw record. Returns the canonical dict and ``(field, rule, message)`` issues (maybe empty)."""
        return self.inbound(raw, context)

    def split_issues(self, issues: list[tuple[str, str, str]]
                     ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
        """A mapped record's issues as ``(rejections, flags)``: a step's miss written ``flag`` (an optional code
        not in its table) keeps the record, its field null, and is counted — unless this mapping's ``rules:`` make
        that rule ``reject`` (or ``ignore`` it). Every other issue rejects."""
        if not issues:
            return issues, []
        rejections: list[tuple[str, str, str]] = []
        flags: list[tuple[str, str, str]] = []
        for issue in issues:
            severity = self.rules.get(issue[1], "flag") if issue[1] in FLAG_RULES else "reject"
            if severity == "reject":
                rejections.append(issue)
            elif severity == "flag":
                flags.append(issue)
        return rejections, flags

    def validate(self, records: Sequence[Any], refs: Sequence[str],
                 flags: Mapping[int, Sequence[tuple[str, str, str]]] | None = None) -> BatchResult:
        """Validate mapped records in one call with this mapping's rule severities (see ``rules:``). ``flags``:
        by record index, the flags :meth:`split_issues` kept for it — they become part of the case's quality
        (``Case.quality``, ``BatchResult.flags``), as the model's own flags are. A value outside a code list
        that came through a code table names the table (``[enum]`` alone did not say which part of the mapping
        to fix)."""
        result = validate_cases(records, refs, rules=self.rules or None, mapping_flags=flags or None)
        if result.rejected and self.code_tables_by_field:
            result.rejected = [(index, self._name_code_tables(rejected)) for index, rejected in result.rejected]
        return result

    def _name_code_tables(self, rejected: RecordRejected) -> RecordRejected:
        issues = []
        for issue in rejected.issues:
            table = self.code_tables_by_field.get(issue.field) if issue.rule == "enum" else None
            if table is not None:
                issue = FieldIssue(record=issue.record, field=issue.field, rule=issue.rule,
                                   message=f"{issue.message} (from code table {table!r} of {self.path})")
            issues.append(issue)
        return RecordRejected(record=rejected.record, issues=issues)

    def outbound(self, canonical: Mapping[str, Any], **context: Any) -> dict[str, Any]:
        """Canonical record → the system's own format. Raises :class:`ConfigError` if the mapping has no
        ``outbound`` section and :class:`OutboundRejected` (a ``ValueError``) with each ``(field, rule, message)``
        issue when the record cannot be built (a value missing the outbound code table, a required field empty)."""
        if self.outbound_fn is None:
            raise ConfigError(f"{self.path}: no outbound section: {self.system} cannot receive pushed records")
        record, issues = self.outbound_fn(canonical, context)
        issues, _ = self.split_issues(issues)  # a miss written `flag` leaves the field out; it does not stop a push
        if issues:
            raise OutboundRejected(self.system, issues)
        return record

    @staticmethod
    def issues_for(ref: str, issues: list[tuple[str, str, str]]) -> list[FieldIssue]:
        return [FieldIssue(record=ref, field=f, rule=r, message=m) for f, r, m in issues]
