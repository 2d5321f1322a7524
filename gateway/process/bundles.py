"""一件事 bundles: one application, one merged form, each material once, N department systems, one status.

    bundle_no = apply_bundle(engine, spec, application, systems=…, pii=…).bundle_no   # hall, API or CLI
    scan_bundles(engine, catalogue, systems=…, pii=…, consents=…)                     # tongban_handoff, every minute

``apply_bundle`` checks the application against the merged form (every broken rule named: record, field, rule),
stores the form and each material once, and releases the parts that wait for nothing: each becomes a case of the
ledger queued in the outbox for its system, so the ordinary push delivers it with that system's own mapping.

``scan_bundles`` then, for every live bundle:

1. reads each released part's case as its department's system last wrote it (the sync brought it back) and
   moves the part: in progress, held (a special procedure open, with its reason), finished, or refused;
2. for a finished part that issues a certificate (the 营业执照), finds that certificate in the certificate library
   (the licence exists only once the harvest has it: that is what the seal and tax systems will fetch);
3. releases each waiting part whose predecessors are finished and whose certificate exists, with a consent token
   for its department when the applicant consented on the form (``grant_consent``);
4. derives the bundle's status from its parts: failed as soon as one part is refused (which part, and why),
   finished exactly when the last part is, held while a part is held, in progress otherwise.

A bundle keeps the part set it was applied with (its ``bundle_parts`` rows), whatever the definition says later;
one bundle the scan cannot move is reported (``errors``, a ``scan_failed`` event, a ``bundle_scan`` alert) and the
scan goes on with the others.

Why a scan of stored state and not a chain of triggers: the same reasons as the hand-off (``gateway.process.
handoff``). Every decision is a compare-and-set on the stored part (``waiting → released``) in the transaction that
writes the case and its outbox row, so a crash anywhere and a second scan release nothing twice; the scan after a
restart simply continues from the rows.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from gateway.contract.errors import ConfigError, FieldIssue, RecordRejected, ReferenceConflict
from gateway.crypto.error_text import describe_error
from gateway.crypto.pii import seal_text
from gateway.kernel.config import SystemsConfig
from gateway.models.certificate import status_on
from gateway.models.datetimes import BEIJING, beijing_iso, parse_instant
from gateway.models.text import compared_name
from gateway.process.bundle_cases import ACTOR, grant_consent, part_case
from gateway.process.bundle_spec import BundleCatalogue, BundleSpec, PartSpec, ReceivedMaterial, case_channel
from gateway.store import bundles as store
from gateway.store import process as process_store
from gateway.store.certificates import find_certificates_for_holder
from gateway.store.ledger import dumps, loads, utcnow
from gateway.store.sealing import require_ledger_keys

__all__ = ["ApplyResult", "BundleConsents", "BundleReport", "MaterialNotServed", "ServedMaterial", "apply_bundle",
           "bundle_detail", "bundle_material", "bundle_overview", "scan_bundles"]

_DONE_RESULTS = frozenset({"issued", "finished"})
_REFUSED_RESULTS = frozenset({"not_permitted", "not_accepted", "returned", "correction_timeout", "withdrawn",
                              "voided", "deleted"})
_REFUSED_STATUS = frozenset({"returned", "voided", "deleted"})
_COUNTERS = {"finished": "finished_parts", "refused": "refused_parts", "held": "held", "in_progress": "in_progress"}


@dataclass
class BundleConsents:
    """What releasing a part with the applicant's consent needs of the gateway: its token MAC (the same key
    ``POST /v1/consents`` uses), the lifetime (the gateway's longest: a bundle's limit is a working day) and the
    audit chain's hash."""

    tokens: Any
    ttl: timedelta = timedelta(days=1)
    audit_algorithm: str = "sha256"

    @classmethod
    def from_gateway(cls, gw: Any) -> BundleConsents:
        return cls(gw.consents, gw.settings.consent_max_ttl, gw.settings.audit_hash)

    @classmethod
    def for_runtime(cls, runtime: Any) -> BundleConsents | None:
        """The consent issuer of the runtime's gateway keys; None without keys (then the parts that fetch a
        certificate through the gateway cannot be released, and say so)."""
        if runtime.pii is None:
            return None
        from gateway.sharing.settings import GatewayRuntime

        return cls.from_gateway(GatewayRuntime.create(runtime))


@dataclass
class ApplyResult:
    bundle_no: str
    created: bool
    released: list[str] = field(default_factory=list)


@dataclass
class BundleReport:
    released: int = 0
    in_progress: int = 0
    held: int = 0
    finished_parts: int = 0
    refused_parts: int = 0
    licences_found: int = 0
    finished: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    live: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    """``bundle_no → error`` of the bundles this pass could not move (each also a ``bundle_scan`` alert); the
    other bundles were scanned all the same."""

    @property
    def queued(self) -> int:
        return self.released

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- applying ---------------------------------------------------------------------------------------------------

