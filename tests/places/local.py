"""The file:// place: a folder standing in for an NFS mount."""

from __future__ import annotations

from pathlib import Path

import pytest


class LocalPlace:
    label = "file"
    versioned = False
    listable = True
    has_folder_markers = False

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def uri(self, key: str) -> str:
        return f"file://{self.root / key}" if key else f"file://{self.root}/"

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink()

    def put_folder_marker(self, key: str) -> None:
        raise NotImplementedError("local folders have no folder-marker objects")

    def versions(self, key: str) -> list[str]:
        raise NotImplementedError("local folders keep no versions")

    def pinned_uri(self, key: str, version: str) -> str:
        raise NotImplementedError("local folders keep no versions")


@pytest.fixture
def place_file(tmp_path: Path) -> LocalPlace:
    return LocalPlace(tmp_path / "place")
