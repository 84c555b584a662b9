"""Everything a request handler works with, opened once per server process."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from docket.server.manifests import ManifestIndex
from docket.server.settings import ServerSettings
from docket.store.blobs import BlobStore
from docket.store.database import driver_url, open_engine
from docket.store.identity import IdentityStore
from docket.store.metadata import MetadataStore
from docket.store.protocol import BlobAPI

log = logging.getLogger("docket.server")

_STALE_SPOOL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ServerContext:
    """The stores behind the API: the same ``MetadataStore`` the embedded SDK uses."""

    settings: ServerSettings
    metadata: MetadataStore
    identity: IdentityStore
    blobs: BlobAPI
    manifests: ManifestIndex
    spool_dir: Path


def open_context(settings: ServerSettings) -> ServerContext:
    """Open (and migrate) the database and the blob store named by ``settings``."""
    engine = open_engine(
        settings.database_url,
        lock_dir=_sqlite_folder(settings.database_url),
        pool_size=settings.pool_size,
    )
    blobs = open_blobs(settings.blobs_uri)
    spool = settings.spool_dir or _default_spool(blobs)
    spool.mkdir(parents=True, exist_ok=True)
    _remove_stale_uploads(spool)
    return ServerContext(
        settings=settings,
        metadata=MetadataStore(engine),
        identity=IdentityStore(engine),
        blobs=blobs,
        manifests=ManifestIndex(blobs, max_entries=settings.max_manifest_entries),
        spool_dir=spool,
    )


def open_blobs(uri: str) -> BlobAPI:
    """``s3://bucket/prefix`` for a bucket; a folder path or ``file:///path`` else."""
    if uri.startswith("s3://"):
        from docket.server.blobs_s3 import S3BlobStore

        return S3BlobStore(uri)
    path = uri.removeprefix("file://") if uri.startswith("file://") else uri
    return BlobStore(Path(path).expanduser().resolve())


def _sqlite_folder(url: str) -> Path | None:
    parsed = make_url(driver_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).expanduser().resolve().parent


def _default_spool(blobs: BlobAPI) -> Path:
    # Inside the blob folder, uploads are hard-linked into place instead of copied.
    if isinstance(blobs, BlobStore):
        return blobs.root / ".uploads"
    return Path(tempfile.gettempdir()) / "docket-uploads"


def _remove_stale_uploads(spool: Path) -> None:
    """Drop uploads a killed server left behind; live ones are younger than a day."""
    cutoff = time.time() - _STALE_SPOOL_SECONDS
    for leftover in spool.glob(".upload-*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError as exc:
            log.debug("could not remove %s: %s", leftover, exc)
