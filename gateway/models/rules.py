"""Every rule a record can break, with its stable name, its kind and what it does to the record by default.

Two kinds, because real data breaks them for different reasons:

- **structural** rules say a record is unusable: no key, a value of the wrong type, a date that cannot be
  parsed, an ID number whose checksum or birth date is wrong. They always *reject* the record (it goes to
  the dead-letter store with every issue named) and no mapping can change that.
- **quality** rules are business and data-quality expectations that legitimate records break often (a
  refusal without a reason, a certificate not named for an issued result, steps dated before the
  acceptance — 4–81% of one real system's records). By default they *flag*: the case goes on to the ledger
  and the hall carrying a :class:`~gateway.models.quality.QualityFlag`, and the sync counts them per rule.
  A system's mapping may raise one to ``reject`` or lower it to ``ignore``::

      rules:
        case.reason_required: reject     # this system must always give a reason: dead-letter if not
        division.unknown: ignore         # its old division codes are known and accepted

:data:`RULES` is the catalogue the reference documentation (``docs/canonical-model.md``) is generated from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from gateway.contract.errors import ConfigError

Severity = Literal["reject", "flag", "ignore"]
"""What a broken rule does to a record: keep it out (``reject``), keep it with a quality flag (``flag``), or
keep it silently (``ignore``)."""

SEVERITIES: tuple[Severity, ...] = get_args(Severity)

RuleKind = Literal["structural", "quality"]
Stage = Literal["mapping", "model"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: ``name`` is what issues, flags, dead letters and run reports carry."""

    name: str
    kind: RuleKind
    stage: Stage
    fields: str
    meaning: str

    @property
    def default(self) -> Severity:
        """Structural rules reject; quality rules flag."""
        return "reject" if self.kind == "structural" else "flag"

    @property
    def configurable(self) -> bool:
        """Whether a mapping's ``rules:`` section may change this rule's severity (quality rules only)."""
        return self.kind == "quality"


PYDANTIC_RULES: dict[str, str] = {
    "missing": "missing",
    "extra_forbidden": "extra_field",
    "model_type": "type.object",
    "model_attributes_type": "type.object",
    "dict_type": "type.object",
    "list_type": "type.list",
    "string_type": "type.str",
    "string_unicode": "text.gb18030",  # lone surrogates: the only text GB18030 cannot encode
    "int_type": "type.int",
    "int_parsing": "type.int",
    "int_from_float": "type.int",
    "float_type": "type.float",
    "float_parsing": "type.float",
    "bool_type": "type.bool",
    "bool_parsing": "type.bool",
    "datetime_type": "type.datetime",
    "datetime_parsing": "type.datetime",
    "datetime_from_date_parsing": "type.datetime",
    "datetime_object_invalid": "type.datetime",
    "date_type": "type.date",
    "date_parsing": "type.date",
    "date_from_datetime_parsing": "type.date",
    "date_from_datetime_inexact": "type.date",
    "timezone_aware": "datetime.timezone_required",
    "string_too_short": "string_too_short",
    "string_too_long": "string_too_long",
    "string_pattern_mismatch": "string_pattern",
    "too_short": "list_too_short",
    "too_long": "list_too_long",
    "greater_than_equal": "range.ge",
    "greater_than": "range.gt",
    "less_than_equal": "range.le",
    "less_than": "range.lt",
    "enum": "enum",
    "literal_error": "enum",
}
"""Pydantic error type → Tongban rule name. Anything else becomes ``schema.<pydantic type>``."""


def _s(name: str, stage: Stage, fields: str, meaning: str) -> Rule:
    return Rule(name, "structural", stage, fields, meaning)


def _q(name: str, fields: str, meaning: str) -> Rule:
    return Rule(name, "quality", "model", fields, meaning)


