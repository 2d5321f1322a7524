"""What every scaffold does the same way: a reason for every guess, and the three files of a new connector,
never written over existing ones."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gateway.contract.errors import ConfigError
from gateway.models import Case

from .guesses import FieldHint


@dataclass
class Guess:
    """One thing a scaffold guessed: what (a YAML key), the value written, why, and whether a person must check it."""

    what: str
    value: Any
    why: str
    check: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "value": self.value, "why": self.why, "check": self.check}


def guess_lines(guesses: Iterable[Guess], flow: Callable[[Any], str], indent: str = "      ") -> list[str]:
    """The report's line per guess — what, the value written (``flow`` renders it as YAML), why, and "(check)"
    where a person must look — the same in every scaffold's report."""
    lines = []
    for g in guesses:
        mark = " (check)" if g.check and "check" not in g.why else ""
        value = "none" if g.value is None else flow(g.value)
        lines.append(f"{indent}{g.what}: {value} — {g.why}{mark}")
    return lines


@dataclass(frozen=True, slots=True)
class CanonicalField:
    """One field of the canonical :class:`~gateway.models.Case` a mapping fills: its dotted path, whether the
    model requires it, and its description (the model's docstring: ``行政区划 (GB/T 2260), 6 or 12 digits``)."""

    path: str
    required: bool
    doc: str

    @property
    def term(self) -> str:
        """The Chinese term the description starts with (``行政区划``), or ``""``."""
        found = re.match(r"[\u4e00-\u9fff]{2,}", self.doc)
        return found.group(0) if found else ""


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model a field holds (``Applicant``, ``Applicant | None``) and whether it is a list."""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return None, True
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _model_of(args[0]) if len(args) == 1 else (None, False)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def canonical_fields(model: type[BaseModel] = Case, prefix: str = "") -> list[CanonicalField]:
    """The fields a mapping of ``model`` fills, read from the model itself (never a list kept by hand, which
    left out ``division_code`` when the Case grew it): every scalar field, and the fields of a required nested
    model (``applicant.name``). Lists (events, materials) and optional nested models (office, agent) have
    mapping sections of their own; ``quality`` is derived, never mapped."""
    fields: list[CanonicalField] = []
    for name, info in model.model_fields.items():
        if name == "quality":
            continue
        nested, repeated = _model_of(info.annotation)
        if repeated:
            continue
        if nested is not None:
            if info.is_required():
                fields += canonical_fields(nested, f"{prefix}{name}.")
            continue
        fields.append(CanonicalField(f"{prefix}{name}", info.is_required(), " ".join((info.description or "").split())))
    return fields


CASE_NO_NAMES = ("bjbh", "sblsh", "projid", "projectno", "projno", "caseno", "casenumber", "bjh", "sbbh",
                 "unifiedcaseno", "tybjbh")
"""Names of the national case number (办件编号) in government systems: pinyin initials (``bjbh`` 办件编号, ``sblsh``
申报流水号), the national exchange's ``PROJID``, English ``projectNo``/``caseNo``."""
CASE_NO_PLACEHOLDER = "CHOOSE_CASE_NO_FIELD"
"""The mapping skeleton's ``case_no`` when no source field reads as the case number."""
CASE_NO_DOC = ("办件编号", "统一办件编号", "申报流水号", "申办流水号", "办件号", "办件流水号")


