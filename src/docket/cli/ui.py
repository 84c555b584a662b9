"""``docket ui``: browse the embedded store in a web browser.

Serves the UI of ``docket.ui`` on the store under ``DOCKET_HOME``, bound to
127.0.0.1 by default. Everyone who can reach the address reads every artifact of
that store, so binding another address is a deliberate choice.

Previews of ``file://`` references are on: the store and the files it references
belong to the user running the command, who can read them anyway. Previews from
loopback and private network addresses (a MinIO on localhost, a NAS) need
``--allow-local-previews``, as on the tracking server.
"""

from __future__ import annotations

import ipaddress
import sys

import click

from docket.cli.logs import uvicorn_log_config
from docket.errors import DocketError


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--allow-local-previews",
    is_flag=True,
    help="Also preview references on loopback and private network addresses.",
)
@click.option(
    "--file-previews/--no-file-previews",
    default=True,
    show_default=True,
    help="Preview file:// references (files on this machine).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def ui(
    host: str,
    port: int,
    allow_local_previews: bool,
    file_previews: bool,
    log_level: str,
) -> None:
    """Browse the embedded store's projects, versions, files and lineage."""
    try:
        import uvicorn

        from docket.sdk.session import current_settings
        from docket.store import embedded_store
        from docket.ui import EgressRules, PreviewSettings, local_app
    except ImportError as exc:
        raise click.ClickException(
            f"the UI needs its extra ({exc.name} is missing): pip install 'docket[ui]'"
        ) from None
    try:
        settings = current_settings()
        store = embedded_store(settings.home)
    except (DocketError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if settings.base_url is not None:
        click.echo(
            f"note: {settings.base_url} is a tracking server with a UI of its own; "
            f"this one shows the embedded store in {settings.home}",
            err=True,
        )
    if not _is_loopback(host):
        click.echo(
            f"warning: anyone who can reach {host}:{port} reads every artifact in "
            f"{settings.home}; the UI has no sign-in on the embedded store",
            err=True,
        )
    rules = EgressRules(allow_files=file_previews, allow_private=allow_local_previews)
    app = local_app(store, PreviewSettings(rules=rules))
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"docket ui: http://{shown}:{port}/  (store: {settings.home})")
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=uvicorn_log_config(log_level),
        server_header=False,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
