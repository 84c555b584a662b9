"""``RemoteStore``: the store protocol over a tracking server's HTTP API.

Each ``MetadataAPI`` method is one request (docs/http-api.md); the server runs
the same ``MetadataStore`` the embedded store uses, so versioning, dedup,
aliases and lineage behave identically. Blobs are in :mod:`docket.client.blobs`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from docket.client.blobs import RemoteBlobs
from docket.client.codec import new_version_json, run_record, version_record
from docket.client.transport import RetryPolicy, Transport
from docket.errors import AuthError, ConflictError
from docket.manifest import Manifest
from docket.store.records import NewVersion, RunRecord, VersionRecord


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an API key belongs to, and the entities it may log to."""

    user: str
    entities: tuple[str, ...]


class RemoteMetadata:
    """The ``MetadataAPI`` of a tracking server."""

    def __init__(self, transport: Transport) -> None:
        self._http = transport

    # -- runs --------------------------------------------------------------------

    def create_run(
        self,
        entity: str,
        project: str,
        uid: str,
        *,
        name: str | None = None,
        job_type: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> RunRecord:
        body = {
            "entity": entity,
            "project": project,
            "uid": uid,
            "name": name,
            "job_type": job_type,
            "config": config or {},
        }
        try:
            return run_record(self._http.json("POST", "/runs", body=body))
        except ConflictError:
            # A retry after a lost answer finds the run its first attempt made.
            run = self.get_run(entity, project, uid)
            if (run.state, run.name, run.job_type) != ("running", name, job_type):
                raise
            return run

    def finish_run(self, entity: str, project: str, uid: str, state: str) -> None:
        self._http.json(
            "POST", f"{_run_path(entity, project, uid)}/finish", body={"state": state}
        )

    def get_run(self, entity: str, project: str, uid: str) -> RunRecord:
        return run_record(self._http.json("GET", _run_path(entity, project, uid)))

    def run_versions(
        self, entity: str, project: str, uid: str, direction: str
    ) -> list[VersionRecord]:
        answer = self._http.json(
            "GET",
            f"{_run_path(entity, project, uid)}/versions",
            params={"direction": direction},
        )
        return [version_record(v) for v in answer]

    # -- versions ----------------------------------------------------------------

    def log_version(self, new: NewVersion) -> tuple[VersionRecord, bool]:
        # Repeatable: logging equal content again returns the same version.
        answer = self._http.json("POST", "/versions", body=new_version_json(new))
        return version_record(answer["version"]), bool(answer["created"])

    def use_version(
        self, entity: str, project: str, run_uid: str, version_id: int
    ) -> None:
        body = {"entity": entity, "project": project, "run_uid": run_uid}
        self._http.json("POST", f"/versions/{version_id}/use", body=body)

    def set_aliases(self, version_id: int, aliases: Sequence[str]) -> None:
        body = {"aliases": list(aliases)}
        self._http.json("PUT", f"/versions/{version_id}/aliases", body=body)

    def update_version(
        self, version_id: int, *, description: str | None, metadata: dict[str, Any]
    ) -> None:
        body = {"description": description, "metadata": metadata}
        self._http.json("PATCH", f"/versions/{version_id}", body=body)

    def delete_version(self, version_id: int, *, delete_aliases: bool) -> None:
        params = {"delete_aliases": "true" if delete_aliases else "false"}
        self._http.json("DELETE", f"/versions/{version_id}", params=params)

    def get_version_by_id(self, version_id: int) -> VersionRecord:
        return version_record(self._http.json("GET", f"/versions/{version_id}"))

    def version_runs(self, version_id: int, direction: str) -> list[RunRecord]:
        answer = self._http.json(
            "GET", f"/versions/{version_id}/runs", params={"direction": direction}
        )
        return [run_record(r) for r in answer]

    # -- artifacts and projects --------------------------------------------------

    def get_version(
        self, entity: str, project: str, name: str, alias: str | None
    ) -> VersionRecord:
        params = {} if alias is None else {"alias": alias}
        path = _artifact_path(entity, project, name)
        return version_record(self._http.json("GET", path, params=params))

    def list_versions(
        self, entity: str, project: str, name: str
    ) -> list[VersionRecord]:
        path = f"{_artifact_path(entity, project, name)}/versions"
        return [version_record(v) for v in self._http.json("GET", path)]

    def list_collections(
        self, entity: str, project: str, type_name: str | None = None
    ) -> list[tuple[str, str]]:
        params = {} if type_name is None else {"type": type_name}
        path = f"/projects/{_segment(entity)}/{_segment(project)}/collections"
        answer = self._http.json("GET", path, params=params)
        return [(c["name"], c["type"]) for c in answer]

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        params = {} if entity is None else {"entity": entity}
        answer = self._http.json("GET", "/projects", params=params)
        return [(p["entity"], p["name"]) for p in answer]


class RemoteStore:
    """A tracking server seen through the ``StoreAPI`` protocol."""

    def __init__(
        self, base_url: str, api_key: str, *, retry: RetryPolicy | None = None
    ) -> None:
        self._http = Transport(base_url, api_key, retry=retry)
        self._metadata = RemoteMetadata(self._http)
        self._blobs = RemoteBlobs(self._http)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def metadata(self) -> RemoteMetadata:
        return self._metadata

    @property
    def blobs(self) -> RemoteBlobs:
        return self._blobs

    def load_manifest(self, version: VersionRecord) -> Manifest:
        raw = self._blobs.get_bytes(version.manifest_key, version_id=version.id)
        return Manifest.from_json(raw)

    def save_manifest(self, manifest: Manifest) -> str:
        """Upload a manifest under its content digest and return the key."""
        key = manifest.digest()
        self._blobs.put_bytes(key, manifest.to_json())
        return key

    def whoami(self) -> Identity:
        """The user the API key belongs to; ``AuthError`` if it is refused."""
        answer = self._http.json("GET", "/whoami")
        return Identity(answer["user"], tuple(answer.get("entities") or ()))

    def __repr__(self) -> str:
        return f"<RemoteStore {self.base_url}>"


_stores: dict[tuple[str, str], RemoteStore] = {}
_lock = threading.Lock()


def remote_store(base_url: str, api_key: str | None) -> RemoteStore:
    """The process's store for a tracking server and key, made on first use."""
    if not api_key:
        raise AuthError(
            f"no API key for the tracking server at {base_url}; run "
            f"`docket login --base-url {base_url}` or set DOCKET_API_KEY"
        )
    with _lock:
        store = _stores.get((base_url, api_key))
        if store is None:
            store = _stores[(base_url, api_key)] = RemoteStore(base_url, api_key)
        return store


def _segment(name: str) -> str:
    return quote(name, safe="")


def _run_path(entity: str, project: str, uid: str) -> str:
    return f"/runs/{_segment(entity)}/{_segment(project)}/{_segment(uid)}"


def _artifact_path(entity: str, project: str, name: str) -> str:
    return f"/artifacts/{_segment(entity)}/{_segment(project)}/{_segment(name)}"
