"""The projects the viewer may read, and one project's artifacts by type."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from docket.errors import NotFoundError
from docket.store.records import VersionRecord
from docket.ui.lookup import readable_projects, require_project
from docket.ui.web import render, store, viewer


@dataclass(frozen=True, slots=True)
class ProjectRow:
    entity: str
    name: str
    artifact_count: int


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    name: str
    latest: VersionRecord | None


def projects_page(request: Request) -> Response:
    metadata = store(request).metadata
    rows = [
        ProjectRow(entity, name, len(metadata.list_collections(entity, name)))
        for entity, name in readable_projects(metadata, viewer(request))
    ]
    return render(request, "projects.html", projects=rows)


def project_page(request: Request) -> Response:
    entity = request.path_params["entity"]
    project = request.path_params["project"]
    metadata = store(request).metadata
    require_project(metadata, viewer(request), entity, project)
    by_type: dict[str, list[ArtifactRow]] = {}
    for name, type_name in metadata.list_collections(entity, project):
        by_type.setdefault(type_name, []).append(
            ArtifactRow(name, _latest(request, entity, project, name))
        )
    return render(
        request,
        "project.html",
        entity=entity,
        project=project,
        types=sorted(by_type.items()),
    )


def _latest(
    request: Request, entity: str, project: str, name: str
) -> VersionRecord | None:
    try:
        return store(request).metadata.get_version(entity, project, name, "latest")
    except NotFoundError:
        return None  # every version was deleted


def routes() -> list[Route]:
    return [
        Route("/", projects_page, name="projects"),
        Route("/projects/{entity}/{project}", project_page, name="project"),
    ]
