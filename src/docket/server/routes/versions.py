"""Versions: logged (after their blobs are checked), read, edited, used, deleted."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from docket.server.auth import (
    CallerDep,
    Context,
    readable_version,
    require_member,
    require_run_access,
)
from docket.server.routes import ERRORS
from docket.server.schemas import (
    MAX_ID,
    AliasList,
    LoggedVersion,
    NewVersionBody,
    Run,
    Version,
    VersionUpdate,
    VersionUse,
)

router = APIRouter(prefix="/versions", tags=["versions"], responses=ERRORS)

VersionId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("", status_code=201)
def log_version(
    body: NewVersionBody, response: Response, ctx: Context, caller: CallerDep
) -> LoggedVersion:
    """Record a version once its manifest and every stored file are on the server.

    201 when a version was created, 200 when one with equal content existed.
    """
    require_member(caller, body.entity)
    new = body.record()
    ctx.manifests.check_new_version(new)
    record, created = ctx.metadata.log_version(new)
    response.status_code = 201 if created else 200
    return LoggedVersion(version=Version.of(record), created=created)


@router.get("/{version_id}")
def get_version(version_id: VersionId, ctx: Context, caller: CallerDep) -> Version:
    return Version.of(readable_version(ctx, caller, version_id))


@router.patch("/{version_id}", status_code=204)
def update_version(
    version_id: VersionId, body: VersionUpdate, ctx: Context, caller: CallerDep
) -> Response:
    """Set the description and metadata; a field left out keeps its value."""
    version = readable_version(ctx, caller, version_id)
    description = (
        body.description
        if "description" in body.model_fields_set
        else version.description
    )
    metadata = version.metadata if body.metadata is None else body.metadata
    ctx.metadata.update_version(
        version_id, description=description, metadata=dict(metadata)
    )
    return Response(status_code=204)


@router.put("/{version_id}/aliases", status_code=204)
def set_aliases(
    version_id: VersionId, body: AliasList, ctx: Context, caller: CallerDep
) -> Response:
    readable_version(ctx, caller, version_id)
    ctx.metadata.set_aliases(version_id, list(dict.fromkeys(body.aliases)))
    return Response(status_code=204)


@router.delete("/{version_id}", status_code=204)
def delete_version(
    version_id: VersionId,
    ctx: Context,
    caller: CallerDep,
    delete_aliases: bool = False,
) -> Response:
    readable_version(ctx, caller, version_id)
    ctx.metadata.delete_version(version_id, delete_aliases=delete_aliases)
    return Response(status_code=204)


@router.post("/{version_id}/use", status_code=204)
def use_version(
    version_id: VersionId, body: VersionUse, ctx: Context, caller: CallerDep
) -> Response:
    """Record that a run of the caller's consumed the version."""
    readable_version(ctx, caller, version_id)
    require_run_access(caller, body.entity, body.project, body.run_uid)
    ctx.metadata.use_version(body.entity, body.project, body.run_uid, version_id)
    return Response(status_code=204)


@router.get("/{version_id}/runs")
def version_runs(
    version_id: VersionId,
    ctx: Context,
    caller: CallerDep,
    direction: Annotated[Literal["output", "input"], Query()] = "output",
) -> list[Run]:
    """Runs that logged or used the version, in the caller's entities only."""
    readable_version(ctx, caller, version_id)
    records = ctx.metadata.version_runs(version_id, direction)
    return [Run.of(r) for r in records if caller.belongs_to(r.entity)]
