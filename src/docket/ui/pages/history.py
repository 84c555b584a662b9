"""An artifact's version history: every version with its aliases and origin."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from docket.store.records import VersionRecord
from docket.ui.lookup import readable_versions
from docket.ui.tree import Reproducibility
from docket.ui.web import folder_index, render, store, viewer


@dataclass(frozen=True, slots=True)
class HistoryRow:
    version: VersionRecord
    reproducibility: Reproducibility


def history_page(request: Request) -> Response:
    entity, project, name = (
        request.path_params[key] for key in ("entity", "project", "name")
    )
    versions = readable_versions(
        store(request).metadata, viewer(request), entity, project, name
    )
    rows = [HistoryRow(v, _reproducibility(request, v)) for v in reversed(versions)]
    return render(
        request,
        "history.html",
        entity=entity,
        project=project,
        name=name,
        type_name=versions[-1].type,
        rows=rows,
    )


def _reproducibility(request: Request, version: VersionRecord) -> Reproducibility:
    # Only versions holding references need their manifest read.
    if not version.has_references:
        return Reproducibility(stored=version.entry_count)
    return folder_index(request, version).reproducibility


def routes() -> list[Route]:
    return [Route("/artifacts/{entity}/{project}/{name}", history_page, name="history")]
