"""One entry of a version: its record, a preview, a check, and its bytes."""

from __future__ import annotations

import os
import posixpath
import tempfile
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from docket.errors import (
    DocketError,
    NotFoundError,
    ReferenceChangedError,
    ReferenceMissingError,
)
from docket.manifest import ManifestEntry
from docket.store.blobs import BlobStore
from docket.store.protocol import StoreAPI
from docket.store.records import VersionRecord
from docket.ui.fetching import check_reference_now
from docket.ui.pages.files import requested_version
from docket.ui.previews import Preview
from docket.ui.web import folder_index, render, store, ui_state

# The bytes of an image preview are the referenced object's, not ours: they may
# be shown as an image and nothing else.
_IMAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=300",
}


def _entry(request: Request) -> tuple[VersionRecord, ManifestEntry]:
    version = requested_version(request)
    entry = folder_index(request, version).entry(request.path_params["path"])
    return version, entry


def entry_page(request: Request) -> Response:
    version, entry = _entry(request)
    previewer = ui_state(request).previewer
    checked: str | None = None
    problem: str | None = None
    if entry.ref is not None and request.query_params.get("check"):
        checked, problem = _check(request, entry)
    return render(
        request,
        "entry.html",
        version=version,
        entry=entry,
        folder=posixpath.dirname(entry.path),
        preview=previewer.preview(store(request), version, entry),
        checked=checked,
        problem=problem,
    )


def _check(request: Request, entry: ManifestEntry) -> tuple[str | None, str | None]:
    """``(state, message)``: ``unchanged``, ``changed``, ``missing`` or ``failed``."""
    rules = ui_state(request).previewer.settings.rules
    try:
        info = check_reference_now(entry, rules)
    except ReferenceChangedError as exc:
        return "changed", str(exc)
    except ReferenceMissingError as exc:
        return "missing", str(exc)
    except DocketError as exc:  # refused by the rules, unreachable, no access
        return "failed", str(exc)
    return "unchanged", f"{info.size} bytes, etag {info.etag or '-'}"


def download(request: Request) -> Response:
    """A stored file's bytes, as an attachment named like the entry."""
    version, entry = _entry(request)
    if entry.ref is not None:
        raise NotFoundError(
            f"{entry.path} is a reference to {entry.ref}; docket stores no bytes for "
            f"it: fetch it with `docket artifact get {version.qualified_name}`"
        )
    name = posixpath.basename(entry.path)
    return _blob_response(store(request), version, entry.digest, name)


def _blob_response(
    source: StoreAPI, version: VersionRecord, key: str, name: str
) -> Response:
    blobs = source.blobs
    if isinstance(blobs, BlobStore):
        return FileResponse(
            blobs.path(key), filename=name, media_type="application/octet-stream"
        )
    # Other blob stores copy into a temporary file that goes once it is sent.
    handle, temporary = tempfile.mkstemp(prefix="docket-ui-")
    os.close(handle)
    blobs.copy_to(key, Path(temporary), version_id=version.id)
    return FileResponse(
        temporary,
        filename=name,
        media_type="application/octet-stream",
        background=BackgroundTask(Path(temporary).unlink, missing_ok=True),
    )


def image(request: Request) -> Response:
    """The verified bytes of an image preview; a 404 page says why there are none."""
    version, entry = _entry(request)
    found = ui_state(request).previewer.image(store(request), version, entry)
    if isinstance(found, tuple):
        data, media = found
        return Response(data, media_type=media, headers=_IMAGE_HEADERS)
    reason = found.message if isinstance(found, Preview) else "not an image"
    raise NotFoundError(f"no image preview of {entry.path}: {reason}")


def routes() -> list[Route]:
    prefix = "/artifacts/{entity}/{project}/{name}/{version}"
    return [
        Route(prefix + "/entry/{path:path}", entry_page, name="entry"),
        Route(prefix + "/download/{path:path}", download, name="download"),
        Route(prefix + "/image/{path:path}", image, name="image"),
    ]
