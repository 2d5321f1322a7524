"""The demo on the embedded default (SQLite, the sandbox systems, Airflow).

- :mod:`.once` — ``tongban demo --once``: every DAG once in process, checked against the sandbox
- :mod:`.live` — ``tongban demo``: ``airflow standalone`` + the gateway API, live summary

Only this package may import :mod:`sandbox` (the simulated foreign systems); the product never does.
"""
