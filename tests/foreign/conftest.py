"""Session fixtures: the real Java SOAP stacks of :mod:`java_soap` (this folder), started once per session.

``foreign_records`` is the source data (1,500 generated cases and the TSV file the services read);
``jaxws_service``, ``axis_service`` and ``wss_service`` are running :class:`~java_soap.JavaService`
objects (``.base_url``, ``.wsdl_url``, ``.endpoint_url``, ``.records``; ``wss_service`` also ``.username``,
``.password``, ``.password_type``).

Without a JDK they skip, saying so. When the Debian packages cannot be installed they skip too, except under
``CI=true`` with Java present, where that is a failure; a stack that is installed but does not compile or start
always fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from . import java_soap
from .java_soap import JavaService, JavaUnavailable


@dataclass(frozen=True)
class ForeignRecords:
    path: Path
    records: list[dict[str, Any]]


def _unavailable(exc: JavaUnavailable) -> NoReturn:
    if not exc.java_missing and os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and Java is installed, but the SOAP stacks are not: {exc}", pytrace=False)
    pytest.skip(f"Java SOAP stacks unavailable: {exc}")


@pytest.fixture(scope="session")
def foreign_records(tmp_path_factory: pytest.TempPathFactory) -> ForeignRecords:
    records = java_soap.generate_records()
    path = java_soap.write_records_tsv(records, tmp_path_factory.mktemp("foreign-records") / "cases.tsv")
    return ForeignRecords(path, records)


def _service(kind: str, records: ForeignRecords, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JavaService]:
    unavailable: JavaUnavailable | None = None
    try:
        service = java_soap.start_service(kind, records.path, records=records.records,
                                          log_dir=tmp_path_factory.mktemp(f"java-{kind}"))
    except JavaUnavailable as exc:
        unavailable = exc
    if unavailable is not None:
        _unavailable(unavailable)  # skips or fails: never returns
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def jaxws_service(foreign_records: ForeignRecords, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JavaService]:
    yield from _service("jaxws", foreign_records, tmp_path_factory)


@pytest.fixture(scope="session")
def axis_service(foreign_records: ForeignRecords, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JavaService]:
    yield from _service("axis", foreign_records, tmp_path_factory)


@pytest.fixture(scope="session")
def wss_service(foreign_records: ForeignRecords, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JavaService]:
    yield from _service("wss", foreign_records, tmp_path_factory)
