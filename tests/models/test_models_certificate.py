from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from stdnum.iso7064 import mod_37_36

from gateway.models import (
    NOT_YET_VALID,
    Certificate,
    CertificateStatus,
    IdentifierError,
    ServiceItem,
    certificate_identifier,
    issues_from_error,
    parse_certificate_identifier,
    status_on,
)

TYPE_CODE = "11100000000013338W011"
ISSUER = "91110000600037341L"


def test_identifier_round_trip():
    ident = certificate_identifier(TYPE_CODE, ISSUER, "0000123", 1)
    assert ident.startswith(f"1.2.156.3005.2.{TYPE_CODE}.{ISSUER}.0000123.001.")
    assert mod_37_36.is_valid(TYPE_CODE + ISSUER + "0000123" + "001" + ident[-1])
    parsed = parse_certificate_identifier(ident)
    parts = (parsed.type_code, parsed.issuer_code, parsed.serial, parsed.version)
    assert parts == (TYPE_CODE, ISSUER, "0000123", "001")
    assert str(parsed) == ident
    assert parse_certificate_identifier(" " + ident.lower() + " ") == parsed


def test_bad_check_char():
    ident = certificate_identifier(TYPE_CODE, ISSUER, "0000123", "002")
    wrong = "0" if ident[-1] != "0" else "1"
    with pytest.raises(IdentifierError) as info:
        parse_certificate_identifier(ident[:-1] + wrong)
    assert info.value.rule == "certificate_id.checksum"
    # a typo in the serial is caught by the same check character
    with pytest.raises(IdentifierError) as info:
        parse_certificate_identifier(ident.replace(".0000123.", ".0000132."))
    assert info.value.rule == "certificate_id.checksum"


@pytest.mark.parametrize(
    "value",
    [
        "1.2.156.3005.1.X.Y.Z.001.A",
        f"1.2.156.3005.2.{TYPE_CODE}.{ISSUER}.0001.01.A",
        f"1.2.156.3005.2.{TYPE_CODE}.{ISSUER}.0001.001",
        f"1.2.156.3005.2.{TYPE_CODE}.SHORT.0001.001.A",
        f"1.2.156.3005.2.{TYPE_CODE}.{ISSUER}.00_1.001.A",
        f"1.2.156.3005.2.{TYPE_CODE}.{ISSUER}.0001.001.AB",
    ],
)
def test_identifier_format(value):
    with pytest.raises(IdentifierError) as info:
        parse_certificate_identifier(value)
    assert info.value.rule == "certificate_id.format"


def test_builder_rejects_bad_parts():
    with pytest.raises(IdentifierError) as info:
        certificate_identifier(TYPE_CODE, ISSUER, "1", 1000)
    assert info.value.rule == "certificate_id.format"


def certificate(**overrides):
    data = {
        "identifier": certificate_identifier(TYPE_CODE, ISSUER, "0000123", 1),
        "name": "食品经营许可证",
        "type_code": TYPE_CODE,
        "number": "JY13101150000001",
        "issuer_name": "上海市浦东新区市场监督管理局",
        "issuer_code": ISSUER,
        "issued_on": "2024-03-05",
        "holders": [{"name": "上海某某餐饮管理有限公司", "id_type": "001", "id_number": "91110000600037341L"},
                    {"name": "张三丰", "id_type": "111", "id_number": "370181201801011235"}],
        "valid_from": "2024-03-05",
        "valid_until": "2029-03-04",
        "division_code": "310115",
        "status": "valid",
    }
    data.update(overrides)
    return data


def cert_issues(data):
    with pytest.raises(ValidationError) as info:
        Certificate.model_validate(data)
    return {(i.field, i.rule) for i in issues_from_error("c", info.value)}


def test_certificate_valid_with_holder_warning():
    warnings: list = []
    cert = Certificate.model_validate(certificate(), context={"warnings": warnings})
    assert cert.status is CertificateStatus.VALID
    assert [(f, r) for _, f, r, _ in warnings] == [("holders.1.id_number", "resident_id.place_code")]


def test_certificate_rules():
    assert cert_issues(certificate(valid_until="2024-01-01")) == {
        ("valid_until", "certificate.validity_order")}
    assert cert_issues(certificate(issuer_code="91110000600037341M")) == {("issuer_code", "uscc.checksum")}
    assert cert_issues(certificate(holders=[])) == {("holders", "certificate.holder_required")}
    assert cert_issues(certificate(identifier=certificate()["identifier"][:-1] + "#")) == {
        ("identifier", "certificate_id.format")}
    assert cert_issues(certificate(type_code="11100000000013338W012")) == {
        ("type_code", "certificate_id.type_mismatch")}
    assert cert_issues(certificate(issued_on="2024-02-30")) == {("issued_on", "type.date")}
    assert cert_issues(certificate(status="01")) == {("status", "enum")}
    bad = certificate()
    bad["holders"][1]["id_number"] = "310115198506011234"
    assert cert_issues(bad) == {("holders.1.id_number", "resident_id.checksum")}


def test_certificate_open_ended_validity():
    assert Certificate.model_validate(certificate(valid_until=None)).valid_until is None


def service_item(**overrides):
    data = {
        "item_code": "310115-000201-001", "catalog_code": "310100001000", "name": "食品经营许可",
        "item_type": "01", "level": "4", "dept_code": "91110000600037341l", "dept_name": "浦东新区市场监管局",
        "legal_limit_days": 20, "promised_limit_days": 10, "limit_unit": "working_day", "fee": False,
        "visits": 0, "channels": ["1", "2"],
        "materials": [{"name": "营业执照", "required": True, "replaced_by_certificate_types": [TYPE_CODE]}],
        "status": "active", "version": "3",
    }
    data.update(overrides)
    return data


def test_service_item():
    item = ServiceItem.model_validate(service_item())
    assert item.dept_code == "91110000600037341L"
    assert item.item_type.label == "行政许可" and [c.label for c in item.channels] == ["窗口", "网上"]
    assert item.materials[0].replaced_by_certificate_types == [TYPE_CODE]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"dept_code": "123"}, ("dept_code", "uscc.length")),
        ({"item_type": "11"}, ("item_type", "enum")),
        ({"level": "6"}, ("level", "enum")),
        ({"limit_unit": "month"}, ("limit_unit", "enum")),
        ({"legal_limit_days": -1}, ("legal_limit_days", "range.ge")),
        ({"channels": ["4"]}, ("channels.0", "enum")),
    ],
)
def test_service_item_rules(overrides, expected):
    with pytest.raises(ValidationError) as info:
        ServiceItem.model_validate(service_item(**overrides))
    assert expected in {(i.field, i.rule) for i in issues_from_error("s", info.value)}


def test_the_status_on_a_day_is_derived_from_the_validity() -> None:
    day = date(2026, 12, 4)
    assert status_on("valid", "2027-01-01", None, day) == NOT_YET_VALID == "not_yet_valid"
    assert status_on("valid", "2026-12-04", "2026-12-04", day) == "valid"  # both ends are days of validity
    assert status_on("valid", date(2020, 1, 1), date(2026, 12, 3), day) == "expired"
    assert status_on("valid", None, None, day) == "valid"
    assert status_on("suspended", "2027-01-01", None, day) == "suspended"  # the issuer's word stands
