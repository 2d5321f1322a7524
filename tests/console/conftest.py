"""A console over a real ledger: a world synced from the sandbox, an operators file, the console served by
``tongban console serve`` in its own process (as an operator would start it), waited on until it answers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from console_testlib import PASSWORDS, free_port


def add_operators(path: Path) -> None:
    for name, password in PASSWORDS.items():
        out = subprocess.run([sys.executable, "-m", "gateway", "console", "operators", "add", name, "--role", name,
                              "--password-stdin", "--operators", str(path)], input=password + "\n",
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr


@dataclass
class Console:
    url: str
    process: subprocess.Popen[str]
    log: Path

    def session(self, name: str) -> requests.Session:
        s = requests.Session()
        r = s.post(self.url + "/console/login", data={"name": name, "password": PASSWORDS[name]},
                   allow_redirects=False, timeout=60)
        assert r.status_code == 303, r.text
        return s


@pytest.fixture
def serve_console(tmp_path: Path) -> Iterator[Any]:
    started: list[Console] = []

    def start(world: Any) -> Console:
        operators = tmp_path / "operators.json"
        add_operators(operators)
        port = free_port()
        log = tmp_path / f"console-{port}.log"
        process = subprocess.Popen(world.cli("console", "serve", "--port", str(port), "--operators", str(operators)),
                                   env=world.env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
        console = Console(f"http://127.0.0.1:{port}", process, log)
        started.append(console)
        deadline = time.monotonic() + 180  # a loaded machine starts Python slowly: wait on readiness, generously
        while True:
            try:
                if requests.get(console.url + "/console/login", timeout=10).status_code == 200:
                    return console
            except requests.RequestException:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the console did not answer in 180 s:\n" + log.read_text()
            time.sleep(0.3)

    yield start
    for console in started:
        console.process.terminate()
        try:
            console.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            console.process.kill()
