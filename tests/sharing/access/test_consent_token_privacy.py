"""Consent tokens are read by their holders (the hall, each department of a 一件事 part): they must not carry the
gateway-wide blind index of the person they are about."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from gateway.crypto.jws import b64url, unb64url
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.sharing.access import ConsentClaims, ConsentError, ConsentTokens

ID = "370102198506011232"


def _claims(token: str) -> dict[str, object]:
    return json.loads(unb64url(token.split(".")[1]))


def test_a_token_reveals_no_blind_index_and_two_tokens_share_nothing() -> None:
    """Review r5: claim ``h`` was the holder's blind index, equal in every client's token and in the audit log."""
    keys = GatewayKeys.generate()
    pii, tokens = PiiCodec(keys), ConsentTokens(keys.mac_key)
    bidx = pii.bidx(ID)
    exp = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    seal = ConsentClaims("c1", bidx, "jn_seal_client", ("T1",), "I1", "YJS-02", exp)
    tax = ConsentClaims("c2", bidx, "jn_tax_client", ("T1",), "I2", "YJS-03", exp)
    t_seal, t_tax, t_seal_again = tokens.issue(seal), tokens.issue(tax), tokens.issue(seal)
    for token in (t_seal, t_tax):
        assert bidx not in token and bidx not in json.dumps(_claims(token))
        assert "h" not in _claims(token)
    holder_claims = {str(_claims(t)["hx"]) for t in (t_seal, t_tax, t_seal_again)}
    assert len(holder_claims) == 3  # not linkable: not across clients, not even across one client's tokens
    # the gateway still binds the token to the holder
    assert tokens.check(t_seal) == seal and tokens.check(t_tax) == tax
    assert tokens.check(t_seal).covers(holder=bidx, client_id="jn_seal_client", type_code="T1", item_code="I1",
                                       case_no="YJS-02")
    assert not tokens.check(t_seal).covers(holder=pii.bidx("370102198506011259"), client_id="jn_seal_client",
                                           type_code="T1", item_code="I1", case_no="YJS-02")


def test_the_holder_claim_cannot_be_moved_to_another_token() -> None:
    tokens = ConsentTokens(b"k" * 32)
    exp = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    one = tokens.issue(ConsentClaims("c1", "holder-a", "client", ("T1",), "I1", "N1", exp))
    two = tokens.issue(ConsentClaims("c2", "holder-b", "client", ("T1",), "I1", "N1", exp))
    # even with the MAC key's help (an insider re-MACing a spliced body), the sealed holder is bound to its consent
    spliced = b64url(orjson.dumps({**_claims(two), "hx": _claims(one)["hx"]}))
    mac = b64url(hmac.digest(b"k" * 32, f"tbc2.{spliced}".encode(), "sha256"))
    with pytest.raises(ConsentError, match="malformed"):
        tokens.check(f"tbc2.{spliced}.{mac}")


def test_a_token_issued_before_the_change_is_honoured_until_it_expires() -> None:
    key = b"k" * 32
    exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    body = b64url(orjson.dumps({"id": "old", "h": "holder", "c": "client", "t": ["T1"], "i": "I", "n": "N",
                                "exp": exp}))
    legacy = f"tbc1.{body}.{b64url(hmac.digest(key, f'tbc1.{body}'.encode(), 'sha256'))}"
    claims = ConsentTokens(key).check(legacy)
    assert claims == ConsentClaims("old", "holder", "client", ("T1",), "I", "N", exp)
    with pytest.raises(ConsentError, match="authenticate"):  # a v1 body under the v2 prefix does not pass
        ConsentTokens(key).check(f"tbc2.{body}.{b64url(hmac.digest(key, f'tbc1.{body}'.encode(), 'sha256'))}")
