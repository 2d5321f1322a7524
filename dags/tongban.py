"""Tongban's Airflow DAGs shaped by the systems file: one sync DAG per configured system, push, reconcile.

Generated from the systems file named by ``TONGBAN_SYSTEMS``; the logic lives in ``gateway.orchestration``.
Importing this file reads that one file and makes no network or database call. A system whose entry is invalid
gets a placeholder DAG failing with the error (file, line) instead of taking every DAG of this file down; the
DAGs that need no systems list are in ``tongban_processes.py``, so even a systems file that does not parse
leaves them running.
"""

from gateway.orchestration.dagfactory import build_system_dags

globals().update(build_system_dags())