def _squashed(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_case_no(fields: Sequence[FieldHint], primary_key: str | None) -> tuple[str, str]:
    """The source field holding the national case number (``case_no``, 办件编号), and why; the placeholder
    :data:`CASE_NO_PLACEHOLDER` when no field reads as one. The primary key is the source's own row key (``ywlsh`` 业务流水号): it is the case number only
    when it is named or documented as one, never by default (cases merge across systems by this number)."""
    scored: list[tuple[int, int, str, str]] = []
    for i, f in enumerate(fields):
        if f.repeated:
            continue
        name = _squashed(f.name)
        by_name = next((n for n in CASE_NO_NAMES if name == n or (len(n) >= 5 and name.endswith(n))), None)
        by_doc = next((d for d in CASE_NO_DOC if d in f.doc), None)
        if by_name is None and by_doc is None:
            continue
        reasons = ([f"documented as “{' '.join(f.doc.split())[:40]}”"] if by_doc else []) + (
            [f"the name `{f.name}` is a usual spelling of 办件编号"] if by_name else [])
        scored.append(((2 if by_doc else 0) + (1 if by_name else 0), -i, f.name, " and ".join(reasons)))
    if not scored:
        key = f"; the primary key `{primary_key}` is the source's row key, the case number only if the system " \
              "uses it as one" if primary_key else ""
        return CASE_NO_PLACEHOLDER, ("no field is named or documented as the national case number (办件编号: "
                                     f"bjbh, sblsh, projectNo, caseNo …){key}: choose it")
    scored.sort(reverse=True)
    _, _, name, why = scored[0]
    others = [s[2] for s in scored[1:]]
    if others:
        why += f"; also candidates: {', '.join(others)}"
    if name == primary_key:
        why += " (it is also the primary key)"
    return name, why



def mapping_field_lines(fields: Sequence[FieldHint], guesses: dict[str, tuple[str | None, str]]) -> list[str]:
    """The ``fields:`` lines of a mapping skeleton, one per :func:`canonical_fields` entry: a required field with
    its guessed source path (or ``null`` to replace), an optional one the same when a source field was found for
    it, else commented out. ``guesses`` maps canonical paths to ``(source path or None, why)`` and wins; other
    fields are matched by name (``itemCode`` → ``item_code``) or by the Chinese term of the model's description
    in a source field's documentation (``xzqh`` “行政区划” → ``division_code``)."""
    by_name = {_squashed(f.name): f.name for f in fields if not f.repeated}
    lines: list[str] = []
    taken = {g[0] for g in guesses.values() if g[0]}
    for target in canonical_fields():
        found, why = guesses.get(target.path, (None, ""))
        if target.path not in guesses:
            leaf = _squashed(target.path.rsplit(".", 1)[-1])
            full = _squashed(target.path)
            found = by_name.get(full) or by_name.get(leaf)
            why = f"the name matches `{target.path}`" if found else ""
            if found is None and target.term:
                hit = next((f for f in fields if not f.repeated and f.name not in taken and f.doc
                            and " ".join(f.doc.split()).startswith(target.term)), None)
                if hit is not None:
                    found, why = hit.name, f"documented as “{' '.join(hit.doc.split())[:30]}”"
            if found:
                taken.add(found)
        value = found if found else ("null" if target.required else None)
        note = why or (f"required: {target.doc[:70]}" if target.required else target.doc[:70])
        if value is None:
            lines.append(f"  # {target.path}: null".ljust(34) + f"   # optional: {target.doc[:70]}")
        else:
            # a flow mapping a scaffold wrote ({path: gxsj, date: epoch_ms}) as it is; a source path quoted if needed
            shown = value if re.fullmatch(r"[A-Za-z_][\w.]*", value) or value.startswith("{path: ") else repr(value)
            lines.append(f"  {target.path}: {shown}".ljust(34) + (f"   # {note}" if note else ""))
    return lines


def scaffold_files(root: Path, name: str, *, connector: str, mapping: str, test: str) -> dict[Path, str]:
    """Where the connector YAML, the mapping skeleton and the acceptance test of ``name`` go under ``root``."""
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ConfigError(f"connector name {name!r}: use letters, digits and underscores, starting with a letter")
    return {
        root / "config" / "connectors" / f"{name}.yaml": connector,
        root / "mappings" / f"{name}.yaml": mapping,
        root / "tests" / "connectors" / f"test_{name}_acceptance.py": test,
    }


def write_files(files: dict[Path, str], *, force: bool) -> list[Path]:
    """Write ``files``; refuse (naming them) to overwrite any that exist unless ``force``."""
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise ConfigError(f"would overwrite {', '.join(map(str, existing))}; pass --force to replace them")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


__all__ = ["CASE_NO_PLACEHOLDER", "CanonicalField", "Guess", "canonical_fields", "guess_case_no", "mapping_field_lines",
           "scaffold_files", "write_files"]
