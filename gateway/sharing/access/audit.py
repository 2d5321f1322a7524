"""The tamper-evident audit log: a hash chain over every query, release and denial, with signed checkpoints.

Each entry's hash is ``H(prev_hash ‖ "\\n" ‖ canonical JSON of the entry, its sequence number included)`` with
H = SHA-256 (or SM3 as an option). Changing, removing or reordering any row breaks the chain at that row, and
:func:`verify_chain` names it. Removing the *newest* rows leaves a shorter but consistent chain; the signed
checkpoints (``audit_checkpoints``: sequence number, hash, JWS signature) close that gap up to the last
checkpoint: the writer signs the head after its first batch, every ``checkpoint_seconds`` after that, and when it
stops, so a short-lived server's tail is anchored too (only a crash leaves up to ``checkpoint_seconds`` of it
unanchored). Checkpoints in the ledger do not survive someone who can delete rows there: removing the newest
entries *with* their checkpoints (or rewriting old entries, recomputing every hash after them and deleting the
checkpoints since) leaves a chain that verifies. So each checkpoint is also appended to a file outside the ledger
(``audit_anchor_file``: one JSON line, on the gateway's host, away from the database's), and ``tongban audit verify
--anchors FILE`` holds the chain to every line of it: an anchored row the chain no longer reaches, or whose hash
changed, fails.

Writes go through :class:`AuditWriter`, a group-commit writer: callers ``await append(...)``; entries that
arrive while a batch is being written form the next batch, so under load one transaction (one head read, one
``executemany``, one fsync) carries many entries, and a release is answered only after its entry committed.
Several processes may append: each batch takes the chain head inside its transaction under a lock (SQLite's
write lock, a PostgreSQL advisory lock).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from sqlalchemy import Connection, Engine

from gateway.crypto.jws import JwsError, JwsSigner, JwsVerifier
from gateway.store import audit_log as store

__all__ = ["AuditEntry", "AuditWriter", "ChainProblem", "ChainReport", "append_anchor", "append_entries",
           "entry_hash", "make_checkpoint", "read_anchors", "verify_chain"]

GENESIS = "0" * 64
log = logging.getLogger("gateway.audit")


@dataclass(slots=True)
class AuditEntry:
    action: str
    outcome: str
    client_id: str | None = None
    holder_ref: str | None = None
    certificate: str | None = None
    item_code: str | None = None
    case_no: str | None = None
    detail: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def _hasher(algorithm: str) -> Any:
    if algorithm == "sha256":
        return hashlib.sha256
    if algorithm == "sm3":
        def sm3(data: bytes = b"") -> Any:
            h = hashes.Hash(hashes.SM3())
            h.update(data)

            class _Digest:
                def hexdigest(self) -> str:
                    return h.finalize().hex()

            return _Digest()

        return sm3
    raise ValueError(f"audit hash must be sha256 or sm3, not {algorithm!r}")


def _canonical(seq: int, at: datetime, row: dict[str, Any] | AuditEntry) -> bytes:
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    stamp = (at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at).isoformat(timespec="microseconds")
    return _canonical_of(seq, stamp, get("action"), get("outcome"), get("client_id"), get("holder_ref"),
                         get("certificate"), get("item_code"), get("case_no"), get("detail"))


def _canonical_of(seq: int, stamp: str, *fields: str | None) -> bytes:
    """The hashed form: JSON ``[seq, "YYYY-MM-DDTHH:MM:SS.ffffff" (UTC), action, outcome, client_id, holder_ref,
    certificate, item_code, case_no, detail]``."""
    return orjson.dumps([seq, stamp, *fields])


def entry_hash(prev_hash: str, seq: int, at: datetime, row: dict[str, Any] | AuditEntry, algorithm: str = "sha256") -> str:
    return _link(_hasher(algorithm), prev_hash, _canonical(seq, at, row))


def _link(hasher: Any, prev_hash: str, canonical: bytes) -> str:
    """One link of the chain: ``H(prev_hash ‖ "\\n" ‖ canonical entry)``, hex."""
    return str(hasher(prev_hash.encode() + b"\n" + canonical).hexdigest())


def _head(conn: Connection) -> tuple[int, str]:
    return store.read_chain_head(conn) or (0, GENESIS)


def append_entries(conn: Connection, entries: Iterable[AuditEntry], algorithm: str = "sha256") -> list[int]:
    """Append in the caller's transaction (the lock is held until it commits); returns the sequence numbers."""
    store.lock_chain(conn)
    seq, prev = _head(conn)
    rows, seqs = [], []
    for e in entries:
        seq += 1
        at = e.at.replace(microsecond=e.at.microsecond)
        h = entry_hash(prev, seq, at, e, algorithm)
        rows.append({"seq": seq, "at": at, "action": e.action, "outcome": e.outcome, "client_id": e.client_id,
                     "holder_ref": e.holder_ref, "certificate": e.certificate, "item_code": e.item_code,
                     "case_no": e.case_no, "detail": e.detail, "prev_hash": prev, "hash": h})
        seqs.append(seq)
        prev = h
    store.insert_entries(conn, rows)
    return seqs


