"""A sealed ledger refuses a writer without its keys (outside operator review): a worker whose key file was not
mounted synced into a sealed ledger and wrote ID numbers and raw payloads in clear beside the sealed ones — and
``keys rotate --reseal-only`` then said every sealed value was under the current key; a worker given a fresh key
file sealed under keys no other process holds, with another blind index. Now the ledger says it is sealed
(``ledger_marks``, migration 0021) and the sync, the remap and the replay refuse, before writing anything, a
process without the ledger's keys."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pages_testlib import MemoryPages, served_records
from sqlalchemy import func, select, text

from gateway.contract.errors import ConfigError
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.sealing import fingerprint, require_ledger_keys, sealed_mark
from gateway.store.tables import cases, source_records
from gateway.sync.engine import SyncFailed, sync_system
from gateway.sync.push import push
from gateway.sync.reprocess import remap_system, replay_dead_letters

pytestmark = pytest.mark.slow


def _clear_ids(engine) -> int:
    """Cases whose applicant's ID number is in clear (an 18-character number, not ``enc:v1:…``)."""
    with engine.connect() as conn:
        return sum(1 for (data,) in conn.execute(select(cases.c.data))
                   if (json.loads(data).get("applicant") or {}).get("id_number", "enc:").count("enc:v1:") == 0
                   and (json.loads(data).get("applicant") or {}).get("id_number"))


def _state(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        counts = (conn.execute(select(func.count()).select_from(source_records)).scalar_one(),
                  conn.execute(select(func.count()).select_from(cases)).scalar_one())
    return (*counts, _clear_ids(engine))


def test_a_writer_without_the_ledgers_keys_is_refused_before_it_writes(make_world) -> None:
    world = make_world(civil=6, estate=2)
    records = served_records(world)
    codec = PiiCodec(GatewayKeys.generate())
    sealed = replace(world.runtime, pii=codec, _mappers={})
    assert sync_system(sealed, "sd_civil", connector=MemoryPages(records[:4])).counts.inserted == 4
    engine = world.runtime.engine
    with engine.connect() as conn:
        assert sealed_mark(conn)["blind_index"] == fingerprint(codec)
    before = _state(engine)
    assert before[2] == 0  # every ID number sealed

    keyless = replace(world.runtime, pii=None, _mappers={})
    with pytest.raises(SyncFailed, match=r"sealed at rest .* no key file — set TONGBAN_KEY_FILE"):
        sync_system(keyless, "sd_civil", connector=MemoryPages(records))
    with pytest.raises(Exception, match=r"cannot remap sd_civil: .* no key file"):
        remap_system(keyless, "sd_civil")
    report = replay_dead_letters(keyless, system="sd_civil")
    assert "no key file" in report.unreplayable["sd_civil"]

    stranger = replace(world.runtime, pii=PiiCodec(GatewayKeys.generate()), _mappers={})  # a fresh key file
    with pytest.raises(SyncFailed, match=r"the key file \(TONGBAN_KEY_FILE\) is not this ledger's"):
        sync_system(stranger, "sd_civil", connector=MemoryPages(records))
    assert _state(engine) == before  # nothing written by any of them

    rotated = replace(world.runtime, pii=PiiCodec(codec.keys.rotated()), _mappers={})  # the same file, rotated
    assert sync_system(rotated, "sd_civil", connector=MemoryPages(records)).counts.inserted == 2
    assert _clear_ids(engine) == 0


def test_a_clear_ledger_stays_writable_without_keys_and_is_marked_by_its_first_sealed_write(make_world) -> None:
    world = make_world(civil=4, estate=2)
    records = served_records(world)
    keyless = replace(world.runtime, pii=None, _mappers={})
    assert sync_system(keyless, "sd_civil", connector=MemoryPages(records[:2])).counts.inserted == 2
    with world.runtime.engine.connect() as conn:
        assert sealed_mark(conn) is None  # no keys, nothing sealed: not a sealed ledger
    sealed = replace(world.runtime, pii=PiiCodec(GatewayKeys.generate()), _mappers={})
    assert sync_system(sealed, "sd_civil", connector=MemoryPages(records)).counts.inserted == 2
    with pytest.raises(SyncFailed, match="no key file"):
        sync_system(keyless, "sd_civil", connector=MemoryPages(records))


def test_an_upgraded_sealed_ledger_is_marked_and_takes_the_first_keyed_writers_fingerprint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine, "0020_callback_predates")
    codec = PiiCodec(GatewayKeys.generate())
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:  # a case sealed by an earlier Tongban
        conn.execute(text("INSERT INTO cases (case_no, version, content_hash, data, origin_system, origin_source_id, "
                          "source_updated_at, deleted, updated_at) VALUES ('C1', 1, 'h', :data, 'sd_civil', 'C1', "
                          ":now, 0, :now)"),
                     {"data": json.dumps({"case_no": "C1", "applicant": {"id_number": codec.seal("11010519491231002X")}}),
                      "now": now})
    upgrade(engine)
    with engine.connect() as conn:
        mark = sealed_mark(conn)
    assert mark is not None and mark["blind_index"] is None
    with engine.begin() as conn, pytest.raises(Exception, match="no key file"):
        require_ledger_keys(conn, None, what="sync sd_civil")
    with engine.begin() as conn:
        require_ledger_keys(conn, codec, what="sync sd_civil")  # trusted on first use, kept
    with engine.connect() as conn:
        assert sealed_mark(conn)["blind_index"] == fingerprint(codec)

    clear = make_engine(f"sqlite:///{tmp_path / 'clear.db'}")
    upgrade(clear)
    with clear.connect() as conn:
        assert sealed_mark(conn) is None


