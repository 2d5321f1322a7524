"""Who may call the certificate-sharing API, and with whose agreement: API clients, consents, withdrawals.

The rules (credential format and hashing, scopes, consent tokens, how withdrawals reach every process) live in
:mod:`gateway.sharing.access`; this module holds the statements they run on ``api_clients`` and ``consents``.
Each function works in a transaction the caller owns, so a check and the write that depends on it stay atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from gateway.store.tables import api_clients, consents

__all__ = [
    "active_client_named",
    "consent_revoked_at",
    "department_clients",
    "find_client",
    "find_consent_of_holder",
    "insert_client",
    "insert_consent",
    "live_case_consents",
    "latest_client_named",
    "list_clients",
    "mark_consent_withdrawn",
    "revoke_client",
    "withdrawn_consents",
]

# -- API clients ------------------------------------------------------------------------------------------


def active_client_named(conn: Connection, name: str) -> bool:
    """Whether a client of this name exists that has not been revoked (names are unique among those)."""
    c = api_clients.c
    return conn.execute(select(c.client_id).where(c.name == name, c.revoked_at.is_(None))).first() is not None


def department_clients(conn: Connection, department_code: str) -> Sequence[Row[Any]]:
    """Every client registered for the department, revoked and expired ones included (the caller judges), oldest
    first: the rows :func:`gateway.sharing.access.clients.row_to_client` reads."""
    c = api_clients.c
    return conn.execute(select(api_clients).where(c.department_code == department_code)
                        .order_by(c.created_at, c.client_id)).all()


def insert_client(conn: Connection, **values: Any) -> None:
    conn.execute(api_clients.insert().values(**values))


def list_clients(conn: Connection) -> Sequence[Row[Any]]:
    """Every client, revoked and expired ones included, oldest first."""
    return conn.execute(select(api_clients).order_by(api_clients.c.created_at)).all()


def client_ids(conn: Connection) -> list[str]:
    """Every client id, revoked and expired ones included (a small table: one per department system)."""
    return list(conn.execute(select(api_clients.c.client_id)).scalars())


def find_client(conn: Connection, client_id: str) -> Row[Any] | None:
    """The client row with this id (credential check, lookups), or ``None``."""
    return conn.execute(select(api_clients).where(api_clients.c.client_id == client_id)).first()


def latest_client_named(conn: Connection, name: str) -> Row[Any] | None:
    """The newest client row of this name (a name is reused once the old client is revoked), or ``None``."""
    c = api_clients.c
    return conn.execute(select(api_clients).where(c.name == name).order_by(c.created_at.desc())).first()


def revoke_client(conn: Connection, client_id: str, at: datetime) -> None:
    """Stamp ``revoked_at`` (a client revoked before keeps its first revocation time)."""
    c = api_clients.c
    conn.execute(update(api_clients).where(c.client_id == client_id, c.revoked_at.is_(None)).values(revoked_at=at))


# -- consents -----------------------------------------------------------------------------------------------


def insert_consent(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(consents.insert().values(**row))


def live_case_consents(conn: Connection, *, holder_bidx: str, client_ids: Sequence[str], item_code: str,
                       case_no: str, now: datetime) -> Sequence[Row[Any]]:
    """The holder's consents for this case and item to any of these clients, neither withdrawn nor expired:
    ``consent_id, client_id, certificate_types`` (a JSON list)."""
    c = consents.c
    return conn.execute(select(c.consent_id, c.client_id, c.certificate_types).where(
        c.holder_bidx == holder_bidx, c.client_id.in_(list(client_ids)), c.item_code == item_code,
        c.case_no == case_no, c.revoked_at.is_(None), c.expires_at > now)).all()


def find_consent_of_holder(conn: Connection, consent_id: str, holder_bidx: str) -> Row[Any] | None:
    """``(revoked_at, expires_at)`` of the holder's consent, or ``None`` if the holder has no such consent."""
    c = consents.c
    return conn.execute(select(c.revoked_at, c.expires_at).where(c.consent_id == consent_id,
                                                                 c.holder_bidx == holder_bidx)).first()


def mark_consent_withdrawn(conn: Connection, consent_id: str, at: datetime) -> bool:
    """Stamp ``revoked_at`` unless it is set already; ``True`` for the one transaction that set it (of two
    concurrent withdrawals, only the first wins)."""
    c = consents.c
    return conn.execute(
        update(consents).where(c.consent_id == consent_id, c.revoked_at.is_(None)).values(revoked_at=at)
    ).rowcount == 1


def consent_revoked_at(conn: Connection, consent_id: str) -> datetime:
    """When the consent was withdrawn (it must have been)."""
    c = consents.c
    at: datetime = conn.execute(select(c.revoked_at).where(c.consent_id == consent_id)).scalar_one()
    return at


def withdrawn_consents(conn: Connection, *, now: datetime) -> list[tuple[str, datetime]]:
    """``(consent id, expires_at)`` of every withdrawn consent that has not expired by ``now`` (an index range
    on ``revoked_at``; a consent lives a day at most, so these are few)."""
    c = consents.c
    query = select(c.consent_id, c.expires_at).where(c.revoked_at.is_not(None), c.expires_at > now)
    return [(r.consent_id, r.expires_at) for r in conn.execute(query)]