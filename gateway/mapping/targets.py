"""A mapping's targets checked against the canonical model it fills, when the mapping is loaded.

Two mistakes otherwise pass ``tongban mapping check --sample`` on a sample that happens not to show them, and
dead-letter records at the first sync:

- a target that is not a field of the model (``finshed_at``, ``applicant.idnumber``): every record is rejected
  with ``extra_field``;
- a constant the mapping produces that the field cannot hold: a code-table value outside the canonical code
  list (``{转报: forwardd}``), a ``const``/``default``/``cases`` value likewise, or a value YAML read as another
  type (``{是: yes}`` is the boolean true, ``{自然人: 1}`` the number 1, where the field holds text or a code).

Both are found here, with the file, the line, the field, the bad value, what is allowed and the nearest
allowed spelling. Only constants are checked: what a record's own value becomes is the record's business.

    check_targets(spec["fields"], Case, code_tables=spec["code_tables"], where="mappings/x.yaml", document=doc)
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from gateway.contract.errors import ConfigError
from gateway.kernel.yamlfile import YamlDocument, did_you_mean

_NONE = type(None)


@dataclass(frozen=True, slots=True)
class _Target:
    """What one canonical field holds: its pydantic field, and the item model of a list of objects."""

    name: str
    info: FieldInfo
    model: type[BaseModel] | None  # the field is an object (or a list of objects) of this model
    is_list: bool
    reshaped: bool = False
    """The owning model reshapes input before validating it (a before/wrap validator of the model or of this
    field: a catalogue's 20个工作日 read into a TimeLimit, 自然人、法人 split into a list): the bare annotation
    would refuse what the model accepts, so only a code-list value is checked for it."""

    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(Annotated[(self.info.annotation, *self.info.metadata)] if self.info.metadata
                           else self.info.annotation)

    def choices(self) -> list[str] | None:
        """The allowed values of a code-list field (an enum or a Literal), in declaration order."""
        found: list[str] = []
        for inner in _flatten(self.info.annotation):
            if isinstance(inner, type) and issubclass(inner, enum.Enum):
                found += [str(m.value) for m in inner]
            elif get_origin(inner) is Literal:
                found += [str(v) for v in get_args(inner)]
        return found or None

    def labels(self) -> dict[str, str]:
        """Chinese label → value, for code lists whose members carry one (``LabelledEnum``)."""
        out: dict[str, str] = {}
        for inner in _flatten(self.info.annotation):
            if isinstance(inner, type) and issubclass(inner, enum.Enum):
                for member in inner:
                    label = getattr(member, "label", "")
                    if label:
                        out[str(label)] = str(member.value)
        return out

    def code_list(self) -> str:
        """``a value of CaseResult`` (an enum), ``one of the values of kind`` (a Literal)."""
        for inner in _flatten(self.info.annotation):
            if isinstance(inner, type) and issubclass(inner, enum.Enum):
                return f"a value of {inner.__name__}"
        return f"one of the values of {self.name}"


def _flatten(annotation: Any, *, into_lists: bool = True) -> Iterator[Any]:
    """The types inside ``X | None`` and ``Annotated[X, ...]``, and inside ``list[X]`` unless ``into_lists`` is
    false (then the list type itself is yielded: is the field a list?)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _flatten(get_args(annotation)[0], into_lists=into_lists)
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not _NONE:
                yield from _flatten(arg, into_lists=into_lists)
    elif into_lists and origin in (list, tuple, set, frozenset):
        for arg in get_args(annotation):
            yield from _flatten(arg, into_lists=into_lists)
    else:
        yield annotation


def _target(model: type[BaseModel], name: str) -> _Target | None:
    info = model.model_fields.get(name)
    if info is None:
        return None
    inner = [t for t in _flatten(info.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
    is_list = any(get_origin(t) in (list, tuple) for t in _flatten(info.annotation, into_lists=False))
    return _Target(name, info, inner[0] if inner else None, is_list,
                   reshaped=_reshapes(model, name, structured=bool(inner) or is_list))


def _reshapes(model: type[BaseModel], name: str, *, structured: bool) -> bool:
    """Whether ``model`` changes the input of field ``name`` before validating it: a before/wrap validator of the
    field, or of the whole model when the field holds an object or a list (what such a validator builds from
    text — a model validator that trims strings does not make a text field's constant unjudgeable)."""
    decorators = model.__pydantic_decorators__
    if any(d.info.mode in ("before", "wrap") and (name in d.info.fields or "*" in d.info.fields)
           for d in decorators.field_validators.values()):
        return True
    return structured and any(d.info.mode in ("before", "wrap") for d in decorators.model_validators.values())


def _paths(model: type[BaseModel], prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Every dotted path a mapping may target in ``model`` (objects opened, lists not: their items have their
    own ``fields``)."""
    for name in model.model_fields:
        path = f"{prefix}{name}"
        yield path
        target = _target(model, name)
        if target is not None and target.model is not None and not target.is_list and depth < 3:
            yield from _paths(target.model, f"{path}.", depth + 1)


def _written(value: Any) -> str:
    """How YAML read a value, for a person who wrote something else."""
    if isinstance(value, bool):
        return (f"{value!r}: YAML reads unquoted yes/no/on/off/true/false as a boolean; quote the text "
                f"(\"yes\") if a word was meant")
    written = getattr(value, "written", None)  # 0370: YAML's octal 248 — the advice quotes what was written
    if isinstance(written, str):
        return (f"{written} (read by YAML as the number {int(value)}): quote it (\"{written}\") if a code was "
                "meant")
    if isinstance(value, int | float):
        return f"the number {value!r}: quote it (\"{value}\") if a code was meant; YAML drops leading zeros"
    return repr(value)


class _Checker:
    def __init__(self, model: type[BaseModel], code_tables: Mapping[str, Any], where: str,
                 document: YamlDocument | None) -> None:
        self.model = model
        self.code_tables = code_tables
        self.where = where
        self.document = document
        self.problems: list[str] = []

    def at(self, yaml_path: tuple[Any, ...]) -> str:
        line = self.document.line(*yaml_path) if self.document is not None else None
        return f"{self.where}: line {line}" if line is not None else self.where

    def fields(self, fields: Any, model: type[BaseModel], prefix: str, yaml_path: tuple[Any, ...]) -> None:
        if not isinstance(fields, Mapping):
            return  # the compiler says what is wrong with it
        for target_path, spec in fields.items():
            if str(target_path).startswith("_"):
                continue  # a side value the caller takes out before validation (a certificate's _file, _key_id)
            self.field(str(target_path), spec, model, prefix, (*yaml_path, target_path))

    def field(self, target_path: str, spec: Any, model: type[BaseModel], prefix: str,
              yaml_path: tuple[Any, ...]) -> None:
        current: type[BaseModel] = model
        target: _Target | None = None
        parts = target_path.split(".")
        for depth, part in enumerate(parts):
            target = _target(current, part)
            shown = prefix + ".".join(parts[: depth + 1])
            if target is None:
                choices = list(_paths(model))
                self.problems.append(
                    f"{self.at(yaml_path)}: fields: {prefix}{target_path} is not a field of the canonical "
                    f"{model.__name__}{did_you_mean(target_path, choices)}")
                return
            if depth < len(parts) - 1:
                if target.model is None or target.is_list:
                    self.problems.append(f"{self.at(yaml_path)}: fields: {shown} is not an object: "
                                         f"{prefix}{target_path} cannot be set inside it")
                    return
                current = target.model
        assert target is not None
        full = prefix + target_path
        if isinstance(spec, Mapping) and "list" in spec:
            if target.model is None or not target.is_list:
                self.problems.append(f"{self.at(yaml_path)}: fields: {full} is not a list of objects: "
                                     "it cannot take a list spec")
                return
            sources = spec["list"] if isinstance(spec["list"], list) else [spec["list"]]
            for index, source in enumerate(sources):
                if isinstance(source, Mapping):
                    self.fields(source.get("fields"), target.model, f"{full}[].",
                                (*yaml_path, "list", index, "fields") if isinstance(spec["list"], list)
                                else (*yaml_path, "list", "fields"))
            return
        if target.model is not None and isinstance(spec, Mapping) and ("const" in spec or "code" in spec):
            return  # a whole object or list from a constant: rare, and validation says the rest
        self.values(full, target, spec, yaml_path)

    def values(self, full: str, target: _Target, spec: Any, yaml_path: tuple[Any, ...]) -> None:
        """Check every constant ``spec`` can produce for ``target``."""
        for value, origin, where in self._constants(spec, yaml_path):
            self._check(full, target, value, origin, where)

    def _constants(self, spec: Any, yaml_path: tuple[Any, ...]) -> Iterator[tuple[Any, str, tuple[Any, ...]]]:
        """(value, where it comes from, its YAML path) for each constant a field spec can give."""
        if not isinstance(spec, Mapping):
            return
        transformed = any(k in spec for k in ("date", "lookup"))  # a later step changes the value
        if "const" in spec:
            yield spec["const"], "const", (*yaml_path, "const")
        if "default" in spec and spec["default"] is not None and not transformed:
            yield spec["default"], "default", (*yaml_path, "default")
        if "code" in spec and not transformed and spec.get("on_unknown") != "keep":
            yield from self._table_values(spec["code"], yaml_path)
        for key in ("cases",):
            branches = spec.get(key)
            if isinstance(branches, list):
                for index, branch in enumerate(branches):
                    if not isinstance(branch, Mapping):
                        continue
                    at = (*yaml_path, key, index)
                    if "value" in branch:
                        yield branch["value"], "cases value", (*at, "value")
                    elif isinstance(branch.get("then"), Mapping):
                        yield from self._constants(branch["then"], (*at, "then"))
                    elif "then" in branch and not isinstance(branch.get("then"), str):
                        yield branch["then"], "cases value", (*at, "then")
        for key in ("then", "else"):  # the when/then/else short form
            if isinstance(spec.get(key), Mapping):
                yield from self._constants(spec[key], (*yaml_path, key))
            elif key in spec and "when" in spec and not isinstance(spec[key], str):
                yield spec[key], f"{key} value", (*yaml_path, key)
        first = spec.get("first")
        if isinstance(first, list):
            for index, alternative in enumerate(first):
                yield from self._constants(alternative, (*yaml_path, "first", index))

    def _table_values(self, ref: Any, yaml_path: tuple[Any, ...]) -> Iterator[tuple[Any, str, tuple[Any, ...]]]:
        if isinstance(ref, Mapping) and "table" in ref and set(ref) <= {"table", "invert"}:
            if ref.get("invert"):
                return  # canonical values as keys: an outbound table
            ref = ref["table"]
        if isinstance(ref, str):
            table = self.code_tables.get(ref)
            if isinstance(table, Mapping):
                for code, value in table.items():
                    yield value, f"code table {ref!r} maps {code!r} to", ("code_tables", ref, code)
        elif isinstance(ref, Mapping):
            for code, value in ref.items():
                yield value, f"the inline code table maps {code!r} to", (*yaml_path, "code", code)

    def _check(self, full: str, target: _Target, value: Any, origin: str, yaml_path: tuple[Any, ...]) -> None:
        if value is None:
            return  # null: the field stays empty, which its own rules judge per record
        if target.reshaped and target.choices() is None:
            return  # the model reads such values its own way: judged per record
        try:
            target.adapter().validate_python(value)
            return
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
        choices = target.choices()
        said = f"{self.at(yaml_path)}: fields: {full}: {origin} {_written(value)}"
        if choices is not None:
            hint = ""
            if isinstance(value, str):
                label = target.labels().get(value)
                hint = f" ({value!r} is the label of {label!r})" if label else did_you_mean(value, choices)
            self.problems.append(f"{said}, which is not {target.code_list()}{hint}; "
                                 f"allowed: {', '.join(choices)}")
        else:
            self.problems.append(f"{said}, which {full} cannot hold: {first['msg']}")


def check_targets(fields: Any, model: type[BaseModel], *, code_tables: Mapping[str, Any] | None = None,
                  where: str = "<mapping>", document: YamlDocument | None = None) -> None:
    """Raise one :class:`ConfigError` listing every target of ``fields`` that ``model`` does not have and every
    constant (code-table value, const, default, cases value) its field cannot hold."""
    checker = _Checker(model, code_tables or {}, where, document)
    checker.fields(fields, model, "", ("fields",))
    if checker.problems:
        raise ConfigError("\n".join(checker.problems))


def code_table_of(spec: Any) -> str | None:
    """The name of the code table a field spec reads (``"inline"`` for an inline one), if any."""
    if not isinstance(spec, Mapping) or "code" not in spec:
        return None
    ref = spec["code"]
    if isinstance(ref, str):
        return ref
    if isinstance(ref, Mapping) and "table" in ref and set(ref) <= {"table", "invert"}:
        return str(ref["table"])
    return "inline"


__all__ = ["check_targets", "code_table_of"]
