"""Moving a hand-off to the department the hall's correction makes competent (``tongban handoff reroute``).

A front-desk case routed to one department and then corrected at the hall (another item, another 行政区划) so that
another department is competent is neither forwarded to the first one nor deemed accepted by it: the hand-off scan
raises a ``routing`` alert naming both (:func:`gateway.process.handoff._rerouted`) and waits for an operator. This
is what the operator runs then. One transaction, or nothing:

1. the case is routed again as the hand-off's registration routed it (the 通办目录 for a hall with
   ``intake: handoff``, the case's department code for ``intake: direct``) from its newest version;
2. the competent department's system gets that version (one naming the competent department, written by the
   hand-off, when the hall's names another), and the hand-off waits for it afresh: ``awaiting_delivery``, its
   window — the new department's own, from the 目录 — starting when that system has the case;
3. the department routed first is told to let the case go: a ``delete`` of the case is queued for its system when
   it already has the case (its push dead-letters as ``push.unsupported_operation`` when that system cannot
   delete: then a person removes it there), and every push it never received is cancelled (``superseded``; a
   given-up one with its dead letter, which a replay would otherwise send after the move);
4. the trail records who moved it, from where to where, and the routing alert is resolved.

Only an undecided hand-off moves (``awaiting_delivery`` or ``pending``): once a department accepted, refused or was
deemed to accept a case, moving it is a transfer between the departments (转办) with the applicant told, which the
departments do in their own systems; the alert stays for the operator who arranges it.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from gateway.contract.errors import LeaseHeldError, TongbanError
from gateway.kernel.config import SystemsConfig
from gateway.models.datetimes import beijing_iso
from gateway.process.catalogue import Route, TongbanCatalogue
from gateway.process.handoff import ROUTING_ALERT, _by_department, _for_department, _MovedOn
from gateway.store import alerts as alert_store
from gateway.store import process as store
from gateway.store.lease import Lease
from gateway.store.ledger import utcnow

__all__ = ["REROUTABLE", "RerouteRefused", "Rerouted", "reroute_handoff"]

REROUTABLE = ("awaiting_delivery", "pending")
"""The hand-off states an operator may move: nobody has decided the case yet."""


class RerouteRefused(TongbanError):
    """The hand-off cannot be moved as asked; the message says why and what to do instead. Nothing was written."""


@dataclass
class Rerouted:
    """What :func:`reroute_handoff` did."""

    case_no: str
    from_system: str | None
    from_dept_code: str | None
    to_system: str
    to_dept_code: str | None
    version: int
    """The case version queued for the new department's system."""
    window_s: int
    withdrawn_from: list[str] = field(default_factory=list)
    """Systems that had the case and were sent a ``delete`` of it."""
    cancelled: int = 0
    """Pushes to the first department's system it was never sent, cancelled."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reroute_handoff(engine: Engine, systems: SystemsConfig, catalogue: TongbanCatalogue, case_no: str, *,
                    by: str, now: datetime | None = None) -> Rerouted:
    """Move the undecided hand-off of ``case_no`` to the department its newest version makes competent (see the
    module's docstring); ``by`` names the operator in the trail. Raises :class:`RerouteRefused` (nothing written)
    when there is no such hand-off, it is decided, the case routes nowhere, or it routes where it is already."""
    now = now or utcnow()
    with engine.connect() as conn:
        first = _undecided(store.get_handoff(conn, case_no), case_no)
    # The first department's pushes are held still while they are cancelled or overtaken: a drain sending one
    # right now would deliver a case this move believes was never sent (its row then "superseded").
    try:
        with Lease(engine, f"push:{first['target_system']}") if first["target_system"] else nullcontext():
            return _reroute(engine, systems, catalogue, case_no, first, by=by, now=now)
    except LeaseHeldError as exc:
        raise RerouteRefused(f"case {case_no}: a push to {first['target_system']} is running ({exc}): nothing was "
                             "changed; run the command again when it ends") from None


def _undecided(h: dict[str, Any] | None, case_no: str) -> dict[str, Any]:
    if h is None:
        raise RerouteRefused(f"case {case_no}: no hand-off (not a front-desk case, or not scanned yet)")
    if h["state"] not in REROUTABLE:
        decided = f" by {h['decided_by']} at {beijing_iso(h['decided_at'])}" if h.get("decided_at") else ""
        raise RerouteRefused(
            f"case {case_no}: the hand-off is {h['state']}{decided}, not waiting for a department's decision: "
            "only an undecided case is moved; a decided one is transferred between the departments (转办) in "
            "their own systems")
    return h


def _reroute(engine: Engine, systems: SystemsConfig, catalogue: TongbanCatalogue, case_no: str,
             first: dict[str, Any], *, by: str, now: datetime) -> Rerouted:
    with engine.begin() as conn:
        h = _undecided(store.get_handoff(conn, case_no), case_no)
        if h["target_system"] != first["target_system"]:
            raise RerouteRefused(f"case {case_no}: the hand-off was moved meanwhile (now to {h['target_system']}): "
                                 "nothing was changed; see tongban handoff show " + case_no)
        case = store.read_case(conn, case_no)
        if case is None or case["deleted"]:
            raise RerouteRefused(f"case {case_no}: the case is no longer in the ledger (deleted or purged): "
                                 "nothing to move")
        route = _route(systems, catalogue, h["hall_system"], case["data"])
        if route.refused:
            raise RerouteRefused(f"case {case_no}: its newest version (version {case['version']}) routes nowhere: "
                                 f"{route.reason}; correct the case at the hall ({h['hall_system']}) first")
        assert route.target is not None
        if route.target == h["target_system"] and route.dept_code == h["dept_code"]:
            raise RerouteRefused(f"case {case_no}: its newest version (version {case['version']}) still routes to "
                                 f"{route.dept_code} ({route.target}), where the hand-off already is: nothing to move")
        by_catalogue = systems.get(h["hall_system"]).intake == "handoff"
        try:
            version = _for_department(conn, case_no, case["version"], case["data"], route.dept_code, catalogue, now)
        except _MovedOn:
            raise RerouteRefused(f"case {case_no}: a newer version arrived while it was being moved: nothing was "
                                 "changed; run the command again") from None
        store.queue(conn, case_no, version, [route.target], now)
        old = h["target_system"]
        withdrawn, cancelled = _release(conn, case_no, old, version, route.target, now)
        moved = store.move(conn, case_no, h["state"], holder=old, state="awaiting_delivery",
                           target_system=route.target, dept_code=route.dept_code, window_s=int(route.window.total_seconds()), handed_at=None,
                           due_at=None, updated_at=now, **({"forwarded_version": version} if by_catalogue else {}))
        if not moved:  # (raised inside the transaction: everything above is rolled back)
            raise RerouteRefused(f"case {case_no}: the hand-off moved on while it was being moved (a scan decided it "
                                 "meanwhile): nothing was changed; see tongban handoff show " + case_no)
        done = Rerouted(case_no=case_no, from_system=old, from_dept_code=h["dept_code"], to_system=route.target,
                        to_dept_code=route.dept_code, version=version, window_s=int(route.window.total_seconds()),
                        withdrawn_from=withdrawn, cancelled=cancelled)
        store.log(conn, case_no, now, "rerouted", by, **{k: v for k, v in done.as_dict().items() if k != "case_no"},
                  was=h["state"])
        alert_store.resolve_open(conn, ROUTING_ALERT, [f"reroute:{case_no}"], now=now)
    return done


def _route(systems: SystemsConfig, catalogue: TongbanCatalogue, hall: str, data: dict[str, Any]) -> Route:
    """Where the case goes now, routed as its registration routed it: by the 通办目录 for a hall with ``intake:
    handoff``, by the case's department code for ``intake: direct``."""
    if systems.get(hall).intake == "handoff":
        return catalogue.route(data, systems)
    return _by_department(data, systems, hall, catalogue)


def _release(conn: Any, case_no: str, old: str | None, version: int, new: str, now: datetime
             ) -> tuple[list[str], int]:
    """The first department lets the case go: every push it never received is cancelled (pending ones, and given-up
    ones with their dead letters: a replay would send it the case after the move), and when its system has the case
    a ``delete`` at ``version`` is queued (newer than any row it holds). Returns ``(systems sent a delete, pushes
    cancelled)``."""
    if not old or old == new:
        return [], 0
    cancelled = store.cancel_undelivered(conn, case_no, old, now=now)
    if store.delivered_at(conn, case_no, old) is None:
        return [], cancelled
    store.queue(conn, case_no, version, [old], now, operation="delete")
    return [old], cancelled
