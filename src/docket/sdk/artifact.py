"""``Artifact``: a versioned set of files, stored or referenced, with W&B's API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from docket.errors import IntegrityError, ValidationError
from docket.manifest import Manifest, ManifestEntry
from docket.manifest.paths import clean_entry_path, join_entry_path
from docket.names import validate_name, validate_type
from docket.progress import byte_progress
from docket.sdk import session
from docket.sdk.download import Downloader, DownloadReport
from docket.sdk.references import reference_entries
from docket.sdk.staging import StagingArea
from docket.sdk.upload import upload_version
from docket.sdk.verify import extra_files, local_copy_problems, reference_problems
from docket.storage.local import LocalBackend
from docket.store import INPUT, OUTPUT, VersionRecord
from docket.store.protocol import StoreAPI

if TYPE_CHECKING:
    from docket.sdk.api import ApiRun

PENDING, COMMITTED, DELETED = "PENDING", "COMMITTED", "DELETED"


class Artifact:
    """A dataset, model or any set of files, tracked as numbered versions.

    Build one with ``add_file``/``add_dir``/``new_file`` (files are stored) and
    ``add_reference`` (files stay where they are), then log it with
    ``Run.log_artifact``. A logged artifact is read-only apart from its
    description, metadata and aliases, which ``save()`` persists.
    """

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name = validate_name(name)
        self._type = validate_type(type)
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._manifest: Manifest | None = Manifest()
        self._staged: dict[str, Path] = {}
        self._staging: StagingArea | None = None
        self._record: VersionRecord | None = None
        self._store: StoreAPI | None = None
        self._aliases: list[str] = []
        self._state = PENDING

    @classmethod
    def _from_record(cls, record: VersionRecord, store: StoreAPI) -> Artifact:
        artifact = cls.__new__(cls)
        artifact._name = record.name
        artifact._type = record.type
        artifact.description = record.description
        artifact.metadata = dict(record.metadata)
        artifact._manifest = None  # loaded on first use
        artifact._staged = {}
        artifact._staging = None
        artifact._store = store
        artifact._bind(record)
        return artifact

    def _bind(self, record: VersionRecord) -> None:
        self._record = record
        self._aliases = list(record.aliases)
        self._state = COMMITTED

    # -- identity ----------------------------------------------------------------

    @property
    def name(self) -> str:
        """``name`` before logging, ``name:vN`` once logged (as W&B reports it)."""
        if self._record is None:
            return self._name
        return f"{self._name}:{self._record.version}"

    @property
    def source_name(self) -> str:
        return self.name

    @property
    def type(self) -> str:
        return self._type

    @property
    def version(self) -> str:
        return self._logged("version").version

    @property
    def id(self) -> str | None:
        return None if self._record is None else str(self._record.id)

    @property
    def entity(self) -> str:
        return self._logged("entity").entity

    @property
    def project(self) -> str:
        return self._logged("project").project

    @property
    def qualified_name(self) -> str:
        return self._logged("qualified_name").qualified_name

    @property
    def state(self) -> str:
        return self._state

    @property
    def aliases(self) -> list[str]:
        return self._aliases

    @aliases.setter
    def aliases(self, aliases: list[str]) -> None:
        self._aliases = list(aliases)

    @property
    def created_at(self) -> str | None:
        return None if self._record is None else self._record.created_at.isoformat()

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = self._require_store().load_manifest(
                self._logged("manifest")
            )
        return self._manifest

    @property
    def digest(self) -> str:
        if self._record is not None:
            return self._record.digest
        return self.manifest.digest()

    @property
    def size(self) -> int:
        return self.manifest.size

    def __repr__(self) -> str:
        return f"<Artifact {self.name} type={self._type} state={self._state}>"

    # -- building ----------------------------------------------------------------

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ManifestEntry]:
        """Track the object or every object under ``uri`` without copying it."""
        self._ensure_draft()
        settings = session.current_settings()
        with byte_progress(f"hashing {uri}") as bar:
            entries = reference_entries(
                str(uri),
                name=name,
                checksum=checksum,
                max_objects=max_objects,
                hash_cache=session.hash_cache(settings),
                on_progress=bar,
                on_total=None if bar is None else bar.set_total,
            )
        self._add_entries(entries)
        return entries

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: str | None = "mutable",
        overwrite: bool = False,
    ) -> ManifestEntry:
        """Store a copy of one local file; later edits to it change nothing."""
        self._ensure_draft()
        path = Path(local_path)
        if not path.is_file():
            raise ValidationError(
                f"{path} is not a file; check the path or use add_dir"
            )
        entry_path = clean_entry_path(name or path.name)
        return self._stage(path, entry_path, overwrite=overwrite)

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        skip_cache: bool | None = False,
        policy: str | None = "mutable",
        merge: bool = False,
    ) -> None:
        """Store a copy of every file below a local folder."""
        self._ensure_draft()
        root = Path(local_path)
        if not root.is_dir():
            raise ValidationError(
                f"{root} is not a directory; check the path or use add_file"
            )
        files = LocalBackend().list_files(
            str(root.resolve()), uri=root.as_uri(), max_objects=10**9
        )
        for relative, stat in files:
            self._stage(
                Path(stat.path), join_entry_path(name, relative), overwrite=merge
            )

    @contextmanager
    def new_file(
        self, name: str, mode: str = "x", encoding: str | None = None
    ) -> Iterator[IO[Any]]:
        """Write a new file straight into the artifact."""
        self._ensure_draft()
        entry_path = clean_entry_path(name)
        if entry_path in self._current_manifest() and "x" in mode:
            raise ValidationError(
                f"{entry_path} is already in the artifact; remove it first"
            )
        staging = self._staging_area()
        path = staging.new_path()
        file_mode = mode.replace("x", "w")
        with open(path, file_mode, encoding=encoding) as handle:
            yield handle
        self._stage(path, entry_path, overwrite=True)
        path.unlink(missing_ok=True)

    def remove(self, item: str | os.PathLike[str] | ManifestEntry) -> None:
        """Remove an entry, or every entry under a folder path."""
        self._ensure_draft()
        path = (
            item.path
            if isinstance(item, ManifestEntry)
            else clean_entry_path(str(item))
        )
        manifest = self._current_manifest()
        doomed = [p for p in manifest.entries if p == path or p.startswith(path + "/")]
        if not doomed:
            raise ValidationError(f"{path} is not in the artifact; nothing removed")
        for p in doomed:
            del manifest.entries[p]
            staged = self._staged.pop(p, None)
            if staged is not None and self._staging is not None:
                self._staging.discard(staged)

    def get_entry(self, name: str) -> ManifestEntry:
        path = clean_entry_path(name)
        entry = self.manifest.entries.get(path)
        if entry is None:
            raise KeyError(f"{path} is not an entry of {self.name}")
        return entry

    get_path = get_entry

    def files(self) -> list[ManifestEntry]:
        return list(self.manifest)

    # -- reading -----------------------------------------------------------------

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | None = None,
        multipart: bool | None = None,
    ) -> str:
        """Bring back the logged bytes of every entry under ``root``."""
        target = self._root(root)
        entries = list(self.manifest)
        if path_prefix:
            entries = [e for e in entries if e.path.startswith(path_prefix)]
        self.last_download = self._downloader_run(
            entries, target, allow_missing_references, bool(skip_cache)
        )
        return str(target)

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """Make ``root`` hold exactly this version: download, then delete extras."""
        target = self._root(root)
        for extra in extra_files(self.manifest, target):
            extra.unlink()
        _remove_empty_dirs(target)
        self._downloader_run(list(self.manifest), target, False, False)
        return str(target)

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Check a downloaded copy and every referenced object against the manifest.

        Raises ``IntegrityError`` naming each file that is missing, extra or
        different, and each reference whose source is gone or changed.
        """
        target = self._root(root)
        problems = local_copy_problems(self.manifest, target)
        problems += reference_problems(self.manifest)
        if problems:
            shown = "; ".join(problems[:20])
            more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
            raise IntegrityError(f"{self.name} does not verify: {shown}{more}")

    def logged_by(self) -> ApiRun | None:
        from docket.sdk.api import ApiRun

        runs = self._require_store().metadata.version_runs(
            self._logged("logged_by").id, OUTPUT
        )
        return ApiRun(runs[0], self._require_store()) if runs else None

    def used_by(self) -> list[ApiRun]:
        from docket.sdk.api import ApiRun

        store = self._require_store()
        return [
            ApiRun(r, store)
            for r in store.metadata.version_runs(self._logged("used_by").id, INPUT)
        ]

    def wait(self, timeout: int | None = None) -> Artifact:
        """Logging is synchronous on the embedded store: nothing to wait for."""
        self._logged("wait")
        return self

    def is_draft(self) -> bool:
        return self._record is None

    def save(
        self, project: str | None = None, settings: dict[str, Any] | None = None
    ) -> None:
        """Persist description, metadata and aliases; log a draft without a run."""
        if self._record is None:
            from docket.sdk.run import Run

            with Run.start(project=project, job_type="auto") as run:
                run.log_artifact(self)
            return
        store = self._require_store()
        store.metadata.update_version(
            self._record.id, description=self.description, metadata=dict(self.metadata)
        )
        store.metadata.set_aliases(
            self._record.id, [a for a in self._aliases if a != "latest"]
        )
        self._bind(store.metadata.get_version_by_id(self._record.id))

    def delete(self, delete_aliases: bool = False) -> None:
        record = self._logged("delete")
        self._require_store().metadata.delete_version(
            record.id, delete_aliases=delete_aliases
        )
        self._state = DELETED

    # -- internals used by Run ---------------------------------------------------

    def _commit(
        self,
        store: StoreAPI,
        *,
        entity: str,
        project: str,
        aliases: list[str],
        run_uid: str | None,
        as_input: bool = False,
    ) -> bool:
        """Write blobs and manifest, then record the version. Returns whether new."""
        from docket.store import NewVersion

        manifest = self._current_manifest()
        manifest_key = upload_version(
            store,
            manifest,
            {manifest.entries[p].digest: staged for p, staged in self._staged.items()},
            description=f"uploading {self._name}",
        )
        new = NewVersion(
            entity=entity,
            project=project,
            name=self._name,
            type=self._type,
            digest=manifest.digest(),
            manifest_key=manifest_key,
            size=manifest.size,
            entry_count=len(manifest),
            has_references=manifest.has_references,
            aliases=tuple(dict.fromkeys([*self._aliases, *aliases])),
            description=self.description,
            metadata=dict(self.metadata),
            run_uid=None if as_input else run_uid,
        )
        record, created = store.metadata.log_version(new)
        if as_input and run_uid is not None:
            store.metadata.use_version(entity, project, run_uid, record.id)
        self._store = store
        self._bind(record)
        if self._staging is not None:
            self._staging.cleanup()
            self._staging = None
        self._staged = {}
        return created

    def _add_entry(
        self, entry: ManifestEntry, overwrite: bool = False
    ) -> ManifestEntry:
        self._add_entries([entry], overwrite=overwrite)
        return entry

    def _add_entries(
        self, entries: list[ManifestEntry], *, overwrite: bool = False
    ) -> None:
        """Add entries at once; nothing is added if one clashes with another file."""
        current = self._current_manifest().entries
        if not overwrite and current:
            for entry in entries:
                existing = current.get(entry.path)
                if existing is not None and existing.digest != entry.digest:
                    raise ValidationError(
                        f"{entry.path} is already in the artifact with other "
                        f"content; remove it first or pass overwrite=True"
                    )
        current.update((entry.path, entry) for entry in entries)

    def _stage(
        self, source: Path, entry_path: str, *, overwrite: bool
    ) -> ManifestEntry:
        staged, md5, size = self._staging_area().stage(source)
        entry = self._add_entry(
            ManifestEntry(path=entry_path, digest=f"md5:{md5}", size=size), overwrite
        )
        previous = self._staged.get(entry_path)
        if previous is not None and self._staging is not None:
            self._staging.discard(previous)
        self._staged[entry_path] = staged
        return entry

    def _staging_area(self) -> StagingArea:
        if self._staging is None:
            self._staging = StagingArea(session.current_settings().home)
        return self._staging

    def _current_manifest(self) -> Manifest:
        return self.manifest

    def _ensure_draft(self) -> None:
        if self._record is not None:
            raise ValidationError(
                f"{self.name} is logged and cannot change; create a new "
                f"docket.Artifact({self._name!r}, type={self._type!r}) to log "
                f"another version"
            )

    def _logged(self, what: str) -> VersionRecord:
        if self._record is None:
            raise ValidationError(
                f"artifact {self._name!r} is not logged yet, so it has no {what}; "
                f"log it with run.log_artifact() first"
            )
        return self._record

    def _require_store(self) -> StoreAPI:
        if self._store is None:
            self._store = session.current_store()
        return self._store

    def _root(self, root: str | os.PathLike[str] | None) -> Path:
        if root is not None:
            return Path(root)
        record = self._logged("download folder")
        return (
            session.current_settings().artifact_dir / f"{record.name}:{record.version}"
        )

    def _downloader_run(
        self,
        entries: list[ManifestEntry],
        root: Path,
        allow_missing: bool,
        skip_cache: bool,
    ) -> DownloadReport:
        settings = session.current_settings()
        total = sum(e.size or 0 for e in entries)
        with byte_progress(f"downloading {self.name}", total) as advance:
            downloader = Downloader(
                blobs=self._require_store().blobs,
                version_id=None if self._record is None else self._record.id,
                cache_dir=settings.cache_dir,
                hash_cache=session.hash_cache(settings),
                allow_missing_references=allow_missing,
                skip_cache=skip_cache,
                on_progress=advance,
                link=settings.link_downloads,
            )
            return downloader.download(entries, root)


def _remove_empty_dirs(root: Path) -> None:
    # Bottom-up, so a folder whose subfolders were just removed is empty too.
    for folder, _dirs, _names in os.walk(root, topdown=False):
        if Path(folder) != root and not os.listdir(folder):
            with suppress(OSError):
                os.rmdir(folder)