_ALL: tuple[Rule, ...] = (
    # -- the mapping (raw record → canonical dict) -----------------------------------------------------------
    _s("mapping.required", "mapping", "any field marked required", "The source has no value for a required field "
       "(missing, null, empty, a null token, or nothing left after slice/regex/lookup)."),
    _s("mapping.type", "mapping", "fields with type: int|float", "The value cannot be converted to the declared type."),
    _s("mapping.code_table", "mapping", "fields with code:", "The value is not in the code table "
       "(on_unknown: error, the default for code tables)."),
    _s("mapping.lookup", "mapping", "fields with lookup:", "The key is not in the lookup table "
       "(only with on_unknown: error; lookups default to null)."),
    _s("mapping.regex", "mapping", "fields with regex:", "The value does not match the pattern (only with "
       "on_no_match: error; the default is null)."),
    _s("mapping.date_format", "mapping", "fields with date:", "The value matches none of the declared date formats."),
    _s("mapping.date_value", "mapping", "outbound date fields", "A canonical date cannot be written in the target "
       "system's format."),
    _s("mapping.shape", "mapping", "the record, list items", "A record or list item is not an object."),
    Rule("mapping.code_unknown", "quality", "mapping", "fields with code: and on_unknown: flag", "The value is not "
         "in the code table: the field is left null, the record kept and flagged."),
    Rule("mapping.lookup_unknown", "quality", "mapping", "fields with lookup: and on_unknown: flag", "The key is "
         "not in the lookup table: the field is left null, the record kept and flagged."),
    Rule("mapping.regex_no_match", "quality", "mapping", "fields with regex: and on_no_match: flag", "The value "
         "does not match the pattern: the field is left null, the record kept and flagged."),
    # -- pydantic field types ------------------------------------------------------------------------------
    _s("missing", "model", "required canonical fields", "A required canonical field is absent."),
    _s("extra_field", "model", "any", "A field the canonical model does not have (a mapping typo)."),
    _s("type.object", "model", "applicant, events[], materials[]", "Not an object."),
    _s("type.list", "model", "events, materials", "Not a list."),
    _s("type.str", "model", "text fields", "Not a string."),
    _s("type.int", "model", "integer fields", "Not an integer."),
    _s("type.float", "model", "number fields", "Not a number."),
    _s("type.bool", "model", "deleted", "Not a boolean."),
    _s("type.datetime", "model", "datetime fields", "Not a datetime, or a date that does not exist (Feb 30)."),
    _s("type.date", "model", "date fields", "Not a date."),
    _s("datetime.timezone_required", "model", "datetime fields", "A datetime without an offset."),
    _s("datetime.implausible", "model", "applied_at, updated_at", "A time before 1900: not a real time (0001-01-01 "
       "is .NET's DateTime.MinValue, a common \"no value\" default); or a number given for a time (20261105123900, "
       "1709605860000: the mapping lacks a date format for the field — date: yyyyMMddHHmmss, epoch_ms …)."),
    _s("string_too_short", "model", "constrained text", "Shorter than allowed (e.g. a blank name)."),
    _s("string_too_long", "model", "constrained text", "Longer than allowed (case_no ≤ 50, item_code ≤ 36); "
       "optional free text is kept truncated instead (text.truncated)."),
    _s("string_pattern", "model", "case_no", "Characters outside the allowed pattern."),
    _s("list_too_short", "model", "constrained lists", "Fewer items than required."),
    _s("list_too_long", "model", "constrained lists", "More items than allowed."),
    _s("range.ge", "model", "promised_days, stages[].limit_days, materials[].count, events[].seq",
       "Below the minimum (negative)."),
    _s("range.gt", "model", "constrained numbers", "Not above the minimum."),
    _s("range.le", "model", "events[].seq", "Above the maximum: seq ≤ 2,147,483,647 (a typo or filler value; the "
       "ledger could not even write an integer beyond 64 bits). An optional number above its bound is left out "
       "instead (range.implausible)."),
    _s("range.lt", "model", "constrained numbers", "Not below the maximum."),
    _s("enum", "model", "code-list fields", "Not a value of the canonical code list (a mapping did not translate "
       "the system's code)."),
    # -- identifiers and text ------------------------------------------------------------------------------
    _s("resident_id.length", "model", "applicant.id_number (111, residence permits)", "Not 18 (or 15) characters."),
    _s("resident_id.format", "model", "applicant.id_number (111, residence permits)", "Not 17 digits and a digit "
       "or X."),
    _s("resident_id.checksum", "model", "applicant.id_number (111, residence permits)", "The GB 11643 check "
       "character is wrong."),
    _s("resident_id.birth_date", "model", "applicant.id_number (111, residence permits)", "The birth date does "
       "not exist, is before 1850 or in the future."),
    _s("uscc.length", "model", "dept_code, applicant.id_number (001)", "Not 18 characters."),
    _s("uscc.charset", "model", "dept_code, applicant.id_number (001)", "Characters outside the GB 32100 "
       "alphabet, or a non-digit division part."),
    _s("uscc.checksum", "model", "dept_code, applicant.id_number (001)", "The GB 32100 check character is wrong."),
    _s("id_number.empty", "model", "applicant.id_number (other types)", "Nothing left after normalisation."),
    _s("division.format", "model", "division_code", "Not 6 or 12 digits."),
    _s("text.gb18030", "model", "names, handler, certificate_name", "Text GB18030 cannot encode (lone surrogates "
       "from bad decoding)."),
    _s("certificate_id.format", "model", "Certificate.identifier", "Not a GB/T 36904 identifier "
       "(1.2.156.3005.2.…)."),
    _s("certificate_id.checksum", "model", "Certificate.identifier", "The ISO 7064 MOD 37,36 check character "
       "is wrong."),
    _s("certificate_id.type_mismatch", "model", "Certificate.type_code", "The type code differs from the "
       "identifier's."),
    _s("certificate.holder_required", "model", "Certificate.holders", "A certificate has no holder."),
    _s("certificate.validity_order", "model", "Certificate.valid_until", "The validity ends before it starts."),
    # -- quality: the record is kept, flagged --------------------------------------------------------------
    _q("case.certificate_required", "certificate_name, certificate_no", "A case finished with a certificate "
       "(result issued, 出证办结) should name the certificate and give its number."),
    _q("case.reason_required", "result_reason", "A refusal or return (not_permitted, returned, not_accepted, "
       "correction_timeout) should give the applicant a reason."),
    _q("case.result_requires_finish", "finished_at", "A result belongs to a finished case: a result is set but "
       "finished_at is empty."),
    _q("case.finished_while_open", "finished_at", "A finish time belongs to a finished case: the status says the "
       "case is still open (submitted, accepted, in progress, suspended) but finished_at is given — reopened after "
       "finishing with a stale finish time, or a status the source never moves. The finish time is what stops the "
       "case's clocks and counts it finished in the KPIs: the flag says which cases to look at."),
    _q("case.special_open_at_finish", "events[].ended_at", "A special procedure (补正, 听证 …) ends by the "
       "case's finish: one with no end, or an end after the finish (9999-12-31 for \"open\"), stopped the clock "
       "to the finish — a late case read as on time. 按时办结 gives it back up to its bound (the calendar's "
       "special_procedures.max_days, 30 days by default), as the deadline scan turns it red; the flag says which "
       "cases to look at."),
    _q("case.date_order", "accepted_at, finished_at, events[].started_at, events[].ended_at, "
       "stages[].ended_at", "Times should run "
       "applied ≤ accepted ≤ every step's start ≤ finished, and each step should end after it starts."),
    _q("case.instant_promise", "promised_days", "An instant case (即办件) promises 0 days."),
    _q("resident_id.place_code", "applicant.id_number", "The ID's place code is not in GB/T 2260, or was not in "
       "use in the birth year (old codes stay legitimate for the people who carry them)."),
    _q("resident_id.converted_15", "applicant.id_number", "An old 15-digit ID was converted to 18 digits."),
    _q("residence_permit.address_code", "applicant.id_number", "A 港澳台居民居住证 number should start with "
       "810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)."),
    _q("case.office_division", "office.division", "The accepting office's division code is not (or no longer) "
       "in GB/T 2260, or is not 6 or 12 digits."),
    _q("case.agent_authorisation", "agent.authorisation", "A proxy (代办) should give the reference of the "
       "applicant's written authorisation (授权委托书)."),
    _q("case.office_incomplete", "office.code", "The accepting office is given without its code: the office is "
       "left out of the case (the case is kept)."),
    _q("case.agent_incomplete", "agent.name, agent.role", "The agent (帮办代办) is given without a name or a known "
       "role (proxy or assistant): the agent is left out of the case (the case is kept)."),
    _q("case.deferred_due", "deferred_materials[].due_at", "A deferred material (容缺/承诺) should have a due date, "
       "not before the case was accepted."),
    _q("division.unknown", "division_code", "The division code is not (or no longer) in GB/T 2260."),
    _q("text.outside_gbk", "applicant.name, agent.name", "A name with a character outside GBK (an emoji, a rare "
       "character of CJK Extension B and beyond): GB18030 holds it, but a hall or department system storing GBK "
       "cannot (the push to it fails); a 生僻字 is legitimate, an emoji usually a typing slip."),
    _q("case.implausible_time", "accepted_at, promised_at, finished_at, events[].ended_at, stages[].*_at, "
       "deferred_materials[].*_at", "An optional time before 1900 (0001-01-01, a \"no value\" default), or a number "
       "given for a time (the mapping lacks a date format for it), is not a real time: it is left out (the case is "
       "kept)."),
    _q("case.step_start_missing", "events[].started_at", "A step without a start time (or one before 1900) is "
       "kept, started when the step before it ended (else when that one started, else at acceptance or "
       "application)."),
    _q("case.catalog_code", "catalog_code", "The catalogue code (基本编码) is not 12 characters: it is left out "
       "(the case is kept)."),
    _q("text.truncated", "optional free text (events[].opinion ≤ 2000, others ≤ 100,000 characters)", "Optional "
       "text longer than its limit is kept truncated: its first limit − 1 characters and \"…\"."),
    _q("range.implausible", "promised_days, stages[].limit_days, materials[].count", "An optional number above "
       "its bound (days ≤ 3650, count ≤ 1,000,000; 9999 is a common \"no limit\" filler, and one beyond 64 bits "
       "the ledger could not write) is left out: the days empty, the count its default 1 (the case is kept; the "
       "flag names the value given)."),
    _q("text.replaced", "optional free text (summary, applicant.address, events[].opinion …)", "Optional text "
       "holding lone surrogates (bad decoding upstream; no encoding can write them): they are replaced by U+FFFD."),
)

