"""The tables of the metadata store; the same schema serves SQLite and PostgreSQL.

Alembic migrations under ``migrations/`` create and evolve these tables; this module
is what queries are written against.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

entities = Table(
    "entities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_id", Integer, ForeignKey("entities.id"), nullable=False),
    Column("name", String(128), nullable=False),
    UniqueConstraint("entity_id", "name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(64), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(128)),
    Column("job_type", String(128)),
    Column("config", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("project_id", "uid"),
)

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type", String(128), nullable=False),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Numbers are handed out from here, so a deleted version's number is never
    # given to another version.
    Column("next_index", Integer, nullable=False),
    UniqueConstraint("project_id", "name"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("manifest_key", String(200), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("has_references", Boolean, nullable=False),
    Column("description", Text),
    Column("metadata", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Integer, ForeignKey("runs.id")),
    UniqueConstraint("collection_id", "idx"),
    UniqueConstraint("collection_id", "digest"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("collection_id", Integer, ForeignKey("collections.id"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column(
        "version_id",
        Integer,
        ForeignKey("versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
)

lineage = Table(
    "lineage",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column(
        "version_id",
        Integer,
        ForeignKey("versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("direction", String(8), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
