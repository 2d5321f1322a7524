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
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.kernel.config import expand_env, find_config_file
from gateway.kernel.yamlfile import did_you_mean, load_yaml, read_config_text
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
    for key, var in secrets.items():
        if not isinstance(var, str) or not var.strip():  # left empty, it was the variable "None"
            raise ConfigError(f"{where}: {name}.secrets.{key} names no environment variable")
    return Endpoint(name, expand_env(str(entry["endpoint"])).rstrip("/"),
                    {str(k): v.strip() for k, v in secrets.items()}, str(entry.get("title") or ""))


def parse_citizen(text: str, *, where: str = "<citizen>") -> CitizenSettings:
    data = load_yaml(text, where=where) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    policy = _policy(_mapping(data.get("policy"), f"{where}: policy"), where)
    routes_raw = data.get("routes") or []
    if not isinstance(routes_raw, list):
        raise ConfigError(f"{where}: routes must be a list of {{category, division, dept_code, dept_name}}")
    routes = [_route(entry, f"{where}: routes[{n}]") for n, entry in enumerate(routes_raw)]
    return CitizenSettings(_endpoint(data, "evaluator", where), _endpoint(data, "provincial_pj", where),
                           _endpoint(data, "hotline", where), policy, tuple(routes), _district(data, where))


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping (key: value), not {type(value).__name__}")
    return value


_MINIMA = {"rectification_days": 1, "dispatch_minutes": 1, "sign_hours": 1, "redo_days": 1, "callback_days": 1,
           "quick_seconds": 1, "min_quick": 1, "burst_count": 2, "burst_seconds": 1}
"""The least each number of the policy may be: a burst of 0 ratings flagged every device rating (a burst is two
or more), a negative window ran past its list, a negative day count made every callback overdue at once."""


def _whole(raw: dict[str, Any], key: str, where: str) -> int | None:
    """``raw[key]`` as a whole number not below its minimum, or None when absent; anything else (``true``,
    ``7.9``, ``"x"``, ``-3``) a ConfigError naming the key."""
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer():  # 120.0 is 120
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < _MINIMA[key]:
        raise ConfigError(f"{where}.{key}: {value!r} is not a whole number of at least {_MINIMA[key]}")
    return value


def _closing(value: Any, where: str) -> time:
    """``callback_closing`` as ``HH:MM`` text. Unquoted, YAML 1.1 reads ``17:30`` as the base-60 number 1050, which
    read as a time was 10:50 — every 差评 after 10:50 taken as after closing: refused, with the cure."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {value!r} is not a time written as text; quote it: callback_closing: \"18:00\" "
                          "(unquoted, YAML reads 17:30 as the number 1050)")
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a time of day like \"18:00\"") from None


def _policy(raw: dict[str, Any], where: str) -> Policy:
    known = {"callback_closing", "rectification_days", "dispatch_minutes", "sign_hours", "redo_days",
             "callback_days", "misuse", "callbacks_from"}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}: policy.{key} is not a setting{did_you_mean(str(key), known)}")
    misuse_raw = _mapping(raw.get("misuse"), f"{where}: policy.misuse")
    rules = MisuseRules.__dataclass_fields__
    for key in misuse_raw:
        if key not in rules:
            raise ConfigError(f"{where}: policy.misuse.{key} is not a rule{did_you_mean(str(key), rules)}")
    misuse = MisuseRules(**{k: v for k in misuse_raw
                            if (v := _whole(misuse_raw, k, f"{where}: policy.misuse")) is not None})
    numbers = {k: v for k in ("rectification_days", "dispatch_minutes", "sign_hours", "redo_days", "callback_days")
               if (v := _whole(raw, k, f"{where}: policy")) is not None}
    closing = _closing(raw["callback_closing"], f"{where}: policy.callback_closing") \
        if raw.get("callback_closing") is not None else time(18, 0)
    try:
        since = _instant(raw.get("callbacks_from"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: policy.callbacks_from: {exc}") from None
    return Policy(callback_closing=closing, misuse=misuse, callbacks_from=since, **numbers)


def _route(entry: Any, where: str) -> Route:
    """One route, every field checked: ``dept_code:`` left empty became the text "None", and orders were
    dispatched to it (the platform sent ``cbdw: "None"``); a division with a letter O in it was taken."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: a route is a mapping {{category, division, dept_code, dept_name}}, not "
                          f"{type(entry).__name__}")
    fields = Route.__dataclass_fields__
    for key in entry:
        if key not in fields:
            raise ConfigError(f"{where}.{key} is not a route field{did_you_mean(str(key), fields)}")
    values: dict[str, str] = {}
    for key in fields:
        value = entry.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if key == "system":
                continue
            raise ConfigError(f"{where}.{key} is required")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ConfigError(f"{where}.{key}: {value!r} is not text")
        values[key] = str(value).strip()
    division = values["division"]
    if division != "*":
        division = _code(division)
        if not re.fullmatch(r"[0-9]{6}([0-9]{6})?", division):
            raise ConfigError(f"{where}.division {values['division']!r} is not a division code (6 or 12 digits, "
                              "or * for every division)")
    return Route(**{**values, "division": division})


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
