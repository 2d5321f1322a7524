"""The connector acceptance kit: the same checks on every connector, after Airbyte's acceptance tests.

A connector's own test module builds a live connector (against its sandbox system or a recorded server) and
hands it to :func:`assert_connector_acceptance`; every failure says which promise the connector broke::

    def test_acceptance(civil_connector, civil_connector_bad_key, civil_mapper):
        assert_connector_acceptance(
            connector=civil_connector,
            broken_connector=civil_connector_bad_key,
            stream="cases",
            mapper=civil_mapper,
        )

The promises (each is also a function of its own, for a targeted test):

1. ``check`` succeeds on a working connection and reports failure — without raising — on a broken one;
2. two sequential incremental reads: the second, from the first one's high cursor, returns only records at or
   after that cursor (the overlap), and nothing that changed is missed;
3. resume from a checkpoint: reading on from the first page's checkpoint yields everything after it;
4. every record maps to a valid canonical record with the system's mapping.

This module may use all of ``gateway`` (it is the one part of ``connectors`` that does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.common.secretrefs import secret_names as referenced_secrets
from gateway.contract.connector import Connector, Page, RawRecord
from gateway.kernel.configpaths import declared_config
from gateway.kernel.yamlfile import read_yaml
from gateway.mapping.mapper import Mapper


@dataclass
class AcceptanceReport:
    records: int = 0
    high_cursor: datetime | None = None
    second_read: int = 0
    resumed: int = 0
    checked: list[str] = field(default_factory=list)


def _all(pages: Iterable[Page]) -> list[RawRecord]:
    records: list[RawRecord] = []
    for page in pages:
        assert not page.rejects, f"the connector rejected records of a clean source: {page.rejects[:3]}"
        records.extend(page.records)
    return records


def _latest(records: list[RawRecord]) -> dict[str, RawRecord]:
    latest: dict[str, RawRecord] = {}
    for record in records:
        seen = latest.get(record.source_id)
        if seen is None or (record.cursor and seen.cursor and record.cursor >= seen.cursor):
            latest[record.source_id] = record
    return latest


def check_succeeds_and_fails_cleanly(connector: Connector, broken_connector: Connector | None,
                                     stream: str | None = None) -> None:
    """``check()`` is ok on the working connection and says why not on the broken one. A service that answers a
    wrong credential with an *empty result* rather than a fault (ASMX services often do: ``connector check`` says
    so) passes when ``stream`` is given and the broken connection reads no record of it — nothing leaks, and the
    kit could not pass against such a service before."""
    result = connector.check()
    assert result.ok, f"check() failed on a working connection: {result.message}"
    if broken_connector is not None:
        try:
            broken = broken_connector.check()
        except Exception as exc:  # the promise is "never raise"
            raise AssertionError(f"check() raised {type(exc).__name__} instead of returning ok=False: {exc}") from exc
        if broken.ok and stream is not None:
            try:
                page = next(iter(broken_connector.read(stream, mode="full_refresh")), None)
            except Exception:  # noqa: BLE001 — the read refusing the wrong credential is a clean failure too
                return
            assert page is None or not page.records, (
                "check() said ok on a connection that should fail, and it read records with wrong secrets")
            return
        assert not broken.ok, "check() said ok on a connection that should fail"
        assert broken.message, "check() failed without saying why"


def two_sequential_incremental_reads(connector: Connector, stream: str) -> tuple[list[RawRecord], list[RawRecord]]:
    first = _all(connector.read(stream, mode="incremental"))
    assert first, f"stream {stream!r} returned no records; the acceptance kit needs a source with data"
    assert all(r.cursor is not None for r in first), "incremental records must carry a cursor"
    ids = [r.source_id for r in first]
    latest = _latest(first)
    assert all(r.source_id for r in first), "every record needs a source id"
    high = max(r.cursor for r in first if r.cursor is not None)
    second = _all(connector.read(stream, since=high, mode="incremental"))
    stale = [r.source_id for r in second if r.cursor is not None and r.cursor < high]
    assert not stale, f"the second read returned records older than its 'since' ({high}): {stale[:5]}"
    assert len(second) < len(first) or len(set(ids)) <= 1, "the second read re-read everything instead of the overlap"
    assert len(latest) == len(set(ids))
    return first, second


def resume_from_checkpoint(connector: Connector, stream: str) -> tuple[int, int]:
    pages = connector.read(stream, mode="incremental")
    first_page = next(iter(pages), None)
    assert first_page is not None, f"stream {stream!r} returned no page"
    if first_page.checkpoint is None:
        return len(first_page.records), 0
    rest = _all(connector.read(stream, mode="incremental", checkpoint=first_page.checkpoint))
    full = _latest(_all(connector.read(stream, mode="incremental")))
    got = _latest(list(first_page.records) + rest)
    missing = sorted(set(full) - set(got))
    assert not missing, f"resuming from checkpoint {dict(first_page.checkpoint)} lost records: {missing[:5]}"
    return len(first_page.records), len(rest)


def records_map_to_canonical(records: list[RawRecord], mapper: Mapper, *, system: str) -> int:
    mapped: list[dict[str, object]] = []
    refs: list[str] = []
    problems: list[str] = []
    flagged: dict[int, list[tuple[str, str, str]]] = {}
    for record in records:
        canonical, issues = mapper.map(record.payload)
        ref = f"{system}:{record.source_id}"
        issues, flags = mapper.split_issues(issues)  # a miss written `flag` keeps the record, as the sync does
        if issues:
            problems.extend(f"{ref}: {f}: {m} [{r}]" for f, r, m in issues)
            continue
        if flags:
            flagged[len(mapped)] = flags
        mapped.append(canonical)
        refs.append(ref)
    result = mapper.validate(mapped, refs, flagged)
    problems.extend(str(i) for _, rej in result.rejected for i in rej.issues)
    assert not problems, f"{len(problems)} mapping/validation problem(s), e.g.: " + " | ".join(problems[:5])
    return len(result.valid)


def connector_config(path: str | Path, *, kind: str | None = None, base_url: str | None = None) -> dict[str, Any]:
    """A connector YAML as the systems file would hand it to the connector: relative paths (a SOAP ``wsdl``)
    resolved against the YAML's own directory, the endpoint injected as ``base_url``::

        CONFIG = connector_config(REPO / "config" / "connectors" / "gov_noise.yaml", base_url=URL)
    """
    path = Path(path)
    raw = read_yaml(path) or {}
    config = declared_config(kind or str(raw.get("kind") or ""), raw, path.resolve().parent)
    if base_url:
        config["base_url"] = base_url
    return config


def secret_names(config: Mapping[str, Any]) -> list[str]:
    """Every secret a connector config names, sorted: values of ``secret``/``*_secret`` keys (auth, wsse,
    http_basic, tls) and ``{secret: NAME}`` parameters — what a test must supply (``TONGBAN_<SYSTEM>_<NAME>``)."""
    return referenced_secrets(config)


def assert_connector_acceptance(
    *,
    connector: Connector,
    stream: str,
    mapper: Mapper,
    broken_connector: Connector | None = None,
    system: str | None = None,
) -> AcceptanceReport:
    """Run every check; raise AssertionError naming the first promise broken."""
    report = AcceptanceReport()
    check_succeeds_and_fails_cleanly(connector, broken_connector, stream)
    report.checked.append("check")
    first, second = two_sequential_incremental_reads(connector, stream)
    report.records, report.second_read = len(first), len(second)
    report.high_cursor = max(r.cursor for r in first if r.cursor is not None)
    report.checked.append("incremental")
    _, report.resumed = resume_from_checkpoint(connector, stream)
    report.checked.append("checkpoint")
    records_map_to_canonical(list(_latest(first).values()), mapper, system=system or mapper.system)
    report.checked.append("mapping")
    return report
