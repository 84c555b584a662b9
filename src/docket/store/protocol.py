"""What the SDK needs from a store, whether embedded or behind a tracking server.

``Store`` (metadata in SQL, blobs in a folder) implements it in process; a remote
client implements the same methods over HTTP, so the SDK has one code path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from docket.manifest import Manifest
from docket.progress import ProgressCallback
from docket.store.records import NewVersion, RunRecord, VersionRecord


class MetadataAPI(Protocol):
    """Projects, runs, versions, aliases and lineage."""

    def create_run(
        self,
        entity: str,
        project: str,
        uid: str,
        *,
        name: str | None = None,
        job_type: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> RunRecord: ...

    def finish_run(self, entity: str, project: str, uid: str, state: str) -> None: ...

    def get_run(self, entity: str, project: str, uid: str) -> RunRecord: ...

    def log_version(self, new: NewVersion) -> tuple[VersionRecord, bool]: ...

    def use_version(
        self, entity: str, project: str, run_uid: str, version_id: int
    ) -> None: ...

    def set_aliases(self, version_id: int, aliases: Sequence[str]) -> None: ...

    def update_version(
        self, version_id: int, *, description: str | None, metadata: dict[str, Any]
    ) -> None: ...

    def delete_version(self, version_id: int, *, delete_aliases: bool) -> None: ...

    def get_version(
        self, entity: str, project: str, name: str, alias: str | None
    ) -> VersionRecord: ...

    def get_version_by_id(self, version_id: int) -> VersionRecord: ...

    def list_versions(
        self, entity: str, project: str, name: str
    ) -> list[VersionRecord]: ...

    def list_collections(
        self, entity: str, project: str, type_name: str | None = None
    ) -> list[tuple[str, str]]: ...

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]: ...

    def version_runs(self, version_id: int, direction: str) -> list[RunRecord]: ...

    def run_versions(
        self, entity: str, project: str, uid: str, direction: str
    ) -> list[VersionRecord]: ...


class BlobAPI(Protocol):
    """Content-addressed blobs: stored files (``md5:``) and manifests (``sha256:``).

    Reads name the version they are for (``version_id``): a tracking server
    hands out a blob only to callers who may read a version holding it. The
    embedded store has no such check and ignores it.
    """

    def has(self, key: str) -> bool: ...

    def missing(self, keys: Iterable[str]) -> set[str]: ...

    def put_file(
        self, key: str, source: Path, *, on_progress: ProgressCallback | None = None
    ) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str, *, version_id: int | None = None) -> bytes: ...

    def copy_to(
        self, key: str, destination: Path, *, version_id: int | None = None
    ) -> None: ...


class StoreAPI(Protocol):
    """A store as the SDK sees it."""

    @property
    def metadata(self) -> MetadataAPI: ...

    @property
    def blobs(self) -> BlobAPI: ...

    def load_manifest(self, version: VersionRecord) -> Manifest: ...

    def save_manifest(self, manifest: Manifest) -> str: ...