def apply_bundle(engine: Engine, spec: BundleSpec, application: dict[str, Any], *, systems: SystemsConfig,
                 pii: Any = None, consents: BundleConsents | None = None, calendar: Any = None,
                 now: datetime | None = None, submitted_by: str = "") -> ApplyResult:
    """Check, store once, release what waits for nothing. The same application again under the same ``reference``
    of the same submitter (an API client; ``""``: the operator's CLI and the DAGs) returns the first bundle (a hall
    that retries its submission does not open a second company); a different application under a used reference
    raises :class:`ReferenceConflict`."""
    now = now or utcnow()
    with engine.begin() as conn:  # a form's ID numbers and the materials are sealed where the ledger is sealed
        require_ledger_keys(conn, pii, what=f"store a {spec.code} bundle")
    form, materials = spec.check(application)
    reference = str(application["reference"]) if application.get("reference") else None
    missing = [p.system for p in spec.parts.values() if p.system not in systems.systems]
    if missing:
        raise ConfigError(f"bundle {spec.code}: part system(s) {sorted(set(missing))} are not in the systems file")
    digest = application_sha256(spec, form, materials)
    channel = case_channel(application.get("channel"))  # check() refused what is not a channel
    bundle_no = f"YJS{now.astimezone(BEIJING):%Y%m%d}{secrets.token_hex(4).upper()}"
    _check_parts(spec, bundle_no, form, materials, channel, now, spec.record_of(application))
    try:
        bundle_no = _store_application(engine, spec, bundle_no, form, materials, reference, channel, pii, calendar,
                                       now, submitted_by, digest)
    except IntegrityError:  # the same reference applied concurrently: the other one stands
        known = _by_reference(engine, spec.code, reference, submitted_by)
        if known is None:
            raise
        bundle_no = f"={known[0]}" if known[1] in (None, digest) else f"!{known[0]}"
    if bundle_no.startswith("!"):
        raise ReferenceConflict(str(reference), bundle_no[1:])
    if bundle_no.startswith("="):
        return ApplyResult(bundle_no[1:], False)
    report = BundleReport()
    try:
        _release(engine, spec, bundle_no, pii, consents, now, report)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:  # stored: the scan releases it (and says why it cannot), never a refusal now
        with engine.begin() as conn:
            process_store.log(conn, bundle_no, now, "release_failed", ACTOR, error=_error_text(exc))
    with engine.connect() as conn:
        released = [p["part"] for p in store.parts_of(conn, bundle_no) if p["state"] != "waiting"]
    return ApplyResult(bundle_no, True, released)


def application_sha256(spec: BundleSpec, form: dict[str, Any], materials: list[Any]) -> str:
    """What makes two submissions the same application: the bundle, the checked form and each material's content
    and type (not the channel, not the order of the materials)."""
    canonical = {"bundle": spec.code, "form": form,
                 "materials": sorted([m.code, m.sha256, m.media_type] for m in materials)}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _check_parts(spec: BundleSpec, bundle_no: str, form: dict[str, Any], materials: list[ReceivedMaterial],
                 channel: str | None, now: datetime, record: str) -> None:
    """Every part's case built as the release will build it, before anything is stored: what the merged form let
    through but a case refuses is a broken rule of the application (``RecordRejected`` naming the application, the
    form field the case took it from, the rule), not a bundle stored and never sent. A part applied in the name of
    a certificate an earlier part issues is built with a stand-in for that number (the issuer's, checked when it is
    harvested): everything else of its case is the application's."""
    stored = [{"code": m.code, "sha256": m.sha256} for m in materials]
    issues: list[FieldIssue] = []
    for n, code in enumerate(spec.order(), start=1):
        part = spec.parts[code]
        applicant_id = str(form.get(part.applicant.id_field or "", "")) if part.applicant.id_field else "-"
        try:
            part_case(spec, part, bundle_no=bundle_no, case_no=f"{bundle_no}-{n:02d}", form=form, materials=stored,
                      applicant_id=applicant_id, licence_no="-" if part.reuses else None, consent_token=None,
                      applied_at=now, channel=channel, now=now, pii=None)
        except RecordRejected as exc:
            for issue in exc.issues:
                if part.applicant.certificate_of and issue.field.startswith("applicant.id_number"):
                    continue  # the stand-in for the certificate's number
                where = _form_field(spec, part, issue.field)
                issues.append(FieldIssue(record, where, issue.rule, f"part {code} ({part.name}): {issue.message}"))
    if issues:
        raise RecordRejected(record, list({(i.field, i.rule): i for i in issues}.values()))


