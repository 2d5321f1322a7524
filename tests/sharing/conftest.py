"""Redis for the shared rate-limit tests: the one at ``TONGBAN_TEST_REDIS_URL`` (default 127.0.0.1:6379, the
Celery broker the test script starts), and a private ``redis-server`` a test may stop and start again.

Without Redis these tests skip with the reason; under ``CI=true`` (where scripts/run-tests.sh makes sure Redis
is up) a missing Redis is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

REDIS_URL = os.environ.get("TONGBAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(f"Redis tests skipped: {reason}")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The shared Redis; a test's keys go under a prefix of its own (``redis_prefix``)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"no Redis answering at {REDIS_URL} ({exc}); set TONGBAN_TEST_REDIS_URL or start one")
    finally:
        client.close()
    yield REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix for one test, its keys deleted afterwards."""
    import redis

    prefix = f"tongban-test:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


class PrivateRedis:
    """A ``redis-server`` of this test alone on 127.0.0.1 (no persistence): :meth:`stop` is a real outage."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        import redis

        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115 - the server writes to it
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=1).ping()
                return self
            except redis.RedisError:
                assert self.proc.poll() is None, (self.workdir / f"redis-{self.port}.log").read_text()
                assert time.monotonic() < deadline, "redis-server did not answer within 30 s"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        _unavailable("no redis-server on PATH to start a private Redis (apt-get install redis-server)")
    server = PrivateRedis(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
