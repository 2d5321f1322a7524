"""Gateway bench: certificate queries (authentication, policy, consent, purpose check with a database read,
audit group commit, answer signed with an EdDSA JWS over a Merkle batch root) against a bare endpoint
(``/healthz``) of the same app, same server, same run.

    python bench/gateway.py                    # SQLite ledger; --postgres URL for PostgreSQL
    python bench/gateway.py --rounds 5 --seconds 3 --connections 32

The server is one uvicorn worker in its own process (``tongban serve`` minus the CLI); the load comes from a
small asyncio HTTP/1.1 keep-alive client in this process, so the client costs little next to the server.
Phases: the maximum rate of each endpoint (closed loop, ``--connections`` in flight) in alternating rounds
(bare, gateway, bare, ...; the ratio is the median of the rounds' ratios), then latency (p50/p99) of
each at half of its measured maximum (open loop: requests start on a fixed schedule). Prints requests/s, the
ratio (target >= 0.4, stretch 0.5), and p50/p99. Absolute figures are for information only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

CIVIL_DEPT = "11370000004390448N"
ELDERLY_CARE = "11370000004390448N4000117008001"
LICENCE = "11100000MB0143028R001"


def prepare(url: str, workdir: Path, holders: int) -> dict[str, Any]:
    """Ledger with harvested licences, cases naming their holders, a client, consent tokens (outside timing)."""
    import requests

    from gateway.sharing.certificates import harvest, register_issuer_key
    from gateway.crypto import GatewayKeys
    from gateway.sharing.access.tokens import ConsentClaims
    from gateway.sharing.settings import GatewayRuntime, load_gateway_settings
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from gateway_testlib import plant_case
    from sandbox.identifiers import make_uscc
    from sandbox.licences import start_licences

    keys = GatewayKeys.generate()
    key_file = keys.write(workdir / "keys.json")
    engine = make_engine(url)
    upgrade(engine)
    settings = load_gateway_settings(REPO / "config" / "gateway.yaml").model_copy(update={"rate_limit": 1e9})
    gw = GatewayRuntime(engine, settings, keys)
    registry = start_licences(seed=99, records=0)
    os.environ["TONGBAN_SD_LICENCES_URL"] = registry.url
    os.environ["TONGBAN_SD_LICENCES_API_KEY"] = "licences-demo-key"
    rng = random.Random(7)
    companies = []
    for k in range(holders):
        org8 = "MA" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
        uscc = make_uscc("9", "1", "370100", org8)
        companies.append(uscc)
        requests.post(registry.admin_url + "/_sandbox/issue", timeout=10,
                      json={"holder": {"name": f"济南测试{k}有限公司", "idType": "001", "id": uscc}})
    key = requests.get(registry.url + "/.well-known/issuer-keys", timeout=10).json()["keys"][0]
    register_issuer_key(engine, key_id=key["kid"], issuer_code=key["issuer_code"], algorithm=key["alg"],
                        public_key=key["public_key"])
    assert harvest(gw, "sd_licences").inserted == holders
    registry.stop()
    client = gw.clients.add("sd_civil", department_code=CIVIL_DEPT, rate_limit=1e9)
    expires = int(time.time()) + 3600
    bodies = []
    for k, uscc in enumerate(companies):
        case_no = f"3700002026112{k:08d}"
        plant_case(engine, case_no, dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=uscc, pii=gw.pii)
        token = gw.consents.issue(ConsentClaims(f"b{k}", gw.pii.bidx(uscc), client.client.client_id, (LICENCE,),
                                                ELDERLY_CARE, case_no, expires))
        bodies.append(json.dumps({"holder": {"id_number": uscc}, "certificate_types": [LICENCE],
                                  "purpose": {"item_code": ELDERLY_CARE, "case_no": case_no},
                                  "consent_token": token}).encode())
    engine.dispose()
    return {"key_file": str(key_file), "credential": client.credential, "bodies": bodies}


def serve(url: str, port: int) -> None:
    """Child process: the gateway app on 127.0.0.1:port (one worker)."""
    import logging

    import uvicorn

    from gateway.sharing.api import create_app
    from gateway.crypto import GatewayKeys
    from gateway.sharing.settings import GatewayRuntime, load_gateway_settings
    from gateway.store.db import make_engine

    settings = load_gateway_settings(REPO / "config" / "gateway.yaml").model_copy(update={"rate_limit": 1e9})
    gw = GatewayRuntime(make_engine(url), settings, GatewayKeys.from_env())  # type: ignore[arg-type]
    logging.getLogger("gateway").setLevel(logging.WARNING)
    uvicorn.run(create_app(gw, webhook_interval=0), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


def requests_for(kind: str, port: int, prepared: dict[str, Any]) -> list[bytes]:
    if kind == "bare":
        return [f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()]
    out = []
    for body in prepared["bodies"]:
        out.append((f"POST /v1/certificates/query HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Authorization: Bearer {prepared['credential']}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    return out


async def closed_loop(port: int, raws: list[bytes], seconds: float, connections: int) -> tuple[float, int]:
    conns = [Conn(*await asyncio.open_connection("127.0.0.1", port)) for _ in range(connections)]
    done = 0
    bad = 0
    stop = time.perf_counter() + seconds

    async def worker(conn: Conn, offset: int) -> None:
        nonlocal done, bad
        i = offset
        while time.perf_counter() < stop:
            status = await conn.request(raws[i % len(raws)])
            i += 1
            done += 1
            bad += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker(c, k) for k, c in enumerate(conns)))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.writer.close()
    return done / elapsed, bad


async def open_loop(port: int, raws: list[bytes], rate: float, seconds: float, connections: int) -> list[float]:
    """Requests start on a fixed schedule at ``rate``/s; latency is measured from the scheduled start."""
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Conn(*await asyncio.open_connection("127.0.0.1", port)))
    latencies: list[float] = []
    total = int(rate * seconds)
    interval = 1.0 / rate
    start = time.perf_counter()

    async def one(i: int, due: float) -> None:
        conn = await pool.get()
        try:
            await conn.request(raws[i % len(raws)])
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)

    tasks = []
    for i in range(total):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().writer.close()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each phase of a round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare/gateway rounds (median taken)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--holders", type=int, default=50)
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL (a scratch database is used)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0

    with tempfile.TemporaryDirectory(prefix="tongban-gw-bench-") as tmp:
        workdir = Path(tmp)
        drop = None
        if args.postgres:
            import uuid

            from sqlalchemy import create_engine, text

            admin = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1),
                                  isolation_level="AUTOCOMMIT")
            name = f"tongban_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = args.postgres.rsplit("/", 1)[0] + "/" + name

            def drop() -> None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            url = f"sqlite:///{workdir / 'ledger.db'}"
        prepared = prepare(url, workdir, args.holders)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "TONGBAN_KEY_FILE": prepared["key_file"]}
        server = subprocess.Popen([sys.executable, __file__, "--serve", url, "--port", str(port)], env=env)
        try:
            import requests

            deadline = time.time() + 60
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the gateway did not start")
                time.sleep(0.2)
            bare, gateway = requests_for("bare", port, prepared), requests_for("gateway", port, prepared)
            asyncio.run(closed_loop(port, bare, 1.0, args.connections))        # warm-up
            asyncio.run(closed_loop(port, gateway, 1.0, args.connections))
            import psutil

            proc = psutil.Process(server.pid)
            # Alternating rounds (bare, gateway, bare, gateway, ...): on a shared machine the speed drifts within
            # a run; a ratio taken from two neighbouring phases, then the median over rounds, is far steadier
            # than one long phase of each.
            bare_runs, gw_runs, ratios, cpu = [], [], [], {"bare": [], "gateway": []}
            for _ in range(args.rounds):
                proc.cpu_percent(None)
                rate, bad = asyncio.run(closed_loop(port, bare, args.seconds, args.connections))
                cpu["bare"].append(proc.cpu_percent(None))
                bare_runs.append(rate)
                if bad:
                    raise SystemExit(f"non-200 answers from the bare endpoint: {bad}")
                rate, bad = asyncio.run(closed_loop(port, gateway, args.seconds, args.connections))
                cpu["gateway"].append(proc.cpu_percent(None))
                gw_runs.append(rate)
                if bad:
                    raise SystemExit(f"non-200 answers from the gateway: {bad}")
                ratios.append(gw_runs[-1] / bare_runs[-1])
            bare_rps, gw_rps = statistics.median(bare_runs), statistics.median(gw_runs)
            print(f"server CPU: bare {statistics.median(cpu['bare']):.0f}%, gateway "
                  f"{statistics.median(cpu['gateway']):.0f}% of one core")
            print("rounds (bare / gateway requests/s, ratio): " + "; ".join(
                f"{b:,.0f} / {w:,.0f}, {r:.2f}" for b, w, r in zip(bare_runs, gw_runs, ratios, strict=True)))
            bare_lat = asyncio.run(open_loop(port, bare, bare_rps / 2, args.seconds, args.connections * 2))
            gw_lat = asyncio.run(open_loop(port, gateway, gw_rps / 2, args.seconds, args.connections * 2))
        finally:
            server.terminate()
            server.wait(timeout=30)
            if drop is not None:
                drop()
    ratio = statistics.median(ratios)
    backend = "postgresql" if args.postgres else "sqlite"
    print(f"[{backend}] bare     GET /healthz:                 {bare_rps:8,.0f} requests/s; at {bare_rps / 2:,.0f}/s "
          f"p50 {pct(bare_lat, 0.5):.1f} ms, p99 {pct(bare_lat, 0.99):.1f} ms")
    print(f"[{backend}] gateway  POST /v1/certificates/query:  {gw_rps:8,.0f} requests/s; at {gw_rps / 2:,.0f}/s "
          f"p50 {pct(gw_lat, 0.5):.1f} ms, p99 {pct(gw_lat, 0.99):.1f} ms "
          f"(auth, policy, consent MAC, purpose check + certificate read, audit group commit, EdDSA batch JWS)")
    verdict = "stretch met" if ratio >= 0.5 else "target met" if ratio >= 0.4 else "BELOW TARGET"
    print(f"[{backend}] ratio {ratio:.2f}, median of {len(ratios)} rounds (target 0.4, stretch 0.5): {verdict}")
    print(f"[{backend}] median latency ratio {statistics.median(gw_lat) / statistics.median(bare_lat):.1f}x")
    return 0 if ratio >= 0.4 else 1


if __name__ == "__main__":
    sys.exit(main())