def test_keys_rotate_with_another_ledgers_key_file_changes_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        require_ledger_keys(conn, PiiCodec(GatewayKeys.generate()), what="sync sd_civil")  # sealed by its own keys
    engine.dispose()
    stranger = GatewayKeys.generate().write(tmp_path / "stranger.json")
    before = stranger.read_bytes()
    result = CliRunner().invoke(app, ["keys", "rotate", "--database-url", url], env={"TONGBAN_KEY_FILE": str(stranger)})
    assert result.exit_code == 1 and "is not this ledger's" in " ".join(result.output.split())
    assert stranger.read_bytes() == before  # not rotated


def test_keys_rotate_seals_what_a_keyless_process_wrote_in_clear(make_world, tmp_path: Path) -> None:
    """Rows a worker without the key file wrote before the ledger refused one: keys rotate said every sealed value
    was under the current key and left them in clear. It seals them now, and says so until none is left."""
    from typer.testing import CliRunner

    from gateway.cli import app

    world = make_world(civil=4, estate=2)
    records = served_records(world)
    keyless = replace(world.runtime, pii=None, _mappers={})
    assert sync_system(keyless, "sd_civil", connector=MemoryPages(records)).counts.inserted == 4  # before any mark
    engine = world.runtime.engine
    assert _clear_ids(engine) == 4
    key_file = GatewayKeys.generate().write(tmp_path / "keys.json")
    from gateway.store.retention import seal_clear

    counted = seal_clear(engine, PiiCodec(GatewayKeys.generate()), dry_run=True, batch=1)  # page by page by key
    assert (counted["cases.data in clear"], counted["source_records.payload in clear"]) == (4, 4)
    url = world.runtime.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["keys", "rotate", "--database-url", url, "--json"],
                                env={"TONGBAN_KEY_FILE": str(key_file)})
    assert result.exit_code == 0, result.output
    said = json.loads(result.output)
    assert said["complete"] is True and said["resealed"]["cases.data in clear"] == 4
    assert said["resealed"]["source_records.payload in clear"] == 4
    assert _clear_ids(engine) == 0
    with engine.connect() as conn:
        assert {bytes(p)[:1] for p in conn.execute(select(source_records.c.payload)).scalars()} == {b"s"}
    codec = PiiCodec(GatewayKeys.from_env({"TONGBAN_KEY_FILE": str(key_file)}))
    keyed = replace(world.runtime, pii=codec, _mappers={})
    assert remap_system(keyed, "sd_civil").counts.rejected == 0  # every payload opens with the ledger's keys


