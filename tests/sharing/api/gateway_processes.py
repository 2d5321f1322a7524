"""Real gateway processes for the scale-out tests: ``tongban serve`` as subprocesses on 127.0.0.1, sharing one
ledger and one key file, each with its own gateway file; and a load generator that hammers several at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_file(path: Path, **overrides: Any) -> Path:
    """The repository's gateway file with ``overrides`` (and the issuers' paths made absolute)."""
    config = REPO / "config"
    data = yaml.safe_load((config / "gateway.yaml").read_text(encoding="utf-8"))
    for issuer in (data.get("issuers") or {}).values():
        for key in ("connector_config", "mapping"):
            if key in issuer:
                issuer[key] = str((config / issuer[key]).resolve())
    data.update(overrides)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class GatewayProcess:
    """One ``tongban serve`` (uvicorn, one worker) in its own interpreter."""

    name: str
    gateway: Path
    database_url: str
    key_file: Path
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.logs / f"gateway-{self.name}.log"

    def start(self) -> GatewayProcess:
        env = {**os.environ, **self.env, "TONGBAN_KEY_FILE": str(self.key_file), "PYTHONPATH": str(REPO)}
        env.pop("TONGBAN_RATE_LIMIT_STORE", None)  # the gateway file says which store
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--gateway", str(self.gateway), "--database-url", self.database_url],
                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 120) -> GatewayProcess:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            assert self.proc is not None and self.proc.poll() is None, \
                f"gateway {self.name} exited:\n{self.log.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, \
                f"gateway {self.name} not ready in {timeout} s:\n{self.log.read_text(errors='replace')[-3000:]}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


def start_all(processes: list[GatewayProcess]) -> list[GatewayProcess]:
    """Start every process first, then wait for each (they start in parallel)."""
    for process in processes:
        process.start()
    for process in processes:
        process.wait_ready()
    return processes


def hammer(urls: list[str], path: str, headers: dict[str, str], seconds: float,
           threads_per_url: int = 3) -> tuple[dict[str, Counter[int]], float]:
    """GET ``path`` from every URL at once, as fast as ``threads_per_url`` threads each can, for ``seconds``;
    the status codes answered, by URL, and the seconds from the first request sent to the last answered."""
    results: dict[str, Counter[int]] = {url: Counter() for url in urls}
    lock = threading.Lock()
    start = threading.Barrier(len(urls) * threads_per_url + 1)
    end = [0.0]

    def run(url: str) -> None:
        with requests.Session() as session:
            start.wait()
            while time.monotonic() < end[0]:
                status = session.get(url + path, headers=headers, timeout=30).status_code
                with lock:
                    results[url][status] += 1

    workers = [threading.Thread(target=run, args=(url,), daemon=True) for url in urls for _ in range(threads_per_url)]
    for worker in workers:
        worker.start()
    began = time.monotonic()
    end[0] = began + seconds
    start.wait()
    for worker in workers:
        worker.join(timeout=seconds + 60)
    return results, time.monotonic() - began
