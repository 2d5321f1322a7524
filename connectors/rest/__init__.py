"""The declarative REST connector: JSON-over-HTTP systems configured in YAML (entry point ``rest``).

Modules, one idea each: ``config`` (the YAML schema), ``auth`` (five auth kinds), ``reader`` (GET a page,
check the envelope), ``writer`` (templated writes and what the answer means), ``connector`` (the
:class:`~gateway.contract.connector.Connector` implementation). What other connector kinds share lives in
:mod:`connectors.http` (transport, retries, rate limit) and :mod:`connectors.common` (paginators, the
re-anchoring read loop, records, cursors), and is re-exported here for compatibility.
"""

from __future__ import annotations

from connectors.common.cursors import CursorCodec
from connectors.common.paginators import (
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    make_paginator,
)
from connectors.http.ratelimit import TokenBucket
from connectors.http.retry import BackoffPolicy, parse_retry_after
from connectors.http.transport import Transport

from .auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    HmacAuth,
    OAuth2ClientCredentialsAuth,
    RestAuth,
    build_auth,
)
from .config import RestConfig, StreamConfig, WriteStreamConfig, parse_config
from .connector import RestConnector
from .reader import read_stream
from .writer import write_record

__all__ = [
    "ApiKeyAuth",
    "BackoffPolicy",
    "BasicAuth",
    "BearerAuth",
    "CursorCodec",
    "CursorPaginator",
    "HmacAuth",
    "LinkHeaderPaginator",
    "OAuth2ClientCredentialsAuth",
    "OffsetPaginator",
    "PageNumberPaginator",
    "Paginator",
    "RestAuth",
    "RestConfig",
    "RestConnector",
    "StreamConfig",
    "Transport",
    "TokenBucket",
    "WriteStreamConfig",
    "build_auth",
    "make_paginator",
    "parse_config",
    "parse_retry_after",
    "read_stream",
    "write_record",
]
