"""How a department system of the sandbox asks Tongban's certificate gateway for a licence (stdlib only).

A department that joined 证照共享 is given a client credential by Tongban's operator (``tongban clients add``)
and the gateway's address; with the applicant's consent token (which reaches it with the case) it may look up
the applicant's certificate for that case and fetch its file. This module is that department-side client, the
way another vendor would write it against the published API (``/v1/certificates/query``, ``/v1/certificates/
{identifier}/file``), with no code of Tongban's: the sandbox stands for other people's software.

    check = fetch_licence(GatewayAccess(url, credential), holder_id="9137…", type_code="111…001",
                          item_code="…", case_no="…", consent="tbc1.…")
    check.ok, check.reason, check.licence["number"], check.file_sha256
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GatewayAccess", "LicenceCheck", "fetch_licence"]


@dataclass(frozen=True)
class GatewayAccess:
    """The gateway's base URL and this department's credential (``tbk_…``)."""

    url: str
    credential: str
    timeout: float = 15.0


@dataclass
class LicenceCheck:
    """The outcome of one look-up: ``ok`` with the licence's metadata and file digest, or a reason a clerk can
    read (no consent, not entitled, no licence, gateway unreachable). ``audit`` holds the gateway's audit
    sequence numbers of the releases."""

    ok: bool
    reason: str = ""
    licence: dict[str, Any] = field(default_factory=dict)
    file_sha256: str | None = None
    file_size: int = 0
    audit: list[int] = field(default_factory=list)


def _call(access: GatewayAccess, method: str, path: str, *, body: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
    request = urllib.request.Request(access.url.rstrip("/") + path, data=data, method=method, headers={
        "Authorization": f"Bearer {access.credential}", "Accept": "application/json",
        **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=access.timeout) as response:  # noqa: S310 - configured URL
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers or {})


def _problem(status: int, body: bytes) -> str:
    try:
        detail = json.loads(body.decode("utf-8")).get("detail")
    except (ValueError, AttributeError):
        detail = None
    return f"HTTP {status}: {detail or body[:200].decode('utf-8', 'replace')}"


def fetch_licence(access: GatewayAccess | None, *, holder_id: str, type_code: str, item_code: str, case_no: str,
                  consent: str | None) -> LicenceCheck:
    """Look the holder's certificate of ``type_code`` up for this case and fetch its file."""
    if access is None:
        return LicenceCheck(False, "未配置通办证照网关，无法调取营业执照")
    if not consent:
        return LicenceCheck(False, "申请人未授权调取营业执照（案件未附授权凭证）")
    headers = {"Tongban-Consent": consent}
    purpose = {"item_code": item_code, "case_no": case_no}
    try:
        status, body, _ = _call(access, "POST", "/v1/certificates/query", headers=headers, body={
            "holder": {"id_number": holder_id, "id_type": "001"}, "certificate_types": [type_code],
            "purpose": purpose})
    except OSError as exc:
        return LicenceCheck(False, f"通办证照网关暂不可用：{exc}")
    if status == 403:
        return LicenceCheck(False, f"通办证照网关拒绝调取营业执照：{_problem(status, body)}")
    if status != 200:
        return LicenceCheck(False, f"通办证照网关调取失败：{_problem(status, body)}")
    answer = json.loads(body.decode("utf-8"))
    found = [c for c in answer.get("certificates", []) if c.get("status") in ("valid", "有效", "1")] or \
        answer.get("certificates", [])
    if not found:
        return LicenceCheck(False, "证照库中未查到该企业的营业执照", audit=list(answer.get("audit_seq", [])))
    licence = found[0]
    if licence.get("status") not in ("valid", "有效", "1"):
        return LicenceCheck(False, f"营业执照状态为 {licence.get('status')}，不能用于办理", licence=licence,
                            audit=list(answer.get("audit_seq", [])))
    query = urllib.parse.urlencode(purpose)
    ident = urllib.parse.quote(str(licence["identifier"]), safe="")
    try:
        status, content, _ = _call(access, "GET", f"/v1/certificates/{ident}/file?{query}", headers=headers)
    except OSError as exc:
        return LicenceCheck(False, f"通办证照网关暂不可用：{exc}", licence=licence)
    if status != 200:
        return LicenceCheck(False, f"营业执照文件调取失败：{_problem(status, content)}", licence=licence)
    return LicenceCheck(True, "", licence, hashlib.sha256(content).hexdigest(), len(content),
                        list(answer.get("audit_seq", [])))
