"""Projects, runs, versions, aliases and lineage: the one implementation of them.

Every write that assigns a version number runs in a single transaction that first
locks the collection (BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE elsewhere),
so concurrent writers get gapless, unique numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from docket.errors import ConflictError, NotFoundError
from docket.names import version_index
from docket.store import schema as t
from docket.store.records import NewVersion, RunRecord, VersionRecord

log = logging.getLogger(__name__)

OUTPUT, INPUT = "output", "input"
_RETRIES = 8


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MetadataStore:
    """Reads and writes the metadata tables through one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- projects and runs -------------------------------------------------------

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
        with self.engine.begin() as conn:
            project_id = self._project_id(conn, entity, project, create=True)
            conn.execute(
                insert(t.runs).values(
                    uid=uid,
                    project_id=project_id,
                    name=name,
                    job_type=job_type,
                    config=config or {},
                    state="running",
                    created_at=_now(),
                )
            )
        return self.get_run(entity, project, uid)

    def finish_run(self, entity: str, project: str, uid: str, state: str) -> None:
        with self.engine.begin() as conn:
            run_id = self._run_id(conn, entity, project, uid)
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(state=state, finished_at=_now())
            )

    def get_run(self, entity: str, project: str, uid: str) -> RunRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._runs_query().where(
                    t.entities.c.name == entity,
                    t.projects.c.name == project,
                    t.runs.c.uid == uid,
                )
            ).first()
        if row is None:
            raise NotFoundError(f"run {entity}/{project}/{uid} does not exist")
        return _run_record(row)

    # -- versions ----------------------------------------------------------------

    def log_version(self, new: NewVersion) -> tuple[VersionRecord, bool]:
        """Record a version, or find the existing one with the same digest.

        Returns the version and whether it was created. Either way ``latest`` and
        the requested aliases move to it and the logging run becomes a producer.
        """
        for attempt in range(_RETRIES):
            try:
                with self.engine.begin() as conn:
                    version_id, created = self._log_version(conn, new)
                return self.get_version_by_id(version_id), created
            except sa_exc.IntegrityError as exc:
                # Another writer created the same collection or number first; the
                # retry sees its row. SQLite never gets here: it queues writers.
                log.debug("log_version retry %d after %s", attempt, exc.orig)
        raise ConflictError(
            f"could not log {new.name} after {_RETRIES} attempts under heavy "
            f"contention; try again"
        )

    def _log_version(self, conn: Connection, new: NewVersion) -> tuple[int, bool]:
        project_id = self._project_id(conn, new.entity, new.project, create=True)
        collection_id = self._lock_collection(conn, project_id, new)
        existing = conn.execute(
            select(t.versions.c.id).where(
                t.versions.c.collection_id == collection_id,
                t.versions.c.digest == new.digest,
            )
        ).scalar()
        run_id = (
            self._run_id(conn, new.entity, new.project, new.run_uid)
            if new.run_uid
            else None
        )
        created = existing is None
        version_id = (
            existing
            if existing is not None
            else self._insert_version(conn, collection_id, new, run_id)
        )
        self._move_aliases(conn, collection_id, version_id, ("latest", *new.aliases))
        if run_id is not None:
            self._link(conn, run_id, version_id, OUTPUT)
        return version_id, created

    def _insert_version(
        self, conn: Connection, collection_id: int, new: NewVersion, run_id: int | None
    ) -> int:
        next_index = (
            conn.execute(
                update(t.collections)
                .where(t.collections.c.id == collection_id)
                .values(next_index=t.collections.c.next_index + 1)
                .returning(t.collections.c.next_index)
            ).scalar_one()
            - 1
        )
        result = conn.execute(
            insert(t.versions).values(
                collection_id=collection_id,
                idx=next_index,
                digest=new.digest,
                manifest_key=new.manifest_key,
                size=new.size,
                entry_count=new.entry_count,
                has_references=new.has_references,
                description=new.description,
                metadata=dict(new.metadata),
                created_at=_now(),
                created_by=run_id,
            )
        )
        primary_key = result.inserted_primary_key
        assert primary_key is not None
        return int(primary_key[0])

    def _lock_collection(
        self, conn: Connection, project_id: int, new: NewVersion
    ) -> int:
        query = select(t.collections.c.id, t.collections.c.type).where(
            t.collections.c.project_id == project_id, t.collections.c.name == new.name
        )
        row = conn.execute(query.with_for_update()).first()
        if row is None:
            conn.execute(
                insert(t.collections).values(
                    project_id=project_id,
                    name=new.name,
                    type=new.type,
                    description=new.description,
                    created_at=_now(),
                    next_index=0,
                )
            )
            row = conn.execute(query.with_for_update()).one()
        if row.type != new.type:
            raise ConflictError(
                f"artifact {new.entity}/{new.project}/{new.name} has type "
                f"{row.type!r}, not {new.type!r}; a collection keeps one type, so "
                f"log it under another name or with type={row.type!r}"
            )
        return int(row.id)

    def _move_aliases(
        self,
        conn: Connection,
        collection_id: int,
        version_id: int,
        names: Iterable[str],
    ) -> None:
        for alias in dict.fromkeys(names):
            if version_index(alias) is not None:
                continue  # vN names a version by number; it is never stored
            conn.execute(
                delete(t.aliases).where(
                    t.aliases.c.collection_id == collection_id,
                    t.aliases.c.alias == alias,
                )
            )
            conn.execute(
                insert(t.aliases).values(
                    collection_id=collection_id, alias=alias, version_id=version_id
                )
            )

    def _link(
        self, conn: Connection, run_id: int, version_id: int, direction: str
    ) -> None:
        exists = conn.execute(
            select(t.lineage.c.run_id).where(
                t.lineage.c.run_id == run_id,
                t.lineage.c.version_id == version_id,
                t.lineage.c.direction == direction,
            )
        ).first()
        if exists is None:
            conn.execute(
                insert(t.lineage).values(
                    run_id=run_id,
                    version_id=version_id,
                    direction=direction,
                    created_at=_now(),
                )
            )

    def use_version(
        self, entity: str, project: str, run_uid: str, version_id: int
    ) -> None:
        """Record that a run consumed a version."""
        with self.engine.begin() as conn:
            run_id = self._run_id(conn, entity, project, run_uid)
            self._link(conn, run_id, version_id, INPUT)

    def set_aliases(self, version_id: int, aliases: Sequence[str]) -> None:
        """Make ``aliases`` exactly the user aliases of a version (``latest`` stays)."""
        with self.engine.begin() as conn:
            collection_id = conn.execute(
                select(t.versions.c.collection_id).where(t.versions.c.id == version_id)
            ).scalar_one()
            conn.execute(
                delete(t.aliases).where(
                    t.aliases.c.version_id == version_id, t.aliases.c.alias != "latest"
                )
            )
            self._move_aliases(conn, collection_id, version_id, aliases)

    def update_version(
        self, version_id: int, *, description: str | None, metadata: dict[str, Any]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.versions)
                .where(t.versions.c.id == version_id)
                .values(description=description, metadata=metadata)
            )

    def delete_version(self, version_id: int, *, delete_aliases: bool) -> None:
        """Delete a version; refuse while user aliases point at it unless asked."""
        with self.engine.begin() as conn:
            held = (
                conn.execute(
                    select(t.aliases.c.alias).where(
                        t.aliases.c.version_id == version_id
                    )
                )
                .scalars()
                .all()
            )
            user_aliases = [a for a in held if a != "latest"]
            if user_aliases and not delete_aliases:
                raise ConflictError(
                    f"version still has aliases {user_aliases}; pass "
                    f"delete_aliases=True to delete them with it"
                )
            row = conn.execute(
                select(t.versions.c.collection_id).where(t.versions.c.id == version_id)
            ).one()
            for table in (t.aliases, t.lineage):
                conn.execute(delete(table).where(table.c.version_id == version_id))
            conn.execute(delete(t.versions).where(t.versions.c.id == version_id))
            if "latest" in held:
                self._repoint_latest(conn, row.collection_id)

    def _repoint_latest(self, conn: Connection, collection_id: int) -> None:
        newest = conn.execute(
            select(t.versions.c.id)
            .where(t.versions.c.collection_id == collection_id)
            .order_by(t.versions.c.idx.desc())
            .limit(1)
        ).scalar()
        if newest is not None:
            self._move_aliases(conn, collection_id, newest, ["latest"])

    # -- reads -------------------------------------------------------------------

    def get_version(
        self, entity: str, project: str, name: str, alias: str | None
    ) -> VersionRecord:
        alias = alias or "latest"
        index = version_index(alias)
        query = self._versions_query().where(
            t.entities.c.name == entity,
            t.projects.c.name == project,
            t.collections.c.name == name,
        )
        if index is not None:
            query = query.where(t.versions.c.idx == index)
        else:
            query = query.join(
                t.aliases,
                and_(
                    t.aliases.c.version_id == t.versions.c.id,
                    t.aliases.c.alias == alias,
                ),
            )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                raise self._missing(conn, entity, project, name, alias)
            return self._version_record(conn, row)

    def _missing(
        self, conn: Connection, entity: str, project: str, name: str, alias: str
    ) -> NotFoundError:
        known = (
            conn.execute(
                select(t.aliases.c.alias)
                .join(t.collections, t.collections.c.id == t.aliases.c.collection_id)
                .join(t.projects, t.projects.c.id == t.collections.c.project_id)
                .join(t.entities, t.entities.c.id == t.projects.c.entity_id)
                .where(
                    t.entities.c.name == entity,
                    t.projects.c.name == project,
                    t.collections.c.name == name,
                )
            )
            .scalars()
            .all()
        )
        where = f"{entity}/{project}/{name}"
        if not known:
            return NotFoundError(
                f"artifact {where} does not exist; check the name and project "
                f"(docket artifact ls {entity}/{project} lists them)"
            )
        return NotFoundError(
            f"artifact {where} has no version {alias!r}; its aliases are "
            f"{sorted(known)} and vN names version N"
        )

    def list_versions(
        self, entity: str, project: str, name: str
    ) -> list[VersionRecord]:
        query = self._versions_query().where(
            t.entities.c.name == entity,
            t.projects.c.name == project,
            t.collections.c.name == name,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.versions.c.idx)).all()
            return [self._version_record(conn, row) for row in rows]

    def list_collections(
        self, entity: str, project: str, type_name: str | None = None
    ) -> list[tuple[str, str]]:
        """``(name, type)`` of every artifact collection of a project."""
        query = (
            select(t.collections.c.name, t.collections.c.type)
            .join(t.projects, t.projects.c.id == t.collections.c.project_id)
            .join(t.entities, t.entities.c.id == t.projects.c.entity_id)
            .where(t.entities.c.name == entity, t.projects.c.name == project)
            .order_by(t.collections.c.name)
        )
        if type_name is not None:
            query = query.where(t.collections.c.type == type_name)
        with self.engine.connect() as conn:
            return [(row.name, row.type) for row in conn.execute(query)]

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        query = select(t.entities.c.name.label("entity"), t.projects.c.name).join(
            t.entities, t.entities.c.id == t.projects.c.entity_id
        )
        if entity is not None:
            query = query.where(t.entities.c.name == entity)
        with self.engine.connect() as conn:
            return [
                (row.entity, row.name) for row in conn.execute(query.order_by("name"))
            ]

    def version_runs(self, version_id: int, direction: str) -> list[RunRecord]:
        query = (
            self._runs_query()
            .join(t.lineage, t.lineage.c.run_id == t.runs.c.id)
            .where(
                t.lineage.c.version_id == version_id, t.lineage.c.direction == direction
            )
            .order_by(t.lineage.c.created_at)
        )
        with self.engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query)]

    def run_versions(
        self, entity: str, project: str, uid: str, direction: str
    ) -> list[VersionRecord]:
        """Versions a run produced (``output``) or consumed (``input``)."""
        with self.engine.connect() as conn:
            run_id = self._run_id(conn, entity, project, uid)
            query = (
                self._versions_query()
                .join(t.lineage, t.lineage.c.version_id == t.versions.c.id)
                .where(t.lineage.c.run_id == run_id, t.lineage.c.direction == direction)
                .order_by(t.lineage.c.created_at)
            )
            rows = conn.execute(query).all()
            return [self._version_record(conn, row) for row in rows]

    # -- helpers -----------------------------------------------------------------

    def _project_id(
        self, conn: Connection, entity: str, project: str, *, create: bool
    ) -> int:
        entity_query = select(t.entities.c.id).where(t.entities.c.name == entity)
        entity_id = conn.execute(entity_query).scalar()
        if entity_id is None:
            if not create:
                raise NotFoundError(f"entity {entity!r} does not exist")
            entity_id = _insert_or_find(
                conn, insert(t.entities).values(name=entity), entity_query
            )
        project_query = select(t.projects.c.id).where(
            t.projects.c.entity_id == entity_id, t.projects.c.name == project
        )
        project_id = conn.execute(project_query).scalar()
        if project_id is None:
            if not create:
                raise NotFoundError(f"project {entity}/{project} does not exist")
            project_id = _insert_or_find(
                conn,
                insert(t.projects).values(entity_id=entity_id, name=project),
                project_query,
            )
        return int(project_id)

    def _run_id(self, conn: Connection, entity: str, project: str, uid: str) -> int:
        run_id = conn.execute(
            select(t.runs.c.id)
            .join(t.projects, t.projects.c.id == t.runs.c.project_id)
            .join(t.entities, t.entities.c.id == t.projects.c.entity_id)
            .where(
                t.entities.c.name == entity,
                t.projects.c.name == project,
                t.runs.c.uid == uid,
            )
        ).scalar()
        if run_id is None:
            raise NotFoundError(f"run {entity}/{project}/{uid} does not exist")
        return int(run_id)

    def _versions_query(self) -> Any:
        return (
            select(
                t.versions,
                t.collections.c.name.label("collection_name"),
                t.collections.c.type,
                t.projects.c.name.label("project_name"),
                t.entities.c.name.label("entity_name"),
                t.runs.c.uid.label("run_uid"),
            )
            .join(t.collections, t.collections.c.id == t.versions.c.collection_id)
            .join(t.projects, t.projects.c.id == t.collections.c.project_id)
            .join(t.entities, t.entities.c.id == t.projects.c.entity_id)
            .outerjoin(t.runs, t.runs.c.id == t.versions.c.created_by)
        )

    def _runs_query(self) -> Any:
        return (
            select(
                t.runs,
                t.projects.c.name.label("project_name"),
                t.entities.c.name.label("entity_name"),
            )
            .join(t.projects, t.projects.c.id == t.runs.c.project_id)
            .join(t.entities, t.entities.c.id == t.projects.c.entity_id)
        )

    def get_version_by_id(self, version_id: int) -> VersionRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._versions_query().where(t.versions.c.id == version_id)
            ).first()
            if row is None:
                raise NotFoundError(f"artifact version {version_id} does not exist")
            return self._version_record(conn, row)

    def _version_record(self, conn: Connection, row: Row[Any]) -> VersionRecord:
        aliases = (
            conn.execute(
                select(t.aliases.c.alias)
                .where(t.aliases.c.version_id == row.id)
                .order_by(t.aliases.c.alias)
            )
            .scalars()
            .all()
        )
        return VersionRecord(
            id=row.id,
            entity=row.entity_name,
            project=row.project_name,
            name=row.collection_name,
            type=row.type,
            index=row.idx,
            digest=row.digest,
            manifest_key=row.manifest_key,
            size=row.size,
            entry_count=row.entry_count,
            has_references=row.has_references,
            aliases=tuple(aliases),
            created_at=row.created_at,
            created_by=row.run_uid,
            description=row.description,
            metadata=row.metadata or {},
        )


def _insert_or_find(conn: Connection, statement: Any, query: Any) -> int:
    """Insert a row, or find the equal row a concurrent writer just committed.

    On PostgreSQL two first runs of a new project both miss the SELECT and
    both INSERT; the loser's unique violation is undone by its savepoint alone,
    so its transaction goes on with the winner's row instead of failing.
    """
    try:
        with conn.begin_nested():
            return int(conn.execute(statement).inserted_primary_key[0])  # type: ignore[index]
    except sa_exc.IntegrityError:
        return int(conn.execute(query).scalar_one())


def _run_record(row: Row[Any]) -> RunRecord:
    return RunRecord(
        uid=row.uid,
        entity=row.entity_name,
        project=row.project_name,
        name=row.name,
        job_type=row.job_type,
        state=row.state,
        created_at=row.created_at,
        config=row.config or {},
        finished_at=row.finished_at,
    )
