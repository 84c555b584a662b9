"""Projects of the caller's entities, and the artifact collections of a project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from docket.server.auth import CallerDep, Context, require_member
from docket.server.routes import ERRORS
from docket.server.schemas import NAME_PATTERN, Collection, ProjectName

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERRORS)

NamePath = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.get("")
def list_projects(
    ctx: Context,
    caller: CallerDep,
    entity: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
) -> list[ProjectName]:
    if entity is not None:
        require_member(caller, entity)
    entities = [entity] if entity is not None else sorted(caller.entities)
    return [
        ProjectName(entity=owner, name=name)
        for one in entities
        for owner, name in ctx.metadata.list_projects(one)
    ]


@router.get("/{entity}/{project}/collections")
def list_collections(
    entity: NamePath,
    project: NamePath,
    ctx: Context,
    caller: CallerDep,
    type: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
) -> list[Collection]:
    require_member(caller, entity)
    pairs = ctx.metadata.list_collections(entity, project, type)
    return [Collection(name=name, type=type_name) for name, type_name in pairs]
