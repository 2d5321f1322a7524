"""What a client sees of a certificate: the rendered metadata (ready JSON, remembered per certificate state)
is exactly the dict form, masks holder ID numbers without the scope, and follows every change of state."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import orjson

from gateway.sharing.certificates.library import StoredCertificate
from gateway.crypto import GatewayKeys, PiiCodec

NUMBER = "91370100MA3C7B8X2M"


def _certificate(pii: PiiCodec, **changes: object) -> StoredCertificate:
    document = orjson.dumps({"identifier": "CERT-1", "type_code": "T1", "holders": [
        {"name": "济南大明科技有限公司", "id_number": pii.seal(NUMBER)}]}).decode()
    base = StoredCertificate("CERT-1", None, "T1", "营业执照", "N-1", "ISSUER", "valid", "2099-12-31", "h" * 64,
                             document, None, "sd_licences", datetime(2026, 11, 20, 8, tzinfo=timezone.utc))
    return replace(base, **changes)  # type: ignore[arg-type]


def _json(cert: StoredCertificate, pii: PiiCodec, full_ids: bool) -> dict[str, object]:
    return orjson.loads(orjson.dumps({"c": cert.metadata_json(pii, full_ids=full_ids)}))["c"]


def test_rendered_json_is_the_metadata_and_masks_without_the_scope() -> None:
    pii = PiiCodec(GatewayKeys.generate())
    cert = _certificate(pii)
    for full_ids in (False, True):
        assert _json(cert, pii, full_ids) == cert.metadata(pii, full_ids=full_ids)
    assert _json(cert, pii, False)["holders"][0]["id_number"] == "913***********8X2M"  # type: ignore[index]
    assert _json(cert, pii, True)["holders"][0]["id_number"] == NUMBER  # type: ignore[index]
    assert _json(cert, pii, False) == _json(cert, pii, False)  # remembered: the same answer again


def test_every_change_of_state_shows() -> None:
    pii = PiiCodec(GatewayKeys.generate())
    cert = _certificate(pii)
    assert _json(cert, pii, False)["status"] == "valid"
    assert _json(replace(cert, status="revoked"), pii, False)["status"] == "revoked"
    assert _json(replace(cert, renewed_as="CERT-2"), pii, False)["renewed_as"] == "CERT-2"
    assert _json(replace(cert, valid_until=date(2020, 1, 1).isoformat()), pii, False)["status"] == "expired"
    later = datetime(2026, 11, 21, 9, tzinfo=timezone.utc)
    assert _json(replace(cert, updated_at=later), pii, False)["updated_at"] == later.isoformat()
    assert _json(replace(cert, valid_from="2999-01-01"), pii, False)["status"] == "not_yet_valid"
    assert _json(replace(cert, valid_from="2999-01-01", status="revoked"), pii, False)["status"] == "revoked"
    assert _json(cert, pii, False)["quality"] == []
    [flag] = _json(replace(cert, refused_reason="bad signature", refused_at=later), pii, False)["quality"]
    assert flag["rule"] == "certificate.newer_version_refused" and "bad signature" in flag["message"]
    assert _json(cert, pii, False)["quality"] == []  # the remembered rendering follows the mark both ways
