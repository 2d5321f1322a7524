"""The audit log is a hash chain: editing, deleting or reordering any single row fails verification and names
the row; the group-commit writer keeps the chain contiguous under concurrent appends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from gateway.crypto import GatewayKeys, JwsSigner, JwsVerifier
from gateway.sharing.access.audit import AuditEntry, AuditWriter, make_checkpoint, verify_chain
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import audit_log

N = 12


def _chain(url: str, algorithm: str = "sha256") -> tuple[Any, JwsSigner]:
    engine = make_engine(url)
    upgrade(engine)
    signer = JwsSigner.from_keys(GatewayKeys.generate())
    writer = AuditWriter(engine, algorithm=algorithm)

    async def fill() -> list[int]:
        await writer.start()
        seqs = await asyncio.gather(*(writer.append(AuditEntry(
            action="release", outcome="released", client_id=f"c{i % 3}", holder_ref=f"h{i % 4}",
            certificate=f"cert-{i}", item_code="item", case_no=f"case-{i}")) for i in range(N)))
        await writer.stop()
        return list(seqs)

    seqs = asyncio.run(fill())
    assert sorted(seqs) == list(range(1, N + 1))
    assert writer.batches < N  # concurrent appends were committed together
    make_checkpoint(engine, signer, algorithm)
    return engine, signer


@pytest.mark.parametrize("algorithm", ["sha256", "sm3"])
def test_an_untouched_chain_verifies_with_its_signed_checkpoint(database_url: str, algorithm: str) -> None:
    engine, signer = _chain(database_url, algorithm)
    report = verify_chain(engine, algorithm=algorithm, verifier=JwsVerifier(signer.jwk()))
    assert report.ok and report.entries == N and report.checkpoints == 1, report.as_dict()
    engine.dispose()


def _swap(conn: Any, a: int, b: int) -> None:
    cols = [c for c in audit_log.c if c.name != "seq"]
    ra = conn.execute(select(*cols).where(audit_log.c.seq == a)).mappings().one()
    rb = conn.execute(select(*cols).where(audit_log.c.seq == b)).mappings().one()
    conn.execute(update(audit_log).where(audit_log.c.seq == a).values(**dict(rb)))
    conn.execute(update(audit_log).where(audit_log.c.seq == b).values(**dict(ra)))


TAMPERING = {
    "edit outcome": (5, lambda c: c.execute(update(audit_log).where(audit_log.c.seq == 5).values(outcome="denied"))),
    "edit client": (8, lambda c: c.execute(update(audit_log).where(audit_log.c.seq == 8).values(client_id="x"))),
    "edit certificate": (1, lambda c: c.execute(update(audit_log).where(audit_log.c.seq == 1)
                                                .values(certificate="other"))),
    "edit time": (3, lambda c: c.execute(update(audit_log).where(audit_log.c.seq == 3)
                                         .values(at=select(audit_log.c.at).where(audit_log.c.seq == 9)
                                                 .scalar_subquery()))),
    "delete a middle row": (7, lambda c: c.execute(delete(audit_log).where(audit_log.c.seq == 6))),
    "delete the first row": (2, lambda c: c.execute(delete(audit_log).where(audit_log.c.seq == 1))),
    "delete the last row": (N, lambda c: c.execute(delete(audit_log).where(audit_log.c.seq == N))),
    "reorder two rows": (4, lambda c: _swap(c, 4, 5)),
    "edit and rehash a row": (6, lambda c: c.execute(update(audit_log).where(audit_log.c.seq == 6)
                                                     .values(outcome="denied", hash="0" * 64))),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_any_single_tampered_row_fails_verification_and_is_named(sqlite_url: str, kind: str) -> None:
    engine, signer = _chain(sqlite_url)
    row, tamper = TAMPERING[kind]
    with engine.begin() as conn:
        tamper(conn)
    report = verify_chain(engine, verifier=JwsVerifier(signer.jwk()))
    assert not report.ok
    assert report.problems[0].seq == row, [str(p) for p in report.problems]
    engine.dispose()


def test_the_cli_names_the_changed_row_and_exits_non_zero(sqlite_url: str) -> None:
    engine, _ = _chain(sqlite_url)
    ok = subprocess.run([sys.executable, "-m", "gateway", "audit", "verify", "--database-url", sqlite_url],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 9).values(case_no="forged"))
    bad = subprocess.run([sys.executable, "-m", "gateway", "audit", "verify", "--database-url", sqlite_url],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "row seq=9" in bad.stderr and "changed" in bad.stderr


def test_sqlite_write_ahead_log_is_checkpointed_off_the_event_loop(sqlite_url: str) -> None:
    """The inline writer turns SQLite's in-COMMIT checkpoint off and copies the log from its thread instead:
    while it runs, the log is checkpointed behind its back; after stop() nothing is left uncopied."""
    import sqlite3

    engine = make_engine(sqlite_url)
    upgrade(engine)
    writer = AuditWriter(engine)
    writer.wal_checkpoint_seconds = 0.0
    path = sqlite_url.removeprefix("sqlite:///")

    async def run() -> None:
        await writer.start()
        for round_ in range(5):
            await asyncio.gather(*(writer.append(AuditEntry(action="query", outcome="none-found",
                                                            case_no=f"{round_}-{i}")) for i in range(50)))
            await asyncio.sleep(0.05)  # the checkpoint thread gets its turn
        assert writer._raw.cursor().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # noqa: SLF001
        await writer.stop()

    asyncio.run(run())
    busy, log_frames, copied = sqlite3.connect(path).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and log_frames == copied
    assert verify_chain(engine).ok and verify_chain(engine).entries == 250
    engine.dispose()


class _FailingSigner:
    """The gateway's signer whose first ``failures`` signatures fail (a signing device busy, the database gone
    between the batch's commit and the checkpoint's)."""

    def __init__(self, failures: int) -> None:
        self.real = JwsSigner.from_keys(GatewayKeys.generate())
        self.kid, self.failures, self.calls = self.real.kid, failures, 0

    def sign(self, payload: bytes) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("signing device busy")
        return self.real.sign(payload)


@pytest.mark.parametrize("failures", [1, 1000])
def test_a_failed_checkpoint_neither_writes_the_batch_again_nor_fails_its_releases(database_url: str,
                                                                                   failures: int) -> None:
    """Review finding: the checkpoint ran inside the batch's write, after its commit; when it raised, the writer
    wrote each entry again one by one — every release twice in the chain and in the holder's view — and, with the
    signer down for good, told every waiter its release was not recorded (the API answered 500) after writing it
    twice. The entries stand once; only the head's signature waits and is tried again."""
    engine = make_engine(database_url)
    upgrade(engine)
    signer = _FailingSigner(failures)
    writer = AuditWriter(engine, signer=signer)  # type: ignore[arg-type]

    async def releases() -> list[int]:
        await writer.start()
        try:
            return list(await asyncio.gather(*(writer.append(AuditEntry(
                action="release", outcome="released", client_id="c1", holder_ref="h" * 40,
                certificate=f"cert-{i}")) for i in range(3))))
        finally:
            await writer.stop()

    seqs = asyncio.run(releases())
    with engine.connect() as conn:
        certificates = conn.execute(select(audit_log.c.certificate).order_by(audit_log.c.seq)).scalars().all()
    assert sorted(seqs) == [1, 2, 3]
    assert sorted(certificates) == ["cert-0", "cert-1", "cert-2"]
    assert writer.checkpoint_failures >= 1
    report = verify_chain(engine, verifier=JwsVerifier(signer.real.jwk()))
    assert report.ok and report.entries == 3, report.as_dict()
    assert report.checkpoints == (1 if failures == 1 else 0), report.as_dict()  # signed again at stop()
    engine.dispose()