def _form_field(spec: BundleSpec, part: PartSpec, case_field: str) -> str:
    """The application's field a part case's field was made from (``applicant.name`` → ``form.company_name``)."""
    if case_field == "channel":
        return "channel"
    key = ".".join(case_field.split(".")[:2]) if case_field.startswith("applicant.") else case_field.split(".")[0]
    source = {"applicant.name": part.applicant.name_field, "applicant.id_number": part.applicant.id_field,
              "applicant.phone": "phone", "applicant.address": "address", "division_code": "division"}.get(key)
    return f"form.{source}" if source in spec.form else f"parts.{part.code}.{case_field}"


def _store_application(engine: Engine, spec: BundleSpec, bundle_no: str, form: dict[str, Any], materials: list[Any],
                       reference: str | None, channel: str | None, pii: Any, calendar: Any,
                       now: datetime, submitted_by: str, digest: str) -> str:
    """The application, its materials and its waiting parts (the part set this bundle keeps, whatever the
    definition says later), in one transaction: ``bundle_no``, or ``=<number>`` of the same application already
    applied for under ``reference``, or ``!<number>`` of a different one there."""
    with engine.begin() as conn:
        if reference and (known := store.bundle_by_reference(conn, spec.code, reference, submitted_by)):
            return f"={known[0]}" if known[1] in (None, digest) else f"!{known[0]}"
        consent = bool(form.get(spec.consent_field)) if spec.consent_field else False
        stored_form = {k: (_seal(pii, v) if spec.form[k].type == "resident_id" else v) for k, v in form.items()}
        due = _due(calendar, now, spec) if calendar is not None else None
        store.insert_application(conn, {
            "bundle_no": bundle_no, "bundle_code": spec.code, "reference": reference, "submitted_by": submitted_by,
            "application_sha256": digest,
            "applicant_name": str(form.get(spec.parts[spec.order()[0]].applicant.name_field, ""))[:200],
            "form": dumps({"form": stored_form, "channel": channel,  # and which parts each material is for, as
                           # applied: a later definition neither lends them to other parts nor takes them away
                           "material_parts": {m.code: list(spec.materials[m.code].parts) for m in materials}}),
            "consent": consent,
            "status": "submitted", "submitted_at": now, "due_at": due, "updated_at": now})
        store.insert_materials(conn, [{
            "bundle_no": bundle_no, "code": m.code, "name": m.name, "sha256": m.sha256, "size": len(m.content),
            "media_type": m.media_type, "content": seal_text(base64.b64encode(m.content).decode(), pii),
            "received_at": now} for m in materials])
        store.insert_parts(conn, [{
            "bundle_no": bundle_no, "part": code, "case_no": f"{bundle_no}-{n:02d}",
            "system": spec.parts[code].system, "item_code": spec.parts[code].item_code, "state": "waiting",
            "seen_version": 0, "updated_at": now} for n, code in enumerate(spec.order(), start=1)])
        process_store.log(conn, bundle_no, now, "applied", ACTOR, bundle=spec.code, reference=reference,
                          materials=sorted(m.code for m in materials), consent=consent)
    return bundle_no


def _by_reference(engine: Engine, code: str, reference: str | None,
                  submitted_by: str) -> tuple[str, str | None] | None:
    if reference is None:
        return None
    with engine.connect() as conn:
        return store.bundle_by_reference(conn, code, reference, submitted_by)


# -- the scan -------------------------------------------------------------------------------------------------------

SCAN_PAGE = 500
"""Live bundles read per page by the scan (it pages through all of them)."""

def scan_bundles(engine: Engine, catalogue: BundleCatalogue, *, systems: SystemsConfig, pii: Any = None,
                 consents: BundleConsents | None = None, now: datetime | None = None) -> BundleReport:
    """One pass over every live bundle (see the module's docstring). Idempotent: a second pass with nothing new
    changes nothing and queues nothing."""
    now = now or utcnow()
    report = BundleReport()
    after: tuple[datetime, str] | None = None
    while True:  # every live bundle, a page at a time (keyset: oldest first, none skipped, none twice)
        with engine.connect() as conn:
            page = store.live_bundles(conn, after=after, limit=SCAN_PAGE)
        if not page:
            break
        after = (page[-1][1], page[-1][0])
        for bundle_no, _ in page:
            with engine.connect() as conn:
                row = store.get_application(conn, bundle_no)
            if row is None or row["bundle_code"] not in catalogue.bundles:
                continue  # a bundle whose definition was withdrawn: left as it stands, listed by `bundles list`
            spec = catalogue.bundles[row["bundle_code"]]
            try:
                held = _observe(engine, spec, bundle_no, pii, now, report)
                _release(engine, spec, bundle_no, pii, consents, now, report)
                _derive(engine, spec, bundle_no, now, report)
                if held:  # the parts' moves are kept; what holds the bundle is said (a bundle_scan alert)
                    raise BundleHeld("; ".join(held))
            except (OperationalError, InterfaceError):
                raise  # the database, not this bundle: the task fails and is retried
            except Exception as exc:  # this bundle's own trouble: said, and the others still move
                report.errors[bundle_no] = _error_text(exc)
                _scan_failed(engine, bundle_no, report.errors[bundle_no], now)
    _scan_alerts(engine, report, now)
    with engine.connect() as conn:
        report.live = store.count_live_bundles(conn)
    return report


