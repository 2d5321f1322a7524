"""The whole SOAP connector configuration against its WSDL, for ``tongban connector check``.

The live check calls one operation (the check stream's first page, or the check call); a stream, a write or the
login that names an operation the port does not have, or a parameter it does not take, failed only when first
used — a write operation's typo at the first push, every row of the target then held. Here every configured call
is looked up in the WSDL and its parameters compared with the operation's, as the envelope builders would: all
the problems in one answer, nothing sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.contract.errors import ConfigError

from .client import SoapClient
from .config import SoapConfig, StreamConfig
from .envelope import refuse_unknown_parameters
from .writer import check_parameters, input_parameters

__all__ = ["configuration_problems"]


def configuration_problems(client: SoapClient, cfg: SoapConfig) -> list[str]:
    """Each configured call whose operation the port lacks or whose parameters it does not take, by name."""
    problems: list[str] = []
    for name, stream in cfg.streams.items():
        _call(client, f"stream {name!r}", stream.operation, stream.overload, _sent_by(stream), problems)
    for name, write in cfg.write.items():
        for operation, call in (("upsert", write.upsert), ("delete", write.delete)):
            if call is None:
                continue
            if _call(client, f"write {name!r} {operation}", call.operation, call.overload, call.params, problems):
                try:
                    check_parameters(client, name, operation, call)  # "{record}" into a string, embedded.param
                except ConfigError as exc:
                    problems.append(str(exc))
    if cfg.auth is not None:
        _call(client, "auth (login)", cfg.auth.operation, cfg.auth.overload, cfg.auth.params, problems)
    return problems


def _sent_by(stream: StreamConfig) -> list[str]:
    """The parameters a stream's calls send: its own, its paging's and its change window's."""
    sent = list(stream.params)
    paging = stream.pagination
    sent += [getattr(paging, attr) for attr in ("page_param", "size_param", "offset_param", "limit_param")
             if getattr(paging, attr, None)]
    if stream.incremental is not None:
        sent += [p for p in (stream.incremental.param, stream.incremental.end_param) if p]
    return sent


def _call(client: SoapClient, label: str, operation: str, overload: int | str | None, params: Iterable[Any],
          problems: list[str]) -> bool:
    """Whether the call's operation is on the port and takes ``params`` (else the problem is added)."""
    try:
        op = client.operation(operation, overload)
    except ConfigError as exc:
        problems.append(f"{label}: {exc}")
        return False
    try:
        refuse_unknown_parameters(params, list(input_parameters(client, op)), where=f"{label}: {operation}")
    except ConfigError as exc:
        problems.append(str(exc))
        return False
    return True
