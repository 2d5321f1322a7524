"""``tongban connector check`` looks at the records, not only at the answer: the first page of the system's
stream must carry the record key and the change-time field the connector config names.

One authenticated call proves the credentials and the envelope. It did not prove that ``primary_key`` and
``cursor_field`` name fields the records have: a key spelled wrong (or left as the scaffold's placeholder) passed
the check, and the sync rejected every record as ``record.key_missing``. So the check reads the first page of the
stream the sync reads and says which of the two fields none of its records has, and what the records do have::

    failed jn_zjj: primary_key 'sblshh' (config/connectors/jn_zjj.yaml: streams.cases.primary_key) is in none of
    the first page's 7 records (did you mean 'sblsh'?); they have: bjbh, bjjg, bjsj, ...
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from gateway.contract.errors import ChangeFilterIgnoredError, TongbanError

if TYPE_CHECKING:
    from gateway.contract.connector import Connector
    from gateway.kernel.config import SystemConfig


@dataclass(slots=True)
class FirstPage:
    """What the first page showed: ``ok`` false when the key or the cursor field is in none of its records."""

    ok: bool
    message: str
    records: int = 0
    fields: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, "records": self.records, "fields": self.fields,
                "problems": self.problems}


_EMPTY_HINT = ("; if the system holds records changed in that window, check its credentials — some services (.NET "
               "ASMX ones often) answer a wrong password with an empty result, not a fault")

def _dig(item: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(item, Mapping):
            item = item.get(part)
        elif isinstance(item, list) and part.lstrip("-").isdigit() and -len(item) <= int(part) < len(item):
            item = item[int(part)]
        else:
            return None
    return item


def _payload(reject: Any) -> Any:
    raw = getattr(reject, "raw", None)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return raw


def _fields_at(items: list[Any], path: str) -> list[str]:
    """The keys the records have at the level of ``path`` (top level for ``id``, under ``data`` for ``data.id``)."""
    parent = path.rpartition(".")[0]
    keys: set[str] = set()
    for item in items:
        node = _dig(item, parent) if parent else item
        if isinstance(node, Mapping):
            keys.update(f"{parent}.{k}" if parent else str(k) for k in node)
    return sorted(keys)


def _absent(value: Any) -> bool:
    return value is None or value == "" or isinstance(value, Mapping | list)


def _newest_window(connector: Connector, stream_name: str) -> Any:
    """Where the check reads the stream, when the connector says (``probe_since``: a declarative connector's
    windowed stream is read inside its newest window — the oldest, where a first read starts, is most often empty
    and proved nothing); None: from its start, as a first read."""
    probe_since = getattr(connector, "probe_since", None)
    return probe_since(stream_name) if callable(probe_since) else None


def _one_page(connector: Connector, stream_name: str, since: datetime | None, *, size: int | None = None) -> Any:
    """The first page of the stream read from ``since`` (None: from its start, as a full refresh), the read then
    closed: the check never reads on. A first page shorter than the paging's ``size`` ends the read: it is let end,
    so the paginator's own end checks run (a total the read fell short of: a server capping the page size below
    ``size`` passed the check, and the sync then failed)."""
    pages = iter(connector.read(stream_name, since=since, mode="incremental") if since is not None
                 else connector.read(stream_name, mode="full_refresh"))
    try:
        first = next(pages, None)
        if first is not None and size is not None and len(first.records) + len(first.rejects) < size:
            next(pages, None)
        return first
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()


def check_first_page(system: SystemConfig, connector: Connector, config: Mapping[str, Any]) -> FirstPage:
    """Read the first page of ``system``'s stream with ``connector`` (built from ``config``, the connector YAML)
    and check that its records have the primary key and the cursor field the YAML names."""
    stream_name = system.stream
    stream = (config.get("streams") or {}).get(stream_name)
    readable = {s.name for s in connector.streams() if s.readable}
    if not isinstance(stream, Mapping) or stream_name not in readable:
        return FirstPage(True, f"stream {stream_name!r} is not read: records not checked")
    start = _newest_window(connector, stream_name)
    paging = stream.get("pagination") if isinstance(stream.get("pagination"), Mapping) else {}
    size = paging.get("size") if paging.get("type") in ("page_number", "offset") else None
    try:
        page = _one_page(connector, stream_name, start, size=size if isinstance(size, int) else None)
    except TongbanError as exc:
        return FirstPage(False, f"the first page of stream {stream_name!r} could not be read: {exc}")
    if page is None:
        return FirstPage(True, f"stream {stream_name!r} answered no records: key and cursor field not checked"
                               f"{_EMPTY_HINT}")
    items = [r.payload for r in page.records] + [p for p in map(_payload, page.rejects) if isinstance(p, Mapping)]
    if not items:
        return FirstPage(True, f"stream {stream_name!r}: the first page has no records: key and cursor field not "
                               f"checked{_EMPTY_HINT}")
    where = system.connector_config_source
    key = stream.get("primary_key")
    incremental = stream.get("incremental") if isinstance(stream.get("incremental"), Mapping) else {}
    wanted: list[tuple[str, str]] = [("primary_key", k) for k in ([key] if isinstance(key, str) else key or [])]
    if incremental.get("cursor_field"):
        wanted.append(("incremental.cursor_field", str(incremental["cursor_field"])))
    problems: list[str] = []
    notes: list[str] = []
    for setting, path in wanted:
        missing = sum(1 for item in items if _absent(_dig(item, path)))
        if missing == len(items):
            have = _fields_at(items, path)
            close = difflib.get_close_matches(path, have, n=1, cutoff=0.6)
            problems.append(
                f"{setting.rsplit('.', 1)[-1]} {path!r} ({where}: streams.{stream_name}.{setting}) is in none of the "
                f"first page's {len(items)} records{f' (did you mean {close[0]!r}?)' if close else ''}; they have: "
                f"{', '.join(have) or 'no fields'}")
        elif missing:
            notes.append(f"{missing} of {len(items)} records have no {path!r}")
    if not problems and not page.records and page.rejects:
        first = page.rejects[0]
        rules = {getattr(issue, "rule", None) for issue in getattr(first, "issues", None) or []}
        if "cursor.format" in rules:
            problems.append(f"cursor_format {incremental.get('cursor_format', 'iso8601')!r} ({where}: "
                            f"streams.{stream_name}.incremental.cursor_format) reads none of the first page's "
                            f"{len(page.rejects)} records: {first}")
        else:
            problems.append(f"every record of the first page was refused: {first}")
    fields = sorted({str(k) for item in items for k in item})
    if not problems:
        too_high = _start_too_high(system, config, stream_name, start, {r.source_id for r in page.records})
        if too_high:
            problems.append(too_high)
    if not problems and incremental.get("param"):
        ignored = _filter_ignored(connector, stream_name, str(incremental["param"]), where)
        if ignored:
            problems.append(ignored)
    if problems:
        return FirstPage(False, "; ".join(problems), len(items), fields, problems)
    said = f"first page: {len(items)} record(s) with {' and '.join(repr(p) for _, p in wanted) or 'no key named'}"
    return FirstPage(True, "; ".join([said, *notes]), len(items), fields)


def _start_too_high(system: SystemConfig, config: Mapping[str, Any], stream_name: str, since: datetime | None,
                    first_ids: set[str]) -> str | None:
    """Whether ``pagination.start`` is one too high: the page numbered one before it answers other records. The
    scaffolds write ``start: 1`` when the document says nothing, and a source counting from 0 then lost its first
    page on every read (58% of a new system's records, exit 0). A source that refuses that page, answers it
    empty, or answers the first page again (PageHelper's ``reasonable``) is fine."""
    stream = config["streams"][stream_name]
    paging = stream.get("pagination")
    if not isinstance(paging, Mapping) or paging.get("type") != "page_number":
        return None
    first = paging.get("start", 1)
    if not isinstance(first, int) or first < 1 or not first_ids:
        return None
    earlier = copy.deepcopy(dict(config))
    earlier["streams"][stream_name]["pagination"]["start"] = first - 1
    try:
        with system.build_connector(earlier) as probe:
            page = _one_page(probe, stream_name, since)
    except Exception:  # noqa: BLE001 — a 400 for page 0 is a source counting from 1 saying so
        return None
    ids = {r.source_id for r in page.records} if page is not None else set()
    if not ids or ids & first_ids:
        return None
    where = system.connector_config_source
    return (f"pagination.start {first} ({where}: streams.{stream_name}.pagination.start) looks one too high: page "
            f"{first - 1} answers {len(ids)} other record(s) (e.g. {sorted(ids)[0]}), so the source counts pages from "
            f"{first - 1} and every read would skip them: write `start: {first - 1}`")


FILTER_PROBE_AHEAD = timedelta(days=2)
"""How far ahead of now the check asks for changes: past the day a date-only filter brings again, so a source that
honours the parameter answers nothing at all."""


def _filter_ignored(connector: Connector, stream_name: str, param: str, where: str) -> str | None:
    """Whether the source ignores the change-time parameter: asked for records changed after a time to come, it
    must answer none. A misspelt parameter (``gxsjStrat``) is dropped silently by most sources, and on a table
    whose records all changed within a day the read's own guard (a page mostly over a day older than asked for)
    never fires: every sync then read the whole table again, exit 0."""
    since = datetime.now(timezone.utc) + FILTER_PROBE_AHEAD
    try:
        page = _one_page(connector, stream_name, since)
    except ChangeFilterIgnoredError as exc:
        return f"asked for records changed after tomorrow, the source answered older ones: {exc}"
    except TongbanError:
        return None  # another failure of this one read is not the filter's (the first page's check says it)
    older = [r for r in (page.records if page is not None else []) if r.cursor is not None and r.cursor < since]
    if not older:
        return None
    return (f"the source ignores the change-time parameter {param!r} ({where}: streams.{stream_name}.incremental."
            f"param): asked for records changed after {since:%Y-%m-%d %H:%M} UTC, it answered {len(older)} changed "
            f"before (e.g. {older[0].source_id} at {older[0].cursor.isoformat()}); every sync would read the whole "
            "table again. Check the parameter's name and format (param, param_format, timezone)")


__all__ = ["FirstPage", "check_first_page"]