SCAN_ALERT = "bundle_scan"
"""The alert kind of a bundle a scan could not move (key: the bundle number); resolved by a scan that can."""


def _error_text(exc: Exception) -> str:
    return describe_error(exc, 1000)


def _scan_failed(engine: Engine, bundle_no: str, error: str, now: datetime) -> None:
    """A ``scan_failed`` event in the bundle's trail, once per distinct error (a scan runs every minute)."""
    with engine.begin() as conn:
        last = next((e for e in reversed(process_store.events(conn, bundle_no)) if e["step"] == "scan_failed"), None)
        if last is None or (last.get("detail") or {}).get("error") != error:
            process_store.log(conn, bundle_no, now, "scan_failed", ACTOR, error=error)


def _scan_alerts(engine: Engine, report: BundleReport, now: datetime) -> None:
    """One ``bundle_scan`` alert per bundle this pass could not move; the others' alerts resolved."""
    from gateway.ops.alerts import item_error_alerts

    item_error_alerts(engine, SCAN_ALERT, report.errors, lambda bundle_no, error: (
        f"bundle {bundle_no}: the bundle scan cannot move it ({error}); the other bundles are scanned, this one "
        "stays as it stands until it is fixed"), now=now)


def _observe(engine: Engine, spec: BundleSpec, bundle_no: str, pii: Any, now: datetime,
             report: BundleReport) -> list[str]:
    """Each part its department has, as that system last wrote it — a finished part too: a licence first closed
    without its number and corrected later, or voided after it was issued, is read again (once finished, a part
    was never looked at again: the bundle waited for ever for certificate ``None``, or finished on a voided
    licence) — and a finished licence looked up in the library, in the applicant's name. Returns what holds the
    bundle until someone corrects its data (a certificate number of another holder)."""
    with engine.connect() as conn:
        app = store.get_application(conn, bundle_no)
        parts = [p for p in store.parts_of(conn, bundle_no)
                 if p["state"] in ("released", "in_progress", "held", "finished")]
        found = store.cases_by_number(conn, [p["case_no"] for p in parts])
    form = ((loads(app["form"]) or {}).get("form") or {}) if app is not None else {}
    problems: list[str] = []
    for p in parts:
        case = found.get(p["case_no"])
        part = spec.parts.get(p["part"])  # None: removed from the definition since; its row still counts
        if case is None:
            continue
        with engine.begin() as conn:
            if case["origin_system"] == p["system"] and case["version"] != p["seen_version"]:
                p = _moved(conn, bundle_no, p, case, now, report)  # noqa: PLW2901 - the part as it now stands
                if p is None:
                    continue  # another scan got there first
            if p["state"] == "finished" and p["certificate_id"] is None and part is not None:
                problem = _find_certificate(conn, part, p, pii, now, report,
                                            applicant_name=form.get(part.applicant.name_field))
                if problem is not None:
                    problems.append(problem)
    return problems


class BundleHeld(ValueError):
    """A bundle the scan cannot take further until someone corrects its data (reported, alerted, retried)."""


def _moved(conn: Any, bundle_no: str, p: dict[str, Any], case: dict[str, Any], now: datetime,
           report: BundleReport) -> dict[str, Any] | None:
    """A part moved to what its department's newer version of the case says; None when another scan moved it."""
    state, reason, finished_at, cert_no = _state_of(case)
    values: dict[str, Any] = {"seen_version": case["version"], "updated_at": now, "reason": reason}
    if state == "finished":
        values.update(finished_at=finished_at or p.get("finished_at") or now, certificate_no=cert_no)
        if cert_no != p.get("certificate_no"):
            values["certificate_id"] = None  # the certificate found was another number's
    if not store.move_part(conn, bundle_no, p["part"], expected=p["state"], if_seen=p["seen_version"],
                           state=state, **values):
        return None
    if state != p["state"] or (state == "finished" and cert_no != p.get("certificate_no")):
        step = f"part_{state}" if state != p["state"] else "part_corrected"
        process_store.log(conn, bundle_no, now, step, p["system"], part=p["part"], part_case=p["case_no"],
                          version=case["version"], reason=reason,
                          certificate_no=cert_no if state == "finished" else None,
                          was=p["state"] if p["state"] == "finished" else None)
        if state != p["state"]:
            counter = _COUNTERS[state]
            setattr(report, counter, getattr(report, counter) + 1)
    return {**p, **values, "state": state}


