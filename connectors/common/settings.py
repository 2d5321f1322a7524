"""Stream settings shared by the declarative connector kinds: paging, incremental windows, field checks.

A REST query parameter and a SOAP operation parameter are the same idea (``pageNo=3``), so both kinds describe
paging and change-time windows with these models and drive them with :mod:`connectors.common.paginators` and
:mod:`connectors.common.reader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.contract.errors import InvalidSettings
from gateway.models.datetimes import parse_duration

from .cursors import CursorCodec
from .timeformats import CURSOR_NAMES, check_time_format

M = TypeVar("M", bound=BaseModel)
CursorFormat = str
"""``epoch_ms`` | ``epoch_s`` | ``iso8601`` | a ``strftime`` pattern such as ``%Y-%m-%d %H:%M:%S``."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoPagination(_Model):
    """The whole result comes in one response."""

    type: Literal["none"]


class PageNumberPagination(_Model):
    type: Literal["page_number"]
    page_param: str = "page"
    size_param: str | None = "size"
    size: int = Field(100, ge=1)
    start: int = 1
    total_path: str | None = None
    """Where the answer says how many records the query has (``data.total``): a read ending short of it (a server
    capping the page size below ``size`` makes its first page look like the last) is stopped, not cut short."""


class OffsetPagination(_Model):
    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str | None = "limit"
    size: int = Field(100, ge=1)
    start: int = 0
    total_path: str | None = None
    """As for ``page_number``."""


class CursorPagination(_Model):
    """Keyset paging with an opaque token from the body; stops when the token is null, empty or missing, or when an
    empty page carries the token already sent."""

    type: Literal["cursor"]
    cursor_param: str = "cursor"
    next_cursor_path: str = "next_cursor"
    size_param: str | None = None
    size: int | None = Field(None, ge=1)
    max_empty_pages: int = Field(10, ge=1)
    """Empty pages in a row, each with a new token or link, before the read is stopped as endless."""


class LinkHeaderPagination(_Model):
    """RFC 8288 ``Link: <…>; rel="next"``; the next URL is followed verbatim."""

    type: Literal["link_header"]
    rel: str = "next"
    size_param: str | None = None
    size: int | None = Field(None, ge=1)
    max_empty_pages: int = Field(10, ge=1)
    """Empty pages in a row, each with a new token or link, before the read is stopped as endless."""


PaginationConfig = Annotated[
    NoPagination | PageNumberPagination | OffsetPagination | CursorPagination | LinkHeaderPagination,
    Field(discriminator="type"),
]


def discriminator_tags(union: Any, field: str = "type") -> frozenset[str]:
    """The tags of a discriminated union, read from its members' ``Literal`` fields (never written twice)::

        discriminator_tags(PaginationConfig) == {"none", "page_number", "offset", "cursor", "link_header"}
    """
    if get_origin(union) is Annotated:
        union = get_args(union)[0]
    tags: set[str] = set()
    for member in get_args(union):
        tags.update(get_args(member.model_fields[field].annotation))
    return frozenset(tags)


PAGINATION_TAGS = discriminator_tags(PaginationConfig)

class FieldEquals(_Model):
    """``{field: code, equals: 0}``: a dotted path in a JSON body and the value it must (or does) hold."""

    field: str
    equals: Any
    message_field: str | None = None
    """Where the server explains a failure; by default the first of msg, message, error, errmsg."""


EnvelopeOutcome = Literal["ok", "auth", "reauth", "retry", "skip", "fatal"]
"""What an answer's own status code means: ``ok`` use it; ``auth`` our credentials were refused (an operator
must act); ``reauth`` the cached token expired (``{"code": "40001", "msg": "access_token已失效"}``): drop it,
send the request once more with a fresh one, and fail as ``auth`` if that is refused too; ``retry`` the system
is busy (back off, try again); ``skip`` nothing usable for this request (a read: no records, e.g. 查询无数据; a write: this record is refused and dead-lettered); ``fatal`` stop the run."""


