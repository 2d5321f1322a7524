"""Errors as RFC 9457 problem details (``application/problem+json``), for every error the API answers."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gateway.crypto.error_text import describe_error
from gateway.crypto.pii import redact

__all__ = ["PROBLEM_RESPONSES", "Problem", "ProblemError", "install_problem_handlers", "problem_doc", "problem_response"]

log = logging.getLogger("gateway.sharing.api")
MEDIA_TYPE = "application/problem+json"
_BASE = "https://tongban.example/problems/"
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Content too large", 415: "Unsupported media type", 422: "Invalid request",
           429: "Too many requests",
           500: "Internal error", 503: "Service unavailable"}


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ProblemError(Exception):
    """Raise anywhere in a handler: becomes a problem response (``kind`` is the last part of ``type``)."""

    def __init__(self, status: int, kind: str, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, kind: str, detail: str | None, instance: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body = {"type": _BASE + kind, "title": _TITLES.get(status, "Error"), "status": status,
            "detail": redact(detail) if detail else detail, "instance": instance, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.kind, exc.detail, request.url.path, exc.headers, **exc.extra)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, str(exc.detail), request.url.path,
                                dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": redact(str(e.get("msg", ""))),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        return problem_response(422, "invalid-request", "the request does not match the schema", request.url.path,
                                errors=errors)

    async def on_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s: %s", request.url.path, describe_error(exc))
        return problem_response(500, "internal-error", "an internal error occurred", request.url.path)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_error)


def problem_doc(description: str) -> dict[str, Any]:
    """The OpenAPI entry of a problem answer a route documents beyond ``PROBLEM_RESPONSES`` (409, 503 …)."""
    return {"description": description,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_doc("Bad request"),
    401: problem_doc("Missing, unknown, revoked or expired credentials"),
    403: problem_doc("Denied by scope, policy, purpose or consent"),
    404: problem_doc("Not found"),
    413: problem_doc("The request body is larger than the gateway accepts"),
    415: problem_doc("The request body is not JSON in UTF-8 (UTF-16/32, or a byte-order mark)"),
    422: problem_doc("The request does not match the schema"),
    429: problem_doc("Rate limit exceeded (see Retry-After)"),
}
