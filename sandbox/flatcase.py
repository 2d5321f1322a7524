"""Flat case records with the rule-breaking mix that real department exports show (social, welfare).

The 人社 and 医保 systems export one flat row per case (no step list). Their data is *legitimate* yet breaks
business rules in the proportions real systems show, and both systems draw the same mix here, in neutral terms;
each renders a ``FlatCase`` in its own vocabulary:

- ~30% of cases that finished with a certificate name none (``cert_shown`` False);
- ~70% of refusals (denied, returned, not accepted) give no reason;
- ~5% of all cases carry a result code while unfinished (no finish time): fate ``premature``;
- ~4% show an apply time a few minutes (1–30) *after* the acceptance time;
- ~4% have no phone number; ~1.5% are soft-deleted.

Identifiers stay valid whatever happens: resident IDs pass GB 11643 (with a real birth date, ~3% with old
birthplace codes), organisations carry valid USCCs. Every value is a pure function of (seed, index).

What the two systems share beyond the data is here too, in terms of a ``Spelling`` (each system's field names,
codes and null spellings): the rules a record breaks (``rule_breaks``), the malformations they break alike
(``malformed``) and ``FlatCaseApp``, the record hooks of a system serving such records.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote

from .app import Request, Response, SystemApp, json_response
from .clock import OverlayClock, Timeline, fmt_dash, fmt_date, timeline_of
from .identifiers import break_check
from .lifecycle import Story, build_story, promise_time
from .people import Party, company, mobile, person
from .pools import PEOPLE_AT, PEOPLE_SLOTS, STORY_SLOTS, StoryPool, people
from .prng import FateTable, draw_fate, mix, unit
from .table import LazyTable
from .vocab import JINAN_DISTRICTS, OLD_ID_DIVISIONS, Item

__all__ = [
    "DELETED_SHARE",
    "FATES",
    "NO_CERT_SHARE",
    "NO_PHONE_SHARE",
    "REASON_SHARE",
    "REFUSALS",
    "SWAP_SHARE",
    "Catalogue",
    "FlatCase",
    "FlatCaseApp",
    "Spelling",
    "malformed",
    "rule_breaks",
    "token",
]

# None: in progress; "premature": in progress, yet a result code is already filled in.
FATES: FateTable = ((0.10, None), (0.15, "premature"), (0.80, "issued"), (0.88, "denied"), (0.94, "returned"))
FATE_DEFAULT = "not_accepted"
REFUSALS = ("denied", "returned", "not_accepted")
NO_CERT_SHARE = 0.30  # of cases finished with a certificate: no certificate named
REASON_SHARE = 0.30  # of refusals: a reason given
SWAP_SHARE = 0.04  # apply time shown after the acceptance time
NO_PHONE_SHARE = 0.04
DELETED_SHARE = 0.015


@dataclass(frozen=True)
class FlatCase:
    """One case in neutral terms, with every rendering decision already drawn."""

    index: int
    item: Item
    party: Party
    applied: int  # epoch seconds as shown (after the acceptance when ``apply_after_accept``)
    accepted: int
    promised: int
    finished: int | None  # None: unfinished (also for a premature result code)
    result: str | None  # neutral outcome shown: issued/denied/returned/not_accepted; premature shows "issued"
    premature: bool
    reason: str | None  # shown refusal reason (None: none given)
    cert_name: str | None  # certificate named in the record (None: none, or none shown)
    apply_after_accept: bool
    phone: str | None
    handler: str
    division: str  # district of the case
    changed: int  # change time, epoch seconds
    apply_day: str  # yyyyMMdd of the true apply time (inside the record and case numbers)
    serial: str  # i + 1, 7 digits
    bits: int  # seeded bits for cosmetic choices (which null token, which boolean style)
    deleted: bool


class Catalogue:
    """The items, staff and reasons of one system, and the draw of its base cases."""

    def __init__(self, salt: int, items: tuple[Item, ...], staff: tuple[str, ...],
                 reasons: dict[str, tuple[str, ...]]) -> None:
        self.salt = salt
        self.items = items
        self.staff = staff
        self.reasons = reasons
        self.by_catalog = {it.catalog: it for it in items}
        cum, acc = [], 0
        for it in items:
            acc += it.weight
            cum.append(acc)
        self._cum, self._total = cum, acc
        self._stories = StoryPool(salt + 2, self._template)

    def _template(self, rng: random.Random, outcome: str | None) -> Story:
        item = self.items[bisect_right(self._cum, rng.random() * self._total)]
        who = company(rng) if item.applicants == "company" else person(rng, PEOPLE_AT)
        return build_story(rng, 0, item, [who], outcome, 0, self.staff, lambda r, k: "-")

    def timeline(self, seed: int) -> Timeline:
        """Base change times, second precision."""
        return timeline_of(seed, self.salt + 1, 1)

    def fate(self, seed: int, i: int) -> str | None:
        """How base case ``i`` ends: None (in progress), premature, issued, denied, returned, not_accepted."""
        return draw_fate(seed, i, self.salt + 3, FATES, FATE_DEFAULT)

    def deleted(self, seed: int, i: int) -> bool:
        """Whether base case ``i`` is soft-deleted."""
        return unit(seed, i, self.salt + 4) < DELETED_SHARE

    def case(self, seed: int, i: int) -> FlatCase:
        s = self.salt
        u = self.timeline(seed).time(i)
        h = mix(seed, i, s + 2)
        fate = self.fate(seed, i)
        story = self._stories.get(seed, None if fate == "premature" else fate, h % STORY_SLOTS)
        party = story.parties[0]
        if party.kind == "1":
            party = people(seed)[(h >> 10) % PEOPLE_SLOTS]
        apply, accept = story.apply + u, story.accept + u
        swap = unit(seed, i, s + 5) < SWAP_SHARE
        shown_apply = accept + 60 + mix(seed, i, s + 6) % 1741 if swap else apply
        finished = story.finish + u if story.finish is not None else None
        result = "issued" if fate == "premature" else fate
        reason = None
        if fate in REFUSALS and unit(seed, i, s + 7) < REASON_SHARE:
            options = self.reasons[fate]
            reason = options[mix(seed, i, s + 8) % len(options)]
        cert = None
        if fate == "issued" and story.item.cert and unit(seed, i, s + 9) >= NO_CERT_SHARE:
            cert = story.item.cert
        phone = None if unit(seed, i, s + 10) < NO_PHONE_SHARE else party.mobile
        return FlatCase(
            index=i, item=story.item, party=party, applied=shown_apply, accepted=accept,
            promised=promise_time(accept, story.item.promise_days), finished=finished, result=result,
            premature=fate == "premature", reason=reason, cert_name=cert, apply_after_accept=swap, phone=phone,
            handler=story.handler, division=JINAN_DISTRICTS[(h >> 30) % len(JINAN_DISTRICTS)][0], changed=u,
            apply_day=fmt_date(apply), serial=f"{i + 1:07d}", bits=mix(seed, i, s + 11),
            deleted=self.deleted(seed, i),
        )


def token(options: tuple[str, ...], bits: int, slot: int) -> str:
    """One of ``options`` for field ``slot`` (0–19) of a record, from the record's seeded bits."""
    return options[((bits >> (3 * slot)) & 0x3F) % len(options)]


