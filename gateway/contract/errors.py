"""The Tongban error hierarchy: every error says what the caller should do next.

After Meltano's ``FatalSyncError / RetriableSyncError / SkippableSyncError``: the sync engine decides
from the type alone whether to retry a call, move one record to the dead-letter store, or abort the run.
Connectors raise these; they never raise bare ``requests``/``zeep`` exceptions across their boundary.

    try:
        page = fetch()
    except RetriableSyncError:   # timeout, 429, 503: try again later, the run may go on
        ...
    except SkippableSyncError:   # this one record is bad: dead-letter it, the batch goes on
        ...
    except FatalSyncError:       # bad credentials, broken config: stop the run, keep the watermark
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class TongbanError(Exception):
    """Base of every error Tongban raises on purpose."""


class ConfigError(TongbanError):
    """The configuration (systems file, connector YAML, mapping YAML) is wrong. Fix the file; retrying won't help."""


class UnsupportedOperationError(ConfigError):
    """A write stream has no operation for what a record asks (a ``delete`` of a withdrawn case to a system whose
    connector can only ``upsert``): that record cannot go out until the connector is configured for it, while the
    stream's other records can — the push dead-letters the one record and goes on."""


class InvalidSettings(ConfigError):
    """A configuration mapping that failed validation, with each problem's place in it: ``problems`` holds
    ``(path, message)`` pairs, the path as the keys and list positions a person edits. Whoever knows the file
    the mapping came from says the line of each (:meth:`at_lines`); the message alone names the paths."""

    def __init__(self, summary: str, problems: list[tuple[tuple[Any, ...], str]]) -> None:
        self.summary = summary
        self.problems = problems
        super().__init__(self._render(lambda path: None))

    def at_lines(self, where: str, line_of: Callable[[tuple[Any, ...]], int | None]) -> ConfigError:
        """The same error prefixed with ``where`` (the file), each problem with the line of its key — or of the
        nearest enclosing key written in the file (a missing key has no line of its own)."""

        def nearest(path: tuple[Any, ...]) -> int | None:
            for end in range(len(path), 0, -1):
                line = line_of(path[:end])
                if line is not None:
                    return line
            return None

        return ConfigError(f"{where}: {self._render(nearest)}")

    def _render(self, line_of: Callable[[tuple[Any, ...]], int | None]) -> str:
        lines = []
        for path, message in self.problems:
            line = line_of(path)
            lines.append(f"  {'' if line is None else f'line {line}: '}{dotted_path(path)}: {message}")
        return f"{self.summary}:\n" + "\n".join(lines)


def dotted_path(path: tuple[Any, ...]) -> str:
    """``streams.cases.pagination[0].size`` for ``("streams", "cases", "pagination", 0, "size")``."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[") or "(top level)"


def yaml_problem(where: str, exc: Exception) -> ConfigError:
    """A YAML parse error as one line a person can act on: ``FILE: not valid YAML at line 2, column 13: ...``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return ConfigError(f"{where}: not valid YAML{at}: {problem}")


class SyncError(TongbanError):
    """Base of the errors a connector raises during a sync."""


class FatalSyncError(SyncError):
    """Stop the run. The watermark stays where it was; the next run starts from there.

    Raised for: authentication refused, a source that is down after all retries, a response that cannot be
    understood at all. The run is recorded as failed with this message.
    """


class SourceUnavailableError(FatalSyncError):
    """The source system did not answer (connection refused, outage, retries exhausted)."""


class ChangeFilterIgnoredError(FatalSyncError):
    """Asked for the records changed since a time, the source answered records well older than it: it does not
    filter by the change-time parameter (misspelt, or read in another format). Reading on would read the whole
    table again after every page; an engineer must fix the stream's ``incremental`` (param, param_format,
    timezone). Its own class so a check can tell this answer from any other failed read."""


class AuthenticationError(FatalSyncError):
    """The source system refused our credentials. An operator must fix the secret."""


class RetriableSyncError(SyncError):
    """A transient failure: the same call may succeed later (timeout, HTTP 429/5xx, SOAP server busy).

    ``retry_after`` is the delay the server asked for, in seconds, when it said one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SkippableSyncError(SyncError):
    """One record cannot be used; send it to the dead-letter store and go on with the batch.

    ``raw`` carries the undecoded payload so nothing is lost.
    """

    def __init__(self, message: str, *, source_id: str | None = None, raw: object = None) -> None:
        super().__init__(message)
        self.source_id = source_id
        self.raw = raw


class WriteRejectedError(SyncError):
    """The target system refused a pushed record for good (e.g. a stale version, a validation error there).

    The push job dead-letters the outbox row instead of retrying it.
    """


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One broken rule on one field of one record: the unit of every validation message.

    ``record`` is the record's reference (``system:source_id`` or the case number), ``field`` a dotted path
    in the canonical model (``applicant.id_number``), ``rule`` a stable machine name (``resident_id.checksum``).
    """

    record: str
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.message} [{self.rule}]"


@dataclass(slots=True)
class RecordRejected(TongbanError):
    """A record failed mapping or validation. Goes to the dead-letter store with every issue listed."""

    record: str
    issues: list[FieldIssue] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(str(i) for i in self.issues) or f"{self.record}: rejected"


class ReferenceConflict(TongbanError):
    """A submission reuses a reference (the submitter's own number for an earlier application) with different
    content. Retrying the same content is safe and returns the first result; different content needs a new
    reference."""

    def __init__(self, reference: str, existing: str) -> None:
        super().__init__(f"reference {reference!r} was used for {existing}, with different content: "
                         "a new application needs a new reference")
        self.reference = reference
        self.existing = existing


class LeaseHeldError(TongbanError):
    """Another run of the same system holds the lease. Wait for it to finish; do not start a second one."""


__all__ = [
    "dotted_path",
    "yaml_problem",
    "AuthenticationError",
    "ChangeFilterIgnoredError",
    "ConfigError",
    "FatalSyncError",
    "FieldIssue",
    "InvalidSettings",
    "LeaseHeldError",
    "RecordRejected",
    "RetriableSyncError",
    "SkippableSyncError",
    "SourceUnavailableError",
    "UnsupportedOperationError",
    "SyncError",
    "TongbanError",
    "WriteRejectedError",
]
