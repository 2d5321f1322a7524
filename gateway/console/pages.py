"""The console's HTML: plain server-rendered pages, inline CSS, charts drawn as inline SVG.

No JavaScript framework and nothing fetched from a CDN: the console must work on a government intranet with no
way out, and in a browser test with no network. Every value that came from the ledger or a foreign system goes
through :func:`esc` (a case's item name is someone else's text). Times are Beijing time; durations human.

The page is English (``lang="en"``); the Chinese it writes — a system's title, a department's or an operator's
name, a KPI's name, a term such as 一窗受理 — goes through :func:`zh`, which marks it ``lang="zh-CN"``, so a
screen reader reads it with a Chinese voice and a browser sets it with Chinese fonts, and the English around it
keeps English ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from gateway.ops.humanize import human_duration, local_time
from gateway.ops.kpi import with_base

REFRESH_SECONDS = 30

_CSS = """
:root{--ok:#1a7f37;--warn:#9a6700;--err:#cf222e;--red:#cf222e;--yellow:#9a6700;--never:#6e7781;--ink:#1f2328;
--mute:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;
color:var(--ink);background:var(--bg)}header{background:#24292f;color:#fff;padding:8px 16px;display:flex;gap:6px 14px;
align-items:center;flex-wrap:wrap}header a{color:#fff;text-decoration:none;opacity:.85;white-space:nowrap}
header a:hover{opacity:1}header .brand{font-weight:700;font-size:15px;white-space:nowrap}
header nav{display:flex;flex-wrap:wrap;gap:4px 12px;flex:1 1 auto;min-width:0}
header .me{margin-left:auto;display:flex;gap:8px;align-items:center;white-space:nowrap}header .who{opacity:.8}
header form{display:inline}header button{background:none;border:1px solid #fff6;color:#fff;border-radius:4px;
cursor:pointer}main{padding:16px 20px;max-width:1400px}section{background:#fff;border:1px solid var(--line);
border-radius:6px;padding:12px 16px;margin-bottom:16px;min-width:0}h1{font-size:20px;margin:4px 0 12px}
h2{font-size:16px;margin:0 0 8px}.tw{overflow-x:auto;max-width:100%}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 7px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mute);font-weight:600}td.w,.why{overflow-wrap:anywhere;min-width:8em}
.why{color:var(--err);font-size:12px;max-width:24em;margin-top:2px}svg.chart{width:100%;height:auto;display:block}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.pill{display:inline-block;padding:0 8px;
border-radius:10px;color:#fff;font-size:12px;font-weight:600}.ok{background:var(--ok)}.warning{background:var(--warn)}
.error{background:var(--err)}.never{background:var(--never)}.red{background:var(--red)}.yellow{background:var(--yellow)}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}.card{background:#fff;border:1px solid var(--line);
border-radius:6px;padding:10px 16px;min-width:140px}.card .v{font-size:24px;font-weight:700}.card .k{color:var(--mute)}
.mute{color:var(--mute)}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));gap:16px;
margin-bottom:16px}.grid>*{min-width:0}.grid section{margin:0}
.pair{display:flex;flex-wrap:wrap;gap:16px;margin-bottom:16px}.pair>*{flex:1 1 320px;min-width:0;margin:0}
.pair>.wide{flex:3 1 720px}
pre{white-space:pre-wrap;word-break:break-all;background:var(--bg);padding:8px;border-radius:4px}
.login{max-width:360px;margin:80px auto}.login input{width:100%;padding:6px;margin:4px 0 10px}
.login button,.act{padding:6px 14px;background:#1f6feb;color:#fff;border:0;border-radius:4px;cursor:pointer}
.msg{padding:8px 12px;border-radius:4px;background:#fff8c5;border:1px solid #d4a72c;margin-bottom:12px}
.bad{background:#ffebe9;border-color:#ff8182}.narrow{max-width:520px}.pager a,.states a{margin-right:10px}
@media (max-width:640px){
main{padding:10px 8px}section{padding:10px}.tw{overflow-x:visible}
.tw table,.tw tbody,.tw tr{display:block;width:100%}.tw thead{display:none}
.tw tr{border:1px solid var(--line);border-radius:6px;margin-bottom:8px;padding:2px 0}
.tw td{display:table;table-layout:fixed;width:100%;border-bottom:1px dotted var(--line);text-align:left;
overflow-wrap:anywhere;min-width:0}.tw tr td:last-child{border-bottom:0}
.tw td::before{content:attr(data-label);display:table-cell;width:38%;padding-right:8px;color:var(--mute);
font-weight:600;overflow-wrap:anywhere}
td.w,.why{min-width:0}.card{flex:1 1 140px}
}
"""


def esc(value: Any) -> str:
    """A value as HTML text: datetimes in Beijing time, None as empty, everything escaped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value)
    return escape(str(value))


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
"""A Han character (CJK unified ideographs, extension A, compatibility)."""


def zh(value: Any) -> str:
    """:func:`esc`, in a ``<span lang="zh-CN">`` when the text holds Chinese: for element content only (a span in
    an attribute would be text). A value that holds none (a system titled in English, a code) is left as it is."""
    text = esc(value)
    return f'<span lang="zh-CN">{text}</span>' if _HAN.search(text) else text


def pill(level: str, text: str | None = None) -> str:
    return f'<span class="pill {escape(level)}">{esc(text or level)}</span>'


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = (),
          wrap: Sequence[int] = (), empty: str = "nothing here", test_id: str = "") -> str:
    """A table whose cells are already HTML (build them with :func:`esc`); ``numeric`` columns right-aligned,
    ``wrap`` columns (long text: messages, certificate numbers) broken anywhere rather than widening the table.
    The table sits in a box that scrolls sideways if it still cannot fit: it never spills out of its section.
    Each cell carries its column's header (``data-label``): below 640 px every row is a card of labelled cells,
    so a phone reads the message or the state without scrolling a 1,000 px table through a 316 px box."""
    rows = list(rows)
    tid = f' data-testid="{escape(test_id)}"' if test_id else ""
    if not rows:
        return f'<p class="mute"{tid}>{esc(empty)}</p>'

    def cls(i: int) -> str:
        names = " ".join(n for n, cols in (("n", numeric), ("w", wrap)) if i in cols)
        return f' class="{names}"' if names else ""

    labels = [f' data-label="{esc(c)}"' for c in columns]
    head = "".join(f"<th{cls(i) if i in numeric else ''}>{esc(c)}</th>" for i, c in enumerate(columns))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}{labels[i]}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<div class="tw"><table{tid}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def bar_chart(title: str, series: Sequence[tuple[str, Sequence[tuple[str, float, str]]]], *, test_id: str) -> str:
    """Horizontal stacked bars as inline SVG: ``[(label, [(part, value, css colour), ...]), ...]``."""
    if not series:
        return ""
    width, label_w, row_h = 640, 150, 22
    top = max((sum(v for _, v, _ in parts) for _, parts in series), default=0) or 1
    # as wide as its section up to its natural width, never wider: the viewBox scales it down on a narrow screen
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" data-testid="{escape(test_id)}" '
           f'style="max-width:{width}px" viewBox="0 0 {width} {row_h * len(series) + 8}" '
           'preserveAspectRatio="xMinYMin meet">']
    for i, (label, parts) in enumerate(series):
        y = 4 + i * row_h
        out.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(label)}</text>')
        x = float(label_w)
        total = 0.0
        for part, value, colour in parts:
            w = (width - label_w - 70) * value / top
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}">'
                           f"<title>{escape(label)} {escape(part)}: {value:g}</title></rect>")
            x += w
            total += value
        out.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12" fill="#59636e">{total:g}</text>')
    out.append("</svg>")
    return f"<h2>{esc(title)}</h2>" + "".join(out)


