"""HTTP settings every HTTP-based connector kind shares: timeouts, retries, rate limits (YAML models).

They live here, not in one connector's config, because the REST and SOAP connectors use the same
:class:`~connectors.http.transport.Transport` and therefore the same vocabulary in their YAML.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutConfig(_Model):
    connect: float = Field(5.0, gt=0)
    read: float = Field(30.0, gt=0)
    """The longest wait for the next bytes of an answer."""
    total: float = Field(300.0, gt=0)
    """The longest wait for a whole answer — its status line and headers, then its body — however steadily it
    trickles in (``read`` is a bound on each wait for the next bytes, which a trickle never reaches)."""


class RetryConfig(_Model):
    """Exponential backoff with full jitter; ``Retry-After`` wins when the server sends it (capped)."""

    max_attempts: int = Field(5, ge=1)
    backoff_seconds: float = Field(0.5, ge=0)
    max_backoff_seconds: float = Field(30.0, ge=0)
    jitter: bool = True
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})


class RateLimitConfig(_Model):
    requests_per_second: float = Field(gt=0)
    burst: int | None = Field(None, ge=1)


__all__ = ["RateLimitConfig", "RetryConfig", "TimeoutConfig"]
