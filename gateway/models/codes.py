"""Canonical code lists: the one vocabulary every mapping translates into.

Each source system spells the same meaning its own way (the legacy 电子监察 result ``0`` is 出证办结, a
Shandong system's ``6`` is 办结); the mappings turn those spellings into the *values* below, and nothing
downstream ever sees a system's own code. Members are ``str`` enums so that a value compares equal to its
string and serialises as itself; ``.label`` gives the Chinese name for people (reports, the API, the CLI).

    >>> CaseResult("issued").label
    '出证办结'
    >>> CaseType.PROMISED == "promised"
    True

Where a code list is national (item type, level, GB/T 36903 ID types) the values are the national codes;
where no single national list exists (case status, certificate status) the values are Tongban's own words.
"""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A ``str`` enum whose members carry a Chinese label: ``Member = ("value", "标签")``."""

    _label: str

    def __new__(cls, value: str, label: str = "") -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self) -> str:
        """The Chinese name shown to people."""
        return self._label

    @classmethod
    def labels(cls) -> dict[str, str]:
        """``{value: label}`` for every member, in declaration order (for code-table documentation)."""
        return {m.value: m._label for m in cls}

    @classmethod
    def from_label(cls, label: str) -> LabelledEnum:
        """The member whose Chinese label is ``label`` (for mappings whose source holds only the label).

        Validation itself accepts values only, so a mapping that forgot to translate fails loudly.
        """
        for member in cls:
            if member._label == label:
                return member
        raise ValueError(f"{label!r} is not a label of {cls.__name__}")


class CaseType(LabelledEnum):
    """办理类型: an instant case is decided at the window; a promised case carries a deadline."""

    INSTANT = ("instant", "即办件")
    PROMISED = ("promised", "承诺件")


class CaseStatus(LabelledEnum):
    """Where a case stands now. ``voided``/``deleted`` cases are tombstones that still propagate."""

    SUBMITTED = ("submitted", "已申报")
    ACCEPTED = ("accepted", "已受理")
    IN_PROGRESS = ("in_progress", "办理中")
    SUSPENDED = ("suspended", "特别程序中")
    FINISHED = ("finished", "已办结")
    RETURNED = ("returned", "退件/退回")
    VOIDED = ("voided", "作废")
    DELETED = ("deleted", "删除")


class CaseResult(LabelledEnum):
    """办结结果: the union of the legacy 电子监察 list and the provincial variants seen in the field."""

    ISSUED = ("issued", "出证办结")
    NOT_PERMITTED = ("not_permitted", "不予许可")
    VOIDED = ("voided", "作废")
    DELETED = ("deleted", "删除")
    FORWARDED = ("forwarded", "转报")
    RETURNED = ("returned", "退件/退回")
    NOT_ACCEPTED = ("not_accepted", "不予受理")
    CORRECTION_TIMEOUT = ("correction_timeout", "补正超时驳回")
    FINISHED = ("finished", "办结(无证照)")
    WITHDRAWN = ("withdrawn", "撤回")


class ApplicantType(LabelledEnum):
    """申请人类型 / 持证主体类型 (the list one national project uses; values are its codes)."""

    NATURAL_PERSON = ("1", "自然人")
    ENTERPRISE = ("2", "企业法人")
    PUBLIC_INSTITUTION = ("3", "事业法人")
    SOCIAL_ORGANISATION = ("4", "社会组织法人")
    UNINCORPORATED_ENTERPRISE = ("5", "非法人企业")
    GOVERNMENT_AGENCY = ("6", "行政机关")
    OTHER_ORGANISATION = ("7", "其他组织")


class IdType(LabelledEnum):
    """证件类型 after GB/T 36903 appendix A / GA/T 2000.156-2016 (公安信息代码 第156部分：常用证件代码).

    ``111``, ``001`` and the residence permits are checked character by character; other numbers only for
    being non-empty. Labels follow GA/T 2000.156-2016 as published copies give it (e.g. the PHP package
    ``tourze/ga-t-2000``, ``src/DocumentType.php``); 120 and 122 are kept from DOMAIN.md and were not found in
    those copies. 553 carries its 2017 name (外国人永久居留身份证; GA/T 2000.156-2016 says 外国人永久居留证).

    The 港澳台居民居住证 have **no code** in GA/T 2000.156-2016: the permits were introduced in 2018 by
    《港澳台居民居住证申领发放办法》(国办发〔2018〕81号), and no later national code was found (searched
    public code tables and standards copies; systems use private codes such as 1000, 12/13, 28). Until one
    is published their values here are Tongban's own words; mappings translate each system's code to them.
    Their numbers are 公民身份号码 (GB 11643, same checksum) with the address code 810000 (Hong Kong),
    820000 (Macao) or 830000 (Taiwan) — 办法 第三条.
    """

    RESIDENT_ID = ("111", "居民身份证")
    HOUSEHOLD_REGISTER = ("113", "户口簿")
    PLA_OFFICER = ("114", "中国人民解放军军官证")
    ARMED_POLICE_OFFICER = ("115", "中国人民武装警察部队警官证")
    PLA_SOLDIER = ("118", "中国人民解放军士兵证")
    ARMED_POLICE_SOLDIER = ("119", "中国人民武装警察部队士兵证")
    PLA_CIVILIAN = ("120", "中国人民解放军文职人员证")
    ARMED_POLICE_CIVILIAN = ("122", "中国人民武装警察部队文职人员证")
    DIPLOMATIC_PASSPORT = ("411", "外交护照")
    SERVICE_PASSPORT = ("412", "公务护照")
    PUBLIC_AFFAIRS_PASSPORT = ("413", "公务普通护照")
    ORDINARY_PASSPORT = ("414", "普通护照")
    TAIWAN_PERMIT = ("511", "台湾居民来往大陆通行证")
    HK_MACAO_PERMIT = ("516", "港澳居民来往内地通行证")
    FOREIGNER_PERMANENT_RESIDENCE = ("553", "外国人永久居留身份证")
    HK_MACAO_RESIDENCE_PERMIT = ("hk_macao_residence_permit", "港澳居民居住证")
    TAIWAN_RESIDENCE_PERMIT = ("taiwan_residence_permit", "台湾居民居住证")
    OTHER_PERSONAL = ("999", "其他自然人证件")
    USCC = ("001", "统一社会信用代码")
    OTHER_LEGAL_ENTITY = ("099", "其他法人证件")


class StepAction(LabelledEnum):
    """What a process step (环节) does; mappings fold each system's step codes into these."""

    ACCEPT = ("accept", "受理")
    UNDERTAKE = ("undertake", "承办")
    REVIEW = ("review", "审核")
    APPROVE = ("approve", "批准")
    ISSUE = ("issue", "办结/出证")
    OTHER = ("other", "其他")


