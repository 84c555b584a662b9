"""Sending what a new version needs to the store before it is logged.

The store is asked once which stored files it lacks; only those are sent, a
few at a time, alongside the manifest. Logging content the store already
holds (another version, another user's artifact) costs one request for the
files and no bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docket.manifest import Manifest
from docket.progress import byte_progress
from docket.store.protocol import StoreAPI

log = logging.getLogger(__name__)

UPLOAD_WORKERS = 8


def upload_version(
    store: StoreAPI,
    manifest: Manifest,
    files: Mapping[str, Path],
    *,
    description: str,
    workers: int = UPLOAD_WORKERS,
) -> str:
    """Store the manifest and every file of ``files`` (blob key -> path) the
    store does not hold yet; return the manifest's key."""
    todo = sorted(store.blobs.missing(files)) if files else []
    total = sum(files[key].stat().st_size for key in todo)
    log.debug("uploading %d of %d files (%d bytes)", len(todo), len(files), total)
    with (
        byte_progress(description, total) as advance,
        ThreadPoolExecutor(workers, thread_name_prefix="upload") as pool,
    ):
        # The manifest does not depend on the files: it travels alongside them.
        manifest_key = pool.submit(store.save_manifest, manifest)
        uploads = [
            pool.submit(store.blobs.put_file, key, files[key], on_progress=advance)
            for key in todo
        ]
        _wait_all(pool, [manifest_key, *uploads])
    return manifest_key.result()


def _wait_all(pool: ThreadPoolExecutor, futures: Sequence[Future[Any]]) -> None:
    """Wait for every future; on the first failure, cancel the rest and raise."""
    try:
        for future in futures:
            future.result()
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
