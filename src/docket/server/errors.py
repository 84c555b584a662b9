"""docket's errors as HTTP answers: a status and ``{"error": {"type", "message"}}``.

The type is the ``docket.errors`` class the client re-raises; the message is the
error's own, which already names the next step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from docket.errors import (
    AuthError,
    ConflictError,
    DocketError,
    IntegrityError,
    NotFoundError,
    StorageError,
    ValidationError,
)

log = logging.getLogger("docket.server")

# Most specific first: the first class an error is an instance of decides.
_STATUS: tuple[tuple[type[DocketError], int, str], ...] = (
    (ValidationError, 422, "ValidationError"),
    (NotFoundError, 404, "NotFoundError"),
    (ConflictError, 409, "ConflictError"),
    (IntegrityError, 409, "IntegrityError"),
    (AuthError, 401, "AuthError"),
    (StorageError, 503, "StorageError"),
)
_HTTP_TYPES = {401: "AuthError", 403: "AuthError", 404: "NotFoundError"}
_MAX_LISTED = 1000


class ForbiddenError(AuthError):
    """The caller is known but this request reaches past what it may read (403)."""


class MissingBlobsError(ConflictError):
    """A version names stored files (or a manifest) the server does not hold."""

    def __init__(self, name: str, keys: Sequence[str]) -> None:
        self.keys = sorted(keys)
        shown = ", ".join(self.keys[:5]) + (", ..." if len(self.keys) > 5 else "")
        super().__init__(
            f"version of {name} names {len(self.keys)} blob(s) the server does not "
            f"hold ({shown}); upload them with PUT /api/v1/blobs/{{key}} and log "
            f"the version again"
        )


class BodyTooLargeError(HTTPException):
    """A request body passed its size limit (413). An HTTPException so that
    FastAPI's body parser lets it through instead of calling it a parse error."""

    def __init__(self, limit: int, what: str = "JSON bodies") -> None:
        super().__init__(
            413,
            f"{what} are limited to {limit:,} bytes on this server; send less, "
            f"or ask the operator to raise the limit",
        )


def error_body(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


def docket_error_response(exc: DocketError) -> JSONResponse:
    status, kind = 500, "ServerError"
    for cls, code, name in _STATUS:
        if isinstance(exc, cls):
            status, kind = code, name
            break
    if isinstance(exc, ForbiddenError):
        status = 403
    extra: dict[str, Any] = {}
    if isinstance(exc, MissingBlobsError):
        extra["missing"] = exc.keys[:_MAX_LISTED]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        error_body(kind, str(exc), **extra), status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every expected failure as docket's JSON error body."""
    app.add_exception_handler(DocketError, _on_docket_error)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(sa_exc.IntegrityError, _on_write_conflict)
    app.add_exception_handler(sa_exc.OperationalError, _on_database_down)


async def _on_docket_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DocketError)
    return docket_error_response(exc)


async def _on_invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(error) for error in exc.errors()[:5]]
    message = "invalid request: " + "; ".join(problems)
    return JSONResponse(error_body("ValidationError", message), status_code=422)


def _describe(error: Any) -> str:
    if error.get("type") == "json_invalid":
        reason = error.get("ctx", {}).get("error", "")
        return f"the body is not valid JSON ({reason}); send a JSON object"
    where = ".".join(str(part) for part in error.get("loc", ()))
    text = str(error.get("msg", "invalid"))
    # Errors raised by docket's own validators already say what to do.
    text = text.removeprefix("Value error, ")
    return f"{where}: {text}" if where else text


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    kind = _HTTP_TYPES.get(
        status, "ConflictError" if status == 409 else "ValidationError"
    )
    if status == 404:
        message = (
            f"no route {request.method} {request.url.path}; the routes are "
            f"listed in /api/v1/openapi.json"
        )
    elif status == 405:
        message = (
            f"{request.url.path} does not answer {request.method}; the routes are "
            f"listed in /api/v1/openapi.json"
        )
    elif status == 400:
        # FastAPI's answer to a body it cannot decode at all (not UTF-8, say).
        status, kind = 422, "ValidationError"
        message = "the body could not be read as JSON; send a UTF-8 JSON object"
    else:
        message = str(exc.detail)
    return JSONResponse(
        error_body(kind, message), status_code=status, headers=exc.headers
    )


async def _on_write_conflict(_request: Request, exc: Exception) -> JSONResponse:
    log.debug("write conflict: %s", getattr(exc, "orig", exc))
    message = (
        "the request conflicts with what is stored or with a concurrent write "
        "(for example a run id that exists already); check it and retry"
    )
    return JSONResponse(error_body("ConflictError", message), status_code=409)


async def _on_database_down(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    message = "the metadata database is unavailable or overloaded; retry shortly"
    return JSONResponse(
        error_body("StorageError", message),
        status_code=503,
        headers={"Retry-After": "5"},
    )
