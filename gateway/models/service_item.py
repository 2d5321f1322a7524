"""The service item (事项 / 实施清单 entry): what a case is an instance of.

Items matter to sync for two reasons: the department that implements an item (实施主体, ``dept_code``) is
the one system that should receive its cases, and ``materials[].replaced_by_certificate_types`` is the
once-only rule (which certificate types make a material unnecessary).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .codes import Channel, ItemLevel, ItemType
from .identifiers import IdentifierError, validate_uscc
from .issues import Issue, raise_issues
from .text import gb18030_problem

_NonEmpty = Annotated[str, StringConstraints(min_length=1)]
_Days = Annotated[int, Field(ge=0)]
_CONFIG = ConfigDict(extra="forbid", frozen=False, use_attribute_docstrings=True)


class RequiredMaterial(BaseModel):
    """A material the item asks for; certificate types listed here may replace it (材料复用)."""

    model_config = _CONFIG

    name: _NonEmpty
    """The material's name."""
    required: bool = True
    """Whether the applicant must provide it."""
    replaced_by_certificate_types: list[str] = []
    """证照类型代码 of the certificates that make the material unnecessary (once-only, 材料复用)."""


class ServiceItem(BaseModel):
    """实施清单 entry. Rules: ``uscc.*`` on ``dept_code``, ``text.gb18030`` on names."""

    model_config = _CONFIG

    item_code: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    """实施编码: the item in this implementation list (what cases name in ``item_code``)."""
    catalog_code: Annotated[str, StringConstraints(min_length=12, max_length=12)] | None = None
    """基本编码 in the national catalogue."""
    name: _NonEmpty
    """事项名称."""
    item_type: ItemType
    """事项类型 (code list ItemType)."""
    level: ItemLevel
    """行使层级 (code list ItemLevel)."""
    dept_code: _NonEmpty
    """实施主体 code (USCC), checked: the department whose system receives the item's cases."""
    dept_name: _NonEmpty
    """实施主体."""
    legal_limit_days: _Days | None = None
    """法定时限."""
    promised_limit_days: _Days | None = None
    """承诺时限."""
    limit_unit: Literal["working_day", "calendar_day"] = "working_day"
    """Unit of both limits."""
    fee: bool = False
    """是否收费."""
    visits: Annotated[int, Field(ge=0)] = 0
    """到现场次数: how many times the applicant must come in person."""
    channels: list[Channel] = []
    """办理渠道 (code list Channel)."""
    materials: list[RequiredMaterial] = []
    """The materials the item asks for."""
    status: str = "active"
    """Whether the item is in use."""
    version: str | None = None
    """Version of the implementation list entry."""

    @model_validator(mode="after")
    def _check_rules(self) -> ServiceItem:
        errors: list[Issue] = []
        try:
            self.__dict__["dept_code"] = validate_uscc(self.dept_code)[0]
        except IdentifierError as exc:
            errors.append(("dept_code", exc.rule, exc.message))
        for path in ("name", "dept_name"):
            problem = gb18030_problem(self.__dict__[path])
            if problem:
                errors.append((path, "text.gb18030", problem))
        if errors:
            raise_issues(errors)
        return self


__all__ = ["RequiredMaterial", "ServiceItem"]
