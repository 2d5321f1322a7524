"""办不成事 tickets as an operator opens and answers them: a number is opened once (the first ticket and its
clock stay as they were), a reply says something, and a refusal is one line naming the ticket and the field."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

import pytest
from sqlalchemy import select

from gateway.contract.errors import ConfigError
from gateway.ops.deadlines.calendar import BEIJING
from gateway.process import open_ticket, reply_ticket
from gateway.process.tickets import TicketExists
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import process_tickets


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], check=False, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "TONGBAN_DATABASE_URL": url})


def _rows(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["ticket_no"]: dict(r) for r in conn.execute(select(process_tickets)).mappings()}


def test_a_ticket_number_is_opened_once_and_a_reply_says_something(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    opened = datetime(2026, 9, 29, 15, 0, tzinfo=BEIJING)
    open_ticket(engine, "BBC-101", "simple", "无法办理户口迁移", office_code="JN370102-QCL", opened_at=opened)
    with pytest.raises(TicketExists, match="ticket BBC-101 exists") as refused:
        open_ticket(engine, "BBC-101", "coordination", "另一件事", opened_at=datetime(2026, 10, 9, 9, 0, tzinfo=BEIJING))
    assert refused.value.ticket_no == "BBC-101"
    first = _rows(engine)["BBC-101"]  # the first ticket and its clock untouched
    assert (first["kind"], first["subject"], first["opened_at"]) == ("simple", "无法办理户口迁移", opened)

    for blank in ("", "   ", "\u3000\n\t"):  # a full-width space is whitespace too
        with pytest.raises(ConfigError, match=r"ticket BBC-101: reply: .*needs its text"):
            reply_ticket(engine, "BBC-101", blank)
    assert _rows(engine)["BBC-101"]["replied_at"] is None  # the clock still runs
    with pytest.raises(ConfigError, match="ticket_no"):
        open_ticket(engine, "  ", "simple", "无编号")
    with pytest.raises(ConfigError, match="office_code: at most 64"):
        open_ticket(engine, "BBC-102", "simple", "编号过长", office_code="X" * 65)
    assert set(_rows(engine)) == {"BBC-101"}

    assert reply_ticket(engine, "BBC-101", "已协调公安与民政部门，迁移材料已受理")
    assert not reply_ticket(engine, "BBC-101", "again")
    engine.dispose()


def test_the_command_line_refuses_in_one_line(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    assert _run(database_url, "tickets", "open", "T1", "--subject", "无法办理户口迁移").returncode == 0
    again = _run(database_url, "tickets", "open", "T1", "--subject", "另一件事")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [again.stderr.strip()] and "ticket T1 exists" in again.stderr
    assert "Traceback" not in again.stderr + again.stdout and "IntegrityError" not in again.stderr
    blank = _run(database_url, "tickets", "reply", "T1", "--reply", "   ")
    assert blank.returncode == 1 and "ticket T1: reply:" in blank.stderr and "Traceback" not in blank.stderr
    listed = _run(database_url, "tickets", "list", "--json")
    assert listed.returncode == 0 and '"T1"' in listed.stdout and "另一件事" not in listed.stdout  # still open
