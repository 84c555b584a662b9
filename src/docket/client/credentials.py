"""The tracking server and API key ``docket login`` saved, in
``$DOCKET_HOME/credentials.json`` (readable by its owner only)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from docket.errors import ValidationError

FILE_NAME = "credentials.json"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A server's base URL, the key to use there and the user it belongs to."""

    base_url: str
    api_key: str
    user: str | None = None


def credentials_path(home: Path) -> Path:
    return home / FILE_NAME


def load_credentials(home: Path) -> Credentials | None:
    """The saved credentials, or ``None`` when nobody logged in from here."""
    path = credentials_path(home)
    try:
        document = json.loads(path.read_text())
        return Credentials(
            base_url=str(document["base_url"]),
            api_key=str(document["api_key"]),
            user=document.get("user"),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            f"{path} is not a credentials file docket wrote ({exc!r}); delete it "
            f"and run `docket login` again"
        ) from exc


def save_credentials(home: Path, credentials: Credentials) -> Path:
    """Write the credentials atomically, with mode 0600 from the first byte."""
    home.mkdir(parents=True, exist_ok=True)
    path = credentials_path(home)
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(credentials), handle, indent=2)
    os.chmod(temporary, 0o600)  # O_CREAT's mode is narrowed by the umask only
    os.replace(temporary, path)
    return path
