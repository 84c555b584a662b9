"""``docket``: log, fetch and list artifacts from the shell.

Only this layer prints. Every failure ends with a one-line reason on stderr and a
non-zero exit code: 1 for docket's own errors, 2 for usage mistakes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import docket
from docket.cli.login import login
from docket.cli.reporting import reported
from docket.cli.server import admin, server
from docket.cli.ui import ui
from docket.sdk import session

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
@click.version_option(docket.__version__, prog_name="docket")
def main() -> None:
    """docket: versioned datasets and models, with lineage and exact references."""


@main.group()
def artifact() -> None:
    """Log, fetch, list and verify artifacts."""


@artifact.command("put")
@click.argument("source")
@click.option(
    "--name", "-n", help="Artifact name; defaults to the folder or file name."
)
@click.option("--type", "-t", "type_name", default="dataset", show_default=True)
@click.option(
    "--alias", "-a", "aliases", multiple=True, help="Alias to set (repeatable)."
)
@click.option("--project", "-p", help="Project; defaults to DOCKET_PROJECT.")
@click.option("--description", "-d", help="A description of this version.")
@reported
def put(
    source: str,
    name: str | None,
    type_name: str,
    aliases: tuple[str, ...],
    project: str | None,
    description: str | None,
) -> None:
    """Log SOURCE: a local file or folder (stored) or a URI (referenced)."""
    with docket.init(project=project, job_type="cli-put") as run:
        art = docket.Artifact(
            name or _default_name(source), type=type_name, description=description
        )
        if "://" in source:
            art.add_reference(source)
        elif Path(source).is_dir():
            art.add_dir(source)
        elif Path(source).is_file():
            art.add_file(source)
        else:
            raise click.BadParameter(
                f"{source} is neither a file, a folder nor a URI such as file:///path"
            )
        run.log_artifact(art, aliases=list(aliases))
    click.echo(
        f"{art.qualified_name}  {len(art.manifest)} files  {_size(art.size)}  "
        f"aliases: {', '.join(art.aliases)}"
    )


@artifact.command("get")
@click.argument("name")
@click.option("--root", "-r", type=click.Path(file_okay=False), help="Download folder.")
@click.option("--type", "-t", "type_name", help="Refuse an artifact of another type.")
@click.option(
    "--allow-missing-references", is_flag=True, help="Skip vanished references."
)
@reported
def get(
    name: str, root: str | None, type_name: str | None, allow_missing_references: bool
) -> None:
    """Download NAME[:ALIAS] (default alias: latest)."""
    art = docket.Api().artifact(name, type=type_name)
    folder = art.download(root=root, allow_missing_references=allow_missing_references)
    report = art.last_download
    click.echo(
        f"{art.qualified_name} -> {folder}  ({len(report.fetched)} fetched, "
        f"{len(report.present)} already in place, {len(report.missing)} missing)"
    )


@artifact.command("ls")
@click.argument("project", required=False)
@reported
def ls(project: str | None) -> None:
    """List the artifacts of PROJECT ([ENTITY/]PROJECT) with their versions."""
    api = docket.Api()
    entity, project_name = api._project(project)
    store = session.current_store()
    collections = store.metadata.list_collections(entity, project_name)
    if not collections:
        click.echo(f"no artifacts in {entity}/{project_name}")
        return
    for name, type_name in collections:
        for version in store.metadata.list_versions(entity, project_name, name):
            aliases = ",".join(version.aliases)
            created = version.created_at.strftime("%Y-%m-%d %H:%M")
            click.echo(
                f"{type_name:<10} {name}:{version.version:<5} "
                f"{version.entry_count:>7} files "
                f"{_size(version.size):>10}  {created}  {aliases}"
            )


@artifact.command("verify")
@click.argument("name")
@click.option(
    "--root", "-r", type=click.Path(file_okay=False), help="Downloaded folder."
)
@reported
def verify(name: str, root: str | None) -> None:
    """Check a downloaded copy of NAME and its references against the manifest."""
    art = docket.Api().artifact(name)
    art.verify(root=root)
    click.echo(f"{art.qualified_name}: {len(art.manifest)} files verified")


main.add_command(server)
main.add_command(admin)


def _default_name(source: str) -> str:
    base = source.rstrip("/").rsplit("/", 1)[-1] or "artifact"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in base)


def _size(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{nbytes} B"


main.add_command(login)
main.add_command(ui)

if __name__ == "__main__":
    main()
