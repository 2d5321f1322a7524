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
_CONFIG = ConfigDict(extra="forbid", frozen=False)


class RequiredMaterial(BaseModel):
    """A material the item asks for; certificate types listed here may replace it (材料复用)."""

    model_config = _CONFIG

    name: _NonEmpty
    required: bool = True
    replaced_by_certificate_types: list[str] = []


class ServiceItem(BaseModel):
    """实施清单 entry. Rules: ``uscc.*`` on ``dept_code``, ``text.gb18030`` on names."""

    model_config = _CONFIG

    item_code: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    catalog_code: Annotated[str, StringConstraints(min_length=12, max_length=12)] | None = None
    name: _NonEmpty
    item_type: ItemType
    level: ItemLevel
    dept_code: _NonEmpty
    dept_name: _NonEmpty
    legal_limit_days: _Days | None = None
    promised_limit_days: _Days | None = None
    limit_unit: Literal["working_day", "calendar_day"] = "working_day"
    fee: bool = False
    visits: Annotated[int, Field(ge=0)] = 0
    channels: list[Channel] = []
    materials: list[RequiredMaterial] = []
    status: str = "active"
    version: str | None = None

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
