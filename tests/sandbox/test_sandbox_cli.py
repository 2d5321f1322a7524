"""``python -m sandbox serve`` runs until SIGTERM and serves what it prints: every system, the licence registry
(the gateway's certificate issuer) included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from gateway.demo.sandbox import EXPORTS_END

ROOT = Path(__file__).resolve().parents[2]


def test_serve_until_sigterm() -> None:
    cmd = [sys.executable, "-m", "sandbox", "serve", "--seed", "3", "--civil-records", "20", "--estate-records", "20",
           "--port-civil", "0", "--port-estate", "0", "--port-hall", "0", "--port-market", "0", "--port-licences", "0",
           "--port-social", "0", "--port-welfare", "0", "--port-catalogue", "0",
           "--port-evaluator", "0", "--port-provincial_pj", "0", "--port-hotline", "0",
           "--market-records", "5", "--licences-records", "3"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        urls, lines = {}, {}
        for _ in range(5):
            line = proc.stdout.readline()
            parts = line.split()
            urls[parts[1]], lines[parts[1]] = parts[3], line
        assert sorted(urls) == ["civil", "estate", "hall", "licences", "market"]
        assert "demo secrets: api_key=licences-demo-key" in lines["licences"]  # what a walkthrough exports
        r = requests.get(urls["civil"] + "/api/v1/approvals", headers={"X-Api-Key": "civil-demo-key"})
        assert r.json()["data"]["total"] == 20
        keys = requests.get(urls["licences"] + "/.well-known/issuer-keys", timeout=10).json()["keys"]
        assert keys and keys[0]["issuer_code"] == "11370100004301265T"
        listed = requests.get(urls["licences"] + "/api/v1/licences", headers={"X-Api-Key": "licences-demo-key"},
                              timeout=10)
        assert listed.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_tongban_sandbox_serve_prints_what_another_shell_exports() -> None:
    """Walkthrough: the sandbox's lines gave its demo secrets, not the variables they go in — a new engineer
    guessed TONGBAN_SD_CIVIL_API_KEY from the systems file. ``tongban sandbox serve`` prints the ``export`` lines
    for every system of the systems file (and the citizen settings) a sandbox server stands for; with them, a
    sync from another shell reads the sandbox."""
    ports = [arg for name in ("civil", "estate", "hall", "market", "licences", "social", "welfare", "catalogue",
                              "evaluator", "provincial_pj", "hotline") for arg in (f"--port-{name}", "0")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "sandbox", "serve", "--civil-records", "5", *ports],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, "PYTHONUNBUFFERED": "1"})
    try:
        exports: dict[str, str] = {}
        for _ in range(200):
            line = proc.stdout.readline()
            if not line or line.strip() == EXPORTS_END:
                break
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exports[name] = value.strip("'")
        assert exports.get("TONGBAN_SD_CIVIL_API_KEY") == "civil-demo-key", exports
        assert exports["TONGBAN_SD_CIVIL_URL"].startswith("http://127.0.0.1:")
        assert "TONGBAN_HOTLINE_URL" in exports  # the citizen settings' systems too
        assert exports["TONGBAN_SD_LICENCES_API_KEY"] == "licences-demo-key"  # and the gateway's issuers
        synced = subprocess.run([sys.executable, "-m", "gateway", "sync", "sd_civil", "--json"], cwd=ROOT, timeout=300,
                                capture_output=True, text=True,
                                env={**env, **exports, "TONGBAN_DATABASE_URL": "sqlite://"})
        assert synced.returncode == 0, synced.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
