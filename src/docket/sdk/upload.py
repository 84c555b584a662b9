"""Sending the stored files of a new version to the store before it is logged.

The store is asked once which blobs it lacks; only those are sent, a few at a
time, so logging content the store already holds (another version, another
user's artifact) costs one request and no bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from docket.progress import byte_progress
from docket.store.protocol import BlobAPI

log = logging.getLogger(__name__)

UPLOAD_WORKERS = 8


def upload_missing(
    blobs: BlobAPI,
    files: Mapping[str, Path],
    *,
    description: str,
    workers: int = UPLOAD_WORKERS,
) -> list[str]:
    """Store every file of ``files`` (blob key -> path) the store does not hold.

    Returns the keys that were sent.
    """
    todo = sorted(blobs.missing(files))
    if not todo:
        return []
    total = sum(files[key].stat().st_size for key in todo)
    log.debug("uploading %d of %d files (%d bytes)", len(todo), len(files), total)
    with (
        byte_progress(description, total) as advance,
        ThreadPoolExecutor(workers, thread_name_prefix="upload") as pool,
    ):
        futures = [
            pool.submit(blobs.put_file, key, files[key], on_progress=advance)
            for key in todo
        ]
        try:
            for future in futures:
                future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return todo
