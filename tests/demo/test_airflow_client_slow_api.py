"""The live demo's Airflow client against an API server that answers late (CI's failure of 2026-12-07).

Airflow's API server on SQLite waits up to its lock timeout before it answers when the scheduler holds the
database; on CI's two loaded cores a call took longer than the client's 15 s read timeout and the whole demo
stopped ("Read timed out"). A real HTTP server on 127.0.0.1 stands in for the API server: its first answer to a
path comes after the client's read timeout, the next at once.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from gateway.demo import live
from gateway.demo.live import AirflowClient

READ_TIMEOUT_S = 0.5


class SlowAirflow(ThreadingHTTPServer):
    """Answers the few paths the demo calls; the first call of each path waits longer than the client reads."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlowAirflowHandler)
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}
        self.posts: list[str] = []
        self.runs: list[str] = []

    def first_time(self, key: str) -> bool:
        with self.lock:
            self.seen[key] = self.seen.get(key, 0) + 1
            return self.seen[key] == 1


class SlowAirflowHandler(BaseHTTPRequestHandler):
    server: SlowAirflow

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on this one: that is the point

    def _slow_first(self) -> None:
        if self.server.first_time(f"{self.command} {self.path}"):
            time.sleep(READ_TIMEOUT_S * 4)

    def do_GET(self) -> None:
        if self.path.startswith("/api/v2/dags?"):
            self._slow_first()
            self._answer(200, {"dags": [{"dag_id": "tongban_sync_a"}, {"dag_id": "gone", "is_stale": True}]})
        elif "/dagRuns" in self.path:
            dag_id = self.path.split("/")[4]
            with self.server.lock:
                runs = [{"state": "queued"} for run in self.server.runs if run == dag_id]
            self._answer(200, {"dag_runs": runs})
        else:
            self._answer(404, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        with self.server.lock:
            self.server.posts.append(self.path)
        if self.path == "/auth/token":
            self._slow_first()
            self._answer(201, {"access_token": "t"})
        elif self.path.endswith("/dagRuns"):
            with self.server.lock:
                self.server.runs.append(self.path.split("/")[4])  # the run starts, then the answer is late
            self._slow_first()
            self._answer(200, {"state": "queued"})
        elif self.path == "/api/v2/connections":
            created = self.server.first_time("created")
            self._slow_first()  # created, answered too late: the retry gets a 409
            self._answer(201 if created else 409, {})
        else:
            self._answer(404, {})

    def do_PATCH(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self._slow_first()
        self._answer(200, {})


@pytest.fixture()
def airflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowAirflow]:
    monkeypatch.setattr(live, "API_TIMEOUT", (5.0, READ_TIMEOUT_S))
    server = SlowAirflow()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _client(server: SlowAirflow) -> AirflowClient:
    return AirflowClient(f"http://127.0.0.1:{server.server_address[1]}", "admin", "pw")


def test_a_late_answer_is_asked_again_not_the_end_of_the_demo(airflow: SlowAirflow) -> None:
    client = _client(airflow)
    client.login()
    assert client.session.headers["Authorization"] == "Bearer t"
    assert client.dag_ids() == {"tongban_sync_a"}
    client.unpause("tongban_sync_a")
    assert airflow.seen["GET /api/v2/dags?limit=1000"] == 2


def test_a_connection_created_but_answered_late_is_not_an_error(airflow: SlowAirflow) -> None:
    client = _client(airflow)
    client.put_connection({"connection_id": "tongban_x", "conn_type": "tongban_rest"})
    # the repeat met a 409 and replaced it (the PATCH was late too the first time, and asked again)
    assert airflow.seen["PATCH /api/v2/connections/tongban_x"] == 2
    assert airflow.posts.count("/api/v2/connections") == 2


def test_a_trigger_answered_late_starts_one_run_not_two(airflow: SlowAirflow) -> None:
    client = _client(airflow)
    client.trigger("tongban_sync_a")
    assert airflow.runs == ["tongban_sync_a"]
    assert client.runs("tongban_sync_a") == {"queued": 1}


def test_a_server_that_never_answers_in_time_is_still_an_error(airflow: SlowAirflow,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "API_ATTEMPTS", 1)
    with pytest.raises(requests.Timeout):
        _client(airflow).dag_ids()
