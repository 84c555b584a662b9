"""A version's file browser: its summary and its folders, a page at a time.

Folders list their subfolders first, then their files, ``PAGE_ROWS`` rows per
page, so a version of 100,000 entries shows its first screen as fast as one of
ten. A folder row can also be expanded in place (``/children/...``, fetched by
``static/files.js``) without leaving the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from docket.manifest import ManifestEntry
from docket.store.records import VersionRecord
from docket.ui.lookup import readable_version
from docket.ui.tree import Folder
from docket.ui.web import PAGE_ROWS, folder_index, page_number, render, store, viewer


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a folder: rows ``first``..``last`` (1-based) of ``total``."""

    folders: list[Folder]
    files: list[ManifestEntry]
    page: int
    pages: int
    first: int
    last: int
    total: int


def listing(folder: Folder, page: int, rows: int = PAGE_ROWS) -> Listing:
    total = len(folder.folders) + len(folder.files)
    pages = max(1, -(-total // rows))
    page = min(page, pages)
    start, stop = (page - 1) * rows, min(page * rows, total)
    subfolders = folder.subfolders() if start < len(folder.folders) else []
    shown_folders = subfolders[start:stop]
    file_start = max(0, start - len(folder.folders))
    shown_files = folder.files[file_start : file_start + rows - len(shown_folders)]
    return Listing(
        shown_folders, shown_files, page, pages, start + 1 if total else 0, stop, total
    )


def requested_version(request: Request) -> VersionRecord:
    """The version the URL names (``vN`` or an alias), if the viewer may read it."""
    params = request.path_params
    return readable_version(
        store(request).metadata,
        viewer(request),
        params["entity"],
        params["project"],
        params["name"],
        params["version"],
    )


def version_page(request: Request) -> Response:
    return _browse(request, request.path_params.get("folder", ""))


def _browse(request: Request, path: str) -> Response:
    version = requested_version(request)
    index = folder_index(request, version)
    folder = index.folder(path)
    return render(
        request,
        "version.html",
        version=version,
        index=index,
        folder=folder,
        listing=listing(folder, page_number(request)),
        by_alias=request.path_params["version"] != version.version,
    )


def children_fragment(request: Request) -> Response:
    """Rows of a folder for in-place expansion: its first page only."""
    version = requested_version(request)
    folder = folder_index(request, version).folder(request.path_params["folder"])
    return render(
        request,
        "children.html",
        version=version,
        folder=folder,
        listing=listing(folder, 1),
        depth=folder.path.count("/"),
    )


def routes() -> list[Route]:
    prefix = "/artifacts/{entity}/{project}/{name}/{version}"
    return [
        Route(prefix, version_page, name="version"),
        Route(prefix + "/tree/{folder:path}", version_page, name="folder"),
        Route(prefix + "/children/{folder:path}", children_fragment, name="children"),
    ]