def layout(title: str, body: str, *, operator: str | None = None, role: str | None = None,
           csrf: str = "", refresh: bool = False, message: str = "", paused: bool = False) -> str:
    """The page around ``body``. ``paused``: the overview with its refresh paused — its own links keep it paused
    (the "Alerts" link, where an operator goes to read an alert whole, turned the 30 s reload back on)."""
    nav = ""
    if operator:
        o = "/console/?refresh=0" if paused else "/console/"
        nav = (  # the links wrap among themselves; who is logged in and "Log out" stay together on the right
            f'<nav data-testid="nav"><a href="{o}">Overview</a><a href="{o}#alerts">Alerts</a>'
            f'<a href="{o}#deadlines">Deadlines</a><a href="/console/dead-letters">Dead letters</a>'
            f'<a href="{o}#outbox">Outbox</a><a href="{o}#certificates">Certificates</a>'
            f'<a href="/console/handoffs">Hand-offs</a><a href="{o}#evaluations">{zh("好差评")} · 12345</a>'
            f'<a href="{o}#kpis">KPIs</a><a href="{o}#catalogue">Catalogue</a></nav>'
            f'<span class="me"><span class="who">{zh(operator)} ({esc(role)})</span>'
            f'<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{esc(csrf)}">'
            '<button type="submit">Log out</button></form></span>'
        )
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    note = f'<div class="msg" data-testid="message">{esc(message)}</div>' if message else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)} · Tongban console</title>'
        f'{meta}<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
        f'<body><header><span class="brand">{zh("通办")} Tongban · ops</span>{nav}</header><main>{note}{body}</main>'
        "</body></html>"
    )


def login_page(*, error: str = "", next_url: str = "/console/", notice: str = "") -> str:
    """The login form; ``notice`` says why the operator is here (a form posted from a tab whose session ended)."""
    bad = f'<div class="msg bad" data-testid="login-error">{esc(error)}</div>' if error else ""
    bad += f'<div class="msg" data-testid="login-notice">{esc(notice)}</div>' if notice else ""
    return layout("Log in", (
        f'<section class="login"><h1>Operator log in</h1>{bad}'
        '<form method="post" action="/console/login">'
        f'<input type="hidden" name="next" value="{esc(next_url)}">'
        '<label>Name<input name="name" autocomplete="username" required autofocus></label>'
        '<label>Password<input name="password" type="password" autocomplete="current-password" required></label>'
        '<button type="submit">Log in</button></form></section>'
    ))