class _Recording:
    """A target connector that keeps every body it is asked to write (and writes it)."""

    def __init__(self, real: Any) -> None:
        self.real, self.bodies = real, []

    def write(self, stream: str, body: Any, **kwargs: Any) -> Any:
        self.bodies.append(body)
        return self.real.write(stream, body, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_push_without_the_ledgers_keys_is_refused_before_it_sends(make_world) -> None:
    """A push worker without the key file opened no ID number: it sent the sealed text 'enc:v1:…' to the hall as the
    applicant's number, and the outbox called it delivered (never sent again). It is refused now; with the keys, the
    hall gets the number."""
    world = make_world(civil=3, estate=2)
    codec = PiiCodec(GatewayKeys.generate())
    sealed = replace(world.runtime, pii=codec, _mappers={})
    assert sync_system(sealed, "sd_civil", connector=MemoryPages(served_records(world))).counts.inserted == 3
    keyless = replace(world.runtime, pii=None, _mappers={})
    hall = _Recording(keyless.connector("sd_hall"))
    with pytest.raises(ConfigError, match=r"cannot push: .* no key file"):
        push(keyless, targets=["sd_hall"], connectors={"sd_hall": hall})
    assert hall.bodies == []
    hall = _Recording(sealed.connector("sd_hall"))
    assert push(sealed, targets=["sd_hall"], connectors={"sd_hall": hall}).ok
    sent = json.dumps(hall.bodies, ensure_ascii=False, default=str)
    assert len(hall.bodies) == 3 and "enc:v1:" not in sent


def test_two_first_writers_claim_the_mark_once(database_url: str) -> None:
    """Parallel first syncs with one key file both found no mark and both inserted it: the second failed on the
    primary key. And on a ledger upgraded past 0021 (a mark without a fingerprint) two writers with different key
    files both passed, the last one's fingerprint kept. The claim is made once; the other writer reads it."""
    from gateway.store.sealing import _claim

    engine = make_engine(database_url)
    upgrade(engine)
    ours, theirs = PiiCodec(GatewayKeys.generate()), PiiCodec(GatewayKeys.generate())
    with engine.begin() as conn:
        assert _claim(conn, None, fingerprint(ours))["blind_index"] == fingerprint(ours)
    with engine.begin() as conn:  # the second writer read no mark before the first wrote it
        assert _claim(conn, None, fingerprint(ours))["blind_index"] == fingerprint(ours)  # no IntegrityError
    with engine.begin() as conn:
        with pytest.raises(ConfigError, match="is not this ledger's"):
            require_ledger_keys(conn, theirs, what="sync sd_civil")

    with engine.begin() as conn:  # a mark the migration kept without a fingerprint, read by two writers
        conn.execute(text("UPDATE ledger_marks SET value = :v"),
                     {"v": json.dumps({"since": "2026-12-01T00:00:00+00:00", "blind_index": None})})
    with engine.connect() as conn:
        seen = sealed_mark(conn)
    with engine.begin() as conn:
        require_ledger_keys(conn, ours, what="sync sd_civil")  # the first claims it
    with engine.begin() as conn:  # the second, with the mark it read before
        assert _claim(conn, seen, fingerprint(theirs))["blind_index"] == fingerprint(ours)
    engine.dispose()


@pytest.mark.parametrize(("table", "column", "sealed"), [
    ("citizen_workorders", "content", "blob"),   # a ledger running only the 12345 side
    ("citizen_evaluations", "comment", "blob"),  # only 好差评
    ("certificates", "document", "field"),       # only the certificate gateway
    ("bundle_materials", "content", "blob"),     # only the 一件事 intake
])
def test_a_ledger_sealed_only_outside_the_cases_is_marked_too(database_url: str, table: str, column: str,
                                                              sealed: str) -> None:
    """Migration 0021 looked at cases and source records only: a ledger whose sealed values were elsewhere stayed
    unmarked (also after 0021) and a worker without the key file was let write clear text beside them (an outside
    review of the migrations)."""
    from sqlalchemy import MetaData

    engine = make_engine(database_url)
    upgrade(engine, "0027_deferral_index")
    codec = PiiCodec(GatewayKeys.generate())
    value = codec.seal_blob("张三 投诉 物业") if sealed == "blob" else json.dumps(
        {"holders": [{"name": "张三", "id_number": codec.seal("11010519491231002X")}]})
    meta = MetaData()
    meta.reflect(engine, only=[table])
    now = datetime.now(UTC).replace(tzinfo=None)
    row: dict[str, Any] = {column: value}
    for c in meta.tables[table].columns:  # every other required column, a plausible value of its type
        if c.name not in row and not c.nullable and c.server_default is None and c.autoincrement is not True:
            python = c.type.python_type
            row[c.name] = now if python is datetime else 1 if python in (int, bool) else \
                (b"x" if python is bytes else "x")
    with engine.begin() as conn:
        conn.execute(meta.tables[table].insert(), [row])
        assert sealed_mark(conn) is None  # what 0021 left
    upgrade(engine)
    with engine.begin() as conn, pytest.raises(ConfigError, match="no key file"):
        require_ledger_keys(conn, None, what="sync the 12345 work orders")
    engine.dispose()
