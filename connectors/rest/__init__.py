"""The declarative REST connector: JSON-over-HTTP systems configured in YAML (entry point ``rest``).

Modules, one idea each: ``config`` (the YAML schema), ``auth`` (five auth kinds), ``transport`` (session,
retries, rate limit, error mapping), ``paginators`` (how to ask for the next page), ``reader`` (paging
without losing records that change meanwhile), ``records`` (bodies to RawRecords and rejects), ``cursors``
(change-time formats), ``writer`` (templated writes and what the answer means), ``connector`` (the
:class:`~connectors.base.Connector` implementation).
"""

from __future__ import annotations

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
from .cursors import CursorCodec
from .paginators import (
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    make_paginator,
)
from .ratelimit import TokenBucket
from .reader import read_stream
from .retry import BackoffPolicy, parse_retry_after
from .transport import Transport
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
