#!/usr/bin/env bash
# The test command (README, and exactly what .ci/run calls): installs everything it needs into .venv from the
# package registries (Airflow included), makes sure PostgreSQL is reachable (required when CI=true), runs the
# whole suite, then one `airflow dags test` smoke through Airflow's own CLI. Redis at 127.0.0.1:6379 (the Celery
# smoke test's broker) is started when a redis-server is installed, and required when CI=true.
# Extra arguments go to pytest, e.g. `bash scripts/run-tests.sh tests/mapping -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
install_log=$(mktemp)
install() {  # quiet on success; the whole log on failure
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$install_log" 2>&1; then
    cat "$install_log" >&2
    echo "pip install $* failed" >&2
    exit 1
  fi
}
install --upgrade pip
install -c constraints.txt -e ".[test,airflow]"
.venv/bin/python -c "import gateway, connectors, sandbox, pytest, airflow, celery" # fail here, clearly, if the install did not work

pg_url=postgresql://postgres@127.0.0.1:5432/postgres
pg_up() { .venv/bin/python -c "import psycopg; psycopg.connect('$pg_url', connect_timeout=3).close()" 2>/dev/null; }
if [ -z "${TONGBAN_TEST_POSTGRES_URL:-}" ]; then
  if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 20); do pg_up && break; sleep 0.5; done
  fi
  if pg_up; then
    export TONGBAN_TEST_POSTGRES_URL=$pg_url
  elif [ "${CI:-}" = "true" ]; then
    echo "CI needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth); it is not reachable" >&2
    exit 1
  else
    echo "PostgreSQL is not reachable at 127.0.0.1:5432: its tests will be skipped (with the reason shown)"
  fi
fi

redis_up() { .venv/bin/python -c "import redis; redis.Redis(host='127.0.0.1', socket_connect_timeout=3).ping()" 2>/dev/null; }
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no >/dev/null 2>&1 || true
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
if ! redis_up; then
  if [ "${CI:-}" = "true" ]; then
    echo "CI needs Redis at 127.0.0.1:6379 (the Celery smoke test's broker); it is not reachable" >&2
    exit 1
  fi
  echo "Redis is not reachable at 127.0.0.1:6379: the Celery smoke test will be skipped (with the reason shown)"
fi

# The console's browser tests drive Debian's Chromium (never a downloaded browser), with a CJK font so Chinese
# renders in the screenshots. Installed with apt-get where we may; required when CI=true.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi -E "wqy|noto.*cjk"; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt_log=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei >"$apt_log" 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$apt_log" 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei >>"$apt_log" 2>&1 || cat "$apt_log" >&2
    fi
  fi
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "CI needs Debian's chromium for the console's browser tests (apt-get install chromium); it is missing" >&2
    exit 1
  fi
  echo "chromium is not installed: the console's browser tests will be skipped (with the reason shown)"
fi

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
if [ "$code" -eq 0 ] && [ "$#" -eq 0 ]; then  # the whole suite passed: one run through Airflow's own CLI
  .venv/bin/python scripts/airflow_smoke.py || code=$?
fi
exit "$code"
