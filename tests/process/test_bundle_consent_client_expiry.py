"""A 一件事 bundle grants the applicant's consent to each part's department client on the merged form: a client
past its expiry is no more entitled than a revoked one (``POST /v1/consents`` refuses both); the bundle granted
consent to an expired client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.process.bundle_cases import grant_consent
from gateway.sharing.access.tokens import ConsentTokens
from gateway.store import access as access_store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade


def test_no_consent_for_an_expired_or_revoked_client_and_one_for_an_active_client(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    now = datetime.now(UTC)
    pii = PiiCodec(GatewayKeys.generate())
    tokens = ConsentTokens(b"k" * 32)
    clients = {"jn_tax": {"expires_at": now - timedelta(days=1)}, "jn_seal": {"revoked_at": now - timedelta(hours=1)},
               "jn_social": {"expires_at": now + timedelta(days=30)}}
    with engine.begin() as conn:
        for n, (name, when) in enumerate(clients.items()):
            access_store.insert_client(conn, client_id=f"c{n}", name=name, department_code=None, scopes="[]",
                                       secret_salt="s", secret_hash="h", rate_limit=None,
                                       created_at=now - timedelta(days=60), **when)

        def grant(client: str) -> tuple[str, str] | None:
            return grant_consent(conn, tokens=tokens, pii=pii, holder_id="370102199001011237", client_name=client,
                                 type_code="11100000MB0143028R001", item_code="ITEM-1", case_no="CASE-1",
                                 ttl=timedelta(days=7), now=now)

        assert grant("jn_tax") is None  # expired
        assert grant("jn_seal") is None  # revoked
        assert grant("jn_social") is not None
