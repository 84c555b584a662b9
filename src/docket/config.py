"""Settings read from the environment, resolved once per use."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from docket.client.credentials import Credentials, load_credentials

DEFAULT_PROJECT = "uncategorized"


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True, slots=True)
class Settings:
    """Where docket keeps its store, cache and downloads, and whom it logs for."""

    home: Path
    cache_dir: Path
    artifact_dir: Path
    entity: str
    project: str
    base_url: str | None
    api_key: str | None
    link_downloads: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        home = _env_path("DOCKET_HOME", Path("~/.docket").expanduser())
        base_url, api_key, user = _server(home)
        return cls(
            home=home,
            cache_dir=_env_path("DOCKET_CACHE_DIR", home / "cache"),
            artifact_dir=_env_path("DOCKET_ARTIFACT_DIR", Path("artifacts")),
            entity=os.environ.get("DOCKET_ENTITY") or user or _user_name(),
            project=os.environ.get("DOCKET_PROJECT") or DEFAULT_PROJECT,
            base_url=base_url,
            api_key=api_key,
            link_downloads=_link_downloads(),
        )


def _server(home: Path) -> tuple[str | None, str | None, str | None]:
    """The tracking server's URL, the API key and the user it belongs to.

    DOCKET_BASE_URL and DOCKET_API_KEY win over what ``docket login`` saved; a
    saved key is used only for the server it was saved for. Neither set and
    nothing saved means the embedded store.
    """
    env_url = (os.environ.get("DOCKET_BASE_URL") or "").rstrip("/") or None
    env_key = os.environ.get("DOCKET_API_KEY") or None
    saved = load_credentials(home)
    if saved is None or (env_url is not None and env_url != saved.base_url):
        return env_url, env_key, None
    return saved.base_url, env_key or saved.api_key, _saved_user(saved, env_key)


def _saved_user(saved: Credentials, env_key: str | None) -> str | None:
    # The saved user names the owner of the saved key, not of another one.
    return saved.user if env_key is None or env_key == saved.api_key else None


def _user_name() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return "local"
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return cleaned or "local"


def _link_downloads() -> bool:
    value = os.environ.get("DOCKET_DOWNLOAD_LINKS", "hardlink").lower()
    if value not in ("hardlink", "copy"):
        raise ValueError(
            f"DOCKET_DOWNLOAD_LINKS={value!r}: use 'hardlink' (the default) or 'copy'"
        )
    return value == "hardlink"
