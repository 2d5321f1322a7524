"""Tongban's Airflow DAGs that need no systems list at parse time: deadlines, handoff, citizen, certificates,
catalogue/KPI.

Apart from ``tongban.py`` (the DAGs the systems file shapes) so that a systems file that cannot be read does not
take these down with it: Airflow drops every DAG of a file that fails to import. Importing this file reads no
file and makes no network or database call.
"""

from gateway.orchestration.dagfactory import build_process_dags

globals().update(build_process_dags())