def error_page(status: int, message: str, *, refresh: bool = False) -> str:
    """What a browser shows for a console error: the status, what went wrong, the way back. ``refresh``: the
    page tries again by itself (a ledger that is down: the wall screen comes back when it does)."""
    return layout(f"{status}", refresh=refresh, body=(
        f'<section><h1>{esc(status)}</h1><div class="msg bad" data-testid="error">{esc(message)}</div>'
        '<p><a href="/console/">Back to the overview</a></p></section>'))


def _cards(view: dict[str, Any]) -> str:
    health = [s["health"] for s in view["systems"]]
    counts = view["alert_counts"]
    cards = [
        ("systems", len(health), f'{health.count("ok")} ok · {health.count("error")} error'),
        ("errors", counts["error"], "open error alerts"),
        ("warnings", counts["warning"], "open warnings"),
        ("red time limits", counts["red"], f'{counts["yellow"]} yellow'),
        ("dead letters", view["dead_letters"]["total"], "open records"),
        ("outbox pending", sum(t.get("pending", 0) for t in view["outbox"] if t.get("queue") != "citizen"),
         "pushes waiting"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card" data-testid="card-{escape(k.replace(" ", "-"))}"><div class="v">{v}</div>'
        f'<div class="k">{esc(k)}</div><div class="mute">{esc(sub)}</div></div>' for k, v, sub in cards) + "</div>"


def _systems(view: dict[str, Any]) -> str:
    rows = []
    for s in view["systems"]:
        last = s["last_run"] or {}
        when = last.get("finished_at") or last.get("started_at")
        flags = ", ".join(f"{rule} {n}" for rule, n in list((last.get("quality_flags") or {}).items())[:3])
        lag = esc(s["lag_human"]) + (' <span class="pill warning">behind</span>' if s["behind"] else "")
        rows.append([
            f'<span data-testid="system-{esc(s["system"])}">{esc(s["system"])}</span>'
            f'<div class="mute">{zh(s["title"])}</div>',
            pill(s["health"]) + _why(s, last),
            esc(last.get("status", "never")) + (f'<div class="mute">{esc(when)}</div>' if when else ""),
            lag + f'<div class="mute">limit {esc(human_duration(s["max_lag_s"]))}</div>',
            esc(s["source_change_human"]),
            esc(last.get("read")), esc(last.get("rejected")), f'{s["rejected_share"]:.1%}',
            esc(s["flagged"] or "") + (f'<div class="mute">{esc(flags)}</div>' if flags else ""),
            esc(s["open_dead_letters"]), esc(s["pending_outbox"]),
        ])
    return '<section id="systems"><h2>Systems</h2>' + table(
        ["system", "health (and why)", "last run (at)", "lag (since last success)", "newest source change", "read",
         "rejected", "rejected share", "flagged", "dead letters", "outbox"], rows,
        numeric=(5, 6, 7, 9, 10), test_id="systems") + "</section>"


_WHY_SHOWN = 160
"""Characters of a system's error shown under its health pill; the whole text is its tooltip."""


def _why(system: dict[str, Any], last: dict[str, Any]) -> str:
    """Why a system is not green, under its pill: the last run's error, else that it is behind its lag limit."""
    error = str(last.get("error") or "")
    if error:
        cut = error[:_WHY_SHOWN] + ("…" if len(error) > _WHY_SHOWN else "")
        return f'<div class="why" data-testid="why-{esc(system["system"])}" title="{esc(error)}">{esc(cut)}</div>'
    if system.get("behind"):
        return (f'<div class="why" data-testid="why-{esc(system["system"])}">no successful sync for '
                f'{esc(system["lag_human"])}</div>')
    return ""


def _charts(view: dict[str, Any]) -> str:
    series = []
    for t in view["runs_by_system"]:  # each system's runs of the last 7 days, summed by the database
        unchanged = max(0, t["read"] - t["inserted"] - t["updated"] - t["rejected"])
        series.append((t["system"], [("inserted", t["inserted"], "#1a7f37"), ("updated", t["updated"], "#1f6feb"),
                                     ("rejected", t["rejected"], "#cf222e"), ("unchanged", unchanged, "#afb8c1")]))
    known = [round(s["lag_s"] / 60, 1) for s in view["systems"] if s["lag_s"] is not None]
    longest = max(known, default=0) or 1.0
    # a system that never synced is the one most in need of a look: a full red bar named so, not left out
    lag = [(s["system"] if s["lag_s"] is not None else f'{s["system"]} (never synced)',
            [("minutes since the last successful sync", round(s["lag_s"] / 60, 1) if s["lag_s"] is not None
              else longest, "#cf222e" if s["behind"] or s["lag_s"] is None else "#1a7f37")])
           for s in view["systems"]]
    return (
        '<div class="grid" id="charts"><section id="records">'
        + (bar_chart("Records synced, last 7 days (inserted · updated · rejected · unchanged)", series,
                     test_id="chart-records") or '<h2>Records synced</h2><p class="mute">no runs in 7 days</p>')
        + '</section><section id="lag">'
        + (bar_chart("Lag: minutes since the last successful sync (red = past its limit)", lag, test_id="chart-lag")
           or '<h2>Lag</h2><p class="mute">no system synced yet</p>')
        + "</section></div>"
    )


_MESSAGE_SHOWN = 200
"""Characters of an alert message shown in the table; the rest folds into a <details>, so one stack trace does not
make the Alerts section a page tall."""


def _long_text(text: str) -> str:
    """``text`` escaped, cut at :data:`_MESSAGE_SHOWN` characters with the rest one click away."""
    if len(text) <= _MESSAGE_SHOWN:
        return esc(text)
    return (f'{esc(text[:_MESSAGE_SHOWN])}…<details class="more"><summary>{len(text) - _MESSAGE_SHOWN} more '
            f'characters</summary>{esc(text[_MESSAGE_SHOWN:])}</details>')


def _alerts(view: dict[str, Any]) -> str:
    rows = [[pill(a["level"]), esc(a["kind"]), esc(a["system"]), esc(a["key"]), esc(a["first_seen_at"]),
             esc(a["occurrences"]), _long_text(a["message"])] for a in view["alerts"]]
    return (f'<section id="alerts"><h2>Alerts ({len(rows)}: every error and warning; time limits below)</h2>'
            + table(["level", "kind", "system", "about", "since", "times", "message"], rows, numeric=(5,),
                    wrap=(3, 6), empty="no open alerts", test_id="alerts") + "</section>")


def _deadlines(view: dict[str, Any]) -> str:
    d = view["deadlines"]
    by_stage = [[esc(r["kind"]), esc(r["system"]), esc(r["stage"]), pill("yellow", str(r["yellow"])),
                 pill("red", str(r["red"]))] for r in d["by_stage"]]
    reds = [[esc(r["case_no"]), esc(r["kind"]), esc(r["system"]), esc(r["stage"]), esc(r["message"])]
            for r in d["most_overdue"]]
    return (f'<section id="deadlines"><h2>Time limits: {d["red"]} red, {d["yellow"]} yellow</h2>'
            '<p class="mute">cases and their stages, deferred materials, 好差评 callbacks and rectifications, 12345 '
            'orders</p>'
            + table(["clock", "system", "stage", "yellow", "red"], by_stage,
                    empty="every running clock is within its limit", test_id="deadlines")
            + (f'<h2 style="margin-top:12px">Most overdue (first {len(reds)} of {d["red"]})</h2>'
               + table(["case / key", "clock", "system", "stage", "what"], reds, wrap=(4,)) if reds else "")
            + "</section>")


def _examples(group: dict[str, Any]) -> str:
    """A group's example dead letters, each a link named by its id and the record it is (its key at the source)."""
    records = group.get("example_records") or [None] * len(group["example_ids"])
    return " ".join(f'<a href="/console/dead-letters/{int(i)}">#{int(i)}</a>'
                    + (f" <small>{esc(r)}</small>" if r is not None else "")
                    for i, r in zip(group["example_ids"], records, strict=False))


def _system_link(system: str) -> str:
    """A system's name as a link to its dead letters (the page's filter, without typing ``?system=``)."""
    href = "/console/dead-letters?" + urlencode({"system": system})
    return f'<a href="{esc(href)}" data-testid="filter-{esc(system)}">{esc(system)}</a>'


def _dead_letter_summary(view: dict[str, Any]) -> str:
    rows = [[_system_link(g["system"]), esc(g["kind"]), esc(g["rule"]), esc(g["field"]), esc(g["count"]), _examples(g),
             esc(g["message"])] for g in view["dead_letters"]["groups"][:10]]
    return ('<section id="dead-letters"><h2>Dead letters by rule '
            f'(<a href="/console/dead-letters">all {view["dead_letters"]["total"]}</a>)</h2>'
            + table(["system", "kind", "rule", "field", "count", "e.g.", "message"], rows, numeric=(4,),
                    wrap=(6,), empty="no open dead letters", test_id="dead-letter-rules") + "</section>")


def _outbox_and_reconcile(view: dict[str, Any]) -> str:
    out = [[esc(t["target"] + (" (好差评 / 12345)" if t.get("queue") == "citizen" else "")), esc(t.get("pending", 0)),
            esc(t.get("dead", 0)), esc(t["oldest_pending_at"])] for t in view["outbox"]]
    rec = [[esc(r["system"]), f'{esc(_days_checked(r))}<br><small class="mute">checked {esc(r["checked_at"])}</small>',
            pill("red" if r["days_with_problems"] else "green", str(r["days_with_problems"])),
            esc(r["source_count"]), esc(r["matched"]), esc(r["missing_in_ledger"]), esc(r["divergent"]),
            esc(r["extra_in_ledger"]), esc(r["unrecorded_rejections"]), esc(r["missing_in_hall"]),
            esc(r["stale_in_hall"])]
           for r in view["reconciliations"]]
    return (
        '<div class="pair"><section id="outbox"><h2>Outbox (pushes to the hall and back; 好差评 / 12345 upward)</h2>'
        + table(["target", "pending", "dead", "oldest pending"], out, numeric=(1, 2), empty="nothing queued",
                test_id="outbox")
        + '</section><section id="reconcile" class="wide"><h2>Latest reconciliation per system '
        '<small>(its whole run: every day it checked, summed)</small></h2>'
        + table(["system", "days", "bad days", "source", "matched", "missing", "differ", "extra", "no letter",
                 "not in hall", "stale"],
                rec, numeric=(2, 3, 4, 5, 6, 7, 8, 9, 10), wrap=(1,), empty="no reconciliation has run",
                test_id="reconcile")
        + '<p class="mute"><small>days: the days the run checked; bad days: those not in order; extra: in the '
        "ledger, no longer at the source; no letter: rejected without a dead letter; stale: the hall holds an "
        "older version</small></p>"
        + "</section></div>"
    )


def _days_checked(run: dict[str, Any]) -> str:
    return run["first_day"] if run["days"] == 1 else f'{run["days"]} days, {run["first_day"]} … {run["last_day"]}'


def _certificates(view: dict[str, Any]) -> str:
    uses = view["certificate_uses"]
    actions = sorted(set(uses["last_day"]) | set(uses["last_week"]))
    rows = [[esc(a), esc(sum(uses["last_day"].get(a, {}).values())), esc(sum(uses["last_week"].get(a, {}).values())),
             esc(", ".join(f"{o} {n}" for o, n in sorted(uses["last_week"].get(a, {}).items())))] for a in actions]
    clients = [[_client(c), esc(c["entries"]), esc(c["released"]), esc(c["denied"])] for c in uses["by_client"]]
    recent = [[esc(r["at"]), esc(r["action"]), esc(r["outcome"]), _client(r), esc(r["certificate"]),
               esc(r["item_code"])] for r in uses["recent"]]
    return (
        '<section id="certificates"><h2>Certificate uses</h2><div class="grid"><div>'
        + table(["action", "last 24 h", "last 7 days", "outcomes (7 days)"], rows, numeric=(1, 2),
                empty="no certificate was used", test_id="certificate-uses")
        + "</div><div>"
        + table(["department (client)", "entries", "released", "denied"], clients, numeric=(1, 2, 3),
                test_id="certificate-clients")
        + '</div></div><h2 style="margin-top:12px">Latest</h2>'
        + table(["at", "action", "outcome", "client", "certificate", "item"], recent, wrap=(4, 5),
                test_id="certificate-recent")
        + "</section>"
    )


def _client(row: dict[str, Any]) -> str:
    """A certificate user as people know it: the client's name and department code, the id small beneath; the id
    alone for a caller that is no registered client."""
    name, department = row.get("client_name"), row.get("department_code")
    if not name:
        return esc(row.get("client_id"))
    return (f'{zh(name)}{f" · {esc(department)}" if department else ""}'
            f'<div class="mute">{esc(row.get("client_id"))}</div>')


def _moment(value: Any) -> Any:
    """An ISO text (as the KPI and catalogue summaries give times) as a datetime, so it shows in Beijing time."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _figure(value: Any, name: str) -> str:
    """A KPI as the reports write it: ratios in percent to two places, counts as they are, no data as —."""
    if value is None:
        return "—"
    if name.endswith(("_ratio", "_coverage", "_satisfaction")) or name.startswith("speedup"):
        return f"{value:.2%}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _based(value: Any, name: str, sums: dict[str, Any] | None) -> str:
    """:func:`_figure`, with the base of a ratio counted over a small part of the cases ("of 14 with a channel")."""
    return with_base(_figure(value, name), name, value, sums)


def _kpis(view: dict[str, Any]) -> str:
    k = view["kpis"]
    month = k["this_month"]
    month_sums = month.get("sums") or {}
    rows = []
    for d in k["definitions"]:
        name = d["name"]
        overall = k["items"].get(name) if d["basis"] == "item" else \
            k["citizen"].get(name) if name in k.get("citizen", {}) else k["overall"].get(name)
        trend = month["kpis"].get(name) or {}
        change = trend.get("change")
        rows.append([f'{zh(d["label"])}<div class="mute">{esc(d["definition"])}</div>', esc(d["basis"]),
                     esc(_based(overall, name, k.get("overall_sums") if d["basis"] == "case" else None)),
                     esc(_based(trend.get("now"), name, month_sums.get("now"))),
                     esc(_based(trend.get("before"), name, month_sums.get("before"))),
                     esc("" if change is None else (("+" if change > 0 else "") + _figure(change, name)))])
    refreshed = _moment(k["facts"]["refreshed_through"])
    month_of = month.get("month_of", "applied")
    choose = (f'<form method="get" action="#kpis" class="mute">report <input name="kpi_period" '
              f'value="{esc(month["period"])}" size="7" pattern="[0-9]{{4}}(-[0-9]{{2}})?" '
              f'title="a month (2026-10) or a year (2026)" aria-label="KPI period"> by the month of '
              f'<select name="kpi_month_of" aria-label="month of">'
              + "".join(f'<option value="{m}"{" selected" if m == month_of else ""}>{label}</option>'
                        for m, label in (("applied", "application (申请)"), ("accepted", "acceptance (受理)"),
                                         ("finished", "finish (办结)")))
              + '</select> <button type="submit">show</button></form>')
    return (f'<section id="kpis"><h2>Service KPIs <span class="mute" style="font-weight:400">'
            f'({zh("办件量")} {esc(k["overall"].get("cases", 0))} of {esc(k["facts"]["rows"])} case rows — deleted, '
            f'voided, {zh("不予受理")} and {zh("撤回")} counted apart; refreshed through {esc(refreshed or "never")}; '
            f'definitions in docs/kpi.md)</span></h2>' + choose
            + table(["KPI", "basis", "overall", esc(month["period"]), esc(month["compared_with"]), "change"], rows,
                    numeric=(2, 3, 4, 5), test_id="kpis") + "</section>")


def _catalogue(view: dict[str, Any]) -> str:
    c = view["catalogue"]
    run = c["run"]
    head = ("no audit has run (tongban catalogue audit, or the tongban_catalogue_kpi DAG)" if run is None else
            f'last audit {esc(_moment(run["finished_at"]))}: {run["entries"]} entries, {run["findings"]} findings '
            f'({run["new"]} new, {run["still_open"]} still open, {run["fixed"]} fixed)')
    kinds = [[esc(kind), esc(n)] for kind, n in c["open_by_kind"].items()]
    shown = c["top"]
    top = [[esc(f["kind"]), esc(f["element"] or f["rule"]), esc(f["catalog_code"]), esc(f["level"]),
            esc(f["division"]), esc(f["message"])] for f in shown]
    return (f'<section id="catalogue"><h2>Catalogue consistency ({zh("八统一")}): {c["open_total"]} open findings</h2>'
            f'<p class="mute">{head}</p><div class="narrow">'
            + table(["finding", "open"], kinds, numeric=(1,), test_id="catalogue-kinds") + "</div>"
            + f'<h2 style="margin-top:12px">Open findings: {len(top)} examples of {c["open_total"]}</h2>'
            + ('<p class="mute">every kind above has its first ones here; all of them: <code>tongban catalogue '
               "findings</code></p>" if c["open_total"] > len(top) else "")  # the full width: "what" is prose
            + table(["finding", "element", "基本编码", "level", "division", "what"], top, wrap=(5,),
                    empty="no open findings", test_id="catalogue-findings")
            + "</section>")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


_HANDOFF_COLUMNS = ["case", "office", "item", "department system", "state", "window ends", "decided", "by",
                    "late answer", "reason"]


def _handoff_rows(handoffs: list[dict[str, Any]]) -> list[list[str]]:
    return [[esc(r["case_no"]), esc(r.get("office_code")), esc(r.get("item_code")), esc(r.get("target_system")),
             esc(r["state"]), esc(_moment(r.get("due_at"))), esc(_moment(r.get("decided_at"))),
             zh(r.get("decided_by")), esc(r.get("late_decision") or ""), zh(r.get("reason") or "")]
            for r in handoffs]


def _state_links(counts: dict[str, int], current: str | None = None) -> str:
    """Each state with its count, a link to the hand-offs in it (the current one not a link)."""
    links = ['<a href="/console/handoffs">all</a>' if current else "<b>all</b>"]
    for state, n in sorted(counts.items()):
        href = "/console/handoffs?" + urlencode({"state": state})
        text = f"{esc(state)} {int(n)}"
        links.append(f"<b>{text}</b>" if state == current else
                     f'<a href="{esc(href)}" data-testid="state-{esc(state)}">{text}</a>')
    return f'<p class="states">{" ".join(links)}</p>'


def _handoffs(view: dict[str, Any]) -> str:
    """The hand-offs needing attention (awaiting delivery, pending: soonest due first), then the newest others;
    "N of M" and a link to all of them, so an old pending one is never out of reach."""
    h = view["handoffs"]
    counts = " · ".join(f"{state} {n}" for state, n in sorted(h["counts"].items())) or "none yet"
    shown, total = len(h["handoffs"]), h["total"]
    more = (f' · <a href="/console/handoffs" data-testid="all-handoffs">all {total} →</a>' if total > shown else "")
    return (f'<section id="handoffs"><h2>{zh("一窗受理")} hand-offs: {esc(counts)}; '
            f'{h["late_answers"]} late answers after deemed acceptance</h2>'
            f'<p class="mute" data-testid="handoffs-shown">{shown} of {total} shown: the {h["attention"]} awaiting '
            f'delivery or pending first (soonest due first), then the newest others{more}</p>'
            + table(_HANDOFF_COLUMNS, _handoff_rows(h["handoffs"]), empty="no front-desk case handed off yet",
                    test_id="handoffs") + "</section>")


def handoffs_page(rows: list[dict[str, Any]], counts: dict[str, int], *, state: str | None, offset: int,
                  page: int, more: bool) -> str:
    """Every hand-off, ``page`` at a time from ``offset``, in the overview's order (needing attention first),
    filtered by ``state`` when given."""
    total = counts.get(state, 0) if state else sum(counts.values())
    where = {"state": state} if state else {}
    links = []
    if offset > 0:
        query = urlencode({**where, "offset": max(0, offset - page)})
        links.append(f'<a href="/console/handoffs?{esc(query)}" data-testid="newer-page">← previous</a>')
    if more:
        query = urlencode({**where, "offset": offset + page})
        links.append(f'<a href="/console/handoffs?{esc(query)}" data-testid="next-page">next →</a>')
    span = f"{offset + 1}–{offset + len(rows)} of {total}" if rows else f"none of {total}"
    return (f'<h1>{zh("一窗受理")} hand-offs{f" ({esc(state)})" if state else ""}</h1><section>'
            + _state_links(counts, state)
            + f'<h2 data-testid="handoffs-span">{esc(span)}: awaiting delivery or pending first (soonest due '
              'first), then the newest</h2>'
            + table(_HANDOFF_COLUMNS, _handoff_rows(rows), empty="no hand-off here", test_id="handoff-list")
            + (f'<p class="pager">{" · ".join(links)}</p>' if links else "") + "</section>")


_NOT_TONGBANS_DISPATCH = ("late_on_arrival", "routed_before_tongban", "routed_by_platform")
"""The routed orders the 15-minute ratio leaves out (``gateway.citizen.workorder_summary``)."""


def _citizen(view: dict[str, Any]) -> str:
    e, w = view["evaluations"], view["workorders"]
    levels = " · ".join(f"{level} {n}" for level, n in e["by_level"].items())
    eval_rows = [
        ["ratings", esc(e["evaluations"]), esc(levels) + (
            f'; <span class="pill warning">{esc(e["unlinked"])} of cases not in the ledger</span> (not in the '
            'coverage: their cases never reached Tongban, check the rating feed\'s case numbers)'
            if e.get("unlinked") else "")],
        ["coverage (target 70%)", esc(_percent(e["coverage"])), f'{e["evaluated_cases"]} of {e["cases"]} finished cases'
         + ("" if e["coverage_ok"] in (True, None) else ' <span class="pill warning">below target</span>')],
        [zh("好评率"), esc(_percent(e["good_ratio"])), zh("基本满意") + " and better"],
        [zh("差评 / 回复率"), f'{esc(e["bad"])} / {esc(_percent(e["reply_ratio"]))}',
         f'{esc(e["bad_received"])} 差评 received (one a later rating replaced included: the base of 回复率); '
         f'{zh("按时回访率")} (by the close of the working day it arrived; the next working day\'s after closing '
         f'or on a day off): {esc(_percent(e["callback_on_time_ratio"]))}; open '
         f'{esc(e["callbacks_open"])}, overdue {esc(e["callbacks_overdue"])}'
         + (f'; {esc(e["callbacks_before_tongban"])} due before the cut-over (history: not counted)'
            if e.get("callbacks_before_tongban") else "")],
        [zh("限时整改率") + " (rectification)", esc(_percent(e["rectification_on_time_ratio"])),
         f'overdue {esc(e["rectifications_overdue"])}'],
        ["appeals", esc(sum(e["appeals"].values())), esc(" · ".join(f"{k} {v}" for k, v in e["appeals"].items()))],
        ["to the provincial system", esc(e["forwarded"].get("delivered", 0)),
         esc(" · ".join(f"{k} {v}" for k, v in e["forwarded"].items()))],
        ["flagged by the misuse rules", esc(e["flagged"]), "e.g. staff pressing the evaluator themselves"],
    ]
    p90 = w["dispatch_minutes"]["p90"]
    p90_text = "—" if p90 is None else f"{p90:.1f} min"
    order_rows = [
        ["work orders", esc(w["orders"]), esc(" · ".join(f"{k} {v}" for k, v in w["by_status"].items()))],
        ["dispatched in time (15 min)", esc(_percent(w["dispatched_in_time_ratio"])),
         f'of {esc(w.get("routed", 0) - sum(w.get(k, 0) for k in _NOT_TONGBANS_DISPATCH))} '
         f'routed by Tongban; p90 {esc(p90_text)}; '
         + (f'late on arrival (the platform\'s backlog when Tongban first read it) {esc(w["late_on_arrival"])}; '
            if w.get("late_on_arrival") else "")
         + (f'routed before Tongban {esc(w["routed_before_tongban"])}; ' if w.get("routed_before_tongban") else "")
         + (f'routed by the platform\'s own staff {esc(w["routed_by_platform"])}; '
            if w.get("routed_by_platform") else "")
         + f'unrouted and overdue {esc(w["undispatched_overdue"])}'],
        [f'signed for in time ({zh("按时签收")})', esc(_percent(w["sign_on_time_ratio"])),
         f'overdue {esc(w["signs_overdue"])}'],
        ["replied in time", esc(_percent(w["reply_on_time_ratio"])), f'overdue {esc(w["replies_overdue"])}'],
        ["redo", esc(w["redo"]["opened"]), f'refused {esc(w["redo"]["refused"])}'],
        ["satisfaction", esc(_percent(w["satisfaction"])), "满意 + 基本满意, latest rating of each order"],
    ]
    return (
        f'<div class="grid"><section id="evaluations"><h2>{zh("好差评")} (citizens\' evaluations)</h2>'
        + table(["figure", "value", "detail"], eval_rows, numeric=(1,), test_id="evaluations")
        + '</section><section id="workorders"><h2>12345 work orders</h2>'
        + table(["figure", "value", "detail"], order_rows, numeric=(1,), test_id="workorders")
        + "</section></div>"
    )


def overview_page(view: dict[str, Any], *, refresh: bool = True) -> str:
    """The overview; ``refresh``: whether the page reloads itself, said in the heading with the link that turns it
    off or on (a reload closed whatever the operator had opened, an alert's whole text, within 30 s)."""
    extra = _handoffs(view) + _citizen(view) + _kpis(view) + _catalogue(view)
    toggle = (f'refreshes every {REFRESH_SECONDS} s (<a href="/console/?refresh=0" data-testid="pause-refresh">'
              "pause</a>)" if refresh else
              '<a href="/console/" data-testid="resume-refresh">refresh paused: resume</a>')
    return (
        f'<h1>Overview <span class="mute" style="font-size:13px;font-weight:400">as of '
        f'{esc(view["generated_at"])} Beijing time · {toggle}</span></h1>'
        + _cards(view) + _systems(view) + _charts(view) + _alerts(view) + _deadlines(view)
        + _dead_letter_summary(view) + _outbox_and_reconcile(view) + _certificates(view) + extra
    )


def dead_letters_page(groups: list[dict[str, Any]], listing: list[dict[str, Any]], *, admin: bool, csrf: str,
                      system: str | None, replayable: list[str], not_replayable: list[str],
                      before: int | None = None, more: bool = False) -> str:
    """The dead letters, grouped and listed. The replay select offers only ``replayable`` systems (those of the
    systems file: the replay maps them again); ``not_replayable`` ones (好差评, 12345, push targets outside the
    systems file) are named beside it with where they are replayed, so the button never answers 400."""
    grouped = [[_system_link(g["system"]), esc(g["kind"]), esc(g["rule"]), esc(g["field"]), esc(g["count"]), _examples(g),
                esc(g["message"])] for g in groups]
    rows = [[f'<a href="/console/dead-letters/{int(r["id"])}">#{int(r["id"])}</a>', esc(r["kind"]), esc(r["system"]),
             esc(r["source_id"]), esc(r["status"]), esc(r["attempts"]), esc(r["reason"])] for r in listing]
    replay = ""
    if admin:
        options = "".join(f'<option value="{esc(s)}"{" selected" if s == system else ""}>{esc(s)}</option>'
                          for s in replayable)
        elsewhere = (f'<p class="mute" data-testid="not-replayable">not replayed here: {esc(", ".join(not_replayable))}'
                     ' (not in the systems file: 好差评 ratings are replayed by <code>tongban evaluations replay</code>, '
                     '12345 orders by <code>tongban workorders replay</code>)</p>' if not_replayable else "")
        replay = (
            '<form method="post" action="/console/dead-letters/replay" data-testid="replay-form">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<label>Replay the open dead letters of <select name="system"><option value="">every configured system'
            '</option>'
            f'{options}</select></label> <button class="act" type="submit">Replay</button>'
            '<span class="mute"> runs them through the current mapping again; pushes are re-queued</span></form>'
            + elsewhere
        )
    where = f" of {esc(system)}" if system else ""
    return (
        f"<h1>Dead letters{where}</h1>"
        + (f"<section>{replay}</section>" if replay else "")
        + "<section><h2>By system and rule</h2>"
        + table(["system", "kind", "rule", "field", "count", "e.g.", "message"], grouped, numeric=(4,),
                empty="no open dead letters", test_id="dead-letter-groups")
        + f"</section><section><h2>Records ({_listing_title(listing, before)})</h2>"
        + table(["id", "kind", "system", "source id", "status", "tries", "reason"], rows,
                empty="no open dead letters", test_id="dead-letter-records")
        + _older_link(listing, system, before, more)
        + "</section>"
    )


def _listing_title(listing: list[dict[str, Any]], before: int | None) -> str:
    if before is None:
        return f"newest {len(listing)}"
    return f"{len(listing)} older than #{before}"


def _older_link(listing: list[dict[str, Any]], system: str | None, before: int | None, more: bool) -> str:
    """Links through the whole store, a page at a time by id: "older" after a full page, "newest" from any other."""
    links = []
    where = {"system": system} if system else {}
    if before is not None:
        links.append(f'<a href="/console/dead-letters?{esc(urlencode(where))}" data-testid="newest-page">newest</a>')
    if more and listing:
        query = urlencode({**where, "before": int(listing[-1]["id"])})
        links.append(f'<a href="/console/dead-letters?{esc(query)}" data-testid="older-page">older →</a>')
    return f'<p class="pager">{" · ".join(links)}</p>' if links else ""


def _pretty(raw: str) -> str:
    """JSON indented for reading (the raw text as it is when it is not JSON: XML, or a truncated body)."""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, indent=2)
    except ValueError:
        return raw


def dead_letter_page(detail: dict[str, Any]) -> str:
    facts = [[esc(k), esc(detail.get(k))] for k in ("kind", "system", "stream", "source_id", "case_no", "status",
                                                     "attempts", "mapping_version", "created_at", "updated_at")]
    issues = [[esc(i.get("field")), esc(i.get("rule")), esc(i.get("message"))] for i in detail["issues"]]
    back = f'/console/dead-letters?system={quote(str(detail["system"]))}'
    return (
        f'<h1>Dead letter #{int(detail["id"])} <a style="font-size:13px" href="{esc(back)}">back</a></h1>'
        + "<section>" + table(["what", "value"], facts) + "</section>"
        + "<section><h2>What broke which rule</h2>"
        + table(["field", "rule", "message"], issues, empty=str(detail.get("reason") or "")) + "</section>"
        + '<section><h2>Raw input (personal data masked)</h2><pre data-testid="raw">' + esc(_pretty(detail["raw"]))
        + "</pre></section>"
    )


__all__ = ["REFRESH_SECONDS", "bar_chart", "dead_letter_page", "dead_letters_page", "esc", "handoffs_page",
           "layout", "login_page", "overview_page", "pill", "table", "zh"]
