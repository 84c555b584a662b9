"""Blobs: which are missing, upload one, and download one of a readable version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from docket.errors import NotFoundError, ValidationError
from docket.server.auth import CallerDep, Context, readable_version
from docket.server.blobs_s3 import S3BlobStore
from docket.server.errors import ForbiddenError
from docket.server.routes import ERRORS
from docket.server.schemas import BLOB_KEY_PATTERN, MAX_ID, BlobKeys, MissingKeys
from docket.server.uploads import discard_body, receive_blob, upload_limit
from docket.store.blobs import BlobStore
from docket.store.protocol import BlobAPI

router = APIRouter(prefix="/blobs", tags=["blobs"], responses=ERRORS)

KeyPath = Annotated[str, Path(pattern=BLOB_KEY_PATTERN)]
_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}
            }
        },
    }
}
_RAW_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}
            }
        }
    }
}


@router.post("/missing")
def missing_blobs(body: BlobKeys, ctx: Context, caller: CallerDep) -> MissingKeys:
    """Which of ``keys`` the server does not hold yet (upload only those)."""
    limit = ctx.settings.max_missing_keys
    if len(body.keys) > limit:
        raise ValidationError(
            f"{len(body.keys):,} keys asked at once; send at most {limit:,} per request"
        )
    return MissingKeys(missing=sorted(ctx.blobs.missing(body.keys)))


@router.put(
    "/{key}",
    status_code=201,
    openapi_extra=_RAW_BODY,
    responses={200: {"description": "The blob was already stored"}},
)
async def put_blob(
    key: KeyPath, request: Request, ctx: Context, caller: CallerDep
) -> Response:
    """Store the raw body under ``key`` once its digest is checked (else 422)."""
    if await run_in_threadpool(ctx.blobs.has, key):
        await discard_body(request, upload_limit(ctx, key))
        return Response(status_code=200)
    spooled = await receive_blob(request, key, ctx)
    try:
        await run_in_threadpool(ctx.blobs.put_file, key, spooled)
    finally:
        spooled.unlink(missing_ok=True)
    return Response(status_code=201)


@router.get("/{key}", response_class=Response, responses=_RAW_ANSWER)
def get_blob(
    key: KeyPath,
    version: Annotated[int, Query(ge=1, le=MAX_ID)],
    ctx: Context,
    caller: CallerDep,
) -> Response:
    """A blob of a version the caller can read: its manifest or a stored file."""
    record = readable_version(ctx, caller, version)
    if key != record.manifest_key:
        summary = ctx.manifests.summary(record.manifest_key)
        if key not in summary.stored_keys:
            raise ForbiddenError(
                f"blob {key} is not part of version {version} "
                f"({record.qualified_name}); ask for it with a version that lists it"
            )
    return _blob_answer(ctx.blobs, key)


def _blob_answer(blobs: BlobAPI, key: str) -> Response:
    if isinstance(blobs, BlobStore):
        path = blobs.path(key)
        if not path.is_file():
            raise NotFoundError(
                f"blob {key} is missing from {blobs.root}; the store is damaged, "
                f"restore it from a backup"
            )
        return FileResponse(path, media_type="application/octet-stream")
    if isinstance(blobs, S3BlobStore):
        return StreamingResponse(
            blobs.iter_chunks(key), media_type="application/octet-stream"
        )
    return Response(blobs.get_bytes(key), media_type="application/octet-stream")
