"""The service catalogue (实施清单): harvested from catalogue systems, versioned, and audited for consistency
across levels (八统一): the same item must carry the same elements at the national, provincial, city and
district level.

    report = harvest_catalogue(engine, load_catalogues()["sd_catalogue"])
    audit = run_audit(engine, dormant_months=12)
    latest_findings_summary(engine)  # for the ops console
"""

from __future__ import annotations

from .audit import AuditReport, latest_findings_summary, load_entries, run_audit
from .entry import CatalogueEntry, EntryFlag, TimeLimit
from .findings import FINDING_KINDS, Finding, find
from .harvest import HarvestReport, harvest_catalogue
from .normalise import ELEMENTS, element_key, text_key
from .settings import load_catalogues

__all__ = ["AuditReport", "CatalogueEntry", "ELEMENTS", "EntryFlag", "FINDING_KINDS", "Finding", "HarvestReport",
           "TimeLimit", "element_key", "find", "harvest_catalogue", "latest_findings_summary", "load_catalogues",
           "load_entries", "run_audit", "text_key"]
