"""``Run``: one execution of a script, producing and consuming artifact versions."""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path
from types import TracebackType
from typing import Any

from docket.config import Settings
from docket.errors import ValidationError
from docket.names import parse_artifact_path, validate_name
from docket.sdk import session
from docket.sdk.artifact import Artifact
from docket.store.protocol import StoreAPI

_ALPHABET = string.ascii_lowercase + string.digits


class Config(dict[str, Any]):
    """A run's configuration: a dict that also reads and writes as attributes."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


class Run:
    """A run of the embedded store; create one with ``docket.init()``."""

    def __init__(
        self,
        store: StoreAPI,
        settings: Settings,
        *,
        entity: str,
        project: str,
        name: str | None,
        job_type: str | None,
        config: dict[str, Any] | None,
    ) -> None:
        self._store = store
        self._settings = settings
        self.entity = entity
        self.project = project
        self.id = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        self.name = name or self.id
        self.job_type = job_type
        self.config = Config(config or {})
        self._finished = False
        store.metadata.create_run(
            entity,
            project,
            self.id,
            name=self.name,
            job_type=job_type,
            config=dict(self.config),
        )

    @classmethod
    def start(
        cls,
        project: str | None = None,
        entity: str | None = None,
        job_type: str | None = None,
        name: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> Run:
        settings = session.current_settings()
        return cls(
            session.current_store(settings),
            settings,
            entity=validate_name(entity or settings.entity, what="entity name"),
            project=validate_name(project or settings.project, what="project name"),
            name=name,
            job_type=job_type,
            config=config,
        )

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    def log_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> Artifact:
        """Log an artifact as an output of this run; equal content reuses a version."""
        self._ensure_running()
        artifact = self._as_artifact(artifact_or_path, name, type)
        artifact._commit(
            self._store,
            entity=self.entity,
            project=self.project,
            aliases=_aliases(aliases),
            run_uid=self.id,
        )
        return artifact

    def use_artifact(
        self,
        artifact_or_name: Artifact | str,
        type: str | None = None,
        aliases: list[str] | None = None,
        use_as: str | None = None,
    ) -> Artifact:
        """Mark an artifact version as an input of this run and return it.

        A name is looked up (``name[:alias]``, ``project/name`` or
        ``entity/project/name``);
        an artifact that is not logged yet is logged first, creating a new version
        only when its content changed.
        """
        self._ensure_running()
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact.is_draft():
                artifact._commit(
                    self._store,
                    entity=self.entity,
                    project=self.project,
                    aliases=_aliases(aliases),
                    run_uid=self.id,
                    as_input=True,
                )
                return artifact
        else:
            artifact = self._fetch(artifact_or_name)
        if type is not None and artifact.type != type:
            raise ValidationError(
                f"{artifact.qualified_name} has type {artifact.type!r}, not {type!r}"
            )
        record = artifact._logged("lineage")
        self._store.metadata.use_version(self.entity, self.project, self.id, record.id)
        return artifact

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        if self._finished:
            return
        state = "finished" if not exit_code else "failed"
        self._store.metadata.finish_run(self.entity, self.project, self.id, state)
        self._finished = True
        from docket import sdk

        if sdk.active_run() is self:
            sdk.set_active_run(None)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(exit_code=1 if exc_type is not None else 0)

    def __repr__(self) -> str:
        return f"<Run {self.path}>"

    def _fetch(self, text: str) -> Artifact:
        path = parse_artifact_path(text)
        record = self._store.metadata.get_version(
            path.entity or self.entity,
            path.project or self.project,
            path.name,
            path.alias,
        )
        return Artifact._from_record(record, self._store)

    def _as_artifact(
        self,
        item: Artifact | str | os.PathLike[str],
        name: str | None,
        type_name: str | None,
    ) -> Artifact:
        if isinstance(item, Artifact):
            return item
        text = str(item)
        if "://" in text:
            artifact = Artifact(
                name or _default_name(text), type=type_name or "unspecified"
            )
            artifact.add_reference(text)
            return artifact
        local = Path(text)
        artifact = Artifact(
            name or _default_name(local.name), type=type_name or "unspecified"
        )
        if local.is_dir():
            artifact.add_dir(local)
        else:
            artifact.add_file(local)
        return artifact

    def _ensure_running(self) -> None:
        if self._finished:
            raise ValidationError(
                f"run {self.path} is finished; start a new one with docket.init()"
            )


def _aliases(aliases: list[str] | str | None) -> list[str]:
    from docket.names import validate_alias

    if aliases is None:
        return []
    if isinstance(aliases, str):
        aliases = [aliases]
    return [validate_alias(a) for a in aliases]


def _default_name(text: str) -> str:
    base = text.rstrip("/").rsplit("/", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in base)
    return cleaned or "artifact"
