"""Commands of the catalogue audit and the KPIs: ``catalogue harvest``, ``catalogue audit``, ``kpi``.

Registered on :data:`gateway.cli.options.app`; the work is done in :mod:`gateway.catalogue` and
:mod:`gateway.ops.kpi`. Exports: ``--csv PATH`` (UTF-8 with a BOM, so Excel opens the Chinese text right);
``--xlsx PATH`` (openpyxl: a sheet with a bold, frozen header row and columns wide enough to read).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.options import DbOpt, JsonOpt, SystemsOpt, app, guard, ledger_engine, period_option
from gateway.cli.output import console, print_json, print_table
from gateway.contract.errors import ConfigError

catalogue_app = typer.Typer(no_args_is_help=True, help="The service catalogue (实施清单) and its 八统一 audit.")
app.add_typer(catalogue_app, name="catalogue")

CataloguesOpt = Annotated[Path | None, typer.Option("--catalogues", help="Catalogues file (default: "
                                                    "$TONGBAN_CATALOGUES, catalogues.yaml, config/catalogues.yaml).")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Also write the rows to this CSV file.")]
XlsxOpt = Annotated[Path | None, typer.Option("--xlsx", help="Also write the rows to this XLSX file "
                                              "(needs openpyxl).")]


def _writable(*paths: Path | None) -> None:
    """Refuse an export path whose folder is missing before any work is done (an audit run would be recorded)."""
    for path in paths:
        if path is not None and not path.resolve().parent.is_dir():
            raise ConfigError(f"cannot write {path}: the folder {path.resolve().parent} does not exist")


_NOT_IN_A_CELL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""What a worksheet cell cannot hold (XML 1.0): control characters but tab and line breaks — a vertical tab pasted
from Word failed the whole export (openpyxl's IllegalCharacterError) after the audit run was recorded."""


def _cell(value: Any) -> Any:
    """A value a spreadsheet cell takes: numbers as they are, anything else as text, each control character a
    cell cannot hold shown as U+FFFD."""
    if value is None or isinstance(value, int | float):
        return value
    return _NOT_IN_A_CELL.sub("\ufffd", value if isinstance(value, str) else str(value))


def _finding_kind(kind: str | None) -> str | None:
    """``--kind`` checked: a misspelt kind showed an empty table and exited 0, as if the catalogue had none."""
    from gateway.catalogue.findings import FINDING_KINDS
    from gateway.kernel.yamlfile import did_you_mean

    if kind is not None and kind not in FINDING_KINDS:
        raise ConfigError(f"--kind {kind!r}: not a kind of finding{did_you_mean(kind, FINDING_KINDS)}; expected one of "
                          f"{', '.join(FINDING_KINDS)}")
    return kind


def _export(rows: list[dict[str, Any]], csv_path: Path | None, xlsx_path: Path | None) -> None:
    if not rows:
        columns: list[str] = []
    else:
        columns = list(rows[0])
    if csv_path is not None:
        with csv_path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        console.print(f"wrote {len(rows)} rows to {csv_path}")
    if xlsx_path is not None:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        book = Workbook()
        sheet = book.active
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in rows:
            sheet.append([_cell(row[c]) for c in columns])
        for i, column in enumerate(columns, start=1):
            widest = max([len(str(column))] + [len(str(r[column] or "")) for r in rows[:500]])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(60, widest + 2)
        book.save(xlsx_path)
        console.print(f"wrote {len(rows)} rows to {xlsx_path}")


def _pct(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value * 100:.2f}%"
    return str(value)


def _label(name: str, by: str | None) -> str:
    """A column's heading: the KPI's Chinese name as the reports write it, the group's dimension for ``key``."""
    from gateway.ops.kpi import DEFINITIONS

    if name == "key":
        return by or "scope"
    labels = {d.name: d.label for d in DEFINITIONS}
    labels.update(items="事项数")
    return labels.get(name, name)