def envelope_code(value: Any) -> str:
    """The spelling a status code is looked up by: ``0``, ``"0"`` and ``0.0`` are all ``"0"``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class SuccessRule(FieldEquals):
    """How an answer says whether it worked, for systems that answer HTTP 200 with a status code inside.

    Either the one success value (``{field: code, equals: 0}``: anything else is fatal) or a table of codes
    and what each means, with ``otherwise`` for codes not listed::

        success:
          field: retCode
          message_field: retMsg
          codes: {"0000": ok, "4011": reauth, "4012": auth, "5003": retry, "4040": skip}
          otherwise: fatal
    """

    equals: Any = None
    codes: dict[str, EnvelopeOutcome] = Field(default_factory=dict)
    otherwise: EnvelopeOutcome = "fatal"

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:  # YAML reads {0: ok} with an int key
        return {envelope_code(k): v for k, v in value.items()} if isinstance(value, Mapping) else value

    @model_validator(mode="after")
    def _success_is_defined(self) -> SuccessRule:
        if "equals" not in self.model_fields_set and not self.codes:
            raise ValueError("give equals (the one success value) or codes (value → ok|auth|retry|skip|fatal)")
        return self

    def outcome(self, value: Any) -> EnvelopeOutcome:
        if "equals" in self.model_fields_set and value == self.equals:
            return "ok"
        if self.codes:
            return self.codes.get(envelope_code(value), self.otherwise)
        return "fatal"

    def expected(self) -> str:
        if self.codes:
            ok = ([repr(self.equals)] if "equals" in self.model_fields_set else []) + [
                repr(k) for k, v in self.codes.items() if v == "ok" and k != envelope_code(self.equals)]
            return "one of " + ", ".join(ok)
        return repr(self.equals)


def parse_timezone(value: str) -> tzinfo:
    if value.upper() in {"Z", "UTC"}:
        return timezone.utc
    sign = {"+": 1, "-": -1}.get(value[:1])
    hours, _, minutes = value[1:].partition(":")
    if sign is None or not hours.isdigit() or (minutes and not minutes.isdigit()):
        raise ValueError(f"timezone must look like +08:00 or UTC, got {value!r}")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def _success_shape(value: Any) -> str:
    return "rules" if isinstance(value, list) else "rule"


SuccessRules = Annotated[
    Annotated[SuccessRule, Tag("rule")] | Annotated[list[SuccessRule], Field(min_length=1), Tag("rules")],
    Discriminator(_success_shape),
]
"""A stream's ``success``: one rule, or a list checked in order (an API gateway's envelope, then the business
one: :func:`connectors.common.records.envelope_outcome`). Tagged by shape, so an error names the rule's own key
(``success.codes.0``, ``success.1.codes.0``), not pydantic's union members."""
SUCCESS_TAGS = frozenset({"rule", "rules"})