def _state_of(case: dict[str, Any]) -> tuple[str, str | None, datetime | None, str | None]:
    """``(state, reason, finished_at, certificate_no)`` of a part from its department's version of the case.
    Finished means granted: a result that issues (or none stated with status finished). A case closed with
    another result — 转报 (forwarded to another authority), one this code does not know — grants nothing yet:
    the part is held, saying so (it finished the bundle without the seal filing the company needed)."""
    data = loads(case["data"]) or {}
    result, status = data.get("result"), data.get("status")
    if case["deleted"] or result in _REFUSED_RESULTS or status in _REFUSED_STATUS:
        said = "deleted" if case["deleted"] and result not in _REFUSED_RESULTS else result or status
        by = case.get("origin_system") or "its system"
        reason = data.get("result_reason") or f"{said} by {by}, without a reason"
        return "refused", str(reason), parse_instant(data.get("finished_at")), None
    if result in _DONE_RESULTS or (status == "finished" and result is None):
        return "finished", None, parse_instant(data.get("finished_at")), data.get("certificate_no")
    if status == "finished" or result is not None:
        return "held", f"closed with result {result}, which grants nothing (转报: sent on to another authority)" \
            if result == "forwarded" else f"closed with result {result}, which grants nothing", None, None
    if status == "suspended":
        open_holds = [e for e in data.get("events") or [] if e.get("kind") == "special" and not e.get("ended_at")]
        reason = (open_holds[-1].get("reason") if open_holds else None) or "suspended (special procedure)"
        return "held", str(reason), None, None
    return "in_progress", None, None, None


def _find_certificate(conn: Any, part: PartSpec, p: dict[str, Any], pii: Any, now: datetime,
                      report: BundleReport, *, applicant_name: Any) -> str | None:
    """The certificate a finished part issued, once the harvest has put it in the library (by its holder's blind
    index and type; the number must match, and a holder must bear the applicant's name). Without keys the
    library cannot be searched: the part stays without a certificate and its dependents wait, which ``bundles
    status`` says. Returns what holds the bundle, or None.

    The name is checked because the number comes from the department's case: a slip there (another company's
    统一社会信用代码) found that company's licence, and the scan granted the next departments a consent to fetch
    it and sent them cases under its code — a company that never applied for anything."""
    if part.issues_type is None or not p.get("certificate_no") or pii is None:
        return None
    rows = find_certificates_for_holder(conn, pii.bidx(p["certificate_no"]), [part.issues_type])
    today = now.astimezone(BEIJING).date()  # in force today: a licence valid from next month is not yet found
    # and not one whose newer version the harvest refused (a revocation that did not verify): as deferred
    # materials treat it — a possibly revoked licence spares nothing until an operator settles it
    match = next((r for r in rows if r.number == p["certificate_no"] and r.refused_reason is None
                  and status_on(r.status, r.valid_from, r.valid_until, today) == "valid"), None)
    if match is None:
        return None
    holders = [str(h.get("name") or "") for h in (loads(match.document) or {}).get("holders", [])
               if isinstance(h, dict)]
    if compared_name(str(applicant_name or "")) not in {compared_name(name) for name in holders}:
        problem = (f"the certificate numbered {p['certificate_no']} in the library is held by "
                   f"{'、'.join(holders) or 'nobody named'}, not by the applicant {applicant_name!r}: the number in "
                   f"{p['system']}'s case {p['case_no']} is another holder's? Corrected there, the part is read again")
        if p.get("reason") != problem:  # the part says it (bundles status, the console, the API), once
            store.move_part(conn, p["bundle_no"], p["part"], expected="finished", reason=problem, updated_at=now)
        return f"part {p['part']}: {problem}"
    if store.move_part(conn, p["bundle_no"], p["part"], expected="finished", certificate_id=match.identifier,
                       updated_at=now):
        process_store.log(conn, p["bundle_no"], now, "certificate_found", ACTOR, part=p["part"],
                          certificate=match.identifier, number=p["certificate_no"])
        report.licences_found += 1
    return None


