"""Shared helpers of the SOAP connector tests: the sandbox market WSDL on disk and a connector on a fake host.

HTTP is intercepted by ``responses`` (no network); the answers are written here in the shapes real servers
send, byte for byte where encodings matter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from connectors.soap import SoapConnector
from sandbox.market_wsdl import wsdl

HOST = "http://market.test"
ADDRESS = HOST + "/ScjgService.asmx"
CORPUS = Path(os.environ.get("TONGBAN_WSDL_CORPUS") or Path(__file__).resolve().parents[1] / "wsdl-corpus")
"""The compatibility corpus: real WSDLs of Chinese and Java/.NET systems (``tests/wsdl-corpus``, a copy of the
project's ``../shared/wsdl-corpus`` kept in the repository so that a clean clone anywhere runs every test; its
``SOURCES.md`` says where each file comes from). ``TONGBAN_WSDL_CORPUS`` points elsewhere."""
SECRETS = {"username": "tongban", "password": "market-demo-secret"}


def market_wsdl(tmp_path: Path) -> Path:
    path = tmp_path / "ScjgService.wsdl"
    path.write_text(wsdl(ADDRESS), encoding="utf-8")
    return path


def market_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "kind": "soap",
        "name": "market",
        "wsdl": str(market_wsdl(tmp_path)),
        "retry": {"max_attempts": 3, "backoff_seconds": 0, "jitter": False},
        "wsse": {"username_secret": "username", "password_secret": "password", "digest": True},
        "streams": {
            "cases": {
                "operation": "GetBusinessList",
                "result_path": "GetBusinessListResponse.GetBusinessListResult.RECORDS.YWXX",
                "status_path": "GetBusinessListResponse.GetBusinessListResult",
                "success": {"field": "CODE", "equals": "0", "message_field": "MSG"},
                "primary_key": "YWLSH",
                "incremental": {"cursor_field": "GXSJ", "cursor_format": "%Y%m%d%H%M%S", "param": "startTime"},
                "pagination": {"type": "page_number", "page_param": "pageIndex", "size_param": "pageSize",
                               "size": 100, "start": 1},
            },
            "items": {
                "operation": "GetItemCatalog",
                "result": "dataset",
                "result_path": "GetItemCatalogResponse.GetItemCatalogResult",
                "primary_key": "SXBM",
                "ordered": False,
            },
        },
        "write": {
            "cases": {
                "upsert": {"operation": "SubmitBusiness",
                           "params": {"requestId": "{idempotency_key}", "business": "{record}"}},
                "result_path": "SubmitBusinessResponse.SubmitBusinessResult",
                "success": {"field": "CODE", "equals": "0", "message_field": "MSG"},
                "duplicate": {"field": "DUPLICATE", "equals": "true"},
                "target_id_path": "YWLSH",
            }
        },
    }
    config.update(overrides)
    return config


def connector(tmp_path: Path, **overrides: Any) -> SoapConnector:
    return SoapConnector(market_config(tmp_path, **overrides), secrets=SECRETS, sleep=lambda s: None)


def envelope(body: str, *, encoding: str = "utf-8", soap12: bool = False) -> str:
    ns = "http://www.w3.org/2003/05/soap-envelope" if soap12 else "http://schemas.xmlsoap.org/soap/envelope/"
    return (f'<?xml version="1.0" encoding="{encoding}"?><soap:Envelope xmlns:soap="{ns}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>{body}</soap:Body></soap:Envelope>')


def page(records: list[str], total: int | None = None) -> str:
    return (f'<GetBusinessListResponse xmlns="http://scjg.jinan.gov.cn/zwfw/"><GetBusinessListResult>'
            f"<CODE>0</CODE><MSG>成功</MSG><TOTAL>{total or len(records)}</TOTAL><PAGEINDEX>1</PAGEINDEX>"
            f"<PAGESIZE>2</PAGESIZE><RECORDS>{''.join(records)}</RECORDS></GetBusinessListResult>"
            f"</GetBusinessListResponse>")


def record(ywlsh: str, name: str = "王秀英", gxsj: str = "20240305103100", extra: str = "") -> str:
    return (f"<YWXX><YWLSH>{ywlsh}</YWLSH><SQRMC>{name}</SQRMC>{extra}<HJLIST><HJ><XH>1</XH><HJMC>受理</HJMC></HJ>"
            f"</HJLIST><GXSJ>{gxsj}</GXSJ></YWXX>")