class SpecialProcedureType(LabelledEnum):
    """特别程序: the clock stops while one runs, so deadline checks must know them."""

    CORRECTION = ("correction", "补正")
    HEARING = ("hearing", "听证")
    EXPERT_REVIEW = ("expert_review", "专家评审")
    INSPECTION = ("inspection", "现场勘查")
    PUBLIC_NOTICE = ("public_notice", "公示")
    OTHER = ("other", "其他")


class MaterialSource(LabelledEnum):
    """How a material was received; ``certificate_reuse`` is the once-only path (no re-submission)."""

    PAPER = ("paper", "纸质")
    ELECTRONIC = ("electronic", "电子")
    CERTIFICATE_REUSE = ("certificate_reuse", "证照复用")


class ItemType(LabelledEnum):
    """事项类型 (national codes)."""

    LICENSING = ("01", "行政许可")
    PENALTY = ("02", "行政处罚")
    COERCION = ("03", "行政强制")
    LEVY = ("04", "行政征收")
    BENEFIT = ("05", "行政给付")
    INSPECTION = ("06", "行政检查")
    CONFIRMATION = ("07", "行政确认")
    REWARD = ("08", "行政奖励")
    ADJUDICATION = ("09", "行政裁决")
    OTHER_POWER = ("10", "其他行政权力")
    PUBLIC_SERVICE = ("20", "公共服务")


class ItemLevel(LabelledEnum):
    """行使层级 (national codes)."""

    NATIONAL = ("1", "国家")
    PROVINCE = ("2", "省")
    CITY = ("3", "市")
    COUNTY = ("4", "县")
    TOWN = ("5", "镇(乡、街道)")


class Channel(LabelledEnum):
    """办理渠道 (national codes)."""

    WINDOW = ("1", "窗口")
    ONLINE = ("2", "网上")
    POST = ("3", "快递")


class CaseChannel(LabelledEnum):
    """How the application reached the office (申办渠道) on a case. Tongban's own words, not the national
    :class:`Channel` codes (1 窗口 2 网上 3 快递), because the national list has no 移动端 or 自助终端 and the
    KPIs (网办率 counts ``online`` and ``mobile``) need them apart. Mappings translate a source's national code
    1/2/3 to ``window``/``online``/``post``."""

    WINDOW = ("window", "窗口")
    ONLINE = ("online", "网上")
    MOBILE = ("mobile", "移动端")
    KIOSK = ("kiosk", "自助终端")
    POST = ("post", "快递")


class AgentRole(LabelledEnum):
    """帮办代办: who files the application for the applicant. A proxy (代办) acts on the applicant's written
    authorisation; an assistant (帮办, usually hall staff or a volunteer) helps the applicant, who still signs."""

    PROXY = ("proxy", "代办")
    ASSISTANT = ("assistant", "帮办")


class DeferredKind(LabelledEnum):
    """Why a material may come after acceptance: 容缺受理 (a secondary material missing, accepted anyway) or
    告知承诺 (the applicant promised in writing to supply or meet it)."""

    TOLERATED = ("tolerated", "容缺")
    PLEDGED = ("pledged", "承诺")


class CertificateStatus(LabelledEnum):
    """证照状态. No national list exists; this follows the housing ministry's, the widest one seen. What the gateway
    answers is the status *today*: a ``valid`` certificate before its 有效期起 is served as ``not_yet_valid``
    (未生效), after its 有效期止 as ``expired``, both derived from the clock on every read
    (:func:`gateway.models.certificate.status_on`); ``not_yet_valid`` is never stored, nor stated by an issuer."""

    VALID = ("valid", "有效")
    SUSPENDED = ("suspended", "暂扣")
    REVOKED = ("revoked", "撤销")
    CANCELLED = ("cancelled", "注销")
    EXPIRED = ("expired", "失效")
    TRANSFERRED = ("transferred", "转出")
    WITHDRAWN = ("withdrawn", "吊销")
    OTHER = ("other", "其他")


__all__ = [
    "ApplicantType",
    "AgentRole",
    "CaseChannel",
    "CaseResult",
    "CaseStatus",
    "CaseType",
    "CertificateStatus",
    "Channel",
    "DeferredKind",
    "IdType",
    "ItemLevel",
    "ItemType",
    "LabelledEnum",
    "MaterialSource",
    "SpecialProcedureType",
    "StepAction",
]
