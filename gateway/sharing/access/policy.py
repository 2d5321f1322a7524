"""The sharing policy: which client may use which certificate type for which service items. Deny by default.

Rules come from the gateway configuration (reviewed like code)::

    policy:
      - client: sd_civil                 # client name (or id)
        certificate_types: [11100000MB0143028R001]
        items: ["11370000004390448N4000117008001", "11370000004390448N4*"]   # exact codes or prefixes with *
        consent: true                    # the holder's consent token is required

A request is allowed when some rule names the client, the type and the item; if any matching rule requires
consent, consent is required (the stricter reading wins).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Decision", "Policy", "PolicyRule"]


class PolicyRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client: str
    certificate_types: list[str] = Field(min_length=1)
    items: list[str] = Field(min_length=1)
    consent: bool = True

    def matches_item(self, item_code: str) -> bool:
        return any(item_code.startswith(p[:-1]) if p.endswith("*") else item_code == p for p in self.items)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    consent_required: bool
    reason: str


class Policy:
    """The rules are fixed once loaded (a changed file makes a new Policy), so decisions are memoised: every
    release asks the same few (client, type, item) questions over and over."""

    def __init__(self, rules: list[PolicyRule]) -> None:
        self.rules = rules
        self.decide = functools.lru_cache(maxsize=100_000)(self._decide)

    def _decide(self, client_names: tuple[str, ...], type_code: str, item_code: str) -> Decision:
        """Which rules allow this; ``decide`` is this, memoised."""
        matching = [r for r in self.rules if r.client in client_names and type_code in r.certificate_types
                    and r.matches_item(item_code)]
        if not matching:
            return Decision(False, False, "no policy rule allows this client this certificate type for this item")
        return Decision(True, any(r.consent for r in matching), "allowed by policy")

    def types_for(self, client_names: tuple[str, ...]) -> set[str]:
        return {t for r in self.rules if r.client in client_names for t in r.certificate_types}