class IncrementalConfig(_Model):
    cursor_field: str
    cursor_format: CursorFormat = "iso8601"
    timezone: str = "+08:00"
    """The zone of naive timestamps (sandbox systems speak Beijing time); also used to format ISO params."""
    param: str
    """The query parameter that asks for records changed at or after a time (inclusive)."""
    end_param: str | None = None
    """For services that want both ends of the window (``startTime``/``endTime``, ``strDayTimeStrat``/
    ``strDayTimeEnd``): the parameter that closes it, sent as the instant the read began, formatted like
    ``param``. A change after that instant is read by the next run (the watermark never passes what was read)."""
    param_format: CursorFormat | None = None
    """Defaults to ``cursor_format``."""
    initial_value: str | None = None
    """Sent verbatim as ``param`` when there is no watermark yet (first sync, full refresh), for servers that
    insist on the parameter; by default it is left out."""
    initial_lookback: timedelta | None = None
    """With no watermark yet (first sync, full refresh), start the read this long before now (``30d``) instead of
    leaving ``param`` out: for sources that want a start and hold more history than is wanted. Not with
    ``initial_value``."""
    exclusive: bool = False
    """The source answers records changed strictly AFTER ``param`` (``update_time > #{startTime}``), not at or after
    it. Paging re-anchors on the highest change time read (:mod:`connectors.common.reader`), so with ``>`` the
    records sharing that change time beyond the page would be skipped at every page boundary — silently. With
    ``exclusive: true`` the parameter is sent one step of its format earlier (``10:31:00`` for an anchor of
    ``10:31:01``; a millisecond for ``epoch_ms``), so they come again, dropped as re-deliveries."""
    max_window: timedelta | None = None
    """The longest window the source answers in one query (``7d`` for 查询时间跨度不能超过7天). The read walks
    consecutive windows of at most this length, from its start to the instant it began, each paged to its end;
    needs ``end_param`` (each window's end) and a start for the first read (a watermark, ``initial_value`` in the
    parameter's format, or ``initial_lookback``)."""

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        parse_timezone(value)
        return value

    @field_validator("initial_lookback", "max_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            duration = parse_duration(value)
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f"{value!r} is not a duration like 30s, 10m, 2h or 7d") from None
        if duration <= timedelta(0):
            raise ValueError(f"{value!r}: a duration must be longer than zero")
        return duration

    @model_validator(mode="after")
    def _window_settings(self) -> IncrementalConfig:
        if self.initial_value is not None and self.initial_lookback is not None:
            raise ValueError("give either initial_value or initial_lookback (where the first read starts), not both")
        if self.max_window is not None:
            if self.end_param is None:
                raise ValueError("max_window needs end_param: each window is sent with its end")
            if self.initial_value is None and self.initial_lookback is None:
                raise ValueError("max_window needs where the first read starts (no watermark yet): initial_lookback "
                                 "(e.g. 30d) or initial_value (in the parameter's format)")
            if self.initial_value is not None:
                self.initial_start()  # readable in the parameter's format, or said so now
            step = self.param_step()
            least = None if step is None else 2 * step if self.exclusive else step
            if least is not None and self.max_window < least:
                raise ValueError(f"max_window {self.max_window} is too short for the parameter's format "
                                 f"{self.effective_param_format!r}, which counts in steps of {step}: a window's "
                                 f"start is sent floored to it (a step earlier when exclusive), so the window would "
                                 f"never pass it; give at least {least}")
        return self

    def param_step(self) -> timedelta | None:
        """The smallest step the parameter's format can say (a second for ``%Y-%m-%d %H:%M:%S``, a day for
        ``%Y-%m-%d``), or None when it cannot be told."""
        codec = CursorCodec(self.effective_param_format, self.tz)
        probe = datetime(2024, 3, 5, 10, 31, 1, 500000, tzinfo=timezone.utc)
        try:
            return codec.parse(codec.format(probe)) - codec.parse(codec.format_before(probe))
        except (ValueError, TypeError, OverflowError):
            return None

    def initial_start(self) -> datetime | None:
        """The instant ``initial_value`` names, read in the parameter's format (None without one); a windowed read
        starts its first window there."""
        if self.initial_value is None:
            return None
        try:
            return CursorCodec(self.effective_param_format, self.tz).parse(self.initial_value)
        except (ValueError, TypeError, OverflowError):
            raise ValueError(f"initial_value {self.initial_value!r} cannot be read in the parameter's format "
                             f"{self.effective_param_format!r}; a windowed read (max_window) starts there") from None

    @field_validator("cursor_format", "param_format")
    @classmethod
    def _valid_format(cls, value: str | None) -> str | None:
        # a Java pattern (yyyyMMddHHmmss) read every cursor as "not 'yyyyMMddHHmmss'": refused here, the
        # strftime form named (the check a signature's timestamp.format gets too)
        return value if value is None else check_time_format(value, names=CURSOR_NAMES, parse=True)

    @property
    def tz(self) -> tzinfo:
        return parse_timezone(self.timezone)

    @property
    def effective_param_format(self) -> str:
        return self.param_format or self.cursor_format


def validated(model: type[M], data: Mapping[str, Any], *, kind: str, name: object,
              union_tags: Mapping[str, frozenset[str]]) -> M:
    """``model`` validated from a connector YAML mapping, or a :class:`ConfigError` listing every problem by the
    YAML path a person edits (``streams.cases.pagination.size: …``). ``union_tags``: for a field holding a
    tagged union (``pagination``, ``auth``), the tags pydantic inserts into error locations, left out."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidSettings(f"{kind} connector config for {name} is invalid",
                              [(_yaml_path(err["loc"], union_tags), err["msg"]) for err in exc.errors()]) from None


def _yaml_path(loc: tuple[int | str, ...], union_tags: Mapping[str, frozenset[str]]) -> tuple[int | str, ...]:
    """The keys of ``loc`` as written in the YAML: without the union tags pydantic inserts."""
    parts: list[int | str] = []
    previous: int | str | None = None
    for item in loc:
        if isinstance(previous, str) and item in union_tags.get(previous, ()):
            previous = item
            continue
        parts.append(item)
        previous = item
    return tuple(parts)


__all__ = ["CursorFormat", "CursorPagination", "FieldEquals", "IncrementalConfig", "LinkHeaderPagination", "NoPagination", "OffsetPagination", "PAGINATION_TAGS", "PageNumberPagination", "PaginationConfig", "SUCCESS_TAGS", "SuccessRules", "parse_timezone", "validated"]