def _kpi_cell(name: str, value: Any, sums: dict[str, Any] | None) -> str:
    """A KPI as the table shows it: a ratio counted over a small part of the cases says its base —
    "7.14% (of 14 with a channel)" (:func:`gateway.ops.kpi.partial_base`)."""
    from gateway.ops.kpi import with_base

    return with_base(_pct(value), name, value, sums)


def _change(value: Any) -> str:
    """A change between periods: percentage points for ratios, a signed count otherwise."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value * 100:+.2f} pp"
    return f"{value:+d}"


@catalogue_app.command("harvest")
@guard
def catalogue_harvest(
    name: Annotated[str | None, typer.Argument(help="Catalogue to harvest (default: every one in the file).")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Read everything, not only changes.")] = False,
    catalogues: CataloguesOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Harvest catalogue entries (实施清单) into the catalogue store, versioned."""
    from gateway.catalogue import harvest_catalogue, load_catalogues

    configs = load_catalogues(catalogues)
    if name is not None and name not in configs:
        raise ConfigError(f"unknown catalogue {name!r} (configured: {', '.join(sorted(configs)) or 'none'})")
    engine = ledger_engine(None, database_url)
    reports = [harvest_catalogue(engine, configs[n], full_refresh=full_refresh).as_dict()
               for n in ([name] if name else sorted(configs))]
    if json_out:
        print_json(reports)
        return
    print_table("catalogue harvest", ["catalogue", "read", "new", "updated", "unchanged", "rejected", "flagged",
                                      "retired", "re-coded", "seconds"],
                [[r["catalogue"], r["read"], r["inserted"], r["updated"], r["unchanged"], r["rejected"], r["flagged"],
                  r["retired"], r["recoded"], r["duration_s"]] for r in reports])
    for r in reports:
        for line in r["rejections"]:
            console.print(f"rejected {line}", markup=False)
        for line in r["flags"]:
            console.print(f"flagged {line}", markup=False)


@catalogue_app.command("audit")
@guard
def catalogue_audit(
    dormant_months: Annotated[int, typer.Option("--dormant-months", min=1,
                                                help="No case for this long: 长期无办件.")] = 12,
    kind: Annotated[str | None, typer.Option("--kind", help="Show only findings of this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Findings shown in the table (exports hold all).")] = 50,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
    csv_path: CsvOpt = None,
    xlsx_path: XlsxOpt = None,
) -> None:
    """Compare every entry's eight elements across levels (八统一) and track what is new, open and fixed."""
    _writable(csv_path, xlsx_path)
    kind = _finding_kind(kind)
    from gateway.catalogue import run_audit

    report = run_audit(ledger_engine(None, database_url), dormant_months=dormant_months)
    data = report.as_dict()
    items = [i for i in data["items"] if kind is None or i["kind"] == kind]
    _export(items, csv_path, xlsx_path)
    if json_out:
        print_json({**data, "items": items})
        return
    counts = report.counts()
    print_table(f"catalogue audit run {report.run_id}: {counts['entries']} entries in {report.duration_s:.2f} s",
                ["kind", "findings"], sorted(report.by_kind().items()))
    console.print(f"new {counts['new']} · still open {counts['still_open']} · fixed {counts['fixed']}")
    print_table("findings", ["status", "kind", "element", "catalog code", "item code", "level", "division", "message"],
                [[i["status"], i["kind"], i["element"], i["catalog_code"], i["item_code"], i["level"], i["division"],
                  i["message"]] for i in items[:limit]])
    if len(items) > limit:
        console.print(f"… {len(items) - limit} more (--limit, --json or --csv for all)")


