"""Airflow orchestration of Tongban: the DAG factory, the task bodies, failure alerts, and the Airflow provider.

Everything here except :mod:`~gateway.orchestration.dagfactory`, :mod:`~gateway.orchestration.hooks` and
:mod:`~gateway.orchestration.callbacks` is plain Python that never imports Airflow, so the same task bodies run
from ``tongban`` commands and tests. The ``dags/`` folder only calls :func:`dagfactory.build_system_dags`
(``dags/tongban.py``: what the systems file shapes) and :func:`dagfactory.build_process_dags`
(``dags/tongban_processes.py``: the process DAGs, which read no systems file when parsed).

DAG ids (one per configured system, plus four shared ones)::

    tongban_sync_<system>   read one system into the ledger; publishes the asset tongban://ledger/<system>
    tongban_push            drain the outbox into the hall and the departments (assets + schedule)
    tongban_certificates    harvest electronic certificates from the issuing systems
    tongban_deadlines       time-limit supervision (yellow / red) and the "system behind" check
    tongban_reconcile       per system and day: source vs ledger vs hall
"""

from gateway.orchestration.naming import (
    CERTIFICATES_DAG,
    DEADLINES_DAG,
    PUSH_DAG,
    RECONCILE_DAG,
    asset_uri,
    sync_dag_id,
)

__all__ = ["CERTIFICATES_DAG", "DEADLINES_DAG", "PUSH_DAG", "RECONCILE_DAG", "asset_uri", "sync_dag_id"]
