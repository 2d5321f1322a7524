"""``tongban demo --once``, second act: the processes of issue 15 through the same DAGs, after the first pass.

- 一窗受理: a case taken at a street office that civil affairs never answers is deemed accepted by
  ``tongban_handoff`` run as of one minute past its due time (the DAG's ``now``: the clock injected), and the
  department and the hall are told once (:mod:`gateway.demo.onewindow`);
- 跨省通办: an application taken at another province's hall reaches the competent department through the 通办目录, and
  its result goes back to that hall;
- 一件事: one company opening — licence, then seal and tax, which fetch the licence through the certificate gateway
  with the company's consent — finished when its last part is (:mod:`gateway.demo.bundles`).

The steps are interleaved as the scheduler would interleave them, so a handful of DAG runs carries all three; the
departments' clerks (accept, issue, finish) are the sandbox's admin calls. Each check is said as it is made, ``ok`` or
``FAIL``; the checks whose name starts with ``ok:`` decide the demo's exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.demo.bundles import CompanyOpening
from gateway.demo.onewindow import CROSS_PROVINCE_HALL, OneWindow

__all__ = ["run_processes_scenario"]

RunDag = Callable[..., str]
"""``run(dag_id, conf=None) -> state``: one ``dag.test()``, recorded with the demo's other runs."""


def run_processes_scenario(world: Any, engine: Any, run: RunDag, say: Callable[[str], None]) -> dict[str, Any]:
    from gateway.orchestration.naming import CERTIFICATES_DAG, HANDOFF_DAG, PUSH_DAG, sync_dag_id

    say("[bold]Issue 15: 一窗受理 (deemed acceptance), 跨省通办, 一件事 (company opening)[/]")
    window = OneWindow.take(world)
    company = CompanyOpening.start(world, engine, say)
    checks: dict[str, Any] = {}
    try:
        if window is not None:
            say(f"一窗受理: {window.deemed_case} taken at a street office, civil affairs no longer answers on receipt"
                + (f"; 跨省通办: {window.xhall_case} taken at {CROSS_PROVINCE_HALL}" if window.xhall_case else ""))
        halls = [h for h in world.halls]
        for hall in halls:
            run(sync_dag_id(hall))
        run(PUSH_DAG)       # the front-desk case to civil affairs (pending), the licence part to the market bureau
        run(HANDOFF_DAG)    # registered and handed; the cross-province case routed by the 通办目录
        run(PUSH_DAG)       # … and delivered to the competent department
        run(HANDOFF_DAG)    # handed: its window starts
        if window is not None:
            window.decide_cross_province()
        if company is not None:
            company.issue_licence()
        for name in ("sd_civil", "sd_market"):
            if name in world.departments:
                run(sync_dag_id(name))
        run(CERTIFICATES_DAG)  # the new 营业执照 into the certificate library
        run(HANDOFF_DAG)    # the cross-province case accepted; seal and tax released with the company's consent
        run(PUSH_DAG)       # the result back to the other province's hall; the seal and tax parts delivered
        if window is not None:
            run(HANDOFF_DAG, window.deemed_now(engine))  # the clock injected: past the unanswered case's due time
            run(PUSH_DAG)   # civil affairs and the hall told of the deemed acceptance
        if company is not None:
            company.finish_parts()
            for name in ("jn_seal", "jn_tax"):
                run(sync_dag_id(name))
            run(HANDOFF_DAG)  # the last part finished: the bundle is
            run(PUSH_DAG)
        if window is not None:
            checks.update(window.checks(engine))
        if company is not None:
            checks.update(company.checks())
    finally:
        if company is not None:
            company.stop()
    from gateway.store.outbox import pending_count

    with engine.connect() as conn:
        checks["ok: issue 15: nothing left in the outbox"] = pending_count(conn) == 0
    for key, value in checks.items():
        if key.startswith("ok: "):
            say(f"{'[green]ok[/]  ' if value is True else '[red]FAIL[/]'} {key[4:]}")
        else:
            say(f"      {key}: {value}")
    return checks
