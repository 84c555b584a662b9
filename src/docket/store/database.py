"""Engines for the metadata store, migrated to the current schema on open."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0002"
# Any constant works: it only has to be the same in every docket process.
_PG_MIGRATION_LOCK = 0x646F636B6574


def open_engine(
    url: str, *, lock_dir: Path | None = None, pool_size: int = 5
) -> Engine:
    """An engine on ``url`` whose schema is at the current revision.

    ``postgresql://`` URLs use psycopg 3; ``pool_size`` connections stay open
    per process (PostgreSQL only), with as many again on demand.
    """
    url = driver_url(url)
    if url.startswith("postgresql"):
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    else:
        engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        _serialize_sqlite_writers(engine)
    if _revision(engine) != HEAD_REVISION:
        with _migration_lock(engine, lock_dir):
            # Another process may have migrated while this one waited.
            if _revision(engine) != HEAD_REVISION:
                migrate(engine)
    return engine


def driver_url(url: str) -> str:
    """``url`` with psycopg 3 named for PostgreSQL (SQLAlchemy would pick psycopg2)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision with Alembic."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.debug("migrated %s to revision %s", engine.url, HEAD_REVISION)


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).first()
        return row[0] if row else None


@contextmanager
def _migration_lock(engine: Engine, lock_dir: Path | None) -> Iterator[None]:
    # Two processes opening a new store at once must not both create the tables:
    # server processes share PostgreSQL's advisory lock, embedded ones a lock file.
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
        return
    if lock_dir is None:
        yield
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    with engine.connect() as connection:
        connection.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
        )
        connection.commit()
        try:
            yield
        finally:
            connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
            connection.commit()


def _serialize_sqlite_writers(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock up front.

    pysqlite's default deferred transactions let two processes read the same
    "next version number" and then collide; BEGIN IMMEDIATE queues them instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
