"""What the ``scan_bundles`` task of the ``tongban_handoff`` DAG runs: the 一件事 bundle scan
(:func:`gateway.process.bundles.scan_bundles`), opening the runtime, the bundle definitions and — when the gateway's
keys are configured — the consent issuer when it runs, never at parse time.

A task of the hand-off DAG rather than a DAG of its own: both are the same kind of work (scan stored process state
every minute, queue cases, publish the hand-off asset so the push runs), and one more DAG per minute would only
double the scheduler's load for no isolation worth having.
"""

from __future__ import annotations

from typing import Any

from gateway.orchestration.tasks import _runtime

__all__ = ["BUNDLES_FUNCTION", "run_bundles"]

BUNDLES_FUNCTION = "gateway.process.bundles.scan_bundles"


def run_bundles(now: str | None = None, *, ahead_of_clock: bool = False) -> dict[str, Any]:
    """One bundle scan as of ``now`` (ISO 8601) or the present; ``{"skipped": reason}`` where no bundle is defined.
    A ``now`` later than this machine's clock is refused as the hand-off scan refuses it ("in force today" comes
    from ``now``), unless a drill says ``ahead_of_clock`` where ``TONGBAN_DRILL=1`` is set."""
    from gateway.contract.errors import ConfigError
    from gateway.process.asof import BUNDLE_CONSEQUENCE, guard_as_of, parse_as_of
    from gateway.process.bundle_spec import BundleCatalogue
    from gateway.process.bundles import BundleConsents, scan_bundles

    moment = parse_as_of(now, name="DAG run parameter now")  # before anything: as tongban bundles scan --now reads it
    guard_as_of(moment, name="DAG run parameter now", ahead_of_clock=ahead_of_clock, consequence=BUNDLE_CONSEQUENCE,
                hint="trigger without now (the present) or with an earlier instant (a catch-up)")
    try:
        catalogue = BundleCatalogue.load()
    except ConfigError as exc:
        if "no bundles file" in str(exc):
            return {"skipped": str(exc), "released": 0}
        raise
    with _runtime() as runtime:
        return scan_bundles(runtime.engine, catalogue, systems=runtime.systems, pii=runtime.pii,
                            consents=BundleConsents.for_runtime(runtime), now=moment).as_dict()
