"""`connector new` on a WSDL with a login operation and a soap:header (``login_service.wsdl``): the login is never
offered as a read (nor called by check) but as a commented ``auth: {type: login}``; the required ``AuthHeader``
of ``GetCaseListH`` is named where the operations are listed, in the YAML and in the printed report."""

from __future__ import annotations

from pathlib import Path

from connectors.soap.inspector import inspect_wsdl
from connectors.soap.scaffold import connector_yaml, plan, render_report, text_reads, validate_connector_yaml

WSDL = Path(__file__).with_name("login_service.wsdl")


def test_login_is_not_a_read_and_is_offered_as_auth() -> None:
    report = inspect_wsdl(str(WSDL), offline=True)
    assert "Login" not in [t.operation.name for t in text_reads(report)]
    the_plan = plan(report)
    assert the_plan.check is not None and the_plan.check["call"]["operation"] == "GetCaseList"
    text = connector_yaml("tok", str(WSDL), report)
    validate_connector_yaml(text)
    assert "# auth:\n#   type: login\n#   operation: Login\n" in text
    assert "#   token_path: LoginResponse.LoginResult" in text
    assert "#     operation: Login" not in text
    printed = "\n".join(render_report(report, the_plan, "tok"))
    assert "operations that look like a login (never read" in printed and ": Login" in printed


def test_a_declared_soap_header_is_named() -> None:
    report = inspect_wsdl(str(WSDL), offline=True)
    text = connector_yaml("tok", str(WSDL), report)
    assert "+ SOAP header AuthHeader(Token) (declared in the WSDL)" in text
    printed = render_report(report, plan(report), "tok")
    at = next(i for i, line in enumerate(printed) if "GetCaseListH(" in line)
    assert printed[at + 1].strip() == "requires the SOAP header AuthHeader(Token) (soap_headers)"
