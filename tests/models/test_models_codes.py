from __future__ import annotations

import pytest

from gateway.models import (
    ApplicantType,
    CaseResult,
    CaseStatus,
    CaseType,
    CertificateStatus,
    Channel,
    IdType,
    ItemLevel,
    ItemType,
    MaterialSource,
    SpecialProcedureType,
    StepAction,
)

ALL = [
    ApplicantType, CaseResult, CaseStatus, CaseType, CertificateStatus, Channel, IdType, ItemLevel, ItemType,
    MaterialSource, SpecialProcedureType, StepAction,
]


@pytest.mark.parametrize("enum", ALL)
def test_every_member_has_a_chinese_label_and_is_a_str(enum):
    for member in enum:
        assert isinstance(member, str) and member == member.value
        assert member.label and any("\u4e00" <= ch <= "\u9fff" for ch in member.label), member
    assert len({m.value for m in enum}) == len(enum)


@pytest.mark.parametrize(
    ("member", "value", "label"),
    [
        (CaseType.INSTANT, "instant", "即办件"),
        (CaseType.PROMISED, "promised", "承诺件"),
        (CaseStatus.SUSPENDED, "suspended", "特别程序中"),
        (CaseResult.ISSUED, "issued", "出证办结"),
        (CaseResult.CORRECTION_TIMEOUT, "correction_timeout", "补正超时驳回"),
        (ApplicantType.NATURAL_PERSON, "1", "自然人"),
        (ApplicantType.OTHER_ORGANISATION, "7", "其他组织"),
        (IdType.RESIDENT_ID, "111", "居民身份证"),
        (IdType.ORDINARY_PASSPORT, "414", "普通护照"),
        (IdType.USCC, "001", "统一社会信用代码"),
        (IdType.PUBLIC_AFFAIRS_PASSPORT, "413", "公务普通护照"),
        (IdType.FOREIGNER_PERMANENT_RESIDENCE, "553", "外国人永久居留身份证"),
        (IdType.HK_MACAO_RESIDENCE_PERMIT, "hk_macao_residence_permit", "港澳居民居住证"),
        (IdType.TAIWAN_RESIDENCE_PERMIT, "taiwan_residence_permit", "台湾居民居住证"),
        (StepAction.APPROVE, "approve", "批准"),
        (SpecialProcedureType.HEARING, "hearing", "听证"),
        (MaterialSource.CERTIFICATE_REUSE, "certificate_reuse", "证照复用"),
        (ItemType.LICENSING, "01", "行政许可"),
        (ItemType.PUBLIC_SERVICE, "20", "公共服务"),
        (ItemLevel.TOWN, "5", "镇(乡、街道)"),
        (Channel.ONLINE, "2", "网上"),
        (CertificateStatus.WITHDRAWN, "withdrawn", "吊销"),
    ],
)
def test_values_and_labels(member, value, label):
    assert member.value == value
    assert member.label == label
    assert type(member)(value) is member


def test_code_list_sizes_match_the_domain():
    assert [m.value for m in IdType] == ["111", "113", "114", "115", "118", "119", "120", "122", "411", "412",
                                        "413", "414", "511", "516", "553", "hk_macao_residence_permit",
                                        "taiwan_residence_permit", "999", "001", "099"]
    assert [m.value for m in ItemType] == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20"]
    assert len(CaseResult) == 10 and len(CaseStatus) == 8 and len(CertificateStatus) == 8


def test_from_label_and_labels():
    assert CaseResult.from_label("不予受理") is CaseResult.NOT_ACCEPTED
    assert CaseType.labels() == {"instant": "即办件", "promised": "承诺件"}
    with pytest.raises(ValueError):
        CaseType.from_label("急件")


def test_validation_accepts_values_only():
    with pytest.raises(ValueError):
        CaseType("即办件")
