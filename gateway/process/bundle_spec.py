"""一件事 bundle definitions (``config/bundles.yaml``) and the merged form an application is checked against.

A bundle ("one thing", e.g. 开办企业) is several service items of several departments applied for once: one form
whose every field is asked once, each material submitted once, then one part per item sent to its department's
system. The definition says all of it as data, reviewed like the 通办目录:

    bundles = BundleCatalogue.load()
    spec = bundles.get("KBQY")
    form, materials = spec.check(application)          # raises RecordRejected naming record, field and rule

Why configuration and not code: which items form a bundle, which field each department needs and which system
takes each part are decisions of the government service office, changed by publishing a new list (seed 001: 64
items in packages, 39 materials merged into one form), not by a release of Tongban.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from gateway.contract.errors import ConfigError, FieldIssue, RecordRejected
from gateway.kernel.config import SystemsConfig, find_config_file
from gateway.kernel.yamlfile import load_yaml, read_config_text
from gateway.models.codes import CaseChannel, Channel
from gateway.models.identifiers import IdentifierError, normalise, validate_resident_id

__all__ = ["ApplicantSpec", "BundleCatalogue", "BundleSpec", "FormField", "MaterialSpec", "PartSpec",
           "ReceivedMaterial", "case_channel", "unsafe_character"]

FieldType = Literal["text", "number", "bool", "list", "resident_id"]
_TYPES = ("text", "number", "bool", "list", "resident_id")
log = logging.getLogger(__name__)
REFERENCE_MAX = 64
"""The longest submitter's reference the ledger keeps (``bundle_applications.reference``)."""
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
APPLICANT_NAME_MAX = 200
"""The longest applicant name a bundle and its parts' cases hold (``bundle_applications.applicant_name``)."""


@dataclass(frozen=True)
class FormField:
    """One field of the merged form, asked once, and the parts whose case uses it."""

    code: str
    label: str
    type: FieldType = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    parts: tuple[str, ...] = ()
    minimum: float = 0
    """A number's smallest value (``min:``; amounts, areas and counts are never negative)."""
    maximum: float = 1e15
    """A number's largest value (``max:``; the default keeps every integer exact through JSON and float)."""
    max_length: int = 500
    """A text's longest form, in characters (``max_length:``)."""
    multiline: bool = False
    """A text that may hold line breaks and tabs (``multiline: true``); every other text is one line."""


@dataclass(frozen=True)
class MaterialSpec:
    """A material submitted once; every part in ``parts`` references the one stored copy."""

    code: str
    name: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class ApplicantSpec:
    """In whose name a part is applied for: form fields, or the certificate an earlier part issued (the company
    exists, with its 统一社会信用代码, only once the licence is issued)."""

    type: str
    name_field: str
    id_type: str
    id_field: str | None = None
    certificate_of: str | None = None


@dataclass(frozen=True)
class PartSpec:
    code: str
    name: str
    system: str
    item_code: str
    item_name: str
    dept_code: str
    dept_name: str
    applicant: ApplicantSpec
    catalog_code: str | None = None
    after: tuple[str, ...] = ()
    summary: str = ""
    issues_type: str | None = None
    """The certificate type this part's result is (a licence its dependents may fetch through the gateway)."""
    issues_name: str | None = None
    reuses: tuple[tuple[str, str], ...] = ()
    """``(part, material name)``: the certificate that part issued, fetched by this part's system through the
    certificate gateway with the applicant's consent — a material the applicant is never asked for."""