def _release(engine: Engine, spec: BundleSpec, bundle_no: str, pii: Any, consents: BundleConsents | None,
             now: datetime, report: BundleReport) -> None:
    with engine.connect() as conn:
        app = store.get_application(conn, bundle_no)
        parts = {p["part"]: p for p in store.parts_of(conn, bundle_no)}
        materials = store.material_index(conn, bundle_no)
    if app is None or app["status"] in store.FINAL or any(p["state"] == "refused" for p in parts.values()):
        return  # a refused part ends the bundle: nothing more is sent for it
    stored = loads(app["form"]) or {}
    form = {k: (_open(pii, v) if k in spec.form and spec.form[k].type == "resident_id" else v)
            for k, v in (stored.get("form") or {}).items()}
    for code in spec.order():
        if code not in parts:
            continue  # added to the definition after this bundle was applied: not one of its parts
        p, part = parts[code], spec.parts[code]
        if p["state"] != "waiting" or _unreleasable(spec, code, parts) is not None:
            continue
        if any(parts[a]["state"] != "finished" for a in part.after if a in parts):
            continue
        needs = [part.applicant.certificate_of, *(r for r, _ in part.reuses)]
        if any(n is not None and not parts[n]["certificate_id"] for n in needs):
            continue  # the licence is issued but not in the certificate library yet
        source = parts[part.applicant.certificate_of] if part.applicant.certificate_of else None
        applicant_id = str(source["certificate_no"]) if source else str(form.get(part.applicant.id_field or "", ""))
        licence = parts[part.reuses[0][0]] if part.reuses else None
        try:
            consent = _release_one(engine, spec, part, p, bundle_no, app, stored, form, materials, pii, consents,
                                   applicant_id, licence, now)
        except _Lost:
            continue  # another scan released it
        parts[code] = {**p, "state": "released", "consent_id": consent}
        report.released += 1


def _release_one(engine: Engine, spec: BundleSpec, part: PartSpec, p: dict[str, Any], bundle_no: str,
                 app: dict[str, Any], stored: dict[str, Any], form: dict[str, Any], materials: list[dict[str, Any]],
                 pii: Any, consents: BundleConsents | None, applicant_id: str, licence: dict[str, Any] | None,
                 now: datetime) -> str | None:
    """One part released, in one transaction: its consent (if given), its case, its outbox row, the move."""
    code = p["part"]
    with engine.begin() as conn:
        consent = None
        if licence is not None and app["consent"] and consents is not None and pii is not None:
            consent = grant_consent(conn, tokens=consents.tokens, pii=pii, holder_id=licence["certificate_no"],
                                    client_name=part.system,
                                    type_code=spec.parts[part.reuses[0][0]].issues_type or "",
                                    item_code=part.item_code, case_no=p["case_no"], ttl=consents.ttl, now=now,
                                    audit_algorithm=consents.audit_algorithm)
        document, digest = part_case(
            spec, part, bundle_no=bundle_no, case_no=p["case_no"], form=form, materials=materials,
            applicant_id=applicant_id, licence_no=licence["certificate_no"] if licence else None,
            consent_token=consent[1] if consent else None, applied_at=app["submitted_at"],
            channel=_stored_channel(stored.get("channel")), now=now, pii=pii,
            material_parts=_material_parts(stored))
        if not store.move_part(conn, bundle_no, code, expected="waiting", state="released", released_at=now,
                               consent_id=consent[0] if consent else None, seen_version=1, updated_at=now):
            raise _Lost(code)
        written = utcnow()  # the wall clock, whatever instant the scan runs as of (write_case_version's rule):
        # the KPI refresh and every incremental reader take cases.updated_at as their watermark
        store.insert_case(conn, {
            "case_no": p["case_no"], "version": 1, "content_hash": digest, "data": document,
            "origin_system": ACTOR, "origin_source_id": p["case_no"], "source_updated_at": written,
            "dept_code": part.dept_code, "item_code": part.item_code, "deleted": False, "updated_at": written})
        process_store.queue(conn, p["case_no"], 1, [part.system], now)
        process_store.log(conn, bundle_no, now, "released", ACTOR, part=code, part_case=p["case_no"],
                          system=part.system, consent=consent is not None,
                          reuses=[r for r, _ in part.reuses])
    return consent[0] if consent else None


def _derive(engine: Engine, spec: BundleSpec, bundle_no: str, now: datetime, report: BundleReport) -> None:
    with engine.begin() as conn:
        app = store.get_application(conn, bundle_no)
        parts = store.parts_of(conn, bundle_no)
        if app is None or app["status"] in store.FINAL:
            return
        status, reason, failed_part, finished_at = _status(spec, parts)
        if status == app["status"] and reason == app["reason"]:
            return
        if not store.set_status(conn, bundle_no, expected=app["status"], status=status, reason=reason,
                                failed_part=failed_part, finished_at=finished_at, updated_at=now):
            return
        if status != app["status"]:
            process_store.log(conn, bundle_no, now, f"bundle_{status}", ACTOR, reason=reason, part=failed_part)
            if status == "finished":
                report.finished.append(bundle_no)
            elif status == "failed":
                report.failed.append(bundle_no)


