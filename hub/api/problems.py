"""Every 4xx and 5xx as an RFC 9457 ``application/problem+json`` document, one shape.

::

    {"type": "urn:cityhub:problem:invalid-parameter", "title": "Invalid parameter",
     "status": 400, "detail": "every='1x': ...", "parameter": "every", "instance": "/api/..."}

``type`` says what kind of problem it is (a stable URN to branch on), ``detail`` what to fix,
``parameter`` which query, path or body parameter was wrong (``null`` when none was). The
handlers are registered on the app by :func:`install`; routes raise :class:`BadParameter`
(400) or ``HTTPException``, insights raise :class:`~hub.insights.inventory.Unknown` (404) and
the store's :class:`~hub.errors.QueryError` (400) or :class:`~hub.errors.StoreUnavailable`
(503). :data:`PROBLEMS` documents them on every route.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub.errors import BeyondRetention, QueryError, StoreUnavailable
from hub.insights.inventory import Unknown

__all__ = [
    "MEDIA_TYPE",
    "PROBLEMS",
    "BadParameter",
    "Problem",
    "document_problems",
    "install",
    "problem_response",
]

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
KINDS = {
    400: "invalid-parameter",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    422: "invalid-parameter",
    503: "unavailable",
    500: "internal",
}


class Problem(BaseModel):
    """RFC 9457 problem details, with the offending parameter as an extension member."""

    type: str = Field(examples=["urn:cityhub:problem:invalid-parameter"])
    title: str = Field(examples=["Bad Request"])
    status: int = Field(examples=[400])
    detail: str = Field(examples=["every='1x': use a duration such as 15m, 1h or 1d"])
    parameter: str | None = Field(
        default=None, description="The query, path, header or body parameter to fix"
    )
    instance: str | None = Field(default=None, description="The request path")


class BadParameter(HTTPException):
    """A parameter the API cannot use: 400 (or ``status``), naming it."""

    def __init__(self, parameter: str, detail: str, status: int = 400) -> None:
        super().__init__(status, detail)
        self.parameter = parameter


def problem_response(
    request: Request,
    status: int,
    detail: str,
    parameter: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:cityhub:problem:{KINDS.get(status, 'http-' + str(status))}",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        parameter=parameter,
        instance=request.url.path,
    )
    return JSONResponse(
        body.model_dump(), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return problem_response(
        request,
        error.status_code,
        str(error.detail),
        getattr(error, "parameter", None),
        dict(error.headers) if error.headers else None,
    )


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first: dict[str, Any] = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ())]
    parameter = ".".join(location[1:]) or (location[0] if location else None)
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
        for e in error.errors()
    )
    return problem_response(request, 422, detail, parameter)


async def _unknown(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Unknown)
    return problem_response(request, 404, str(error))


async def _query(request: Request, error: Exception) -> JSONResponse:
    return problem_response(request, 400, str(error))


async def _beyond_retention(request: Request, error: Exception) -> JSONResponse:
    # The range's start is what to change (or the retention setting the detail names).
    return problem_response(request, 400, str(error), "start")


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    return problem_response(request, 503, f"the store is unavailable: {error}")


async def _internal(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path, exc_info=error)
    return problem_response(request, 500, "internal error: the hub's log has the details")


def install(app: FastAPI) -> None:
    """Register the handlers: every error the API answers becomes a problem document."""
    app.add_exception_handler(HTTPException, _http)
    # Starlette raises its own HTTPException for 404/405 routing misses.
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Unknown, _unknown)
    app.add_exception_handler(QueryError, _query)
    app.add_exception_handler(BeyondRetention, _beyond_retention)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(Exception, _internal)


def _doc(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {MEDIA_TYPE: {}}}


PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _doc("A parameter the API cannot use (`parameter` names it)"),
    401: _doc("No API key, or not a valid one (see `WWW-Authenticate`)"),
    403: _doc("The endpoint needs an admin API key"),
    404: _doc("Unknown id"),
    422: _doc("A parameter of the wrong type or out of range"),
    503: _doc("The store (or this replica's part) is unavailable; retry later"),
}
"""The error responses every read route documents."""


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx response of ``openapi`` as ``application/problem+json`` of
    :class:`Problem` (FastAPI files an error's model under the route's own media type)."""
    reference = {"$ref": "#/components/schemas/Problem"}
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] not in "45":
                    continue
                schemas_given = [c.get("schema") for c in response.get("content", {}).values()]
                schema = next((s for s in schemas_given if s), None)
                if schema is None or "ValidationError" in str(schema.get("$ref", "")):
                    schema = reference
                response["content"] = {MEDIA_TYPE: {"schema": schema}}
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", Problem.model_json_schema())
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi
