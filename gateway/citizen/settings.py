"""Where the citizen's voice comes from and goes to, and the rules it is held to: ``config/citizen.yaml``.

Three foreign systems (the district's 好差评 collection point, the provincial 好差评 system, the 12345 platform),
each an endpoint plus the *names* of the environment variables that hold its secrets; the routing table of
12345 work orders (category + division → department); and the time limits (``policy``). A file of its own
because none of these is a case system: the sync DAG factory must not build a case sync for them.

``TONGBAN_CITIZEN`` points at the file (default ``citizen.yaml`` here, then the repository's
``config/citizen.yaml``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.kernel.config import expand_env, find_config_file
from gateway.kernel.yamlfile import load_yaml, read_config_text
from gateway.models.datetimes import BEIJING
from gateway.models.identifiers import normalise

__all__ = ["CitizenSettings", "Endpoint", "MisuseRules", "Policy", "Route", "load_citizen", "parse_citizen"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    secrets: dict[str, str]
    title: str = ""

    def secret(self, key: str) -> str:
        """The secret ``key`` from the environment variable the file names; a missing one is a ConfigError."""
        var = self.secrets.get(key)
        if not var:
            raise ConfigError(f"citizen settings: {self.name}.secrets.{key} is not configured")
        value = os.environ.get(var)
        if not value:
            raise ConfigError(f"citizen settings: {self.name} needs the secret {key} in ${var}, which is not set")
        return value


@dataclass(frozen=True)
class MisuseRules:
    """When window-device ratings look pressed by staff: ``min_quick`` ratings each within ``quick_seconds`` of
    the case closing on one device and day, or ``burst_count`` ratings from one device within ``burst_seconds``."""

    quick_seconds: int = 10
    min_quick: int = 3
    burst_count: int = 5
    burst_seconds: int = 120


@dataclass(frozen=True)
class Policy:
    callback_closing: time = time(18, 0)
    rectification_days: int = 5
    dispatch_minutes: int = 15
    sign_hours: int = 2
    redo_days: int = 5
    callback_days: int = 2
    misuse: MisuseRules = field(default_factory=MisuseRules)
    callbacks_from: datetime | None = None
    """The cut-over of 差评 callbacks: one due before it is the collection point's history (listed, not counted in
    the 回访 figures nor alerted). None: Tongban's first read of the collection point (``callbacks_from`` in the
    file, an ISO date or instant, Beijing time when it has no offset: a district that took over earlier)."""


@dataclass(frozen=True)
class Route:
    category: str
    division: str
    dept_code: str
    dept_name: str
    system: str | None = None


@dataclass(frozen=True)
class CitizenSettings:
    evaluator: Endpoint
    provincial_pj: Endpoint
    hotline: Endpoint
    policy: Policy
    routes: tuple[Route, ...]
    district: str | None = None
    """The district's own division code (``district:`` in the file, 6 or 12 digits): the 行政区划 a rating is
    reported under when its collection point sent none and the ledger does not know its case — the provincial
    system refuses a rating without one (``xzqh`` 不能为空). None: such a rating is dead-lettered instead."""

    def route(self, category: str, division: str) -> Route | None:
        """The department for a work order: an exact division first, then the category's ``*`` route. Division
        codes compare as ASCII digits (``３７０１０２`` is ``370102``), here and in the file."""
        division = _code(division)
        exact = [r for r in self.routes if r.category == category and r.division == division]
        wild = [r for r in self.routes if r.category == category and r.division == "*"]
        return (exact or wild or [None])[0]


def _instant(value: Any) -> datetime | None:
    """``callbacks_from``: a date (its midnight) or an instant, Beijing time unless it says its offset."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        moment = datetime.fromisoformat(str(value))  # a ValueError is the file's: said with its place
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def load_citizen(path: str | Path | None = None) -> CitizenSettings:
    """``path``, else ``TONGBAN_CITIZEN``, else ``citizen.yaml`` here, else config/citizen.yaml."""
    chosen = find_config_file(path, "TONGBAN_CITIZEN", "citizen.yaml", "citizen.yaml", "citizen settings file")
    return parse_citizen(read_config_text(chosen), where=str(chosen))


def _endpoint(data: dict[str, Any], name: str, where: str) -> Endpoint:
    entry = data.get(name)
    if not isinstance(entry, dict) or not entry.get("endpoint"):
        raise ConfigError(f"{where}: {name}.endpoint is required")
    secrets = entry.get("secrets") or {}
    if not isinstance(secrets, dict):
        raise ConfigError(f"{where}: {name}.secrets must map a secret to the name of an environment variable")
    return Endpoint(name, expand_env(str(entry["endpoint"])).rstrip("/"), {str(k): str(v) for k, v in secrets.items()},
                    str(entry.get("title") or ""))


def parse_citizen(text: str, *, where: str = "<citizen>") -> CitizenSettings:
    data = load_yaml(text, where=where) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    raw = data.get("policy") or {}
    try:
        closing = time.fromisoformat(str(raw.get("callback_closing", "18:00")))
        misuse = MisuseRules(**{k: int(v) for k, v in (raw.get("misuse") or {}).items()})
        policy = Policy(callback_closing=closing, misuse=misuse, callbacks_from=_instant(raw.get("callbacks_from")),
                        **{k: int(raw[k]) for k in ("rectification_days", "dispatch_minutes", "sign_hours",
                                                    "redo_days", "callback_days") if k in raw})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: policy: {exc}") from None
    routes = []
    for n, entry in enumerate(data.get("routes") or []):
        try:
            route = Route(**{k: str(v) for k, v in entry.items()})
            routes.append(route if route.division == "*" else replace(route, division=_code(route.division)))
        except TypeError as exc:
            raise ConfigError(f"{where}: routes[{n}]: {exc}") from None
    return CitizenSettings(_endpoint(data, "evaluator", where), _endpoint(data, "provincial_pj", where),
                           _endpoint(data, "hotline", where), policy, tuple(routes), _district(data, where))


def _district(data: dict[str, Any], where: str) -> str | None:
    """``district``, checked here: a malformed code would only be found when the province refuses every rating
    sent under it."""
    value = data.get("district")
    if value in (None, ""):
        return None
    text = _code(expand_env(str(value)))
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{6}([0-9]{6})?", text):
        raise ConfigError(f"{where}: district {text!r} is not a division code (6 or 12 digits)")
    return text


def _code(division: str) -> str:
    """A division code in ASCII digits, as the work order models hold it: full-width digits and spaces normalised
    (:func:`~gateway.models.identifiers.normalise`, the case model's normaliser)."""
    return division if division.isascii() and division.isdigit() else normalise(division)
