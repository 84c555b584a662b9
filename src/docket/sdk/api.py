"""``Api``: read access to artifacts and runs without starting a run."""

from __future__ import annotations

from typing import Any

from docket.errors import NotFoundError, ValidationError
from docket.names import parse_artifact_path
from docket.sdk import session
from docket.sdk.artifact import Artifact
from docket.store import INPUT, OUTPUT, RunRecord
from docket.store.protocol import StoreAPI


class ApiRun:
    """A run as read back from the store."""

    def __init__(self, record: RunRecord, store: StoreAPI) -> None:
        self._record = record
        self._store = store

    id = property(lambda self: self._record.uid)
    name = property(lambda self: self._record.name)
    entity = property(lambda self: self._record.entity)
    project = property(lambda self: self._record.project)
    job_type = property(lambda self: self._record.job_type)
    state = property(lambda self: self._record.state)
    path = property(
        lambda self: [self._record.entity, self._record.project, self._record.uid]
    )

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._record.config)

    def logged_artifacts(self) -> list[Artifact]:
        return self._artifacts(OUTPUT)

    def used_artifacts(self) -> list[Artifact]:
        return self._artifacts(INPUT)

    def _artifacts(self, direction: str) -> list[Artifact]:
        r = self._record
        records = self._store.metadata.run_versions(
            r.entity, r.project, r.uid, direction
        )
        return [Artifact._from_record(v, self._store) for v in records]

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"


class ArtifactType:
    """An artifact type within a project, with its collections."""

    def __init__(self, name: str, collections: list[str]) -> None:
        self.name = name
        self._collections = collections

    def collections(self) -> list[str]:
        return list(self._collections)

    def __repr__(self) -> str:
        return f"<ArtifactType {self.name}>"


class Api:
    """Query artifacts and runs of the configured store."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        overrides = overrides or {}
        self._settings = session.current_settings()
        self.default_entity = overrides.get("entity") or self._settings.entity
        self.default_project = overrides.get("project") or self._settings.project
        self._store = session.current_store(self._settings)

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        path = parse_artifact_path(name)
        record = self._store.metadata.get_version(
            path.entity or self.default_entity,
            path.project or self.default_project,
            path.name,
            path.alias,
        )
        if type is not None and record.type != type:
            raise ValidationError(
                f"{record.qualified_name} has type {record.type!r}, not {type!r}"
            )
        return Artifact._from_record(record, self._store)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        try:
            self.artifact(name, type)
        except NotFoundError:
            return False
        return True

    def artifacts(
        self, type_name: str, name: str, per_page: int = 50
    ) -> list[Artifact]:
        """Every version of an artifact collection, oldest first."""
        path = parse_artifact_path(name)
        records = self._store.metadata.list_versions(
            path.entity or self.default_entity,
            path.project or self.default_project,
            path.name,
        )
        return [
            Artifact._from_record(r, self._store)
            for r in records
            if r.type == type_name
        ]

    def artifact_types(self, project: str | None = None) -> list[ArtifactType]:
        entity, project_name = self._project(project)
        by_type: dict[str, list[str]] = {}
        for name, type_name in self._store.metadata.list_collections(
            entity, project_name
        ):
            by_type.setdefault(type_name, []).append(name)
        return [ArtifactType(t, names) for t, names in sorted(by_type.items())]

    def run(self, path: str) -> ApiRun:
        parts = path.strip("/").split("/")
        if parts[-2:-1] == ["runs"]:
            del parts[-2]
        if not 1 <= len(parts) <= 3:
            raise ValidationError(
                f"invalid run path {path!r}: use entity/project/run_id"
            )
        uid = parts[-1]
        project = parts[-2] if len(parts) >= 2 else self.default_project
        entity = parts[-3] if len(parts) == 3 else self.default_entity
        return ApiRun(self._store.metadata.get_run(entity, project, uid), self._store)

    def _project(self, project: str | None) -> tuple[str, str]:
        if project is None:
            return self.default_entity, self.default_project
        parts = project.split("/")
        if len(parts) == 2:
            return parts[0], parts[1]
        return self.default_entity, project