@catalogue_app.command("findings")
@guard
def catalogue_findings(
    status: Annotated[str, typer.Option("--status", help="open, fixed or all.")] = "open",
    kind: Annotated[str | None, typer.Option("--kind", help="Only findings of this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows shown in the table (exports hold all).")] = 50,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
    csv_path: CsvOpt = None,
    xlsx_path: XlsxOpt = None,
) -> None:
    """The findings the audit runs have tracked, without running the audit again."""
    _writable(csv_path, xlsx_path)
    kind = _finding_kind(kind)
    from gateway.catalogue.audit import tracked_findings

    if status not in ("open", "fixed", "all"):
        raise ConfigError(f"--status {status!r}: expected open, fixed or all")
    rows = tracked_findings(ledger_engine(None, database_url, existing=True),
                            status=None if status == "all" else status, kind=kind)
    _export(rows, csv_path, xlsx_path)
    if json_out:
        print_json(rows)
        return
    print_table(f"catalogue findings ({status}): {len(rows)}",
                ["status", "kind", "element", "item code", "level", "division", "first seen", "message"],
                [[r["status"], r["kind"], r["element"], r["item_code"], r["level"], r["division"],
                  r["first_seen_at"][:10], r["message"]] for r in rows[:limit]])


def _check_kpi_options(by: str | None, items: bool, period: str | None, compare_with: str | None) -> None:
    """Refuse a combination the KPIs cannot answer, saying which ones work — never a silent fallback (``--items
    --by month`` once printed the ungrouped item KPIs as if grouped)."""
    from gateway.ops.kpi import DIMENSIONS, ITEM_DIMENSIONS

    works = (f"case KPIs group --by {', '.join(DIMENSIONS)} with --period and --compare; item KPIs (--items) "
             f"group --by {' or '.join(ITEM_DIMENSIONS)} and describe the catalogue as it is now (no --period, "
             "no --compare)")
    if items and by is not None and by not in ITEM_DIMENSIONS:
        raise ConfigError(f"--items --by {by!r} is not supported: {works}")
    if not items and by is not None and by not in DIMENSIONS:
        raise ConfigError(f"--by {by!r} is not supported: {works}")
    if items and (period is not None or compare_with is not None):
        raise ConfigError(f"--items with --period or --compare is not supported: {works}")
    if compare_with is not None and (period is None or compare_with not in ("previous", "year")):
        raise ConfigError("--compare previous|year needs --period (a month such as 2026-11 or a year such as 2026)")


def _clock_and_catalogue(systems: Path | None) -> tuple[Any, Any]:
    """The working-day calendar and the 通办目录 the deadline scan and the hand-off read (next to the systems file
    when one is there): the KPI refresh judges 按时办结 by the same clock, and a refresh with another calendar would
    compute every row again."""
    from gateway.kernel.config import find_config_file
    from gateway.ops.deadlines import WorkCalendar
    from gateway.process import TongbanCatalogue

    path = find_config_file(systems, "TONGBAN_SYSTEMS", "tongban.yaml", "systems.yaml", "systems file")
    return WorkCalendar.load(systems_path=path), TongbanCatalogue.load(systems_path=path)