@dataclass(frozen=True)
class Spelling:
    """How one system writes a ``FlatCase``: its field names, its codes and its "no value" spellings."""

    number: str  # the record number (the record id)
    catalog: str  # basic catalogue code of the item
    result: str
    finished: str
    reason: str
    cert_name: str
    cert_no: str
    applied: str
    accepted: str
    id_type: str
    id_no: str
    phone: str
    flag: str  # the soft-delete flag
    changed: str  # the change time
    codes: Mapping[str, str]  # neutral result (issued, denied, returned, not_accepted) → result code
    resident_id: str  # ``id_type`` of a resident ID card
    org_id: str  # ``id_type`` of a unified social credit code
    nulls: tuple[str, ...]  # the strings that mean "no value"
    flag_styles: tuple[tuple[Any, Any], ...]  # the flag's (deleted, live) pairs; the first is the default
    deleted_values: tuple[Any, ...]  # flag values that mean deleted (type and value must both match)
    stamp: Callable[[int], str]  # epoch seconds → the change time as written

    def is_null(self, value: Any) -> bool:
        return value is None or value in self.nulls

    def is_deleted(self, record: dict[str, Any]) -> bool:
        value = record.get(self.flag)
        return any(type(value) is type(t) and value == t for t in self.deleted_values)


def rule_breaks(record: dict[str, Any], sp: Spelling, catalogue: Catalogue) -> list[str]:
    """The business rules a record breaks although its data is legitimate:
    ``no_certificate`` (finished as issued with a certificate item, none named), ``no_reason`` (a refusal
    without a reason), ``result_unfinished`` (a result code, no finish time), ``accepted_before_applied``
    (acceptance before application), ``old_place_code`` (a resident ID with a former birthplace code)."""
    out = []
    null = sp.is_null
    code, finished = record.get(sp.result), not null(record.get(sp.finished))
    item = catalogue.by_catalog.get(str(record.get(sp.catalog)))
    if code == sp.codes["issued"] and finished and item is not None and item.cert and (
            null(record.get(sp.cert_name)) or null(record.get(sp.cert_no))):
        out.append("no_certificate")
    if code in tuple(sp.codes[r] for r in REFUSALS) and null(record.get(sp.reason)):
        out.append("no_reason")
    if not null(code) and not finished:
        out.append("result_unfinished")
    applied, accepted = record.get(sp.applied), record.get(sp.accepted)
    if not null(applied) and not null(accepted) and accepted < applied:
        out.append("accepted_before_applied")
    if record.get(sp.id_type) == sp.resident_id and str(record.get(sp.id_no))[:6] in OLD_ID_DIVISIONS:
        out.append("old_place_code")
    return out


