"""process_tickets.ticket_no kept as tickets are now compared: NFKC, no spaces, upper case

Revision ID: 0025_ticket_numbers
Revises: 0024_handoff_answers_seen
Create Date: 2026-12-07

``T-101 ``, ``Ｔ－１０１`` and ``t-101`` opened three tickets with three reply clocks; numbers are now normalised
when a ticket is opened or replied to (gateway.process.tickets.ticket_number). A ticket stored before is rewritten
to that form so that it is found however it is typed — unless another stored ticket already has the form (two
legacy tickets that are one number) or the form is longer than the column: those keep what was typed, and the
reply finds them as typed.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0025_ticket_numbers"
down_revision = "0024_handoff_answers_seen"
branch_labels = None
depends_on = None


def _number(text: str) -> str:  # gateway.models.identifiers.normalise, as of this revision
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def upgrade() -> None:
    conn = op.get_bind()
    tickets = sa.table("process_tickets", sa.column("ticket_no", sa.String))
    stored = [row[0] for row in conn.execute(sa.select(tickets.c.ticket_no))]
    taken = set(stored)
    wanted: dict[str, list[str]] = {}
    for number in stored:
        wanted.setdefault(_number(number), []).append(number)
    for kept, typed in wanted.items():
        if len(typed) != 1 or typed[0] == kept or kept in taken or not kept or len(kept) > 64:
            continue  # one number typed twice, or one NFKC lengthens past the column (㈠ → (一)): kept as typed
        conn.execute(sa.update(tickets).where(tickets.c.ticket_no == typed[0]).values(ticket_no=kept))


def downgrade() -> None:
    pass  # the typed forms are not kept: a normalised number reads the same to every older reader
