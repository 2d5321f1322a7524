"""Processes across systems (issue 15): the 一窗受理 hand-off with deemed acceptance, routing by the 通办目录."""

from gateway.process.catalogue import (
    DEFAULT_WINDOW,
    ItemEntry,
    OfficeEntry,
    Route,
    StagePlan,
    TongbanCatalogue,
)
from gateway.process.deferred import DeferredReport, satisfy_deferred_materials
from gateway.process.handoff import (
    ACTOR,
    HandoffReport,
    handoff_detail,
    handoff_overview,
    preview_deemed,
    scan_handoffs,
)
from gateway.process.officehours import DEFAULT_OFFICE_HOURS, OfficeHours
from gateway.process.tickets import TicketKind, open_ticket, reply_ticket

__all__ = [
    "ACTOR",
    "DEFAULT_OFFICE_HOURS",
    "DEFAULT_WINDOW",
    "DeferredReport",
    "HandoffReport",
    "ItemEntry",
    "OfficeEntry",
    "OfficeHours",
    "Route",
    "StagePlan",
    "TicketKind",
    "TongbanCatalogue",
    "handoff_detail",
    "handoff_overview",
    "open_ticket",
    "preview_deemed",
    "reply_ticket",
    "satisfy_deferred_materials",
    "scan_handoffs",
]
