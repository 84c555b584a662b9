"""The http:// places: a folder served by nginx, with ETags and without.

Both labels serve the same kind of per-test folder under the session nginx root;
``http`` reads it from the server that sends ETags (``"<mtime>-<size>"``),
``http-noetag`` from the one that sends only Last-Modified and Content-Length.
HTTP URIs name single files, so the listing scenarios are the suite's xfails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.standins import NginxStandIn


class HttpPlace:
    versioned = False
    listable = False
    has_folder_markers = False

    def __init__(self, server: NginxStandIn, folder: str, *, etag: bool) -> None:
        self.server = server
        self.folder = folder
        self.etag = etag
        self.label = "http" if etag else "http-noetag"
        self.root = server.root / folder
        self.root.mkdir(parents=True)

    def uri(self, key: str) -> str:
        return self.server.url(f"{self.folder}/{key}", etag=self.etag)

    def path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so nginx never serves a half-written file.
        temporary = path.with_name(path.name + ".partial")
        temporary.write_bytes(data)
        temporary.chmod(0o644)  # nginx workers may run as nobody
        os.replace(temporary, path)

    def delete(self, key: str) -> None:
        self.path(key).unlink()

    def put_folder_marker(self, key: str) -> None:
        raise NotImplementedError("web servers have no folder-marker objects")

    def versions(self, key: str) -> list[str]:
        raise NotImplementedError("web servers keep no versions")

    def pinned_uri(self, key: str, version: str) -> str:
        raise NotImplementedError("web servers keep no versions")


@pytest.fixture
def place_http(http_server: NginxStandIn, unique_service_name: str) -> HttpPlace:
    return HttpPlace(http_server, unique_service_name, etag=True)


@pytest.fixture
def place_http_noetag(http_server: NginxStandIn, unique_service_name: str) -> HttpPlace:
    return HttpPlace(http_server, unique_service_name, etag=False)
