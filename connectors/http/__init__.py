"""HTTP plumbing every HTTP-based connector kind shares: one session per connector, timeouts, retries with
backoff, a token bucket, and HTTP outcomes mapped onto :mod:`gateway.contract.errors`."""

from __future__ import annotations

from .body import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLargeError, looks_like_html, mask_digits, read_capped
from .ratelimit import TokenBucket
from .retry import BackoffPolicy, parse_retry_after
from .settings import RateLimitConfig, RetryConfig, TimeoutConfig
from .transport import RefreshableAuth, Transport, TransportSettings, describe_body

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "BackoffPolicy",
    "RateLimitConfig",
    "RefreshableAuth",
    "ResponseTooLargeError",
    "RetryConfig",
    "TimeoutConfig",
    "TokenBucket",
    "Transport",
    "TransportSettings",
    "describe_body",
    "looks_like_html",
    "mask_digits",
    "parse_retry_after",
    "read_capped",
]
