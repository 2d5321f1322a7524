"""``docs/canonical-model.md``, generated from the models, the code lists and the rule catalogue.

The page is the reference an integration engineer reads instead of the source: every canonical field (its
type, whether it is required, what it means — taken from the field docstrings), every code list with its
codes and labels, every rule with its name, kind and default severity. ``python -m gateway.mapping.reference``
writes it (with the mapping reference); a test regenerates it and fails when the committed file differs.
"""

from __future__ import annotations

import inspect
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import AwareDatetime, BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from . import codes
from .case import Applicant, Case, CaseEvent, Material
from .certificate import Certificate, CertificateHolder
from .codes import LabelledEnum
from .intake import Agent, DeferredMaterial, Office, StageRecord
from .quality import QualityFlag
from .rules import RULES, SEVERITIES
from .service_item import RequiredMaterial, ServiceItem

MODELS: tuple[type[BaseModel], ...] = (
    Case, Applicant, CaseEvent, Material, Office, Agent, StageRecord, DeferredMaterial, QualityFlag, Certificate, CertificateHolder, ServiceItem, RequiredMaterial,
)
"""The models documented, in order: the case and the parts it holds, then certificates and service items."""


def code_lists() -> list[type[LabelledEnum]]:
    """Every canonical code list, in the order :mod:`gateway.models.codes` declares them."""
    found = [obj for obj in vars(codes).values()
             if inspect.isclass(obj) and issubclass(obj, LabelledEnum) and obj is not LabelledEnum]
    return found


def _anchor(name: str) -> str:
    return name.lower()


def _constraints(metadata: list[Any]) -> list[str]:
    out: list[str] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.extend(_constraints(list(item.metadata)))
        elif isinstance(item, StringConstraints):
            lo, hi = item.min_length, item.max_length
            if lo and hi and lo == hi:
                out.append(f"exactly {lo} characters")
            elif lo and hi:
                out.append(f"{lo}–{hi} characters")
            elif hi:
                out.append(f"at most {hi} characters")
            elif lo == 1:
                out.append("not empty" + (", spaces stripped" if item.strip_whitespace else ""))
            elif lo:
                out.append(f"at least {lo} characters")
            if item.pattern:
                out.append(f"pattern `{item.pattern}`")
        elif isinstance(item, Ge):
            out.append(f"≥ {item.ge}")
        elif isinstance(item, Gt):
            out.append(f"> {item.gt}")
        elif isinstance(item, Le):
            out.append(f"≤ {item.le}")
        elif isinstance(item, Lt):
            out.append(f"< {item.lt}")
        elif isinstance(item, MinLen):
            out.append(f"at least {item.min_length} items")
        elif isinstance(item, MaxLen):
            out.append(f"at most {item.max_length} items")
    return out


def type_text(annotation: Any, metadata: list[Any] | None = None) -> str:
    """A field's type for people: ``text (1–50 characters)``, ``code list [CaseType](#casetype)`` …"""
    extra = _constraints(list(metadata or []))
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        return type_text(base, [*meta, *(metadata or [])])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        text = " or ".join(type_text(a) for a in args)
        if len(args) < len(get_args(annotation)):
            text += " or null"
        return text + (f" ({', '.join(extra)})" if extra else "")
    if origin is list:
        (item,) = get_args(annotation)
        text = f"list of {type_text(item)}"
    elif origin is Literal:
        text = "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    elif inspect.isclass(annotation) and issubclass(annotation, LabelledEnum):
        text = f"code list [{annotation.__name__}](#{_anchor(annotation.__name__)})"
    elif inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        text = f"[{annotation.__name__}](#{_anchor(annotation.__name__)})"
    elif annotation is AwareDatetime:
        text = "datetime with offset (ISO 8601; stored at +08:00)"
    elif annotation is str:
        text = "text"
    elif annotation is int:
        text = "integer"
    elif annotation is bool:
        text = "boolean"
    elif annotation is float:
        text = "number"
    else:
        text = getattr(annotation, "__name__", str(annotation))
    return text + (f" ({', '.join(extra)})" if extra else "")


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _md(text: str) -> str:
    """Docstring reST to Markdown: ``:class:`X``` and ````x```` become ```X```."""
    return _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text).replace("``", "`")


def _cell(text: str) -> str:
    return " ".join(_md(text).split()).replace("|", "\\|")


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "yes"
    default = info.get_default(call_default_factory=True)
    if default is None:
        return "no"
    if default == []:
        return "no (default `[]`)"
    if isinstance(default, LabelledEnum):
        return f"no (default `{default.value}`)"
    return f"no (default `{str(default).lower() if isinstance(default, bool) else default}`)"


