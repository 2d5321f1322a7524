"""Key rotation (``tongban keys rotate``): every sealed value moves to the new key, and what is left is counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.store import retention
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.retention import reseal_all, stale_seals
from gateway.store.tables import bundle_applications, bundle_materials, cases, certificates

ID = "370102198506011232"
FILE = b"\x00OFD " + ID.encode() + bytes(range(256))  # a binary file with a holder's number inside
REPO = Path(__file__).resolve().parents[2]


def _keys(kid: str) -> GatewayKeys:
    base = GatewayKeys.generate()
    return GatewayKeys({kid: base.pii_keys[base.pii_current]}, kid, base.blind_index_key, base.mac_key,
                       base.signing_key)


def _seed(url: str, codec: PiiCodec) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(bundle_applications.insert().values(
            bundle_no="YJS1", bundle_code="kbqy", applicant_name="x", consent=False, status="submitted",
            form=json.dumps({"form": {"legal_rep_id": codec.seal(ID)}}), submitted_at=now, updated_at=now))
        conn.execute(bundle_materials.insert().values(
            bundle_no="YJS1", code="m1", name="m", sha256="0" * 64, size=3, media_type="application/pdf",
            content=codec.seal_blob("QUJD"), received_at=now))
        conn.execute(cases.insert().values(
            case_no="C1", version=1, content_hash="x" * 32, origin_system="s", origin_source_id="C1",
            data=json.dumps({"applicant": {"id_number": codec.seal(ID)}}), source_updated_at=now, deleted=False,
            updated_at=now))
        conn.execute(certificates.insert().values(
            identifier="C-1", source_system="s", source_id="1", type_code="t", name="n", number="1",
            issuer_code="i", status="valid", content_hash="0" * 64, document="{}", file=codec.seal_file(FILE),
            version=1, created_at=now, updated_at=now))
    engine.dispose()


def test_rotation_reseals_bundles_and_any_kid_and_counts_nothing_left(sqlite_url: str) -> None:
    """Review r2: bundle forms and materials were never resealed, and a kid such as ``key-2025`` (not
    [A-Za-z0-9]+) was skipped in every document: dropping the old key then lost that data."""
    old = _keys("key-2025")
    _seed(sqlite_url, PiiCodec(old))
    new_keys = old.rotated()
    new = PiiCodec(new_keys)
    engine = make_engine(sqlite_url)
    assert stale_seals(engine, new) == {**{k: 0 for k in stale_seals(engine, new)}, "cases.data": 1,
                                        "bundle_applications.form": 1, "bundle_materials.content": 1,
                                        "certificates.file": 1}
    counts = reseal_all(engine, new)
    assert counts["bundle_applications.form"] == counts["bundle_materials.content"] == counts["cases.data"] == 1
    assert counts["certificates.file"] == 1
    assert not any(stale_seals(engine, new).values())
    # the old key can go now: everything opens under the new one alone
    only_new = PiiCodec(GatewayKeys({new_keys.pii_current: new_keys.pii_keys[new_keys.pii_current]},
                                    new_keys.pii_current, new_keys.blind_index_key, new_keys.mac_key,
                                    new_keys.signing_key))
    with engine.connect() as conn:
        form = json.loads(conn.execute(select(bundle_applications.c.form)).scalar_one())
        content = conn.execute(select(bundle_materials.c.content)).scalar_one()
        data = json.loads(conn.execute(select(cases.c.data)).scalar_one())
        file = conn.execute(select(certificates.c.file)).scalar_one()
    assert only_new.open(form["form"]["legal_rep_id"]) == ID
    assert only_new.open_file(file) == FILE
    assert only_new.open_blob(content) == "QUJD"
    assert only_new.open(data["applicant"]["id_number"]) == ID
    assert reseal_all(engine, new)["bundle_applications.form"] == 0  # a second run changes nothing
    engine.dispose()


def test_what_cannot_be_resealed_is_counted_not_lost(sqlite_url: str) -> None:
    lost = _keys("lost-1")  # a key no longer in the key file
    _seed(sqlite_url, PiiCodec(lost))
    current = PiiCodec(_keys("k-now"))
    engine = make_engine(sqlite_url)
    counts = reseal_all(engine, current)  # no crash: the values it cannot open stay as they are
    assert counts["bundle_materials.content"] == 0
    left = stale_seals(engine, current)
    assert left["bundle_applications.form"] == left["bundle_materials.content"] == left["cases.data"] == 1
    assert left["certificates.file"] == 1
    engine.dispose()


def test_keys_rotate_exits_1_while_anything_is_left_under_an_old_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    key_file = tmp_path / "keys.json"
    _keys("key-2025").write(key_file)
    _seed(url, PiiCodec(GatewayKeys.from_json(json.loads(key_file.read_text()))))
    _seed_stranger = PiiCodec(_keys("gone"))  # one more material sealed under a key the file never had
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(bundle_materials.insert().values(
            bundle_no="YJS1", code="m2", name="m", sha256="0" * 64, size=3, media_type="application/pdf",
            content=_seed_stranger.seal_blob("QUJD"), received_at=datetime.now(UTC)))
    engine.dispose()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")},
           "TONGBAN_KEY_FILE": str(key_file), "TONGBAN_DATABASE_URL": url}

    def rotate(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "keys", "rotate", "--json", "--database-url", url,
                               *extra], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                              check=False)

    first = rotate()
    assert first.returncode == 1, first.stdout + first.stderr
    report = json.loads(first.stdout)
    assert report["complete"] is False
    assert report["still_sealed_under_old_keys"] == {"bundle_materials.content": 1}
    assert report["resealed"]["bundle_applications.form"] == 1 and report["resealed"]["cases.data"] == 1
    assert "not complete" in first.stderr
    engine = make_engine(url)
    with engine.begin() as conn:  # the operator deals with it (here: drops the row nobody can read)
        conn.execute(bundle_materials.delete().where(bundle_materials.c.code == "m2"))
    engine.dispose()
    again = rotate("--reseal-only")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["complete"] is True
    assert json.loads(again.stdout)["current"] == report["current"]  # --reseal-only adds no key


def test_a_row_written_while_the_rotation_walks_is_not_overwritten(database_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: the rotation read a page, then wrote each value re-sealed back by key alone. A harvest committing
    a new version of a certificate in between (PostgreSQL does not lock the rows read) lost its file: the row kept
    the new version and hash and served the old file. The write now holds only while the row is as read."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): no other write can come between")
    old = _keys("key-2025")
    _seed(database_url, PiiCodec(old))
    new = PiiCodec(old.rotated())
    engine, harvest = make_engine(database_url), make_engine(database_url)
    newer = b"\x00OFD version 2 " + ID.encode()
    real = retention._resealed

    def racing(codec: PiiCodec, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("encf:"):  # a harvest commits version 2 meanwhile
            with harvest.begin() as conn:
                conn.execute(certificates.update().values(file=PiiCodec(old).seal_file(newer), version=2))
        return real(codec, value)

    monkeypatch.setattr(retention, "_resealed", racing)
    assert reseal_all(engine, new)["certificates.file"] == 0  # the row changed since it was read: left to it
    with engine.connect() as conn:
        file, version = conn.execute(select(certificates.c.file, certificates.c.version)).one()
    assert (PiiCodec(old).open_file(file), version) == (newer, 2)
    assert stale_seals(engine, new)["certificates.file"] == 1  # still under the old key: counted, not lost
    monkeypatch.setattr(retention, "_resealed", real)
    assert reseal_all(engine, new)["certificates.file"] == 1 and stale_seals(engine, new)["certificates.file"] == 0
    engine.dispose()
    harvest.dispose()


def test_keys_given_in_the_environment_reseal_with_reseal_only(tmp_path: Path) -> None:
    """Review: `--reseal-only` (what the upgrade note says seals the files an older Tongban kept in clear) refused
    keys given as TONGBAN_PII_KEYS…, though it writes nothing to a key file; only a rotation needs one."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    old = _keys("key-2025")
    _seed(url, PiiCodec(old))
    keys = old.rotated().as_json()
    current = keys["pii_current"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")},
           "TONGBAN_PII_KEYS": ",".join(f"{kid}:{keys['pii_keys'][kid]}" for kid in
                                        [current, *(k for k in keys["pii_keys"] if k != current)]),
           "TONGBAN_BLIND_INDEX_KEY": keys["blind_index_key"], "TONGBAN_MAC_KEY": keys["mac_key"],
           "TONGBAN_SIGNING_KEY": keys["signing_key"], "TONGBAN_DATABASE_URL": url}

    def rotate(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "keys", "rotate", "--json", *extra], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300, check=False)

    refused = rotate()
    assert refused.returncode == 1 and "--reseal-only" in refused.stderr, refused.stdout + refused.stderr
    done = rotate("--reseal-only")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["complete"] is True and report["current"] == current
    assert report["resealed"]["certificates.file"] == report["resealed"]["cases.data"] == 1