def malformed(record: dict[str, Any], kind: str, sp: Spelling) -> dict[str, Any]:
    """A copy of ``record``, broken the two ways both systems break records alike (``bad_checksum``: the ID
    number, as a resident ID unless it is a USCC; ``impossible_date``: the apply date on Feb 30); any other
    kind is left to the system."""
    rec = dict(record)
    if kind == "bad_checksum":
        if rec.get(sp.id_type) not in (sp.resident_id, sp.org_id):
            rec[sp.id_type] = sp.resident_id
        rec[sp.id_no] = break_check(str(rec.get(sp.id_no) or ""))
    elif kind == "impossible_date":
        rec[sp.applied] = rec[sp.applied][:4] + "-02-30" + rec[sp.applied][10:]
    return rec


class FlatCaseApp(SystemApp):
    """A system that serves ``Catalogue`` cases in its own ``Spelling``: the record hooks, soft deletion by
    flag, and the admin extras ``GET /_sandbox/records/{id}`` (one current record) and
    ``GET /_sandbox/quirks`` (the rules each record breaks)."""

    deletion_modes = ("flag",)
    catalogue: ClassVar[Catalogue]
    spelling: ClassVar[Spelling]
    record_number: ClassVar[re.Pattern[str]]  # the whole record number, the 1-based serial captured as ``n``

    @staticmethod
    def generate(seed: int, i: int) -> dict[str, Any]:
        """Base record ``i``."""
        raise NotImplementedError

    @staticmethod
    def cert_no(item: Item, i: int, day: str) -> str:
        """The number of a certificate of ``item`` issued as case ``i`` on ``day`` (``yyyyMMdd``)."""
        raise NotImplementedError

    def __init__(self, seed: int, records: int) -> None:
        tl = self.catalogue.timeline(seed)
        table = LazyTable(records, tl.time, tl.first_at_or_after, lambda i: self.generate(seed, i))
        super().__init__(seed, table, OverlayClock(1))

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record[self.spelling.number])

    def base_index(self, rid: str) -> int | None:
        return self.numbered_index(rid, self.record_number,
                                   lambda i: self.table.current(i).record[self.spelling.number])

    def base_is_deleted(self, index: int) -> bool:
        return self.catalogue.deleted(self.seed, index)

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return self.spelling.is_deleted(record)

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        """An unfinished case (premature result code included) finishes; a finished one gets a new phone."""
        sp = self.spelling
        now = fmt_dash(t)
        if sp.is_null(rec.get(sp.finished)):
            item = self.catalogue.by_catalog.get(str(rec.get(sp.catalog)))
            rec.update({sp.result: sp.codes["issued"], sp.finished: now})
            if item is not None and item.cert:
                day = now[:4] + now[5:7] + now[8:10]
                number = self.cert_no(item, 9_000_000 + t % 1_000_000, day)
                rec.update({sp.cert_name: item.cert, sp.cert_no: number})
        else:
            rec[sp.phone] = mobile(rng)
        rec[sp.changed] = sp.stamp(t)
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        """Soft delete in the record's own flag style."""
        sp = self.spelling
        live = rec.get(sp.flag)
        style = next((s for s in sp.flag_styles if any(type(v) is type(live) and v == live for v in s)),
                     sp.flag_styles[0])
        rec[sp.flag] = style[0]
        rec[sp.changed] = sp.stamp(t)
        return rec

    def admin_extra(self, req: Request) -> Response | None:
        prefix = "/_sandbox/records/"
        if req.method == "GET" and req.path.startswith(prefix):
            rid = unquote(req.path[len(prefix):])
            with self.table.lock:
                entry = self._locate(rid)
            if entry is None:
                return json_response(404, {"error": f"unknown record {rid}"})
            return json_response(200, self.render(entry))
        if (req.method, req.path) == ("GET", "/_sandbox/quirks"):
            counts: dict[str, int] = {}
            out = []
            for row in self.table.iterate():
                rec = self.render(row)
                q = rule_breaks(rec, self.spelling, self.catalogue)
                for k in q:
                    counts[k] = counts.get(k, 0) + 1
                if q:
                    out.append({"id": self.record_id(rec), "quirks": q})
            return json_response(200, {"counts": counts, "records": out})
        return None
