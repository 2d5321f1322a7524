"""``python -m sandbox serve`` runs until SIGTERM and serves what it prints: every system, the licence registry
(the gateway's certificate issuer) included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

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