@dataclass(frozen=True)
class ReceivedMaterial:
    code: str
    name: str
    content: bytes
    media_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class BundleSpec:
    code: str
    name: str
    division: str
    limit_days: int
    limit_unit: Literal["working_day", "calendar_day"]
    form: dict[str, FormField]
    materials: dict[str, MaterialSpec]
    parts: dict[str, PartSpec]
    consent_field: str | None = None

    def order(self) -> list[str]:
        """Parts, each after the parts it waits for (the file's order otherwise)."""
        done: list[str] = []
        while len(done) < len(self.parts):
            for code, part in self.parts.items():
                if code not in done and all(a in done for a in part.after):
                    done.append(code)
        return done

    def fields_of(self, part: str) -> list[str]:
        return [f.code for f in self.form.values() if part in f.parts]

    def field_for(self, part: str, name: str, form: dict[str, Any]) -> Any:
        """``form[name]`` when the field is one of ``part``'s (its ``parts`` list it; a field that lists none is
        every part's, as it always was), else None: a department's case carries only what the definition gives
        it (a phone meant for the licence alone reached every part)."""
        field = self.form.get(name)
        return form.get(name) if field is not None and (not field.parts or part in field.parts) else None

    def materials_of(self, part: str) -> list[MaterialSpec]:
        return [m for m in self.materials.values() if part in m.parts]

    # -- an application ---------------------------------------------------------------------------------------
    def record_of(self, application: dict[str, Any]) -> str:
        """How the application is named in its broken rules: its ``reference`` (a lone surrogate shown escaped)."""
        return _safe(str(application.get("reference") or f"{self.code} application"))

    def check(self, application: dict[str, Any]) -> tuple[dict[str, Any], list[ReceivedMaterial]]:
        """The application's form (typed, each field once) and its materials (each once), or ``RecordRejected``
        listing every broken rule: ``form.<field>`` / ``materials.<code>`` with rules ``bundle.required``,
        ``bundle.unknown_field``, ``bundle.type``, ``bundle.range``, ``bundle.length``, ``bundle.choice``,
        ``bundle.pattern``, ``resident_id.*``, ``bundle.material_missing``, ``bundle.material_duplicate``,
        ``bundle.material_unknown``, ``bundle.material_content``, ``bundle.media_type``, ``bundle.text`` (a control
        or format character), ``bundle.channel``; ``reference``: ``bundle.text``, ``bundle.type`` (not a text),
        ``bundle.length`` (over :data:`REFERENCE_MAX`). A required text that is only spaces is missing."""
        record = self.record_of(application)
        broken = list(_lone_surrogates(application))
        if broken:  # JSON can carry "\ud800", no UTF-8 text can: nothing could store, hash or answer with it
            raise RecordRejected(record, [FieldIssue(record, path, "bundle.text",
                                                     "text must be Unicode characters: a lone surrogate "
                                                     "(\\ud800–\\udfff) is not one") for path in broken[:20]])
        issues: list[FieldIssue] = []
        reference = application.get("reference")
        said = unsafe_character(reference) if isinstance(reference, str) else None
        if said is not None:  # the key an application is found again by: "HALL-1\u200b" would be a second one
            issues.append(FieldIssue(record, "reference", "bundle.text", said))
        elif reference is not None and not isinstance(reference, str | int):  # a YAML mapping stored as its repr
            issues.append(FieldIssue(record, "reference", "bundle.type",
                                     f"the reference is the submitter's own number, a text: not {_shown(reference)}"))
        elif reference is not None and len(str(reference)) > REFERENCE_MAX:  # PostgreSQL refused it mid-store
            issues.append(FieldIssue(record, "reference", "bundle.length",
                                     f"the reference is {len(str(reference))} characters; at most {REFERENCE_MAX}"))
        raw_form = application.get("form")
        if not isinstance(raw_form, dict):
            raise RecordRejected(record, [FieldIssue(record, "form", "bundle.form", "the merged form is missing")])
        form: dict[str, Any] = {}
        for name in raw_form:
            if name not in self.form:
                issues.append(FieldIssue(record, f"form.{name}", "bundle.unknown_field",
                                         f"{name!r} is not a field of the {self.code} form"))
        for spec in self.form.values():
            value = raw_form.get(spec.code)
            before = len(issues)
            checked = None if value is None or value == "" or value == [] else \
                _field_value(record, spec, value, issues)
            if checked is not None:
                form[spec.code] = checked
            elif spec.required and len(issues) == before:  # nothing given, or nothing left once normalised
                issues.append(FieldIssue(record, f"form.{spec.code}", "bundle.required", f"{spec.label} is required"))
        _channel(record, application.get("channel"), issues)
        materials = self._materials(record, application.get("materials"), issues)
        if issues:
            raise RecordRejected(record, issues)
        return form, materials

    def _materials(self, record: str, given: Any, issues: list[FieldIssue]) -> list[ReceivedMaterial]:
        entries = given if isinstance(given, list) else \
            [{"code": k, **v} if isinstance(v, dict) else v for k, v in given.items()] if isinstance(given, dict) else []
        out: dict[str, ReceivedMaterial] = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                issues.append(FieldIssue(record, f"materials.{index}", "bundle.material_content",
                                         "each material is an object: code, content_base64 (or text), media_type"))
                continue
            code = str(entry.get("code") or "")
            where = f"materials.{code or '?'}"
            if code not in self.materials:
                issues.append(FieldIssue(record, where, "bundle.material_unknown",
                                         f"{code!r} is not a material of the {self.code} bundle"))
                continue
            if code in out:
                issues.append(FieldIssue(record, where, "bundle.material_duplicate",
                                         f"{self.materials[code].name} is submitted once for the whole bundle"))
                continue
            content = _content(entry)
            if not isinstance(content, bytes):
                issues.append(FieldIssue(record, where, "bundle.material_content",
                                         content or "give the file as content_base64 (or text)"))
                continue
            media_type = _media_type(entry)
            if media_type is None:
                issues.append(FieldIssue(record, where, "bundle.media_type",
                                         f"{_shown(entry.get('media_type'))} is not a media type (type/subtype)"))
                continue
            out[code] = ReceivedMaterial(code, self.materials[code].name, content, media_type)
        for code, spec in self.materials.items():
            if code not in out and not any(i.field == f"materials.{code}" for i in issues):
                issues.append(FieldIssue(record, f"materials.{code}", "bundle.material_missing",
                                         f"{spec.name} is required by {', '.join(spec.parts)}"))
        return list(out.values())

    def render_summary(self, part: PartSpec, form: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            value = form.get(match.group(1), "")
            return "、".join(map(str, value)) if isinstance(value, list) else str(value)

        return _PLACEHOLDER.sub(one, part.summary)[:500]


def _field_value(record: str, spec: FormField, value: Any, issues: list[FieldIssue]) -> Any:
    where = f"form.{spec.code}"

    def bad(rule: str, message: str) -> None:
        issues.append(FieldIssue(record, where, rule, f"{spec.label}: {message}"))

    if spec.type == "bool":
        if not isinstance(value, bool):
            return bad("bundle.type", "expected true or false")
        return value
    if spec.type == "number":
        number = _number(value)
        if number is None:
            return bad("bundle.type", f"{_shown(value)} is not a number (a JSON number, or decimal digits as text)")
        if not spec.minimum <= number <= spec.maximum:
            return bad("bundle.range", f"{_shown(value)} is outside {spec.minimum:g}..{spec.maximum:g}")
        return int(number) if number.is_integer() else number
    if spec.type == "list":
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            return bad("bundle.type", "expected text or a list of texts")
        unsafe = next((found for v in items if (found := unsafe_character(v)) is not None), None)
        if unsafe is not None:
            return bad("bundle.text", unsafe)
        items = [v.strip() for v in items if v.strip()]
        if not items:
            return None
        wrong = [v for v in items if spec.choices and v not in spec.choices]
        if wrong:
            return bad("bundle.choice", f"{', '.join(wrong)} not among {'、'.join(spec.choices)}")
        return list(dict.fromkeys(items))
    if not isinstance(value, str):
        return bad("bundle.type", "expected text")
    unsafe = unsafe_character(value, multiline=spec.multiline)
    if unsafe is not None:
        return bad("bundle.text", unsafe)
    text = value.strip()
    if spec.pattern and spec.type == "text":  # a code (phone, division): compared as identifiers are
        text = normalise(text)
    if not text:
        return None  # only spaces: nothing given (the caller says so if the field is required)
    if len(text) > spec.max_length:
        return bad("bundle.length", f"{len(text)} characters, at most {spec.max_length}")
    if spec.type == "resident_id":
        try:
            text, _warnings = validate_resident_id(text)
        except IdentifierError as exc:
            issues.append(FieldIssue(record, where, exc.rule, f"{spec.label}: {exc.message}"))
            return None
    if spec.choices and text not in spec.choices:
        return bad("bundle.choice", f"{text!r} not among {'、'.join(spec.choices)}")
    if spec.pattern and not re.fullmatch(spec.pattern, text, re.ASCII):
        return bad("bundle.pattern", f"{text!r} does not match {spec.pattern} (its digits and letters are ASCII)")
    return text


_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Control characters (C0, DEL, C1), format characters (bidi overrides and marks, zero-width spaces and joiners,
the BOM, the soft hyphen) and the line and paragraph separators: invisible, or re-ordering or breaking what is
shown, in a name a clerk reads or a department system prints. Private-use characters are kept: GBK systems store
rare hanzi there."""
_LINE_BREAKS = frozenset("\t\n\r")


def unsafe_character(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` is not fit for a form field — the first control or format character, named by code point and
    position — or None. A ``multiline`` text may hold tabs and line breaks (``\\t \\n \\r``), nothing else of
    them.

        >>> unsafe_character("济南\u202e公司")
        'U+202E (Cf) at position 2: control and format characters are not allowed'
    """
    if text.isprintable():  # the common case, in C: no Cc, Cf, Zl, Zp (nor any space but U+0020)
        return None
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category in _UNSAFE_CATEGORIES and not (multiline and char in _LINE_BREAKS):
            return (f"U+{ord(char):04X} ({category}) at position {index}: control and format characters are not "
                    "allowed")
    return None


CHANNEL_ALIASES = {"app": CaseChannel.MOBILE, "web": CaseChannel.ONLINE, "express": CaseChannel.POST}
"""The hall's own words for a channel (``mappings/sd_hall.yaml``'s ``origin``) that are not a case channel."""


def case_channel(value: Any) -> str | None:
    """The case channel (:class:`CaseChannel`: window, online, mobile, kiosk, post) an application's ``channel``
    means, or None when it gives none. Accepted: the case channel's value or Chinese label (``自助终端``), the
    national 办理渠道 code (:class:`Channel`: ``1`` 窗口, ``2`` 网上, ``3`` 快递) and the hall's words
    (:data:`CHANNEL_ALIASES`: ``app`` is ``mobile``). Raises ``ValueError`` for anything else.

        >>> case_channel("app"), case_channel("2"), case_channel("自助终端")
        ('mobile', 'online', 'kiosk')
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a channel")
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    word = text.lower()
    if word in CaseChannel.labels():
        return word
    if word in CHANNEL_ALIASES:
        return CHANNEL_ALIASES[word].value
    label = Channel(word).label if word in Channel.labels() else text
    try:
        return CaseChannel.from_label(label).value
    except ValueError:
        raise ValueError(f"{_shown(value)} is not a channel (one of {', '.join(CaseChannel.labels())}, their "
                         f"labels {'、'.join(CaseChannel.labels().values())}, the national codes "
                         f"{', '.join(Channel.labels())} or {', '.join(CHANNEL_ALIASES)})") from None


def _channel(record: str, value: Any, issues: list[FieldIssue]) -> None:
    try:
        case_channel(value)
    except ValueError as exc:
        issues.append(FieldIssue(record, "channel", "bundle.channel", str(exc)))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _safe(text: str) -> str:
    """``text`` as it can be written anywhere (a lone surrogate shown as ``\\udxxx``)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(text) else text


def _lone_surrogates(value: Any, path: str = "") -> Iterator[str]:
    """The paths (``form.company_name``, ``materials.0.text``) of every text in ``value`` — keys included —
    holding a lone surrogate."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            yield path or "application"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{_safe(str(key))}" if path else _safe(str(key))
            if isinstance(key, str) and _SURROGATE.search(key):
                yield where
            yield from _lone_surrogates(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lone_surrogates(item, f"{path}.{index}" if path else str(index))
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,63}/[A-Za-z0-9][\w!#$&^.+-]{0,63}")


def _number(value: Any) -> float | None:
    """A finite number given as a JSON number or as decimal digits; None for anything else (true/false, NaN,
    Infinity, exponents that overflow, objects). Never Python's ``float()`` on the raw value, which reads
    ``"NaN"``, ``"1e400"`` and ``True`` as numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= 2 ** 63 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        number = float(value.strip())
        return number if math.isfinite(number) else None
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _media_type(entry: dict[str, Any]) -> str | None:
    """The material's media type (``type/subtype``, RFC 6838 names; parameters dropped), None if malformed."""
    given = entry.get("media_type")
    if given is None or given == "":
        return "application/octet-stream"
    if not isinstance(given, str):
        return None
    essence = given.split(";", 1)[0].strip().lower()
    return essence if _MEDIA_TYPE.fullmatch(essence) else None


def _content(entry: dict[str, Any]) -> bytes | str | None:
    """The material's bytes, or why it has none (a text naming the problem), or None when nothing was given.
    Base64 may be broken into lines (MIME writes 76 characters a line: Java's MIME encoder, e-mail tools)."""
    if isinstance(entry.get("content_base64"), str):
        try:
            return base64.b64decode("".join(entry["content_base64"].split()), validate=True)
        except (binascii.Error, ValueError):
            return "content_base64 is not valid base64 (A–Z, a–z, 0–9, +, /, = padding; line breaks allowed)"
    if isinstance(entry.get("text"), str):
        return entry["text"].encode("utf-8")
    return None


@dataclass
class BundleCatalogue:
    bundles: dict[str, BundleSpec] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> BundleCatalogue:
        """``path``, else ``TONGBAN_BUNDLES``, else ``bundles.yaml`` here, else the repository's config/bundles.yaml."""
        chosen = find_config_file(path, "TONGBAN_BUNDLES", "bundles.yaml", "bundles.yaml", "bundles file")
        return cls.from_text(read_config_text(chosen), where=str(chosen), path=chosen)

    @classmethod
    def from_text(cls, text: str, *, where: str = "<bundles>", path: Path | None = None) -> BundleCatalogue:
        data = load_yaml(text, where=where) or {}
        if not isinstance(data, dict) or not isinstance(data.get("bundles") or {}, dict):
            raise ConfigError(f"{where}: expected a mapping with `bundles:`")
        bundles = {str(code): _bundle(str(code), spec or {}, f"{where}: bundles.{code}")
                   for code, spec in (data.get("bundles") or {}).items()}
        return cls(bundles, path)

    def get(self, code: str) -> BundleSpec:
        try:
            return self.bundles[code]
        except KeyError:
            raise ConfigError(f"unknown bundle {code!r} (defined: {', '.join(sorted(self.bundles)) or 'none'}"
                              f"{f' in {self.path}' if self.path else ''})") from None

    def chosen(self, code: str | None, *, ask: str, where: str | None = None) -> BundleSpec:
        """The bundle an application names (``code``), or the only one defined when it names none. ``ask`` says how
        the caller names one (the error's hint), ``where`` which application it is."""
        if code is None:
            if len(self.bundles) != 1:
                raise ConfigError(f"{f'{where}: ' if where else ''}say which bundle ({ask}; defined: "
                                  f"{', '.join(sorted(self.bundles)) or 'none'})")
            return next(iter(self.bundles.values()))
        return self.get(str(code))

    def check_systems(self, systems: SystemsConfig) -> list[str]:
        """Problems connecting the bundles to the systems file: a part's system missing, not receiving cases, or
        not handling the part's department. Empty when every part has somewhere to go."""
        problems = []
        for bundle in self.bundles.values():
            for part in bundle.parts.values():
                where = f"bundle {bundle.code} part {part.code}: system {part.system}"
                if part.system not in systems.systems:
                    problems.append(f"{where} is not in the systems file")
                    continue
                system = systems.get(part.system)
                if not system.writable:
                    problems.append(f"{where} receives no cases (no push:)")
                if part.dept_code not in system.departments:
                    problems.append(f"{where} does not handle department {part.dept_code}")
        return problems


def _bundle(code: str, spec: dict[str, Any], where: str) -> BundleSpec:
    form = {}
    for name, f in (spec.get("form") or {}).items():
        f = f or {}
        kind = f.get("type", "text")
        if kind not in _TYPES:
            raise ConfigError(f"{where}.form.{name}.type: {kind!r} is not one of {', '.join(_TYPES)}")
        limits = {key: f[src] for key, src in (("minimum", "min"), ("maximum", "max"), ("max_length", "max_length"),
                                               ("multiline", "multiline")) if f.get(src) is not None}
        form[str(name)] = FormField(str(name), str(f.get("label") or name), kind, bool(f.get("required")),
                                    tuple(str(c) for c in f.get("choices") or ()), f.get("pattern"),
                                    tuple(str(p) for p in f.get("parts") or ()), **limits)
    materials = {str(m): MaterialSpec(str(m), str((s or {}).get("name") or m),
                                      tuple(str(p) for p in (s or {}).get("parts") or ()))
                 for m, s in (spec.get("materials") or {}).items()}
    parts = {str(p): _part(str(p), s or {}, form, f"{where}.parts.{p}") for p, s in (spec.get("parts") or {}).items()}
    if not parts:
        raise ConfigError(f"{where}.parts: a bundle needs at least one part")
    for part in parts.values():  # a name the parts' cases carry fits where they carry it, or is refused by name
        name = form.get(part.applicant.name_field)
        if name is not None and name.max_length > APPLICANT_NAME_MAX:
            form[name.code] = replace(name, max_length=APPLICANT_NAME_MAX)
    for owner, used in [*((f"form.{f.code}", f.parts) for f in form.values()),
                        *((f"materials.{m.code}", m.parts) for m in materials.values())]:
        unknown = [p for p in used if p not in parts]
        if unknown:
            raise ConfigError(f"{where}.{owner}.parts: unknown part(s) {unknown} (bundle.unknown_part)")
    for part in parts.values():
        needed = {part.applicant.certificate_of, *(p for p, _ in part.reuses)} - {None}
        for dep in [*part.after, *needed]:
            if dep not in parts:
                raise ConfigError(f"{where}.parts.{part.code}: unknown part {dep!r} (bundle.unknown_part)")
            if dep in needed and dep not in part.after:
                raise ConfigError(f"{where}.parts.{part.code}.after: must include {dep!r}, whose certificate it "
                                  "needs (bundle.after_certificate)")
            if dep in needed and parts[dep].issues_type is None:
                raise ConfigError(f"{where}.parts.{dep}.issues: part {part.code} needs its certificate; say which "
                                  "type it issues (bundle.issues_missing)")
        for name in (part.applicant.name_field, part.applicant.id_field, *_PLACEHOLDER.findall(part.summary)):
            if name is not None and name not in form:
                raise ConfigError(f"{where}.parts.{part.code}: {name!r} is not a field of the form "
                                  "(bundle.unknown_field)")
        for name in _PLACEHOLDER.findall(part.summary):  # the summary is the part's case: said, not refused (a
            # file valid before must still load: one refusal here stopped every bundle of the file)
            if form[name].parts and part.code not in form[name].parts:
                log.warning("%s.parts.%s.summary: {%s} is a field of part(s) %s, not of %s: its value goes to %s's "
                            "department in the summary all the same (add %s to the field's parts, or leave it out of "
                            "the summary)", where, part.code, name, list(form[name].parts), part.code, part.code,
                            part.code)
    _acyclic(parts, where)
    consent = spec.get("consent_field")
    if consent is not None and (consent not in form or form[consent].type != "bool"):
        raise ConfigError(f"{where}.consent_field: {consent!r} must be a bool field of the form")
    limit = spec.get("limit") or {}
    unit = limit.get("unit", "working_day")
    if unit not in ("working_day", "calendar_day") or not isinstance(limit.get("days", 1), int):
        raise ConfigError(f"{where}.limit: whole days in working_day or calendar_day")
    return BundleSpec(code, str(spec.get("name") or code), str(spec.get("division") or ""), int(limit.get("days", 1)),
                      unit, form, materials, parts, consent)


def _part(code: str, s: dict[str, Any], form: dict[str, FormField], where: str) -> PartSpec:
    for key in ("system", "item_code", "dept_code", "applicant"):
        if not s.get(key):
            raise ConfigError(f"{where}.{key}: required")
    a = s["applicant"]
    id_number = a.get("id_number")
    certificate_of = id_number.get("certificate_of") if isinstance(id_number, dict) else None
    applicant = ApplicantSpec(str(a.get("type") or "2"), str(a.get("name") or ""), str(a.get("id_type") or ""),
                              None if certificate_of else (str(id_number) if id_number else None),
                              str(certificate_of) if certificate_of else None)
    if not applicant.name_field or not applicant.id_type or not (applicant.id_field or applicant.certificate_of):
        raise ConfigError(f"{where}.applicant: name, id_type and id_number (a form field or "
                          "{certificate_of: PART}) are required")
    issues = s.get("issues") or {}
    return PartSpec(code, str(s.get("name") or code), str(s["system"]), str(s["item_code"]),
                    str(s.get("item_name") or s.get("name") or code), str(s["dept_code"]),
                    str(s.get("dept_name") or s["dept_code"]), applicant,
                    str(s["catalog_code"]) if s.get("catalog_code") else None,
                    tuple(str(x) for x in s.get("after") or ()), str(s.get("summary") or ""),
                    str(issues["certificate_type"]) if issues.get("certificate_type") else None,
                    str(issues.get("name") or "") or None,
                    tuple((str(r["part"]), str(r.get("name") or r["part"])) for r in s.get("reuses") or ()))


def _acyclic(parts: dict[str, PartSpec], where: str) -> None:
    state: dict[str, int] = {}

    def visit(code: str, path: list[str]) -> None:
        if state.get(code) == 2:
            return
        if state.get(code) == 1:
            raise ConfigError(f"{where}.parts: the parts wait for each other: {' → '.join([*path, code])} "
                              "(bundle.cycle)")
        state[code] = 1
        for dep in parts[code].after:
            visit(dep, [*path, code])
        state[code] = 2

    for code in parts:
        visit(code, [])