def _status(spec: BundleSpec, parts: list[dict[str, Any]]) -> tuple[str, str | None, str | None, datetime | None]:
    """``(status, reason, failed part, finished_at)`` of a bundle from its parts."""
    def label(p: dict[str, Any]) -> str:
        part = spec.parts.get(p["part"])
        return f"{p['part']} ({part.name if part else p['part']}, {p['system']})"

    refused = [p for p in parts if p["state"] == "refused"]
    if refused:
        first = refused[0]
        return "failed", f"{label(first)} refused: {first['reason']}", first["part"], None
    if parts and all(p["state"] == "finished" for p in parts):
        return "finished", None, None, max(p["finished_at"] for p in parts)
    rows = {p["part"]: p for p in parts}
    held = [f"{label(p)} held: {p['reason']}" for p in parts if p["state"] == "held"]
    held += [f"{label(p)} cannot be released: {why}" for p in parts if p["state"] == "waiting"
             and (why := _unreleasable(spec, p["part"], rows)) is not None]
    if held:
        return "held", "; ".join(held), None, None
    if any(p["state"] != "waiting" for p in parts):
        waiting = [p for p in parts if p["state"] == "finished" and spec.parts.get(p["part"]) is not None
                   and spec.parts[p["part"]].issues_type and not p["certificate_id"]]
        mismatched = [f"{label(p)}: {p['reason']}" for p in waiting if p.get("reason")]
        if mismatched:  # its certificate is another holder's: held until the department corrects its case
            return "held", "; ".join(mismatched), None, None
        reason = "; ".join(f"{label(p)}: certificate {p['certificate_no']} not in the certificate library yet"
                           for p in waiting) or None
        return "in_progress", reason, None, None
    return "submitted", None, None, None


def _unreleasable(spec: BundleSpec, code: str, parts: dict[str, dict[str, Any]]) -> str | None:
    """Why a waiting part of a bundle can never be released under the current definition, or None. A bundle keeps
    the part set it was applied with (its ``bundle_parts`` rows): a part added to the definition later is not one
    of its parts, and one removed still counts by its row — released, it is followed to its end; still waiting, it
    cannot be sent (its system and item are gone), and the bundle is held saying so."""
    part = spec.parts.get(code)
    if part is None:
        return f"no longer in the {spec.code} definition (restore the part, or settle the bundle by hand)"
    lacking = sorted(n for n in {part.applicant.certificate_of, *(r for r, _ in part.reuses)} - {None}
                     if n not in parts)
    if lacking:
        return (f"the {spec.code} definition now has it use the certificate of {', '.join(map(str, lacking))}, "
                "not a part of this bundle")
    return None


# -- for the CLI, the console and the demo -------------------------------------------------------------------------

def bundle_overview(engine: Engine, *, status: str | None = None, limit: int = 200) -> dict[str, Any]:
    """``{"counts": {status: n}, "bundles": [row…], "shown": n, "total": n}``: the newest ``limit`` bundles (in
    ``status``, filtered in the query: an old held one is found), and the counts of every bundle in the ledger —
    the ones a supervisor must chase are the old held or failed ones, which a page of the newest left out."""
    with engine.connect() as conn:
        rows = store.applications(conn, statuses=[status] if status else None, limit=limit)
        counts = store.bundle_status_counts(conn)
    total = counts.get(status, 0) if status else sum(counts.values())
    return {"counts": counts, "bundles": [_public(r, drop=("form",)) for r in rows], "shown": len(rows),
            "total": total}


def find_bundle(engine: Engine, ref: str, codes: list[str] | tuple[str, ...] = (),
                submitted_by: str | None = None) -> dict[str, Any] | None:
    """One bundle by its number, else by the application's reference under one of the bundle ``codes``;
    ``submitted_by``: only a bundle that submitter applied for (an API client sees its own), None: any."""
    found = bundle_detail(engine, ref)
    if found is None and codes:
        with engine.connect() as conn:
            known = next((k for k in (store.bundle_by_reference(conn, c, ref, submitted_by) for c in codes) if k),
                         None)
        found = bundle_detail(engine, known[0]) if known else None
    if found is not None and submitted_by is not None and found.get("submitted_by", "") != submitted_by:
        return None
    return found