def _model_section(model: type[BaseModel]) -> list[str]:
    doc = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0]
    lines = [f"### {model.__name__}", "", " ".join(_md(doc).split()), "", "| Field | Type | Required | Meaning |",
             "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        lines.append(f"| `{name}` | {_cell(type_text(info.annotation, list(info.metadata)))} | {_default(info)} | "
                     f"{_cell(info.description or '')} |")
    return [*lines, ""]


def _code_list_section(enum: type[LabelledEnum]) -> list[str]:
    doc = inspect.cleandoc(enum.__doc__ or "")
    lines = [f"### {enum.__name__}", "", *_md(doc).splitlines(), "", "| Value | Label | Python name |", "|---|---|---|"]
    lines += [f"| `{m.value}` | {m.label} | `{enum.__name__}.{m.name}` |" for m in enum]
    return [*lines, ""]


def _rules_section() -> list[str]:
    lines = [
        "## Rules",
        "",
        (
            "Every issue, dead letter, quality flag and run count names one of these rules. **Structural** rules "
            "make a record unusable: it is rejected (sent to the dead-letter store with every issue, its raw "
            "payload kept for a replay after a fix) and no mapping can change that. **Quality** rules are "
            "expectations real data breaks often: by default the case is kept and carries a quality flag; a "
            "system's mapping may raise a quality rule to `reject` or lower it to `ignore` (`rules:` in the "
            "mapping file, see [mapping-reference.md](mapping-reference.md#rules))."
        ),
        "",
        (
            "Severities: " + ", ".join(f"`{s}`" for s in SEVERITIES) + " — reject the record; keep it with a "
            "quality flag; keep it silently. Pydantic errors without a rule of their own are named "
            "`schema.<pydantic error type>` (structural). Certificates are checked by the same identifier rules; "
            "their quality findings (an unknown division code, an old place code) are counted as warnings by the "
            "certificate harvest rather than carried as flags."
        ),
        "",
        "| Rule | Kind | Stage | Default | Fields | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for rule in RULES.values():
        lines.append(f"| `{rule.name}` | {rule.kind} | {rule.stage} | {rule.default} | {_cell(rule.fields)} | "
                     f"{_cell(rule.meaning)} |")
    return [*lines, ""]


_INTRO = """\
# Canonical model

<!-- Generated by `python -m gateway.mapping.reference` from gateway/models: do not edit by hand. -->

Every system's records are mapped (see [mapping-reference.md](mapping-reference.md)) into one canonical
model, validated, stored in the ledger and pushed to the systems that should hold them. This page lists its
fields, its code lists and the rules a record is checked against.

- Datetimes are aware and stored at +08:00 (Beijing time); a mapping adds the offset to local times.
- Code-list fields hold the canonical *values* below (`issued`, `111`), never a system's own codes; the
  labels are for people.
- Identifiers are checked (GB 11643 resident IDs, GB 32100 credit codes, GB/T 2260 division codes) and
  stored normalised (upper-case X, 15-digit IDs converted to 18).
- `quality` is derived: on validation every quality rule the case breaks (with a `flag` severity) adds a
  `QualityFlag(rule, field, message)`; whatever the input held there is replaced. The flags travel with the
  case to the ledger and the hall; the ledger's content hash ignores an empty list.
- Validation of a batch is one call (`gateway.models.validate_cases(records, refs, rules=...)` or
  `Mapper.validate`; each record is checked on its own, so a bad one fails alone): `result.valid` (the kept
  cases), `result.rejected` (a `RecordRejected` with every issue per bad record), `result.flags`
  (`(index, FieldIssue)` per flag of a kept case). `gateway.models.QualityTally` counts flags and rejections
  per rule across a run (records, fields, up to three example records each) so that a run logs one line per
  rule.
- The ledger stores a case's JSON without the top-level fields that hold their default (`null`, `[]`,
  `deleted: false`) and every reader gets the whole document back (`gateway.models.stored`); the content hash
  is taken over the whole document.

## Contents

- [Models](#models): """

_MIDDLE = """\
## Models

"""


def canonical_model_reference() -> str:
    """The whole page, as Markdown."""
    lists = code_lists()
    lines = [
        _INTRO + ", ".join(f"[{m.__name__}](#{_anchor(m.__name__)})" for m in MODELS),
        "- [Code lists](#code-lists): " + ", ".join(f"[{e.__name__}](#{_anchor(e.__name__)})" for e in lists),
        "- [Rules](#rules)",
        "",
        _MIDDLE.rstrip("\n"),
        "",
    ]
    for model in MODELS:
        lines += _model_section(model)
    lines += ["## Code lists", "",
              "Values are what the canonical model holds; where a national list exists the values are its codes.",
              ""]
    for enum in lists:
        lines += _code_list_section(enum)
    lines += _rules_section()
    return "\n".join(lines).rstrip("\n") + "\n"


__all__ = ["MODELS", "canonical_model_reference", "code_lists", "type_text"]
