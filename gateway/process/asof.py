"""The instant a scan runs *as of*: ``--now`` of a command, ``now`` of a DAG run — one parser and one guard for both.

The CLI and the Airflow tasks used to read the same text two ways: the CLI refused an instant without an offset
and a writing hand-off scan ahead of this machine's clock, the DAG callables took ``datetime.fromisoformat`` as it
came — so a DAG run with ``{"now": "2026-03-02T10:10:00"}`` crashed the deadline scan (a naive instant compared
with aware ones), and one with tomorrow's date deemed accepted every case whose window was still open, telling the
departments and the halls at once. Both now call these functions (:mod:`gateway.cli` sits above the orchestration
layer and may not be imported by it, hence this module below both):

    moment = parse_as_of("2026-03-02T10:10:00+08:00", name="--now")
    refuse_ahead_of_clock(moment, name="--now", hint="add --dry-run to see what would be deemed then")

A drill against the sandbox (``tongban demo``) injects a later clock with the DAG parameter ``ahead_of_clock``;
:func:`guard_as_of` honours it only where :data:`DRILL_FLAG` is set in the environment, so that one checkbox in
the production UI cannot tell departments and halls things that have not happened.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from gateway.contract.errors import ConfigError
from gateway.store.ledger import utcnow

__all__ = ["AHEAD_TOLERANCE", "BUNDLE_CONSEQUENCE", "DRILL_FLAG", "drill_allowed", "guard_as_of", "parse_as_of", "refuse_ahead_of_clock"]

DRILL_FLAG = "TONGBAN_DRILL"
"""``TONGBAN_DRILL=1`` in the environment of the process (the Airflow workers): this is a drill against the
sandbox, and a DAG run's ``ahead_of_clock`` is honoured. ``tongban demo`` sets it for its Airflow; nothing else
should."""

HANDOFF_CONSEQUENCE = "deemed acceptances are told to departments and halls at once"
BUNDLE_CONSEQUENCE = "licences valid from a later day would count as in force today and release parts"

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


def refuse_ahead_of_clock(moment: datetime | None, *, name: str, hint: str, now: datetime | None = None,
                          consequence: str = HANDOFF_CONSEQUENCE) -> None:
    """Refuse a *writing* scan as of an instant later than this machine's clock (beyond :data:`AHEAD_TOLERANCE`):
    the hand-off scan would deem accepted, and tell departments and halls so at once, cases whose window is still
    open; the bundle scan would take licences valid from a later day as in force and release parts. An earlier
    instant is a catch-up and passes; ``consequence`` says what would go wrong, ``hint`` what to do instead."""
    if moment is None:
        return
    if moment > (now or utcnow()) + AHEAD_TOLERANCE:
        raise ConfigError(f"{name} {moment.isoformat()}: later than this machine's clock; a scan writes what it "
                          f"decides ({consequence}): {hint}")


def drill_allowed() -> bool:
    """Whether :data:`DRILL_FLAG` says this process runs a drill against the sandbox."""
    return os.environ.get(DRILL_FLAG, "").strip() == "1"


def guard_as_of(moment: datetime | None, *, name: str, hint: str, ahead_of_clock: bool = False,
                consequence: str = HANDOFF_CONSEQUENCE) -> None:
    """The guard of a DAG run's ``now``: :func:`refuse_ahead_of_clock`, unless the run says ``ahead_of_clock``
    *and* :data:`DRILL_FLAG` is set here. Without the flag, ``ahead_of_clock`` itself is refused (whatever
    ``now``): a production run that asks to skip the guard is a mistake to stop, not to half-honour."""
    if ahead_of_clock:
        if drill_allowed():
            return
        raise ConfigError(f"ahead_of_clock is a drill against the sandbox and is refused here: {DRILL_FLAG}=1 is "
                          f"not set in this worker's environment (tongban demo sets it for its own Airflow). "
                          f"Trigger without ahead_of_clock; for a look ahead use a --dry-run command")
    refuse_ahead_of_clock(moment, name=name, hint=hint, consequence=consequence)
