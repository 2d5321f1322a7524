"""Tongban's Airflow DAGs (one sync DAG per configured system, push, certificates, deadlines, reconcile).

Generated from the systems file named by ``TONGBAN_SYSTEMS``; the logic lives in ``gateway.orchestration``.
Importing this file reads that one file and makes no network or database call.
"""

from gateway.orchestration.dagfactory import build_dags

globals().update(build_dags())
