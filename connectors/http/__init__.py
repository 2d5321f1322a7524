"""HTTP plumbing every HTTP-based connector kind shares: one session per connector, timeouts, retries with
backoff, a token bucket, and HTTP outcomes mapped onto :mod:`gateway.contract.errors`."""

from __future__ import annotations

from .ratelimit import TokenBucket
from .retry import BackoffPolicy, parse_retry_after
from .settings import RateLimitConfig, RetryConfig, TimeoutConfig
from .transport import RefreshableAuth, Transport, TransportSettings, describe_body

__all__ = [
    "BackoffPolicy",
    "RateLimitConfig",
    "RefreshableAuth",
    "RetryConfig",
    "TimeoutConfig",
    "TokenBucket",
    "Transport",
    "TransportSettings",
    "describe_body",
    "parse_retry_after",
]
