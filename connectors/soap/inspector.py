"""What a WSDL offers, as written, next to what zeep exposes — and every difference named.

``tongban connector new`` prints this before writing files, so that an integration engineer learns on day one
that zeep silently dropped ``flushCache`` (Axis2's ``message="ns:null"``) or two of Kingdee's three ``login``
overloads, and that rpc/encoded calls need Tongban's encoder:

    report = inspect_wsdl("EASLogin.wsdl")
    for op in report.operations:
        print(op.signature, op.flags)
    report.losses        # ["login (variant 0 of 3, input loginRequest, 7 params): zeep keeps only ...", ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from .loader import LoadedWsdl, load_wsdl
from .wsdl_model import Field, Operation, Port


@dataclass(frozen=True)
class OperationReport:
    name: str
    variant: int
    variants: int
    input_name: str | None
    style: str
    use: str
    soap_action: str
    params: list[Field]
    result: list[Field]
    documentation: str
    zeep_exposes: bool
    flags: list[str] = field(default_factory=list)

    @property
    def signature(self) -> str:
        params = ", ".join(f"{p.name}: {p.type}{'[]' if p.repeated else ''}" for p in self.params)
        return f"{self.name}({params}) -> {describe_fields(self.result) or 'nothing'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "variant": self.variant, "variants": self.variants, "input_name": self.input_name,
            "style": self.style, "use": self.use, "soap_action": self.soap_action,
            "params": [_field_dict(p) for p in self.params], "result": [_field_dict(r) for r in self.result],
            "documentation": self.documentation, "zeep_exposes": self.zeep_exposes, "flags": self.flags,
            "signature": self.signature,
        }


@dataclass
class WsdlReport:
    source: str
    target_namespace: str | None
    ports: list[Port]
    port: Port | None
    operations: list[OperationReport]
    zeep_operations: set[str]
    zeep_warnings: list[str]
    loaded: LoadedWsdl

    @property
    def written(self) -> list[str]:
        """Distinct operation names as written in the SOAP portType."""
        return list(dict.fromkeys(op.name for op in self.operations))

    @property
    def losses(self) -> list[str]:
        """Every operation variant zeep does not expose, and why."""
        return [f"{_label(op)}: {'; '.join(op.flags)}" for op in self.operations if not op.zeep_exposes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "target_namespace": self.target_namespace,
            "ports": [{"service": p.service, "name": p.name, "protocol": p.protocol, "address": p.address}
                      for p in self.ports],
            "port": self.port.name if self.port else None,
            "operations": [op.as_dict() for op in self.operations],
            "written": self.written, "zeep_operations": sorted(self.zeep_operations),
            "losses": self.losses, "zeep_warnings": self.zeep_warnings,
        }


def _label(op: OperationReport) -> str:
    if op.variants > 1:
        return f"{op.name} (variant {op.variant} of {op.variants}, input {op.input_name}, {len(op.params)} params)"
    return op.name


def _field_dict(f: Field) -> dict[str, Any]:
    return {"name": f.name, "type": f.type, "min_occurs": f.min_occurs, "max_occurs": f.max_occurs,
            "dataset": f.dataset, "children": [_field_dict(c) for c in f.children]}


def describe_fields(fields: list[Field] | tuple[Field, ...], depth: int = 0) -> str:
    """``Result{CODE, RECORDS{YWXX[]{YWLSH, …}}}``: a compact result shape."""
    parts = []
    for f in fields:
        text = f.name + ("[]" if f.repeated else "")
        if f.dataset:
            text += ": DataSet"
        elif f.children and depth < 3:
            text += "{" + describe_fields(f.children, depth + 1) + "}"
        elif not f.children:
            text += f": {f.type}"
        parts.append(text)
    return ", ".join(parts)


def _flags(op: Operation, exposed: bool, missing_in_zeep: bool, params: list[Field], result: list[Field]) -> list[str]:
    flags = []
    for missing in op.missing_messages:
        flags.append(f"the {missing} message does not exist in the WSDL; zeep drops the operation from every "
                     f"binding (Tongban builds the request from the WSDL as written; the answer is read as XML)")
    if op.variants > 1:
        if op.variant == op.variants - 1:
            flags.append(f"overloaded {op.variants}x: zeep keeps only this last variant")
        else:
            flags.append(f"overloaded {op.variants}x: zeep keeps only the last variant and drops this one "
                         f"silently; call it with `overload: {op.variant}` (or `overload: {op.input_name}`)")
    if op.encoded:
        flags.append("rpc/encoded: zeep would send it as literal (no xsi:type, no encodingStyle); Tongban's "
                     "encoder adds both, as Axis 1.x servers require")
    if any(f.dataset for f in result):
        flags.append("returns a .NET DataSet (schema + diffgram): use `result: dataset`")
    if not exposed and missing_in_zeep and not op.missing_messages and op.variants == 1:
        flags.append("zeep does not expose this operation")
    return flags


def inspect_wsdl(source: str, *, session: requests.Session | None = None, offline: bool = True) -> WsdlReport:
    """Read a WSDL (path or URL) and compare the document with zeep's view of its preferred SOAP port."""
    loaded = load_wsdl(source, session=session, offline=offline)
    model = loaded.model
    soap_ports = model.soap_ports()
    port = next((p for p in soap_ports if p.protocol == "soap11"), soap_ports[0] if soap_ports else None)
    operations: list[OperationReport] = []
    zeep_names: set[str] = set()
    if port is not None:
        zeep_names = loaded.zeep_operations().get(port.binding.text, set())
        for op in model.operations_of(port):
            exposed = op.name in zeep_names and op.variant == op.variants - 1 and not op.missing_messages
            params = model.part_fields(op.input_parts)
            result = model.part_fields(op.output_parts, depth=4)
            operations.append(OperationReport(
                op.name, op.variant, op.variants, op.input_name, op.style, op.use, op.soap_action, params, result,
                op.documentation, exposed, _flags(op, exposed, op.name not in zeep_names, params, result),
            ))
    return WsdlReport(source, model.target_namespace, model.ports, port, operations, zeep_names,
                      loaded.zeep_warnings, loaded)


__all__ = ["OperationReport", "WsdlReport", "describe_fields", "inspect_wsdl"]