class AuditWriter:
    """Group commit for the API: ``await writer.append(entry)`` returns the entry's sequence number once the
    transaction holding it has committed."""

    def __init__(self, engine: Engine, *, algorithm: str = "sha256", max_batch: int = 1000,
                 signer: JwsSigner | None = None, checkpoint_seconds: float = 60.0,
                 anchor_file: Path | None = None) -> None:
        self.engine = engine
        self.anchor_file = anchor_file
        self.algorithm = algorithm
        self.max_batch = max_batch
        self.signer = signer
        self.checkpoint_seconds = checkpoint_seconds
        self._pending: list[tuple[AuditEntry, asyncio.Future[int]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        self._last_checkpoint = -float("inf")
        """When the writer last signed the head: never, so the first batch is checkpointed at once (a server that
        ran for less than ``checkpoint_seconds`` must not leave its whole log unanchored)."""
        self._raw: Any = None
        self.inline = engine.dialect.name == "sqlite"
        """On SQLite (a local file in WAL mode: a commit is a write to the log, no fsync) a batch is written on the
        event loop itself; handing it to a thread and back cost more CPU than the write. On a networked
        database the batch goes to the writer thread, so the loop never waits for the network."""
        self.batches = 0
        self.entries = 0
        self.checkpoint_failures = 0
        self.max_settle_rounds = 16
        self.wal_checkpoint_seconds = 1.0
        self._last_wal_checkpoint = time.monotonic()
        self._wal_checkpointing = False
        self._checkpoint_raw: Any = None

    async def start(self) -> None:
        if self._task is not None and self._task.get_loop() is not asyncio.get_running_loop():
            self._task = None  # started under an event loop that is gone (another server, another test)
        if self._task is None:
            if self._executor._shutdown:  # noqa: SLF001 - restarted after stop()
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        if self._task is not None:
            while self._pending:
                await asyncio.sleep(0.01)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self.signer is not None and self.entries and not self._executor._shutdown:  # noqa: SLF001
            try:  # anchor the tail: the newest rows of a stopped server cannot be removed unnoticed
                self._executor.submit(self._checkpoint_now).result()
            except Exception as exc:  # noqa: BLE001 - stopping goes on; the next start checkpoints its first batch
                log.warning("audit: final checkpoint failed: %s", exc)
        if self.inline and self._raw is not None and not self._executor._shutdown:  # noqa: SLF001
            try:
                self._executor.submit(self._checkpoint_wal).result()  # leave a short log behind
            except Exception as exc:  # noqa: BLE001 - SQLite checkpoints again when the last connection closes
                log.warning("audit: final WAL checkpoint failed: %s", exc)
        self._executor.shutdown(wait=True)

    async def append(self, entry: AuditEntry) -> int:
        if self._task is None:
            await self.start()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        assert self._wake is not None
        self._wake.set()
        return await future

    def _write(self, entries: list[AuditEntry]) -> list[int]:
        """Write ``entries`` (committed when this returns), then sign the chain's head if a checkpoint is due.

        The entries are committed before the checkpoint runs: a checkpoint that fails (the signer, the database
        gone between the two transactions) must not fail the batch — the caller would write its entries again,
        one by one, and every release would stand twice in the chain and in the holder's view. It is logged,
        counted and tried again ``checkpoint_seconds`` later (and at :meth:`stop`)."""
        seqs = self._write_raw(entries)
        if self.signer is not None and time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds:
            try:
                self._checkpoint_now()
            except Exception as exc:  # noqa: BLE001 - the entries stand; only the signature of the head waits
                self.checkpoint_failures += 1
                self._last_checkpoint = time.monotonic()
                log.warning("audit: checkpoint of the chain's head failed (%s); the entries are written, the "
                            "checkpoint is tried again in %s s", exc, self.checkpoint_seconds)
        return seqs

    def _checkpoint_now(self) -> None:
        """Sign the chain's head (unless a checkpoint already covers it): after the first batch, every
        ``checkpoint_seconds`` after that, and at :meth:`stop`."""
        assert self.signer is not None
        with self.engine.begin() as conn:
            store.lock_chain(conn)
            row = _checkpoint(conn, self.signer, self.algorithm)
        self._last_checkpoint = time.monotonic()
        if row is not None and self.anchor_file is not None:
            _anchor_or_say(self.anchor_file, row)

    def _write_raw(self, entries: list[AuditEntry]) -> list[int]:
        """One transaction on the writer thread's own driver connection: lock, read the head, insert the batch.

        The same rows :func:`append_entries` writes, without SQLAlchemy's per-statement overhead (which cost
        more than the batch itself)."""
        sqlite = self.engine.dialect.name == "sqlite"
        if self._raw is None:  # inline (SQLite): WAL checkpoints are ours, see _checkpoint_wal_soon
            self._raw = store.open_writer_connection(self.engine, manual_wal_checkpoints=self.inline)
        seqs: list[int] = []
        hasher = _hasher(self.algorithm)

        def link(head: tuple[int, str] | None) -> list[tuple[Any, ...]]:
            seq, prev = head or (0, GENESIS)
            rows = []
            for e in entries:
                seq += 1
                at = e.at.astimezone(timezone.utc).replace(tzinfo=None)
                iso = at.isoformat(timespec="microseconds")
                # what entry_hash() computes, without its per-field getattr indirection (hot path)
                h = _link(hasher, prev, _canonical_of(seq, iso, e.action, e.outcome, e.client_id, e.holder_ref,
                                                      e.certificate, e.item_code, e.case_no, e.detail))
                stamp: Any = f"{iso[:10]} {iso[11:]}" if sqlite else at  # SQLite's text form of the same instant
                rows.append((seq, stamp, e.action, e.outcome, e.client_id, e.holder_ref, e.certificate, e.item_code,
                             e.case_no, e.detail, prev, h))
                seqs.append(seq)
                prev = h
            return rows

        try:
            store.write_batch_raw(self._raw, sqlite=sqlite, link=link)
        except Exception:
            self._drop_connection()  # rolled back; a fresh connection next time
            raise
        return seqs

    def _drop_connection(self) -> None:
        """Give the failed writer connection back to the pool as unusable (invalidated: the pool closes it), so
        every failure does not leak one of the pool's connections until the server hangs waiting for one."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            raw.invalidate()
        except Exception as exc:  # noqa: BLE001 - already closed or broken: nothing more to give back
            log.debug("audit: dropping the writer connection: %s", exc)

    def _checkpoint_wal_soon(self) -> None:
        """Inline mode: copy the write-ahead log into the database from the writer thread, not the event loop.

        SQLite's automatic checkpoint runs inside the COMMIT of whichever connection pushes the log past 1,000
        pages; on the audit writer's connection that stalled the event loop (and every request) for the copy,
        about a sixth of the writer's time under load. The writer's connection has automatic checkpoints off;
        once a second a PASSIVE checkpoint (never blocks writers or readers) runs on a thread, where SQLite
        releases the GIL while it copies."""
        if self._wal_checkpointing or time.monotonic() - self._last_wal_checkpoint < self.wal_checkpoint_seconds:
            return
        self._wal_checkpointing = True
        try:
            self._executor.submit(self._checkpoint_wal).add_done_callback(self._wal_checkpoint_done)
        except RuntimeError:  # the executor is shutting down: the next writer's commits checkpoint as usual
            self._wal_checkpointing = False

    def _checkpoint_wal(self) -> None:
        if self._checkpoint_raw is None:
            self._checkpoint_raw = self.engine.raw_connection()
        store.checkpoint_wal_passive(self._checkpoint_raw)

    def _wal_checkpoint_done(self, future: Any) -> None:
        if future.exception() is not None:
            log.warning("audit: WAL checkpoint failed (retried in %.0f s): %s", self.wal_checkpoint_seconds,
                        future.exception())
            self._checkpoint_raw = None
        self._last_wal_checkpoint = time.monotonic()
        self._wal_checkpointing = False

    async def _settle(self) -> None:
        """Inline mode: let every request that can run reach its audit point before the batch is written.

        The write blocks the event loop, so a batch holds only the entries that arrived before it started.
        Yielding to the loop until an iteration adds no entry gathers all the requests that were ready to run
        (under load: dozens; idle: one, at the cost of one loop iteration). Each transaction costs far more than
        each entry in it (BEGIN, head read, COMMIT ≈ 150 µs here; an entry ≈ 8 µs), so this is where the audit
        log's throughput comes from."""
        for _ in range(self.max_settle_rounds):
            before = len(self._pending)
            await asyncio.sleep(0)
            if len(self._pending) == before or len(self._pending) >= self.max_batch:
                return

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.inline:
                await self._settle()
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
                try:
                    entries = [e for e, _ in batch]
                    if self.inline:
                        seqs = self._write(entries)
                        self._checkpoint_wal_soon()
                        await asyncio.sleep(0)  # let the next requests reach their audit point: the next batch
                    else:
                        seqs = await loop.run_in_executor(self._executor, self._write, entries)
                except Exception as exc:  # noqa: BLE001 - one entry the database refuses must not fail the rest
                    log.warning("audit batch of %d entries failed (%s); writing them one by one", len(batch), exc)
                    await self._write_one_by_one(batch, loop)
                    continue
                self._written(batch, seqs)

    def _written(self, batch: list[tuple[AuditEntry, asyncio.Future[int]]], seqs: list[int]) -> None:
        """A committed transaction of ``batch``: count it, and give each waiter its entry's sequence number."""
        self.batches += 1
        self.entries += len(batch)
        for (_, fut), seq in zip(batch, seqs, strict=True):
            if not fut.done():
                fut.set_result(seq)

    async def _write_one_by_one(self, batch: list[tuple[AuditEntry, asyncio.Future[int]]],
                                loop: asyncio.AbstractEventLoop) -> None:
        """After a failed batch: each entry in its own transaction, so only the waiter whose entry cannot be written
        (or all of them, if the database is down) learns that its request was not recorded."""
        for entry, fut in batch:
            try:
                if self.inline:
                    seqs = self._write([entry])
                else:
                    seqs = await loop.run_in_executor(self._executor, self._write, [entry])
            except Exception as exc:  # noqa: BLE001 - this waiter's request fails; it is told why
                log.error("audit entry (%s %s, client %s) could not be written: %s", entry.action, entry.outcome,
                          entry.client_id, exc)
                if not fut.done():
                    fut.set_exception(exc)
                continue
            self._written([(entry, fut)], seqs)


def _checkpoint(conn: Connection, signer: JwsSigner, algorithm: str) -> dict[str, Any] | None:
    seq, head = _head(conn)
    if seq == 0:
        return None
    if store.checkpoint_exists(conn, seq):
        return None
    now = datetime.now(timezone.utc)
    signature = signer.sign(orjson.dumps({"seq": seq, "hash": head, "alg": algorithm, "at": now.isoformat()}))
    row = {"seq": seq, "hash": head, "algorithm": algorithm, "signature": signature, "key_id": signer.kid,
           "created_at": now}
    store.insert_checkpoint(conn, row)
    return row


def make_checkpoint(engine: Engine, signer: JwsSigner, algorithm: str = "sha256",
                    anchor_file: Path | None = None) -> dict[str, Any] | None:
    """Sign the current head of the chain (``tongban audit checkpoint``; the writer also does it periodically), and
    append it to ``anchor_file`` once committed."""
    with engine.begin() as conn:
        store.lock_chain(conn)
        row = _checkpoint(conn, signer, algorithm)
    if row is not None and anchor_file is not None:
        append_anchor(anchor_file, row)
    return row


def append_anchor(path: Path, checkpoint: dict[str, Any]) -> None:
    """Append one checkpoint to the anchor file, synced to disk (a line is one ``write`` in append mode, so
    several gateway processes may share the file)."""
    line = orjson.dumps({"seq": checkpoint["seq"], "hash": checkpoint["hash"], "algorithm": checkpoint["algorithm"],
                         "at": checkpoint["created_at"].isoformat(), "key_id": checkpoint["key_id"],
                         "signature": checkpoint["signature"]}) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _anchor_or_say(path: Path, checkpoint: dict[str, Any]) -> None:
    try:
        append_anchor(path, checkpoint)
    except OSError as exc:  # releases go on; the checkpoint is in the ledger, only its copy outside is missing
        log.error("audit: checkpoint seq=%s could not be appended to the anchor file %s: %s", checkpoint["seq"],
                  path, exc)


def read_anchors(path: Path) -> list[dict[str, Any]]:
    """The checkpoints of an anchor file, in the order written. A last line cut short (the host stopped in the
    middle of a write) is left out; any other line that does not read is an error naming it."""
    lines = path.read_bytes().splitlines()
    anchors = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            anchor = orjson.loads(line)
            anchors.append({"seq": int(anchor["seq"]), "hash": str(anchor["hash"]), "at": str(anchor.get("at")),
                            "signature": anchor.get("signature")})
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if number == len(lines):
                break
            raise ValueError(f"{path}: line {number} is no checkpoint ({exc})") from None
    return anchors


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"row seq={self.seq}: {self.message}"


@dataclass
class ChainReport:
    entries: int = 0
    checkpoints: int = 0
    head: str = GENESIS
    problems: list[ChainProblem] = field(default_factory=list)
    unverified_checkpoints: int = 0
    anchors: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints, "head": self.head,
                "unverified_checkpoints": self.unverified_checkpoints, "anchors": self.anchors,
                "problems": [{"seq": p.seq, "message": p.message} for p in self.problems]}


def verify_chain(engine: Engine, *, algorithm: str = "sha256", verifier: JwsVerifier | None = None,
                 batch: int = 5000, anchors: list[dict[str, Any]] | None = None) -> ChainReport:
    """Recompute the chain from the first row; every broken link is reported with its row's sequence number.
    ``anchors`` (:func:`read_anchors`): checkpoints kept outside the ledger, each of which the chain must still
    reach with the same hash."""
    report = ChainReport()
    expected_seq, prev = 1, GENESIS
    hashes_at: dict[int, str] = {}
    anchors = anchors or []
    with engine.connect() as conn:
        checkpoints = store.read_checkpoints(conn)
        wanted = {int(cp.seq) for cp in checkpoints} | {a["seq"] for a in anchors}
        last = 0
        while True:
            rows = store.read_entries_after(conn, last, batch)
            if not rows:
                break
            for row in rows:
                seq = int(row["seq"])
                report.entries += 1
                if seq != expected_seq:
                    missing = f"entry seq={expected_seq}" if seq == expected_seq + 1 else \
                        f"entries seq={expected_seq}..{seq - 1}"
                    problem = (f"expected seq={expected_seq}, found {seq}: {missing} removed"
                               if seq > expected_seq else f"sequence number {seq} out of order")
                    report.problems.append(ChainProblem(seq, problem))
                if row["prev_hash"] != prev:
                    report.problems.append(ChainProblem(
                        seq, "prev_hash does not match the entry before it (a row before it was removed, changed or "
                             "reordered)"))
                recomputed = entry_hash(row["prev_hash"], seq, row["at"], dict(row), algorithm)
                if recomputed != row["hash"]:
                    report.problems.append(ChainProblem(seq, "content does not match its hash (the row was changed)"))
                if seq in wanted:
                    hashes_at[seq] = row["hash"]
                prev = row["hash"]
                expected_seq = seq + 1
                last = seq
        report.head = prev
    report.checkpoints, report.anchors = len(checkpoints), len(anchors)
    if verifier is None:
        report.unverified_checkpoints = len(checkpoints)
    witnesses = [(int(cp.seq), cp.hash, cp.signature, "the signed checkpoint") for cp in checkpoints] + [
        (a["seq"], a["hash"], a["signature"], f"the anchor written outside the ledger at {a['at']}") for a in anchors]
    for seq, hash_, signature, witness in witnesses:
        report.problems.extend(_witness_problems(seq, hash_, signature, witness, hashes_at, last, verifier))
    report.problems.sort(key=lambda p: p.seq)
    return report


def _witness_problems(seq: int, hash_: str, signature: str | None, witness: str, hashes_at: dict[int, str],
                      last: int, verifier: JwsVerifier | None) -> list[ChainProblem]:
    """What is wrong between the chain and one witness of it: a checkpoint row in the ledger or an anchor line
    kept outside it, each claiming ``hash_`` at ``seq`` under a signature. One set of rules for both, so an
    anchor is held to exactly what a checkpoint is (its signature, when keys are given, then the row it names)."""
    problems = []
    if verifier is not None:
        try:
            claims = orjson.loads(verifier.verify(signature or ""))
            if claims.get("seq") != seq or claims.get("hash") != hash_:
                problems.append(ChainProblem(seq, f"{witness} differs from what was signed"))
        except JwsError as exc:
            problems.append(ChainProblem(seq, f"{witness}: signature {exc}"))
    if seq > last:
        problems.append(ChainProblem(seq, f"{witness} covers this row, but the chain ends at seq={last}: entries "
                                          f"seq={last + 1}..{seq} were removed"))
    elif seq not in hashes_at:
        problems.append(ChainProblem(seq, f"{witness} covers this row, but the row is missing"))
    elif hashes_at[seq] != hash_:
        problems.append(ChainProblem(seq, f"hash differs from {witness}: the chain was rewritten at or before "
                                          "this row"))
    return problems


def count_entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return store.count_entries(conn)
