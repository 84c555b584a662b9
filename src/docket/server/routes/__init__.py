"""The API's routes, one module per concept, mounted under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from docket.server.schemas import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "No API key, or one the server refuses"),
        (404, "Absent, or in an entity the caller does not belong to"),
        (409, "Conflicts with what is stored"),
        (413, "The body is larger than the server accepts"),
        (422, "The request is malformed"),
    )
}


def api_router() -> APIRouter:
    from docket.server.routes import (
        artifacts,
        blobs,
        identity,
        projects,
        runs,
        versions,
    )

    router = APIRouter(prefix="/api/v1")
    for module in (identity, runs, versions, artifacts, projects, blobs):
        router.include_router(module.router)
    return router