RULES: dict[str, Rule] = {rule.name: rule for rule in _ALL}
"""Every named rule, by name, in documentation order."""

QUALITY_RULES: frozenset[str] = frozenset(r.name for r in _ALL if r.kind == "quality")
"""The rules whose severity a mapping may set."""


def rule_policy(overrides: object, *, where: str = "<mapping>") -> dict[str, Severity]:
    """Check a mapping's ``rules:`` section; return ``{rule: severity}`` for the rules it changes.

    Raises :class:`ConfigError` naming the file for an unknown rule, a structural rule (those always reject)
    or an unknown severity.
    """
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: rules must map rule names to one of {', '.join(SEVERITIES)}")
    policy: dict[str, Severity] = {}
    for name, severity in overrides.items():
        rule = RULES.get(str(name))
        if rule is None:
            known = ", ".join(sorted(QUALITY_RULES))
            raise ConfigError(f"{where}: rules: unknown rule {name!r}; a mapping may set: {known}")
        if not rule.configurable:
            raise ConfigError(f"{where}: rules: {name} is a structural rule and always rejects the record")
        if severity not in SEVERITIES:
            raise ConfigError(f"{where}: rules: {name}: severity must be one of {', '.join(SEVERITIES)}, "
                              f"got {severity!r}")
        if severity != rule.default:
            policy[rule.name] = severity
    return policy


__all__ = ["PYDANTIC_RULES", "QUALITY_RULES", "RULES", "SEVERITIES", "Rule", "RuleKind", "Severity", "rule_policy"]
