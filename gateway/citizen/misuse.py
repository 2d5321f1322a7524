"""Evaluator misuse: staff pressing the window's evaluator device themselves (a known abuse of 好差评).

Two rules over the ratings given on window devices, both configurable (:class:`~.settings.MisuseRules`):

- ``quick``: on one device and day, at least ``min_quick`` ratings each given within ``quick_seconds`` of its
  case closing — a citizen needs longer than that to pick up the pen;
- ``burst``: ``burst_count`` ratings or more from one device within ``burst_seconds`` — one window serves
  one citizen at a time;
- ``supersede``: a rating on the device, not itself a 差评, of a case the citizen gave a 差评 on another channel
  (PC, app, QR code, SMS) before — the evaluator pressed to cover a 差评. (It does not replace the 差评 in the
  figures either: only the citizen's rating after the rectification does.)

Flagged ratings are kept and counted like any other (a flag is not a verdict): they carry the rules they broke
(``flags``), and each (device, day) with flags opens an ``evaluation_misuse`` alert for a person to look at.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import Engine

from gateway.store import alerts as alert_store
from gateway.store import citizen as store
from gateway.store import ledger

from .settings import MisuseRules

__all__ = ["MisuseReport", "detect_misuse"]

ALERT_KIND = "evaluation_misuse"
BEIJING = timezone(timedelta(hours=8))


@dataclass
class MisuseReport:
    examined: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def flagged(self) -> set[str]:
        return {rid for g in self.groups for rid in g["ratings"]}

    def as_dict(self) -> dict[str, Any]:
        return {"examined": self.examined, "flagged": len(self.flagged), "groups": self.groups}


def _bursts(rows: list[Any], rules: MisuseRules) -> set[str]:
    out: set[str] = set()
    window = timedelta(seconds=rules.burst_seconds)
    start = 0
    for end in range(len(rows)):
        while rows[end]["rated_at"] - rows[start]["rated_at"] > window:
            start += 1
        if end - start + 1 >= rules.burst_count:
            out.update(r["rating_id"] for r in rows[start:end + 1])
    return out


def _device(r: Any) -> str:
    """The evaluator a device rating came from: its ``deviceSn``, else its window (``window:W01``), else its staff
    member — ratings without a device number were one device "?", and five citizens at five windows within two
    minutes made a burst (and a None in the groups failed the sort, and the run)."""
    if r["device"]:
        return str(r["device"])
    if r["window_no"]:
        return f"window:{r['window_no']}"
    return f"staff:{r['staff']}" if r["staff"] else "unknown"


def _flags(rows: list[Any], complained: list[tuple[str, datetime]], rules: MisuseRules) -> dict[str, list[str]]:
    """rating id → the rules it broke, of the device ratings ``rows`` (in rating order)."""
    by_device: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_device[_device(r)].append(r)
    flags: dict[str, list[str]] = defaultdict(list)
    first_complaint: dict[str, datetime] = {}
    for case_no, at in complained:
        first_complaint[case_no] = min(at, first_complaint.get(case_no, at))
    for r in rows:
        if not r["bad"] and r["case_no"] in first_complaint and first_complaint[r["case_no"]] < r["rated_at"]:
            flags[r["rating_id"]].append("supersede")
    for device_rows in by_device.values():
        for rid in _bursts(device_rows, rules):
            flags[rid].append("burst")
        by_day: dict[str, list[Any]] = defaultdict(list)
        for r in device_rows:
            by_day[r["rated_at"].astimezone(BEIJING).strftime("%Y-%m-%d")].append(r)
        for day_rows in by_day.values():
            quick = [r["rating_id"] for r in day_rows if r["case_finished_at"] is not None
                     and timedelta(0) <= r["rated_at"] - r["case_finished_at"] <= timedelta(seconds=rules.quick_seconds)]
            if len(quick) >= rules.min_quick:
                for rid in quick:
                    flags[rid].append("quick")
    return flags


def detect_misuse(engine: Engine, rules: MisuseRules, *, since: datetime | None = None,
                  stored_since: datetime | None = None) -> MisuseReport:
    """Examine the device ratings (rated since ``since``; or, with ``stored_since``, from the day before the
    earliest rating stored since then — what a scheduled run needs, since ratings arrive late), write each one's
    flags and open a misuse alert per (device, day) group found, resolving those of the days it examined that are
    no longer found (a withdrawn rating's flag is cleared).

    A run examines whole Beijing days (``since`` is taken back to its day's midnight): the ``quick`` rule counts a
    device's day, and a run that read a day from 10:30 on cleared the flags of the morning's ratings it did not
    see. Ratings of the ``burst_seconds`` before that midnight are read as context for a burst across it, and left
    as they are. The earliest rating stored since ``stored_since`` is looked for on every channel: a 差评 given on
    the app and read a day late makes the device ratings after it ``supersede`` flags."""
    with engine.connect() as conn:
        if stored_since is not None:
            earliest = store.earliest_rating_stored_since(conn, stored_since)
            if earliest is None:
                return MisuseReport()
            since = earliest - timedelta(days=1)
        if since is not None:
            since = datetime.combine(since.astimezone(BEIJING).date(), time(0), BEIJING)
        context = since - timedelta(seconds=rules.burst_seconds) if since is not None else None
        rows = store.evaluation_rows(conn, since=context, device_only=True)
        complained = store.citizens_bad_ratings(conn, [r["case_no"] for r in rows if not r["bad"]])
    flags = _flags(rows, complained, rules)
    if since is not None:
        rows = [r for r in rows if r["rated_at"] >= since]  # the context before the first day: read, not judged
    report = MisuseReport(examined=len(rows))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["rating_id"] not in flags:
            continue
        day = r["rated_at"].astimezone(BEIJING).strftime("%Y-%m-%d")
        g = groups.setdefault((_device(r), day), {"device": _device(r), "day": day, "window": r["window_no"],
                                                  "staff": set(), "ratings": [], "rules": set()})
        g["ratings"].append(r["rating_id"])
        g["rules"].update(flags[r["rating_id"]])
        if r["staff"]:
            g["staff"].add(r["staff"])
    report.groups = [{**g, "staff": sorted(g["staff"]), "rules": sorted(g["rules"])}
                     for _, g in sorted(groups.items())]
    now = ledger.utcnow()
    with engine.begin() as conn:
        store.set_flags(conn, {r["rating_id"]: (orjson.dumps(sorted(set(flags[r["rating_id"]]))).decode()
                                                if r["rating_id"] in flags else None) for r in rows})
        wanted = {f"{g['device']}:{g['day']}": g for g in report.groups}
        for key, g in wanted.items():
            alert_store.upsert_alert(
                conn, ALERT_KIND, key, level="warning", system="evaluator", case_no=None, now=now,
                message=f"评价器 {g['device']} ({g['window']}) on {g['day']}: {len(g['ratings'])} ratings look "
                        f"pressed by staff ({', '.join(g['rules'])}); staff {', '.join(g['staff']) or '—'}",
                details=ledger.dumps({"ratings": g["ratings"], "rules": g["rules"], "staff": g["staff"]}))
        first_day = since.astimezone(BEIJING).strftime("%Y-%m-%d") if since is not None else ""
        # the groups of the days this run examined whole (all, without ``since``) that are no longer found: a
        # scheduled run re-reads a day after a rating of it was withdrawn, and its alert said "3 ratings" for ever
        gone = sorted(k for k in alert_store.open_keys(conn, ALERT_KIND) - set(wanted) if k[-10:] >= first_day)
        if gone:
            alert_store.resolve_open(conn, ALERT_KIND, gone, now=now)
        store.clear_flags_of_revoked(conn, since=since)
    return report
