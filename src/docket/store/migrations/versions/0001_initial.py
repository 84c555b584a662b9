"""The first schema: entities, projects, runs, collections, versions, aliases, lineage.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "entities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "entity_id", sa.Integer, sa.ForeignKey("entities.id"), nullable=False
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.UniqueConstraint("entity_id", "name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(64), nullable=False),
        sa.Column(
            "project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False
        ),
        sa.Column("name", sa.String(128)),
        sa.Column("job_type", sa.String(128)),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.UniqueConstraint("project_id", "uid"),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("next_index", sa.Integer, nullable=False),
        sa.UniqueConstraint("project_id", "name"),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "collection_id", sa.Integer, sa.ForeignKey("collections.id"), nullable=False
        ),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("manifest_key", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("has_references", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("runs.id")),
        sa.UniqueConstraint("collection_id", "idx"),
        sa.UniqueConstraint("collection_id", "digest"),
    )
    op.create_table(
        "aliases",
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey("collections.id"),
            primary_key=True,
        ),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_table(
        "lineage",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("versions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("direction", sa.String(8), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("lineage_by_version", "lineage", ["version_id", "direction"])


def downgrade() -> None:
    for table in ("lineage", "aliases", "versions", "collections", "runs", "projects"):
        op.drop_table(table)
    op.drop_table("entities")
