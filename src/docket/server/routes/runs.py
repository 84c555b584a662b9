"""Runs: created, finished and read, with the versions they logged or used."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from docket.server.auth import CallerDep, Context, require_run_access
from docket.server.routes import ERRORS
from docket.server.schemas import (
    NAME_PATTERN,
    UID_PATTERN,
    NewRun,
    Run,
    RunFinish,
    Version,
)

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERRORS)

EntityPath = Annotated[str, Path(pattern=NAME_PATTERN)]
ProjectPath = Annotated[str, Path(pattern=NAME_PATTERN)]
UidPath = Annotated[str, Path(pattern=UID_PATTERN)]
Direction = Annotated[Literal["output", "input"], Query()]


@router.post("", status_code=201)
def create_run(body: NewRun, ctx: Context, caller: CallerDep) -> Run:
    require_run_access(caller, body.entity, body.project, body.uid)
    record = ctx.metadata.create_run(
        body.entity,
        body.project,
        body.uid,
        name=body.name,
        job_type=body.job_type,
        config=dict(body.config),
    )
    return Run.of(record)


@router.get("/{entity}/{project}/{uid}")
def get_run(
    entity: EntityPath,
    project: ProjectPath,
    uid: UidPath,
    ctx: Context,
    caller: CallerDep,
) -> Run:
    require_run_access(caller, entity, project, uid)
    return Run.of(ctx.metadata.get_run(entity, project, uid))


@router.post("/{entity}/{project}/{uid}/finish", status_code=204)
def finish_run(
    entity: EntityPath,
    project: ProjectPath,
    uid: UidPath,
    body: RunFinish,
    ctx: Context,
    caller: CallerDep,
) -> Response:
    require_run_access(caller, entity, project, uid)
    ctx.metadata.finish_run(entity, project, uid, body.state)
    return Response(status_code=204)


@router.get("/{entity}/{project}/{uid}/versions")
def run_versions(
    entity: EntityPath,
    project: ProjectPath,
    uid: UidPath,
    ctx: Context,
    caller: CallerDep,
    direction: Direction = "output",
) -> list[Version]:
    """Versions the run produced or consumed, in the caller's entities only."""
    require_run_access(caller, entity, project, uid)
    records = ctx.metadata.run_versions(entity, project, uid, direction)
    return [Version.of(r) for r in records if caller.belongs_to(r.entity)]
