"""The canonical data model: code lists, identifier rules, case / item / certificate, batch validation.

Connectors and mappings import from here only (``from gateway.models import Case, validate_cases``); the
modules behind it are one idea each:

- :mod:`.codes` — canonical vocabularies (``str`` enums with Chinese labels)
- :mod:`.identifiers` — resident ID, USCC, division code checks (fast, cached, warnings vs errors)
- :mod:`.case`, :mod:`.service_item`, :mod:`.certificate` — the pydantic models and their cross-field rules
- :mod:`.certificate_id` — GB/T 36904 certificate identifiers
- :mod:`.rules` — every rule's stable name, kind (structural / quality) and default severity
- :mod:`.quality` — quality flags carried on kept cases, and their per-run tally (one line per rule)
- :mod:`.validation` — one pydantic call per batch, issues as :class:`~gateway.contract.errors.FieldIssue`
- :mod:`.reference` — ``docs/canonical-model.md``, generated from the models, code lists and rules
- :mod:`.rows`, :mod:`.hashing` — JSON-ready rows and the ledger's content hash
"""

from __future__ import annotations

from .case import REASON_REQUIRED_RESULTS, Applicant, Case, CaseEvent, Material
from .certificate import NOT_YET_VALID, Certificate, CertificateHolder, status_on
from .certificate_id import CertificateIdentifier, certificate_identifier, parse_certificate_identifier
from .codes import (
    AgentRole,
    ApplicantType,
    CaseChannel,
    CaseResult,
    CaseStatus,
    CaseType,
    CertificateStatus,
    Channel,
    DeferredKind,
    IdType,
    ItemLevel,
    ItemType,
    LabelledEnum,
    MaterialSource,
    SpecialProcedureType,
    StepAction,
)
from .datetimes import BEIJING, to_beijing
from .hashing import canonical_json, case_document, content_hash
from .identifiers import (
    IdentifierError,
    IdentifierWarning,
    is_known_division,
    resident_id_check_char,
    uscc_check_char,
    validate_division_code,
    validate_id_number,
    validate_residence_permit,
    validate_resident_id,
    validate_uscc,
)
from .intake import Agent, DeferredMaterial, LimitUnitName, Office, StageRecord
from .issues import ISSUES_ERROR
from .quality import QualityFlag, QualityTally, RuleCount, aggregate_flags
from .rows import case_to_row, cases_to_rows, row_to_case
from .rules import PYDANTIC_RULES, QUALITY_RULES, RULES, SEVERITIES, Rule, Severity, rule_policy
from .service_item import RequiredMaterial, ServiceItem
from .text import gb18030_problem
from .validation import (
    RECORD_FIELD,
    BatchResult,
    issues_from_error,
    validate_case,
    validate_cases,
)

__all__ = [
    "BEIJING",
    "ISSUES_ERROR",
    "NOT_YET_VALID",
    "PYDANTIC_RULES",
    "QUALITY_RULES",
    "REASON_REQUIRED_RESULTS",
    "RECORD_FIELD",
    "RULES",
    "SEVERITIES",
    "Applicant",
    "ApplicantType",
    "BatchResult",
    "Case",
    "Agent",
    "AgentRole",
    "CaseChannel",
    "CaseEvent",
    "DeferredKind",
    "DeferredMaterial",
    "LimitUnitName",
    "Office",
    "StageRecord",
    "CaseResult",
    "CaseStatus",
    "CaseType",
    "Certificate",
    "CertificateHolder",
    "CertificateIdentifier",
    "CertificateStatus",
    "Channel",
    "IdType",
    "IdentifierError",
    "IdentifierWarning",
    "ItemLevel",
    "ItemType",
    "LabelledEnum",
    "Material",
    "MaterialSource",
    "QualityFlag",
    "QualityTally",
    "RequiredMaterial",
    "Rule",
    "RuleCount",
    "ServiceItem",
    "Severity",
    "SpecialProcedureType",
    "StepAction",
    "aggregate_flags",
    "canonical_json",
    "case_document",
    "case_to_row",
    "cases_to_rows",
    "certificate_identifier",
    "content_hash",
    "gb18030_problem",
    "is_known_division",
    "issues_from_error",
    "parse_certificate_identifier",
    "resident_id_check_char",
    "row_to_case",
    "rule_policy",
    "status_on",
    "to_beijing",
    "uscc_check_char",
    "validate_case",
    "validate_cases",
    "validate_division_code",
    "validate_id_number",
    "validate_residence_permit",
    "validate_resident_id",
    "validate_uscc",
]
