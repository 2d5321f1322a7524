"""The connector interface, under the import path plugin authors have always used.

The contract itself lives in :mod:`gateway.contract` (one place that both the core and every connector
import, so that imports across the plugin boundary run one way). This module re-exports it unchanged:

    from connectors.base import Connector, Page, RawRecord, RetriableSyncError
"""

from __future__ import annotations

from gateway.contract.connector import *  # noqa: F403  (the stable surface, re-exported as is)
from gateway.contract.connector import __all__ as __all__  # noqa: PLE0605
