"""Finding what a page shows, only where the viewer may read.

Objects in an entity the viewer may not read raise the very ``NotFoundError`` a
missing one does, so a page never tells whether they exist.
"""

from __future__ import annotations

from docket.errors import NotFoundError
from docket.store.protocol import MetadataAPI
from docket.store.records import RunRecord, VersionRecord
from docket.ui.access import Viewer


def readable_projects(metadata: MetadataAPI, viewer: Viewer) -> list[tuple[str, str]]:
    """``(entity, project)`` pairs the viewer may read, sorted."""
    if viewer.entities is None:
        return sorted(metadata.list_projects())
    found = [p for e in sorted(viewer.entities) for p in metadata.list_projects(e)]
    return sorted(found)


def require_project(
    metadata: MetadataAPI, viewer: Viewer, entity: str, project: str
) -> None:
    if not viewer.may_read(entity) or (entity, project) not in metadata.list_projects(
        entity
    ):
        raise NotFoundError(f"project {entity}/{project} does not exist")


def readable_versions(
    metadata: MetadataAPI, viewer: Viewer, entity: str, project: str, name: str
) -> list[VersionRecord]:
    if not viewer.may_read(entity):
        raise _no_artifact(entity, project, name)
    versions = metadata.list_versions(entity, project, name)
    if not versions:
        raise _no_artifact(entity, project, name)
    return versions


def readable_version(
    metadata: MetadataAPI,
    viewer: Viewer,
    entity: str,
    project: str,
    name: str,
    alias: str,
) -> VersionRecord:
    """Version ``alias`` (``vN``, ``latest`` or a user alias) of an artifact."""
    if not viewer.may_read(entity):
        raise _no_artifact(entity, project, name)
    return metadata.get_version(entity, project, name, alias)


def readable_run(
    metadata: MetadataAPI, viewer: Viewer, entity: str, project: str, uid: str
) -> RunRecord:
    if not viewer.may_read(entity):
        raise NotFoundError(f"run {entity}/{project}/{uid} does not exist")
    return metadata.get_run(entity, project, uid)


def _no_artifact(entity: str, project: str, name: str) -> NotFoundError:
    # Word for word what the store says about an artifact that does not exist.
    return NotFoundError(
        f"artifact {entity}/{project}/{name} does not exist; check the name and "
        f"project (docket artifact ls {entity}/{project} lists them)"
    )
