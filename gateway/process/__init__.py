"""Processes across systems (issue 15): the 一窗受理 hand-off with deemed acceptance, routing by the 通办目录."""

from gateway.process.catalogue import (
    DEFAULT_WINDOW,
    ItemEntry,
    OfficeEntry,
    Route,
    StagePlan,
    TongbanCatalogue,
)
from gateway.process.handoff import ACTOR, HandoffReport, handoff_detail, handoff_overview, scan_handoffs

__all__ = [
    "ACTOR",
    "DEFAULT_WINDOW",
    "HandoffReport",
    "ItemEntry",
    "OfficeEntry",
    "Route",
    "StagePlan",
    "TongbanCatalogue",
    "handoff_detail",
    "handoff_overview",
    "scan_handoffs",
]
