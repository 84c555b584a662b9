"""Stored files and manifests on a tracking server: ``/api/v1/blobs``.

Uploads stream the file from disk (never whole into memory) and start over
from the first byte when the connection breaks or the server answers 5xx.
Downloads name the version they read for (``?version=``), since the server
only hands out a blob to callers who can read a version that holds it, and
check that the bytes match the key before they count as done.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from docket.client.transport import TRANSFER_TIMEOUT, Body, RetryableError, Transport
from docket.errors import IntegrityError, StorageError, ValidationError
from docket.progress import ProgressCallback

log = logging.getLogger(__name__)

MISSING_BATCH = 10_000
CHUNK = 1 << 20

_Writer = Callable[[Iterator[bytes]], None]


class RemoteBlobs:
    """The ``BlobAPI`` of a tracking server."""

    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def has(self, key: str) -> bool:
        return not self.missing([key])

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` the server does not hold, asked in batches."""
        unique = list(dict.fromkeys(keys))
        found: set[str] = set()
        for start in range(0, len(unique), MISSING_BATCH):
            batch = unique[start : start + MISSING_BATCH]
            answer = self._http.json("POST", "/blobs/missing", body={"keys": batch})
            found.update(answer["missing"])
        return found

    def put_file(
        self, key: str, source: Path, *, on_progress: ProgressCallback | None = None
    ) -> None:
        """Upload ``source`` as ``key``; the server checks the bytes match it."""
        size = source.stat().st_size
        sent = [0]

        def body() -> Iterator[bytes]:
            # A retry re-reads the file from the start; undo the progress the
            # failed attempt reported so the bar never counts a byte twice.
            if on_progress is not None and sent[0]:
                on_progress(-sent[0])
            sent[0] = 0
            with open(source, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    sent[0] += len(chunk)
                    if on_progress is not None:
                        on_progress(len(chunk))
                    yield chunk

        self._put(key, body, size)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._put(key, lambda: [data], len(data))

    def _put(self, key: str, body: Body, size: int) -> None:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
        }
        with self._http.request(
            "PUT",
            _blob_path(key),
            content=body,
            headers=headers,
            timeout=TRANSFER_TIMEOUT,
        ) as response:
            response.read()

    def get_bytes(self, key: str, *, version_id: int | None = None) -> bytes:
        chunks: list[bytes] = []

        def write(stream: Iterator[bytes]) -> None:
            chunks.clear()
            chunks.extend(stream)

        self._get(key, version_id, write)
        return b"".join(chunks)

    def copy_to(
        self, key: str, destination: Path, *, version_id: int | None = None
    ) -> None:
        """Stream blob ``key`` of version ``version_id`` into ``destination``."""

        def write(stream: Iterator[bytes]) -> None:
            with open(destination, "wb") as handle:
                for chunk in stream:
                    handle.write(chunk)

        self._get(key, version_id, write)

    def _get(self, key: str, version_id: int | None, write: _Writer) -> None:
        if version_id is None:
            raise ValidationError(
                f"blob {key} can only be read from a tracking server for a logged "
                f"version; log the artifact or fetch it with docket.Api().artifact()"
            )
        delays = self._http.retry.delays()
        while True:
            try:
                self._get_once(key, version_id, write)
                return
            except RetryableError as retry:
                # The connection broke mid-body (the server restarted, say):
                # start the file again from its first byte.
                delay = next(delays, None)
                if delay is None:
                    raise StorageError(
                        f"reading blob {key} from {self._http.base_url} failed: "
                        f"{retry.reason}; try again"
                    ) from retry.final
                log.warning("reading %s failed (%s); retrying", key, retry.reason)
                time.sleep(delay)

    def _get_once(self, key: str, version_id: int, write: _Writer) -> None:
        check = _Check(key)
        with self._http.request(
            "GET",
            _blob_path(key),
            params={"version": str(version_id)},
            timeout=TRANSFER_TIMEOUT,
        ) as response:
            try:
                write(check.wrap(response.iter_bytes(CHUNK)))
            except httpx.TransportError as exc:
                raise RetryableError(f"{type(exc).__name__}: {exc}", exc) from exc
        check.verify()


class _Check:
    """Hashes what streams through and compares it with an ``md5:`` key."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.md5 = hashlib.md5() if key.startswith("md5:") else None

    def wrap(self, stream: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in stream:
            if self.md5 is not None:
                self.md5.update(chunk)
            yield chunk

    def verify(self) -> None:
        if self.md5 is None:
            return
        found = f"md5:{self.md5.hexdigest()}"
        if found != self.key:
            raise IntegrityError(
                f"the tracking server sent bytes with {found} for blob {self.key}; "
                f"its blob store is damaged, so restore it from a backup"
            )


def _blob_path(key: str) -> str:
    algorithm, _, value = key.partition(":")
    if algorithm not in ("md5", "sha256") or not value.isalnum():
        raise IntegrityError(f"{key!r} is not a blob key such as 'md5:<hex>'")
    return f"/blobs/{quote(key, safe=':')}"
