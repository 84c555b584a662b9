"""What a server process needs to know: its database, its blobs and its limits.

``docket server`` hands these to uvicorn's worker processes through environment
variables, since each worker builds its own application.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from docket.errors import ValidationError

GIB = 1024**3
MIB = 1024**2
MAX_BLOB_BYTES = 50 * GIB
MAX_JSON_BYTES = 64 * MIB
POOL_SIZE = 10
_PREFIX = "DOCKET_SERVER_"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """One server's configuration; every process of a deployment shares it."""

    database_url: str
    blobs_uri: str
    max_blob_bytes: int = MAX_BLOB_BYTES
    max_json_bytes: int = MAX_JSON_BYTES
    max_manifest_entries: int = 1_000_000
    max_missing_keys: int = 10_000
    pool_size: int = POOL_SIZE
    spool_dir: Path | None = None
    # Previews in the web UI may read file:// references and objects on loopback
    # or private addresses only when the operator says so.
    allow_local_previews: bool = False

    @classmethod
    def from_env(cls) -> ServerSettings:
        """Settings a worker process finds in its environment (see ``to_env``)."""
        try:
            database_url = os.environ[f"{_PREFIX}DB"]
            blobs_uri = os.environ[f"{_PREFIX}BLOBS"]
        except KeyError as exc:
            raise ValidationError(
                f"{exc.args[0]} is not set; start the server with "
                f"`docket server --db URL --blobs URI`"
            ) from None
        spool = os.environ.get(f"{_PREFIX}SPOOL_DIR")
        return cls(
            database_url=database_url,
            blobs_uri=blobs_uri,
            max_blob_bytes=_int_env("MAX_BLOB_BYTES", MAX_BLOB_BYTES),
            max_json_bytes=_int_env("MAX_JSON_BYTES", MAX_JSON_BYTES),
            pool_size=_int_env("POOL_SIZE", POOL_SIZE),
            spool_dir=Path(spool) if spool else None,
            allow_local_previews=os.environ.get(f"{_PREFIX}ALLOW_LOCAL_PREVIEWS")
            == "1",
        )

    def to_env(self) -> dict[str, str]:
        env = {
            f"{_PREFIX}DB": self.database_url,
            f"{_PREFIX}BLOBS": self.blobs_uri,
            f"{_PREFIX}MAX_BLOB_BYTES": str(self.max_blob_bytes),
            f"{_PREFIX}MAX_JSON_BYTES": str(self.max_json_bytes),
            f"{_PREFIX}POOL_SIZE": str(self.pool_size),
        }
        if self.spool_dir is not None:
            env[f"{_PREFIX}SPOOL_DIR"] = str(self.spool_dir)
        if self.allow_local_previews:
            env[f"{_PREFIX}ALLOW_LOCAL_PREVIEWS"] = "1"
        return env


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(_PREFIX + name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationError(
            f"{_PREFIX}{name}={value!r} is not a whole number of bytes"
        ) from None
