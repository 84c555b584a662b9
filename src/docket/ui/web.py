"""What every page handler shares: the UI's state, the viewer, links, rendering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from docket.store.protocol import StoreAPI
from docket.store.records import RunRecord, VersionRecord
from docket.ui.access import Viewer, ViewerHook
from docket.ui.previews import Previewer
from docket.ui.tree import FolderIndex, IndexCache

StoreHook = Callable[[Request], StoreAPI]
PAGE_ROWS = 200


@dataclass(frozen=True, slots=True)
class UIState:
    """Opened once per application: hooks, templates, caches and the previewer."""

    store_for: StoreHook
    viewer_for: ViewerHook
    templates: Jinja2Templates
    indexes: IndexCache
    previewer: Previewer
    sign_in: bool
    title: str


def ui_state(request: Request) -> UIState:
    state: UIState = request.app.state.ui
    return state


def viewer(request: Request) -> Viewer:
    """The request's viewer, named in the request log line when signed in."""
    found = ui_state(request).viewer_for(request)
    request.state.viewer = found
    if found.name is not None:
        request.state.user = found.name
    return found


def store(request: Request) -> StoreAPI:
    return ui_state(request).store_for(request)


def folder_index(request: Request, version: VersionRecord) -> FolderIndex:
    """The folder index of a version the caller has already checked is readable."""
    source = store(request)
    return ui_state(request).indexes.get(
        version.manifest_key, lambda: source.load_manifest(version)
    )


def render(
    request: Request, template: str, status: int = 200, **context: Any
) -> Response:
    state = ui_state(request)
    context.setdefault("links", Links(request.scope.get("root_path", "")))
    context.setdefault("title", state.title)
    context.setdefault("sign_in", state.sign_in)
    context.setdefault("viewer", getattr(request.state, "viewer", None))
    return state.templates.TemplateResponse(
        request, template, context, status_code=status
    )


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


class Links:
    """Stable URLs of every page, under the prefix the UI is mounted at."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def _at(self, *parts: str, query: dict[str, Any] | None = None) -> str:
        path = "/".join(quote(part, safe="") for part in parts)
        shown = {k: v for k, v in (query or {}).items() if v is not None}
        return f"{self.root}/{path}" + (f"?{urlencode(shown)}" if shown else "")

    def home(self) -> str:
        return f"{self.root}/"

    def static(self, name: str) -> str:
        return self._at("static", name)

    def sign_in(self) -> str:
        return self._at("login")

    def sign_out(self) -> str:
        return self._at("logout")

    def project(self, entity: str, project: str) -> str:
        return self._at("projects", entity, project)

    def artifact(self, entity: str, project: str, name: str) -> str:
        return self._at("artifacts", entity, project, name)

    def version(self, v: VersionRecord, *tail: str, **query: Any) -> str:
        return self._at(
            "artifacts", v.entity, v.project, v.name, v.version, *tail, query=query
        )

    def folder(self, v: VersionRecord, path: str, page: int | None = None) -> str:
        tail = ("tree", *path.strip("/").split("/")) if path.strip("/") else ()
        return self.version(v, *tail, page=page if page and page > 1 else None)

    def children(self, v: VersionRecord, path: str) -> str:
        return self.version(v, "children", *path.strip("/").split("/"))

    def entry(self, v: VersionRecord, path: str, **query: Any) -> str:
        return self.version(v, "entry", *path.split("/"), **query)

    def download(self, v: VersionRecord, path: str) -> str:
        return self.version(v, "download", *path.split("/"))

    def image(self, v: VersionRecord, path: str) -> str:
        return self.version(v, "image", *path.split("/"))

    def version_lineage(self, v: VersionRecord, hops: int | None = None) -> str:
        return self.version(v, "lineage", hops=hops)

    def run(self, entity: str, project: str, uid: str) -> str:
        return self._at("runs", entity, project, uid)

    def run_lineage(self, run: RunRecord, hops: int | None = None) -> str:
        return self._at(
            "runs", run.entity, run.project, run.uid, "lineage", query={"hops": hops}
        )
