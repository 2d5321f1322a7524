"""Two services of the WSDL corpus, answering over real HTTP on 127.0.0.1 as their stacks do.

- the noise-monitoring ASMX service of ``cn-gov-env-noise-monitoring.wsdl`` (``/Services/WebService.asmx``):
  credentials as operation parameters (``strUserName``/``strUserPwd``), .NET DataSets (inline schema +
  diffgram) as answers; ``GetAreaPointData`` (five measuring points) and ``GetPointWarningInfoSeach`` (warnings
  in a ``strDayTimeStrat``…``strDayTimeEnd`` window, ``iPage``/``iRows`` paging, pages from 1). Wrong
  credentials are a ``soap:Client`` Fault that echoes the password, as careless services do;
- the CXF ``OaLoanService`` of ``cn-cxf-oaloanservice.wsdl`` (``/oa/loan``): its one operation,
  ``receiveOaLoan``, is a write; every call is counted, so a test can prove nothing submitted to it.

Both WSDLs are served unchanged at ``?wsdl``: their ``soap:address`` names the public hosts the originals
were published on, which a connector must never call when an endpoint is configured. Any other path answers
HTTP 404 with an empty body. ``calls`` keeps every POST: path, SOAPAction, operation, parameters as text.

    with CorpusServices() as services:
        config = {"wsdl": str(NOISE_WSDL), "base_url": services.url, ...}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from http_testlib import Answer, ScriptedServer, Seen
from lxml import etree
from soap_testlib import CORPUS

NOISE_WSDL = CORPUS / "cn-gov-env-noise-monitoring.wsdl"
OALOAN_WSDL = CORPUS / "cn-cxf-oaloanservice.wsdl"
NOISE_PATH = "/Services/WebService.asmx"
OALOAN_PATH = "/oa/loan"
USER, PASSWORD = "noise-reader", "Pwd#2024!noise"
WARNINGS = 23
_FIRST_WARNING = datetime(2024, 3, 1, 8, 0, 0)


@dataclass(frozen=True)
class Call:
    path: str
    action: str | None
    operation: str
    params: dict[str, str | None]


def warning_rows() -> list[dict[str, str]]:
    """The warnings the service holds, oldest first (one every 90 minutes)."""
    return [{"WARN_ID": f"W{i:05d}", "POINT_CODE": f"P{i % 5 + 1:04d}", "WARN_VALUE": f"{60 + i % 17}.5",
             "WARN_TIME": (_FIRST_WARNING + timedelta(minutes=90 * i)).strftime("%Y-%m-%d %H:%M:%S")}
            for i in range(WARNINGS)]


def point_rows() -> list[dict[str, str]]:
    return [{"AREA_CODE": f"3701{i:02d}", "AREA_NAME": f"测点{i}", "POINT_CODE": f"P{i:04d}",
             "UPDATE_TIME": f"2024-03-0{i} 10:00:00"} for i in range(1, 6)]


def dataset(rows: list[dict[str, str]], columns: list[str]) -> str:
    """A .NET DataSet as ASMX serialises it: the inline schema, then the diffgram."""
    elements = "".join(f'<xs:element name="{c}" type="xs:string" minOccurs="0"/>' for c in columns)
    body = "".join(
        f'<Table diffgr:id="Table{i + 1}" msdata:rowOrder="{i}">'
        + "".join(f"<{c}>{escape(row[c])}</{c}>" for c in columns) + "</Table>" for i, row in enumerate(rows))
    return ('<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"><xs:element name="NewDataSet" '
            'msdata:IsDataSet="true"><xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded">'
            f'<xs:element name="Table"><xs:complexType><xs:sequence>{elements}</xs:sequence></xs:complexType>'
            '</xs:element></xs:choice></xs:complexType></xs:element></xs:schema>'
            '<diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" '
            f'xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"><NewDataSet xmlns="">{body}</NewDataSet>'
            '</diffgr:diffgram>')


def _envelope(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            'envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/'
            f'XMLSchema"><soap:Body>{body}</soap:Body></soap:Envelope>').encode()


def _xml(status: int, body: bytes) -> Answer:
    """An answer as the .NET stack writes it: ``text/xml`` when there is a body, nothing at all when not."""
    return Answer(status, {"Content-Type": "text/xml; charset=utf-8"} if body else {}, body)


def _fault(code: str, text: str) -> bytes:
    return _envelope(f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{escape(text)}</faultstring>"
                     "</soap:Fault>")


class CorpusServices(ScriptedServer):
    """The two services on one server (see the module docstring)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        super().__init__(self._reply)

    def _reply(self, request: Seen) -> Answer:
        if request.method == "GET":
            path, _, query = request.path.partition("?")
            files = {NOISE_PATH: NOISE_WSDL, OALOAN_PATH: OALOAN_WSDL}
            if path in files and query.lower() == "wsdl":
                return _xml(200, files[path].read_bytes())
            return _xml(404, b"")
        if request.route not in (NOISE_PATH, OALOAN_PATH):
            return _xml(404, b"")  # what IIS sends for a wrong path: nothing
        body = etree.fromstring(request.body).find("{*}Body")
        operation = body[0] if body is not None and len(body) else None
        if operation is None:
            return _xml(500, _fault("Client", "no request element"))
        params = {etree.QName(c).localname: c.text for c in operation}
        call = Call(request.route, request.headers.get("SOAPAction"), etree.QName(operation).localname, params)
        with self._lock:
            self.calls.append(call)
        return _xml(*self.answer(call))

    def operations(self, name: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.operation == name]

    def answer(self, call: Call) -> tuple[int, bytes]:
        op, p = call.operation, call.params
        if op == "receiveOaLoan":
            return 200, _envelope('<ns2:receiveOaLoanResponse xmlns:ns2="http://vo.dadimedia.com/"><return>'
                                  "已接收</return></ns2:receiveOaLoanResponse>")
        if (p.get("strUserName"), p.get("strUserPwd")) != (USER, PASSWORD):
            return 500, _fault("Client", f"用户名或密码错误（{p.get('strUserName')}/{p.get('strUserPwd')}）")
        if op == "GetAreaPointData":
            rows, columns = point_rows(), ["AREA_CODE", "AREA_NAME", "POINT_CODE", "UPDATE_TIME"]
        elif op == "GetPointWarningInfoSeach":
            start, end = p.get("strDayTimeStrat") or "", p.get("strDayTimeEnd") or "9999"
            page, size = int(p.get("iPage") or 1), int(p.get("iRows") or 10)
            window = [r for r in warning_rows() if start <= r["WARN_TIME"] <= end]
            rows, columns = window[(page - 1) * size:page * size], ["WARN_ID", "POINT_CODE", "WARN_VALUE", "WARN_TIME"]
        else:
            return 500, _fault("Server", f"服务器无法处理请求。 ---> 未实现 {op}")
        return 200, _envelope(f'<{op}Response xmlns="http://tempuri.org/"><{op}Result>{dataset(rows, columns)}'
                              f"</{op}Result></{op}Response>")


