"""describe_error / masked_traceback on real database errors: the driver's one-line reason and where, never the
statement's parameters, the row the database quotes, nor a value in the reason."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway.crypto.error_text import describe_error, masked_traceback
from gateway.store.db import make_engine

NAME, ID = "王秀英", "110105198506011234"


def _refused(database_url: str, statement: str, params: dict) -> DBAPIError:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TEMPORARY TABLE people (name TEXT, id TEXT, age INTEGER, CHECK (id = 'x'))"))
            conn.execute(text(statement), params)
    except DBAPIError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("the database accepted it")


def test_a_refused_row_is_described_by_reason_and_table_without_its_values(database_url: str) -> None:
    exc = _refused(database_url, "INSERT INTO people (name, id) VALUES (:name, :id)", {"name": NAME, "id": ID})
    assert NAME in str(exc.orig) or ID in str(exc) or "hidden" in str(exc)  # what the raw text may carry
    described = describe_error(exc)
    assert described.startswith("IntegrityError:") and "(in INSERT INTO people …)" in described
    assert NAME not in described and ID not in described and "[SQL" not in described


def test_a_bad_value_quoted_in_the_reason_is_masked_and_identifiers_are_kept(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite takes any value into an INTEGER column: only PostgreSQL quotes a refused value")
    exc = _refused(database_url, "INSERT INTO people (name, id, age) VALUES ('a', 'x', CAST(:age AS INTEGER))",
                   {"age": NAME})
    described = describe_error(exc)
    assert NAME not in described and '"…"' in described, described


def test_the_masked_traceback_keeps_the_frames_and_the_chain_but_not_the_data(database_url: str) -> None:
    cause = _refused(database_url, "INSERT INTO people (name, id) VALUES (:name, :id)", {"name": NAME, "id": ID})
    try:
        try:
            raise cause
        except DBAPIError as exc:
            raise RuntimeError(f"sync failed for 申请人: {NAME} ({ID})") from exc
    except RuntimeError as outer:
        trace = masked_traceback(outer)
    assert "The above exception was the cause" in trace and "test_error_text.py" in trace
    assert "IntegrityError" in trace and "RuntimeError: sync failed for 申请人: 王** (110***********1234)" in trace
    assert NAME not in trace and ID not in trace


def test_the_last_resort_handler_redacts_too(capsys: pytest.CaptureFixture[str]) -> None:
    """With no handler configured, a warning of ``gateway.audit`` went to Python's last-resort handler, which the
    redacting filter did not cover (a logger's filter does not see its children's records)."""
    import logging

    from gateway.crypto.pii import install_log_redaction

    install_log_redaction()
    record = logging.getLogger("gateway.audit").makeRecord(
        "gateway.audit", logging.WARNING, __file__, 1, "holder %s refused", ("11010519491231002X",), None)
    assert logging.lastResort is not None
    logging.lastResort.handle(record)
    written = capsys.readouterr().err
    assert "holder" in written and "11010519491231002X" not in written, written
