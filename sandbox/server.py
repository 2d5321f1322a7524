"""Start the simulated systems (civil, estate, hall, market, the licence registry, social, welfare): ``start_all``
for tests and the demo, ``main`` for the command line.

>>> with start_all(seed=42, records={"civil": 1000, "estate": 1000}) as sb:
...     requests.get(sb.urls["civil"] + "/api/v1/approvals", headers={"X-Api-Key": "civil-demo-key"})

Each system has an API port and an admin port (``/_sandbox/`` only), each served by its own thread. The
admin port stays up when the fault ``outage: "refuse"`` closes the API port.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .app import SystemApp
from .catalogue import DEFAULT_TOKEN as DEFAULT_CATALOGUE_TOKEN
from .catalogue import CatalogueApp
from .civil import DEFAULT_API_KEY, CivilApp
from .estate import DEFAULT_APP_ID, DEFAULT_SECRET, EstateApp
from .evaluator import DEFAULT_API_KEY as DEFAULT_EVALUATOR_API_KEY
from .evaluator import EvaluatorApp
from .faults import Faults, parse_faults
from .hall import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, HallApp
from .harness import Listener
from .hotline import DEFAULT_APPID as DEFAULT_HOTLINE_APPID
from .hotline import DEFAULT_SECRET as DEFAULT_HOTLINE_SECRET
from .hotline import HotlineApp
from .licences import DEFAULT_API_KEY as DEFAULT_LICENCES_API_KEY
from .licences import LicenceApp
from .market import DEFAULT_PASSWORD as DEFAULT_MARKET_PASSWORD
from .market import DEFAULT_USERNAME as DEFAULT_MARKET_USERNAME
from .market import MarketApp
from .provincial_pj import DEFAULT_APP_ID as DEFAULT_PJ_APP_ID
from .provincial_pj import DEFAULT_APP_KEY as DEFAULT_PJ_APP_KEY
from .provincial_pj import ProvincialPjApp
from .seal import DEFAULT_TOKEN as DEFAULT_SEAL_TOKEN
from .seal import SealApp
from .social import DEFAULT_APP_KEY as DEFAULT_SOCIAL_APP_KEY
from .social import DEFAULT_SECRET as DEFAULT_SOCIAL_SECRET
from .social import SocialApp
from .tax import DEFAULT_TOKEN as DEFAULT_TAX_TOKEN
from .tax import TaxApp
from .welfare import DEFAULT_PASSWORD as DEFAULT_WELFARE_PASSWORD
from .welfare import DEFAULT_USERNAME as DEFAULT_WELFARE_USERNAME
from .welfare import WelfareApp
from .xhall import DEFAULT_TOKEN as DEFAULT_XHALL_TOKEN
from .xhall import XHallApp

__all__ = ["start_all", "SandboxHandle", "SystemServer", "main", "SYSTEMS", "MAX_RECORDS"]

SYSTEMS = ("civil", "estate", "hall", "market", "licences", "social", "welfare", "catalogue", "evaluator",
           "provincial_pj", "hotline", "xhall", "seal", "tax")
MAX_RECORDS = 5_000_000
DEFAULT_PORTS = {"civil": 8101, "estate": 8102, "hall": 8103, "market": 8104, "licences": 8105, "social": 8106,
                 "welfare": 8107, "catalogue": 8108, "evaluator": 8109, "provincial_pj": 8110, "hotline": 8111,
                 "xhall": 8112, "seal": 8113, "tax": 8114}
DEFAULT_RECORDS = {"civil": 1000, "estate": 1000, "hall": 0, "market": 1000, "licences": 24, "social": 1000,
                   "welfare": 1000, "catalogue": 3000, "evaluator": 1000, "provincial_pj": 0, "hotline": 300,
                   "xhall": 0, "seal": 0, "tax": 0}


@dataclass
class SystemServer:
    """One system: its app (state, faults) and its two listeners."""

    app: SystemApp
    api: Listener
    admin: Listener

    def apply_outage(self, faults: Faults) -> None:
        if faults.outage == "refuse":
            self.api.stop()
        elif not self.api.listening:
            self.api.start()


class SandboxHandle:
    """Running sandbox systems. ``urls``/``admin_urls``: system -> base URL; ``apps``: system -> app object."""

    def __init__(self, servers: dict[str, SystemServer], credentials: dict[str, dict[str, str]]) -> None:
        self.servers = servers
        self.credentials = credentials

    @property
    def apps(self) -> dict[str, SystemApp]:
        return {k: s.app for k, s in self.servers.items()}

    @property
    def urls(self) -> dict[str, str]:
        return {k: s.api.url for k, s in self.servers.items()}

    @property
    def admin_urls(self) -> dict[str, str]:
        return {k: s.admin.url for k, s in self.servers.items()}

    def set_faults(self, system: str, **faults: Any) -> None:
        """Same as ``POST /_sandbox/faults``; no arguments clear every fault (and reopen a refused port)."""
        self.servers[system].app.set_faults(parse_faults(faults))

    def stop(self) -> None:
        """Stop every listener (in parallel: each waits up to one poll interval)."""
        listeners = [x for s in self.servers.values() for x in (s.api, s.admin)]
        threads = [threading.Thread(target=x.stop) for x in listeners]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_capacity(app: SystemApp, scale: int) -> None:
    n = app.table.n
    if n < 0 or n > MAX_RECORDS:
        raise ValueError(f"{app.name}: records must be between 0 and {MAX_RECORDS}")
    if n and app.table._base_time(n - 1) >= time.time() * scale:
        raise ValueError(f"{app.name}: {n} base records would reach past the present")


def start_all(
    seed: int = 42,
    records: dict[str, int] | None = None,
    host: str = "127.0.0.1",
    ports: dict[str, int] | None = None,
    admin_ports: dict[str, int] | None = None,
    *,
    systems: Sequence[str] = SYSTEMS,
    civil_api_key: str = DEFAULT_API_KEY,
    estate_app_id: str = DEFAULT_APP_ID,
    estate_secret: str = DEFAULT_SECRET,
    hall_client_id: str = DEFAULT_CLIENT_ID,
    hall_client_secret: str = DEFAULT_CLIENT_SECRET,
    token_ttl: float = 300,
    market_username: str = DEFAULT_MARKET_USERNAME,
    market_password: str = DEFAULT_MARKET_PASSWORD,
    licences_api_key: str = DEFAULT_LICENCES_API_KEY,
    social_app_key: str = DEFAULT_SOCIAL_APP_KEY,
    social_secret: str = DEFAULT_SOCIAL_SECRET,
    welfare_username: str = DEFAULT_WELFARE_USERNAME,
    welfare_password: str = DEFAULT_WELFARE_PASSWORD,
    catalogue_token: str = DEFAULT_CATALOGUE_TOKEN,
) -> SandboxHandle:
    """Start the systems and return at once; ports default to 0 (ephemeral), read them from ``handle.urls``.

    ``records`` counts base records per system (defaults: civil 1000, estate 1000, hall 0 front-desk cases,
    market 1000, licences 24 signed licences, social 1000, welfare 1000).
    """
    counts = {**DEFAULT_RECORDS, **(records or {})}
    ports, admin_ports = ports or {}, admin_ports or {}
    servers: dict[str, SystemServer] = {}
    credentials: dict[str, dict[str, str]] = {}
    for name in systems:
        app: SystemApp
        if name == "civil":
            app = CivilApp(seed, counts["civil"], civil_api_key)
            credentials[name] = {"api_key": civil_api_key}
        elif name == "estate":
            app = EstateApp(seed, counts["estate"], estate_app_id, estate_secret)
            credentials[name] = {"app_id": estate_app_id, "secret": estate_secret}
        elif name == "hall":
            app = HallApp(seed, counts["hall"], hall_client_id, hall_client_secret, token_ttl)
            credentials[name] = {"client_id": hall_client_id, "client_secret": hall_client_secret}
        elif name == "market":
            app = MarketApp(seed, counts["market"], market_username, market_password)
            credentials[name] = {"username": market_username, "password": market_password}
        elif name == "licences":
            app = LicenceApp(seed, counts["licences"], licences_api_key)
            credentials[name] = {"api_key": licences_api_key}
        elif name == "social":
            app = SocialApp(seed, counts["social"], social_app_key, social_secret)
            credentials[name] = {"app_key": social_app_key, "secret": social_secret}
        elif name == "welfare":
            app = WelfareApp(seed, counts["welfare"], welfare_username, welfare_password)
            credentials[name] = {"username": welfare_username, "password": welfare_password}
        elif name == "catalogue":
            app = CatalogueApp(seed, counts["catalogue"], catalogue_token)
            credentials[name] = {"token": catalogue_token}
        elif name == "evaluator":
            app = EvaluatorApp(seed, counts["evaluator"], DEFAULT_EVALUATOR_API_KEY)
            credentials[name] = {"api_key": DEFAULT_EVALUATOR_API_KEY}
        elif name == "provincial_pj":
            app = ProvincialPjApp(seed, 0, DEFAULT_PJ_APP_ID, DEFAULT_PJ_APP_KEY)
            credentials[name] = {"app_id": DEFAULT_PJ_APP_ID, "app_key": DEFAULT_PJ_APP_KEY}
        elif name == "hotline":
            app = HotlineApp(seed, counts["hotline"], DEFAULT_HOTLINE_APPID, DEFAULT_HOTLINE_SECRET)
            credentials[name] = {"appid": DEFAULT_HOTLINE_APPID, "secret": DEFAULT_HOTLINE_SECRET}
        elif name == "xhall":
            app = XHallApp(seed, DEFAULT_XHALL_TOKEN)
            credentials[name] = {"token": DEFAULT_XHALL_TOKEN}
        elif name == "seal":
            app = SealApp(seed, DEFAULT_SEAL_TOKEN)
            credentials[name] = {"token": DEFAULT_SEAL_TOKEN}
        elif name == "tax":
            app = TaxApp(seed, DEFAULT_TAX_TOKEN)
            credentials[name] = {"token": DEFAULT_TAX_TOKEN}
        else:
            raise ValueError(f"unknown system {name!r}; expected one of {SYSTEMS}")
        _check_capacity(app, app.clock.scale)
        server = SystemServer(app, Listener(app, host, ports.get(name, 0)),
                              Listener(app, host, admin_ports.get(name, 0), admin_only=True))
        app.on_faults_changed = server.apply_outage
        servers[name] = server
    _market_files_licences(servers)
    handle = SandboxHandle(servers, credentials)
    try:
        for s in servers.values():
            s.api.start()
            s.admin.start()
    except OSError:
        handle.stop()
        raise
    return handle


def _market_files_licences(servers: dict[str, SystemServer]) -> None:
    """The market bureau's approval system and its licence registry are one bureau's two systems: a business
    licence issued in the one is filed as an electronic certificate in the other."""
    market, licences = servers.get("market"), servers.get("licences")
    if market is None or licences is None:
        return
    registry = licences.app
    assert isinstance(registry, LicenceApp) and isinstance(market.app, MarketApp)
    market.app.on_issued = lambda record: registry.file_issued(str(record["ZZMC"]), str(record["SQRMC"]),
                                                               str(record["ZZBH"]))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description="Simulated department systems and hall.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve civil, estate, hall, market, licences, social and welfare until "
                                     "SIGINT/SIGTERM")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--host", default="127.0.0.1")
    for name in SYSTEMS:
        s.add_argument(f"--{name}-records", type=int, default=DEFAULT_RECORDS[name])
        s.add_argument(f"--port-{name}", type=int, default=DEFAULT_PORTS[name])
        s.add_argument(f"--admin-port-{name}", type=int, default=None,
                       help="admin-only port (default: API port + 100, or ephemeral if the API port is 0)")
    s.add_argument("--civil-api-key", default=DEFAULT_API_KEY)
    s.add_argument("--estate-app-id", default=DEFAULT_APP_ID)
    s.add_argument("--estate-secret", default=DEFAULT_SECRET)
    s.add_argument("--hall-client-id", default=DEFAULT_CLIENT_ID)
    s.add_argument("--hall-client-secret", default=DEFAULT_CLIENT_SECRET)
    s.add_argument("--token-ttl", type=float, default=300, help="hall access-token lifetime in seconds")
    s.add_argument("--market-username", default=DEFAULT_MARKET_USERNAME)
    s.add_argument("--market-password", default=DEFAULT_MARKET_PASSWORD)
    s.add_argument("--licences-api-key", default=DEFAULT_LICENCES_API_KEY)
    s.add_argument("--social-app-key", default=DEFAULT_SOCIAL_APP_KEY)
    s.add_argument("--social-secret", default=DEFAULT_SOCIAL_SECRET)
    s.add_argument("--welfare-username", default=DEFAULT_WELFARE_USERNAME)
    s.add_argument("--welfare-password", default=DEFAULT_WELFARE_PASSWORD)
    s.add_argument("--catalogue-token", default=DEFAULT_CATALOGUE_TOKEN)
    return p


def main(argv: Sequence[str] | None = None, on_started: Callable[[Any], None] | None = None) -> int:
    """Command-line entry (``python -m sandbox serve …``; ``tongban sandbox serve`` delegates here, with
    ``on_started``: called with the running sandbox once every server listens, before it waits for Ctrl+C)."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    ports = {n: getattr(args, f"port_{n}") for n in SYSTEMS}
    admin_ports = {n: (getattr(args, f"admin_port_{n}") if getattr(args, f"admin_port_{n}") is not None
                       else (ports[n] + 100 if ports[n] else 0)) for n in SYSTEMS}
    try:
        handle = start_all(args.seed, {n: getattr(args, f"{n}_records") for n in SYSTEMS}, args.host, ports,
                           admin_ports, civil_api_key=args.civil_api_key, estate_app_id=args.estate_app_id,
                           estate_secret=args.estate_secret, hall_client_id=args.hall_client_id,
                           hall_client_secret=args.hall_client_secret, token_ttl=args.token_ttl,
                           market_username=args.market_username, market_password=args.market_password,
                           licences_api_key=args.licences_api_key, social_app_key=args.social_app_key,
                           social_secret=args.social_secret, welfare_username=args.welfare_username,
                           welfare_password=args.welfare_password, catalogue_token=args.catalogue_token)
    except (OSError, ValueError) as e:
        print(f"sandbox: cannot start: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread: the caller stops us some other way
            pass
    for name, server in handle.servers.items():
        secrets = " ".join(f"{k}={v}" for k, v in handle.credentials.get(name, {}).items())
        print(f"sandbox {name:6s} api {server.api.url}  admin {server.admin.url}  records {server.app.table.n}"
              + (f"  demo secrets: {secrets}" if secrets else ""), flush=True)
    if on_started is not None:
        on_started(handle)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    print("sandbox stopped", flush=True)
    return 0
