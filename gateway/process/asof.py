"""The instant a scan runs *as of*: ``--now`` of a command, ``now`` of a DAG run — one parser and one guard for both.

The CLI and the Airflow tasks used to read the same text two ways: the CLI refused an instant without an offset
and a writing hand-off scan ahead of this machine's clock, the DAG callables took ``datetime.fromisoformat`` as it
came — so a DAG run with ``{"now": "2026-03-02T10:10:00"}`` crashed the deadline scan (a naive instant compared
with aware ones), and one with tomorrow's date deemed accepted every case whose window was still open, telling the
departments and the halls at once. Both now call these functions (:mod:`gateway.cli` sits above the orchestration
layer and may not be imported by it, hence this module below both):

    moment = parse_as_of("2026-03-02T10:10:00+08:00", name="--now")
    refuse_ahead_of_clock(moment, name="--now", hint="add --dry-run to see what would be deemed then")
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.contract.errors import ConfigError
from gateway.store.ledger import utcnow

__all__ = ["AHEAD_TOLERANCE", "parse_as_of", "refuse_ahead_of_clock"]

AHEAD_TOLERANCE = timedelta(minutes=1)
"""How far ahead of this machine's clock a writing scan may run (a DAG run's logical time a moment ahead)."""


def parse_as_of(text: str | None, *, name: str = "--now") -> datetime | None:
    """An aware ISO 8601 instant (the scans run "as of" it), or None for the present. ``name`` is the option or
    parameter the text came from, for the error: an instant without an offset is refused, not guessed (Beijing
    or UTC is eight hours' difference on every deadline)."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} {text!r}: expected an ISO 8601 instant like 2026-03-02T10:10:00+08:00") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{name} {text!r}: give the offset (+08:00 for Beijing time)")
    return moment


def refuse_ahead_of_clock(moment: datetime | None, *, name: str, hint: str, now: datetime | None = None) -> None:
    """Refuse a *writing* hand-off scan as of an instant later than this machine's clock (beyond
    :data:`AHEAD_TOLERANCE`): it would deem accepted, and tell departments and halls so at once, cases whose
    window is still open. An earlier instant is a catch-up and passes; ``hint`` says what to do instead."""
    if moment is None:
        return
    if moment > (now or utcnow()) + AHEAD_TOLERANCE:
        raise ConfigError(f"{name} {moment.isoformat()}: later than this machine's clock; a scan writes what it "
                          f"decides (deemed acceptances are told to departments and halls at once): {hint}")
