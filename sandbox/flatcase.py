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
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .app import Request, Response, json_response
from .clock import Timeline, fmt_date, timeline_of
from .lifecycle import Story, build_story, promise_time
from .people import Party, company, person
from .pools import PEOPLE_AT, PEOPLE_SLOTS, STORY_SLOTS, StoryPool, people
from .prng import FateTable, draw_fate, mix, unit
from .vocab import JINAN_DISTRICTS, Item

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
    "admin_extra",
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
        return draw_fate(seed, i, self.salt + 3, FATES, FATE_DEFAULT)

    def deleted(self, seed: int, i: int) -> bool:
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


def admin_extra(app: Any, req: Request, quirks_of: Callable[[dict[str, Any]], list[str]]) -> Response | None:
    """``GET /_sandbox/records/{id}`` (one current record) and ``GET /_sandbox/quirks`` (rules broken)."""
    prefix = "/_sandbox/records/"
    if req.method == "GET" and req.path.startswith(prefix):
        rid = unquote(req.path[len(prefix):])
        with app.table.lock:
            entry = app._locate(rid)
        if entry is None:
            return json_response(404, {"error": f"unknown record {rid}"})
        return json_response(200, app.render(entry))
    if (req.method, req.path) == ("GET", "/_sandbox/quirks"):
        counts: dict[str, int] = {}
        out = []
        for row in app.table.iterate():
            rec = app.render(row)
            q = quirks_of(rec)
            for k in q:
                counts[k] = counts.get(k, 0) + 1
            if q:
                out.append({"id": app.record_id(rec), "quirks": q})
        return json_response(200, {"counts": counts, "records": out})
    return None
