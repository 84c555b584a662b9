"""``docket server`` and ``docket admin``: run the tracking server, manage its users.

``admin`` commands work on the database directly (``--db``), so they need no
running server and no key: whoever can reach the database is its administrator.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from docket.cli.logs import uvicorn_log_config
from docket.cli.reporting import reported

if TYPE_CHECKING:
    from docket.store.identity import IdentityStore

F = TypeVar("F", bound=Callable[..., Any])

_DB_OPTION = click.option(
    "--db",
    "database_url",
    envvar="DOCKET_DATABASE_URL",
    required=True,
    help="Database URL: postgresql://user@host/db or sqlite:///path "
    "(env DOCKET_DATABASE_URL).",
)


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@_DB_OPTION
@click.option(
    "--blobs",
    "blobs_uri",
    envvar="DOCKET_BLOBS",
    required=True,
    help="Where stored files go: a folder, or s3://bucket/prefix (env DOCKET_BLOBS).",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--max-blob-bytes",
    default=50 * 1024**3,
    show_default=True,
    type=click.IntRange(0),
    help="Largest stored file accepted.",
)
@click.option(
    "--pool-size",
    default=10,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Database connections each process keeps open (as many again on demand).",
)
@click.option(
    "--allow-local-previews",
    is_flag=True,
    help="Let UI previews read file:// references and loopback or private hosts.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@reported
def server(
    host: str,
    port: int,
    database_url: str,
    blobs_uri: str,
    workers: int,
    max_blob_bytes: int,
    pool_size: int,
    allow_local_previews: bool,
    log_level: str,
) -> None:
    """Run the tracking server (docs/http-api.md) with uvicorn."""
    try:
        import uvicorn
    except ImportError:
        raise click.ClickException(
            "the server needs its extra: pip install 'docket[server]'"
        ) from None
    from docket.server.context import open_context
    from docket.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=database_url,
        blobs_uri=blobs_uri,
        max_blob_bytes=max_blob_bytes,
        pool_size=pool_size,
        allow_local_previews=allow_local_previews,
    )
    # Migrate once here, so that workers start on a current schema.
    context = open_context(settings)
    if not context.identity.list_users():
        click.echo(
            "no users yet: create one with `docket admin create-user NAME --db ...`",
            err=True,
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "reload": False,
        "access_log": False,
        "log_config": uvicorn_log_config(log_level),
        "server_header": False,
    }
    if workers == 1:
        from docket.server.app import create_app

        uvicorn.run(create_app(context=context), **options)
        return
    # Worker processes build their own application from these variables.
    context.metadata.engine.dispose()
    os.environ.update(settings.to_env())
    uvicorn.run(
        "docket.server.app:app_from_env", factory=True, workers=workers, **options
    )


@click.group("admin")
def admin() -> None:
    """Manage the tracking server's users, teams and API keys."""


def _identity(database_url: str) -> IdentityStore:
    from docket.store.database import open_engine
    from docket.store.identity import IdentityStore

    logging.getLogger("alembic").setLevel(logging.WARNING)
    return IdentityStore(open_engine(database_url))


@admin.command("create-user")
@click.argument("name")
@click.option("--team", "teams", multiple=True, help="Team to join (repeatable).")
@_DB_OPTION
@reported
def create_user(name: str, teams: tuple[str, ...], database_url: str) -> None:
    """Create user NAME (and entity NAME) and print its first API key."""
    key = _identity(database_url).create_user(name, teams=teams)
    click.echo(key)
    click.echo(
        f"created user {name}; keep the key above, it is not shown again", err=True
    )


@admin.command("create-key")
@click.argument("user")
@_DB_OPTION
@reported
def create_key(user: str, database_url: str) -> None:
    """Print a new API key for USER; its other keys keep working."""
    click.echo(_identity(database_url).create_key(user))


@admin.command("add-member")
@click.argument("user")
@click.argument("team")
@_DB_OPTION
@reported
def add_member(user: str, team: str, database_url: str) -> None:
    """Let USER read and write in TEAM (created if missing)."""
    _identity(database_url).add_member(user, team)
    click.echo(f"{user} is a member of {team}")


@admin.command("revoke-key")
@click.argument("key")
@_DB_OPTION
@reported
def revoke_key(key: str, database_url: str) -> None:
    """Refuse KEY (the whole key, or its id from list-users) from now on."""
    _identity(database_url).revoke_key(key)
    click.echo("key revoked")


@admin.command("list-users")
@_DB_OPTION
@reported
def list_users(database_url: str) -> None:
    """Users with their entities and the ids of their active keys."""
    for user in _identity(database_url).list_users():
        click.echo(
            f"{user.name}  entities: {', '.join(user.entities)}  "
            f"keys: {', '.join(user.key_ids) or '-'}"
        )