@app.command()
@guard
def kpi(
    by: Annotated[str | None, typer.Option("--by", help="Case KPIs: item, department, office, channel or month; "
                                                      "with --items: department, level or division.")] = None,
    division: Annotated[str | None, typer.Option("--division", help="With --items: only this division's 实施清单 "
                                                                    "(the catalogue holds every level's and "
                                                                    "district's).")] = None,
    period: Annotated[str | None, typer.Option("--period", help="A month (2026-11) or a year (2026).")] = None,
    compare_with: Annotated[str | None, typer.Option("--compare", help="previous (month or year before) or year "
                                                                       "(same month last year); needs --period.")] = None,
    month_of: Annotated[str, typer.Option("--month-of", help="Which month of a case --period and --by month read: "
                                                             "applied (申请时间, the default), accepted (受理时间) or "
                                                             "finished (办结时间: what was finished that month).")
                        ] = "applied",
    items: Annotated[bool, typer.Option("--items", help="Item-based KPIs from the catalogue instead.")] = False,
    no_refresh: Annotated[bool, typer.Option("--no-refresh", help="Use the contribution rows as they are.")] = False,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Compute every contribution row again (after "
                                               "a correction of the 通办目录).")] = False,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
    csv_path: CsvOpt = None,
    xlsx_path: XlsxOpt = None,
) -> None:
    """Service KPIs from the ledger (definitions: docs/kpi.md), refreshed from the cases that changed."""
    _writable(csv_path, xlsx_path)
    from gateway.ops import kpi as kpis

    _check_kpi_options(by, items, period, compare_with)
    if month_of not in kpis.MONTHS_OF:
        raise ConfigError(f"--month-of {month_of!r}: expected one of {', '.join(kpis.MONTHS_OF)}")
    if items and month_of != "applied":
        raise ConfigError("--month-of reads the case KPIs: the item KPIs (--items) describe the catalogue as it is now")
    if no_refresh and full_refresh:
        raise ConfigError("--no-refresh and --full-refresh contradict each other: choose one")
    period_option(period)
    engine = ledger_engine(systems, database_url, existing=True)
    refreshed = None
    if not no_refresh:
        calendar, catalogue = _clock_and_catalogue(systems)
        refreshed = kpis.refresh_facts(engine, full=full_refresh, calendar=calendar, catalogue=catalogue).as_dict()
    if compare_with is not None:
        result = kpis.compare(engine, period, against=compare_with, by=by,  # type: ignore[arg-type]
                              month_of=month_of)  # type: ignore[arg-type]
        flat = [{"key": r["key"], "kpi": name, **v} for r in result["rows"] for name, v in r["kpis"].items()]
        _export(flat, csv_path, xlsx_path)
        if json_out:
            print_json({**result, "refresh": refreshed})
            return
        sums = [r["sums"] for r in result["rows"] for _ in r["kpis"]]  # each flat row's group's sums
        print_table(f"KPIs {period} against {result['compared_with']}", ["group", "KPI", "now", "before", "change"],
                    [[f["key"], _label(f["kpi"], by), _kpi_cell(f["kpi"], f["now"], s["now"]),
                      _kpi_cell(f["kpi"], f["before"], s["before"]), _change(f["change"])]
                     for f, s in zip(flat, sums)])
        if not any((r["sums"]["now"] or {}).get("cases") or (r["sums"]["before"] or {}).get("cases")
                   for r in result["rows"]):
            _say_nothing_counted(engine, f"{period} or {result['compared_with']}")
        return
    if division is not None and not items:
        raise ConfigError("--division filters the item KPIs: give it with --items")
    rows = [r.as_dict() for r in (kpis.item_kpis(engine, by=by, division=division) if items  # type: ignore[arg-type]
                                  else kpis.compute(engine, by=by, period=period,  # type: ignore[arg-type]
                                                    month_of=month_of))]  # type: ignore[arg-type]
    flat = [{k: v for k, v in r.items() if k != "sums"} for r in rows]
    _export(flat, csv_path, xlsx_path)
    if json_out:
        print_json({"by": by, "period": period, "month_of": None if items else month_of, "rows": rows,
                    "refresh": refreshed})
        return
    columns = list(flat[0]) if flat else ["key"]
    of = "" if items or month_of == "applied" else f" (months of {month_of})"
    title = f"KPIs{' by ' + by if by else ''}{' ' + period if period else ''}{of} (definitions: docs/kpi.md)"
    if by is None and len(flat) == 1:  # one row: a KPI a line (twenty columns folded every cell of an 80-column
        # terminal into a few characters a line)
        print_table(title, ["KPI", "value"], [[_label(c, by), _kpi_cell(c, flat[0].get(c), rows[0].get("sums") or {})]
                                             for c in columns if c != "key"])
    else:
        print_table(title, [_label(c, by) for c in columns],
                    [[_kpi_cell(c, r.get(c), row.get("sums") or {}) for c in columns] for r, row in zip(flat, rows)])
    if not items and not any((row.get("sums") or {}).get("cases") for row in rows):
        _say_nothing_counted(engine, period or "the ledger")


def _say_nothing_counted(engine: Any, where: str) -> None:
    """An empty table says why: no case in the period asked for (a month the ledger holds no case of printed
    only the headings, exit 0), naming the months the ledger does hold."""
    from gateway.ops import kpi as kpis

    months = kpis.months_counted(engine)
    held = f"the ledger's cases are of {months[0]} to {months[-1]}" if months else "the ledger counts no case yet"
    console.print(f"no case counted in {where}: {held}", markup=False, highlight=False)
