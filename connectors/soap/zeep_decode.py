"""zeep's own decoding of an answer: schema-typed Python objects per record, then plain dicts.

The slow, thorough path (``decoder: zeep``): zeep converts every value to its schema type (``s:int`` to
``int``, ``s:dateTime`` to ``datetime``) by building one object per element. It is kept for answers whose
shape the fast path cannot describe, and as the baseline ``bench/soap_decode.py`` measures the fast path
against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree
from zeep.exceptions import Error as ZeepError
from zeep.helpers import serialize_object

from gateway.contract.errors import ConfigError, FatalSyncError

from .loader import LoadedWsdl
from .wsdl_model import Operation, Port


def zeep_records(loaded: LoadedWsdl, port: Port, op: Operation, envelope: etree._Element, result_path: str,
                 *, where: str) -> list[Any]:
    """The records at ``result_path`` (its first step, the response wrapper, is zeep's result itself)."""
    binding = loaded.client.wsdl.bindings.get(port.binding.text)
    operation = binding._operations.get(op.name) if binding is not None else None
    if operation is None:
        raise ConfigError(f"{where}: zeep does not expose {op.name!r} on {port.name}; use decoder: fast")
    try:
        result = operation.process_reply(envelope)
    except (ZeepError, ValueError, TypeError) as exc:
        raise FatalSyncError(f"{where}: zeep cannot decode the answer: {type(exc).__name__}: {exc}") from None
    current: Any = result
    for step in result_path.split(".")[2:]:
        if current is None:
            return []
        current = current[step] if isinstance(current, Mapping) else getattr(current, step, None)
    if current is None:
        return []
    items = current if isinstance(current, list) else [current]
    return [_plain(serialize_object(item, dict)) for item in items]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


__all__ = ["zeep_records"]