class MaterialNotServed(Exception):
    """Why a bundle's material is not served: ``reason`` is ``not_found`` (no such bundle or material),
    ``not_yours`` (the caller is the client of no released part that lists it) or ``corrupt`` (the stored copy
    does not match its SHA-256 or size)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class ServedMaterial:
    bundle_no: str
    code: str
    name: str
    media_type: str
    sha256: str
    content: bytes
    parts: list[dict[str, Any]]
    """The released parts (``part``, ``case_no``, ``system``) of the caller's system that list the material."""


def bundle_material(engine: Engine, catalogue: BundleCatalogue, bundle_no: str, code: str, *, system: str,
                    pii: Any) -> ServedMaterial:
    """The one stored copy of material ``code`` of a bundle, for the department system ``system`` (its API client
    is named after it, as a part's consent is granted to it): served only when a part of the bundle that lists
    the material is handled by that system and has been released to it (its case holds the ``tongban:``
    reference, :func:`gateway.process.bundle_cases.material_ref`). The sealed copy is opened and its SHA-256 and
    size checked against what was recorded when the application was received. Raises :class:`MaterialNotServed`."""
    with engine.connect() as conn:
        app = store.get_application(conn, bundle_no)
        row = store.material(conn, bundle_no, code) if app is not None else None
        parts = store.parts_of(conn, bundle_no) if row is not None else []
    if app is None or row is None:
        raise MaterialNotServed("not_found", "no such bundle material")
    applied = _material_parts(loads(app["form"]) or {})
    if applied is not None:  # the parts the material was for when the bundle was applied
        listing: Sequence[str] = applied.get(code, ())
    else:  # a bundle stored before Tongban kept that: the definition as it stands
        spec = catalogue.bundles.get(app["bundle_code"])
        listing = spec.materials[code].parts if spec is not None and code in spec.materials else ()
    mine = [{"part": p["part"], "case_no": p["case_no"], "system": p["system"]} for p in parts
            if p["part"] in listing and p["system"] == system and p["state"] != "waiting"]
    if not mine:
        raise MaterialNotServed("not_yours", f"material {code} of bundle {bundle_no} is not released to {system}")
    text = pii.open_blob(row["content"]) if pii is not None else row["content"]
    try:
        content = base64.b64decode(text, validate=True)
    except ValueError:
        raise MaterialNotServed("corrupt", f"material {code} of bundle {bundle_no}: the stored copy is not "
                                           "base64") from None
    if hashlib.sha256(content).hexdigest() != row["sha256"] or len(content) != row["size"]:
        raise MaterialNotServed("corrupt", f"material {code} of bundle {bundle_no}: the stored copy does not "
                                           "match the SHA-256 recorded when it was received")
    return ServedMaterial(bundle_no, code, row["name"], row["media_type"], row["sha256"], content, mine)


def _material_parts(stored: dict[str, Any]) -> dict[str, list[str]] | None:
    """``{material: [parts]}`` as the bundle was applied (None for a bundle stored before it was kept)."""
    kept = stored.get("material_parts")
    return {str(k): [str(p) for p in v] for k, v in kept.items() if isinstance(v, list)} \
        if isinstance(kept, dict) else None


def bundle_detail(engine: Engine, bundle_no: str) -> dict[str, Any] | None:
    """One bundle: its status, parts, materials (without content) and audit trail."""
    with engine.connect() as conn:
        row = store.get_application(conn, bundle_no)
        if row is None:
            return None
        return {**_public(row, drop=("form",)),
                "parts": [_public(p) for p in store.parts_of(conn, bundle_no)],
                "materials": store.material_index(conn, bundle_no),
                "events": [{**e, "at": beijing_iso(e["at"])} for e in process_store.events(conn, bundle_no)]}


def _public(row: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: (beijing_iso(v) if isinstance(v, datetime) else v) for k, v in row.items() if k not in drop}


# -- helpers ----------------------------------------------------------------------------------------------------

def _stored_channel(value: Any) -> str | None:
    """The case channel of a stored application (one stored before channels were checked may say ``app``)."""
    try:
        return case_channel(value)
    except ValueError:
        return None


def _seal(pii: Any, value: Any) -> Any:
    return pii.seal(value) if pii is not None and isinstance(value, str) else value


def _open(pii: Any, value: Any) -> Any:
    return pii.open(value) if pii is not None and isinstance(value, str) else value


def _due(calendar: Any, now: datetime, spec: BundleSpec) -> datetime:
    """The end (Beijing midnight) of the bundle's last counting day: the calendar counts days, not instants."""
    day = calendar.add_days(now.astimezone(BEIJING).date(), spec.limit_days, spec.limit_unit)
    return datetime.combine(day, time(0), BEIJING) + timedelta(days=1)





class _Lost(Exception):
    """Another scan moved the part first: this transaction (its consent and case) is rolled back."""
