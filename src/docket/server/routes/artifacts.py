"""Artifacts by name: one version by alias, or every version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from docket.server.auth import CallerDep, Context, require_artifact_access
from docket.server.routes import ERRORS
from docket.server.schemas import ALIAS_PATTERN, NAME_PATTERN, Version

router = APIRouter(prefix="/artifacts", tags=["artifacts"], responses=ERRORS)

NamePath = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.get("/{entity}/{project}/{name}")
def get_version(
    entity: NamePath,
    project: NamePath,
    name: NamePath,
    ctx: Context,
    caller: CallerDep,
    alias: Annotated[str, Query(pattern=ALIAS_PATTERN)] = "latest",
) -> Version:
    require_artifact_access(caller, entity, project, name)
    return Version.of(ctx.metadata.get_version(entity, project, name, alias))


@router.get("/{entity}/{project}/{name}/versions")
def list_versions(
    entity: NamePath, project: NamePath, name: NamePath, ctx: Context, caller: CallerDep
) -> list[Version]:
    require_artifact_access(caller, entity, project, name)
    return [Version.of(r) for r in ctx.metadata.list_versions(entity, project, name)]
