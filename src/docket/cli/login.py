"""``docket login``: check an API key against a tracking server and save both."""

from __future__ import annotations

import sys

import click

from docket.client.credentials import Credentials, save_credentials
from docket.client.remote import Identity, RemoteStore
from docket.client.transport import RetryPolicy
from docket.errors import DocketError
from docket.sdk import session


@click.command()
@click.option(
    "--base-url",
    envvar="DOCKET_BASE_URL",
    help="The tracking server, e.g. http://tracker:8080; defaults to DOCKET_BASE_URL.",
)
@click.option(
    "--key",
    envvar="DOCKET_API_KEY",
    help="The API key (`docket admin create-user` prints one); asked for if absent.",
)
def login(base_url: str | None, key: str | None) -> None:
    """Verify an API key with the server, then save URL and key for this user."""
    settings = session.current_settings()
    base_url = (base_url or settings.base_url or "").rstrip("/")
    if not base_url:
        base_url = click.prompt("Tracking server URL").rstrip("/")
    if not key:
        key = click.prompt("API key", hide_input=True)
    try:
        identity = _whoami(base_url, key)
    except (DocketError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    path = save_credentials(
        settings.home, Credentials(base_url, key, user=identity.user)
    )
    entities = ", ".join(identity.entities) or identity.user
    click.echo(f"logged in to {base_url} as {identity.user} (entities: {entities})")
    click.echo(f"saved to {path}")


def _whoami(base_url: str, key: str) -> Identity:
    # One quick attempt: a wrong URL should fail now, not after a minute.
    store = RemoteStore(base_url, key, retry=RetryPolicy(attempts=2))
    return store.whoami()