def noise_config(**overrides: Any) -> dict[str, Any]:
    """A hand-written connector YAML (as a dict) for the noise service's warning search."""
    config: dict[str, Any] = {
        "kind": "soap", "name": "gov_noise", "wsdl": str(NOISE_WSDL), "port": "WebServiceSoap",
        "retry": {"max_attempts": 1},
        "streams": {"warnings": {
            "operation": "GetPointWarningInfoSeach",
            "params": {"strPointCodes": "", "strDayTimeEnd": "2099-12-31 23:59:59",
                       "strUserName": {"secret": "username"}, "strUserPwd": {"secret": "password"}},
            "result": "dataset",
            "result_path": "GetPointWarningInfoSeachResponse.GetPointWarningInfoSeachResult",
            "primary_key": "WARN_ID",
            "incremental": {"cursor_field": "WARN_TIME", "cursor_format": "%Y-%m-%d %H:%M:%S",
                            "param": "strDayTimeStrat", "initial_value": "2000-01-01 00:00:00"},
            "pagination": {"type": "page_number", "page_param": "iPage", "size_param": "iRows", "size": 10},
        }},
    }
    config.update(overrides)
    return config


SECRETS = {"username": USER, "password": PASSWORD}


def copy_wsdl(target: Path, source: Path = NOISE_WSDL, *, address: str | None = None) -> Path:
    """The WSDL copied to ``target`` (its soap:address replaced by ``address`` if given)."""
    text = source.read_text(encoding="utf-8")
    if address is not None:
        text = text.replace("http://110.19.109.58:6789/Services/WebService.asmx", address)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


__all__ = ["NOISE_PATH", "NOISE_WSDL", "OALOAN_PATH", "OALOAN_WSDL", "PASSWORD", "SECRETS", "USER", "WARNINGS",
           "Call", "CorpusServices", "copy_wsdl", "dataset", "noise_config", "point_rows", "warning_rows"]
