"""The bytes behind a preview: from the blob store, or fetched from a reference.

Every read is bounded: at most ``Limits.max_bytes`` are kept and a fetch that has
not finished after ``Limits.timeout`` seconds is abandoned. References are read
through the storage backends with the server's own credentials, only after the
operator's egress rules allow it, and the bytes are checked against what was
logged: the backend pins the version or the ETag, and the MD5 is compared when
the entry records one and the whole object was read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Literal

from docket.errors import (
    IntegrityError,
    ReferenceChangedError,
    StorageError,
)
from docket.manifest import ManifestEntry
from docket.storage import ObjectInfo, ObjectRef, backend_for
from docket.store.blobs import BlobStore
from docket.store.protocol import StoreAPI
from docket.store.records import VersionRecord
from docket.ui.egress import EgressRules, require_allowed

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# How the bytes are known to be the logged ones, weakest last.
Check = Literal["md5", "version", "etag", "none"]

# Previews run beside request handling; a slow store ties up a worker, not a page.
_POOL = ThreadPoolExecutor(8, thread_name_prefix="docket-preview")


class PreviewTimeoutError(StorageError):
    """A preview fetch did not finish in time."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 8 * MIB
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Fetched:
    """The first bytes of an entry (all of them when ``complete``)."""

    data: bytes
    complete: bool
    check: Check


class _EnoughError(Exception):
    """Raised by the sink to stop a fetch once the preview has its bytes."""


class _CappedSink:
    """Keeps the first ``cap`` bytes, hashes them, and stops at the deadline."""

    def __init__(self, cap: int, deadline: float) -> None:
        self.cap = cap
        self.deadline = deadline
        self.parts: list[bytes] = []
        self.kept = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes, /) -> int:
        if time.monotonic() > self.deadline:
            raise PreviewTimeoutError("the storage service answered too slowly")
        room = self.cap - self.kept
        self.parts.append(data[:room])
        self.md5.update(data[:room])
        self.kept += min(len(data), room)
        if len(data) > room:
            raise _EnoughError
        return len(data)

    def data(self) -> bytes:
        return b"".join(self.parts)


def fetch_entry(
    store: StoreAPI,
    version: VersionRecord,
    entry: ManifestEntry,
    rules: EgressRules,
    limits: Limits,
) -> Fetched:
    """The first ``limits.max_bytes`` of ``entry``, checked against the manifest.

    Raises ``ReferenceChangedError`` when the bytes differ from what was logged,
    ``ReferenceMissingError`` when the object is gone, ``PreviewRefused`` when
    the egress rules forbid the fetch, and ``PreviewTimeoutError`` past the limit.
    """
    if entry.ref is None:
        return _fetch_stored(store, version, entry, limits)
    require_allowed(entry, rules)
    future = _POOL.submit(_fetch_reference, entry, limits)
    try:
        return future.result(timeout=limits.timeout + 1)
    except FutureTimeout:
        # The worker stops at its next write; one stuck in connect stays
        # until the backend's own timeout, but the page does not wait for it.
        raise PreviewTimeoutError(
            f"{entry.ref} did not answer within {limits.timeout:.0f} s"
        ) from None


def _fetch_stored(
    store: StoreAPI, version: VersionRecord, entry: ManifestEntry, limits: Limits
) -> Fetched:
    blobs = store.blobs
    if isinstance(blobs, BlobStore):
        data = _read_head(blobs, entry.digest, limits.max_bytes + 1)
    elif entry.size is not None and entry.size <= limits.max_bytes:
        data = blobs.get_bytes(entry.digest, version_id=version.id)
    else:
        # Other blob stores hand out whole blobs only: too much to hold here.
        return Fetched(b"", complete=False, check="none")
    complete = len(data) <= limits.max_bytes
    data = data[: limits.max_bytes]
    if complete and entry.md5 is not None:
        found = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if found != entry.md5:
            raise IntegrityError(
                f"stored file {entry.path} has md5 {found}, expected {entry.md5}; "
                f"the blob store is damaged, restore it from a backup"
            )
    return Fetched(data, complete, "md5" if complete else "none")


def _read_head(blobs: BlobStore, key: str, size: int) -> bytes:
    try:
        with open(blobs.path(key), "rb") as handle:
            return handle.read(size)
    except FileNotFoundError:
        raise StorageError(
            f"blob {key} is missing from {blobs.root}; the store is damaged, "
            f"restore it from a backup"
        ) from None


def _fetch_reference(entry: ManifestEntry, limits: Limits) -> Fetched:
    assert entry.ref is not None
    backend = backend_for(entry.ref)
    if backend is None:
        raise StorageError(
            f"{entry.ref} uses a scheme docket records but cannot read; "
            f"there is nothing to preview"
        )
    sink = _CappedSink(limits.max_bytes, time.monotonic() + limits.timeout)
    started = time.perf_counter()
    try:
        info: ObjectInfo | None = backend.fetch(object_ref(entry), sink)
    except _EnoughError:
        info = None
    log.info(
        "preview fetch %s %d bytes %.0fms",
        entry.ref,
        sink.kept,
        (time.perf_counter() - started) * 1000,
    )
    complete = info is not None
    if complete:
        _compare(entry, sink)
    return Fetched(sink.data(), complete, _check_of(entry, complete))


def object_ref(entry: ManifestEntry) -> ObjectRef:
    """What a backend needs to fetch or stat exactly the object that was logged."""
    assert entry.ref is not None
    if not entry.is_checked:
        return ObjectRef(uri=entry.ref, endpoint=entry.endpoint)
    return ObjectRef(
        uri=entry.ref,
        version_id=entry.version_id,
        etag=entry.etag,
        size=entry.size,
        endpoint=entry.endpoint,
        etag_weak=entry.etag_weak,
        last_modified=entry.last_modified,
    )


def _compare(entry: ManifestEntry, sink: _CappedSink) -> None:
    assert entry.ref is not None
    if entry.size is not None and entry.is_checked and sink.kept != entry.size:
        raise ReferenceChangedError(
            entry.ref, f"{entry.size} bytes", f"{sink.kept} bytes", path=entry.path
        )
    found = sink.md5.hexdigest()
    if entry.md5 is not None and found != entry.md5:
        raise ReferenceChangedError(
            entry.ref, f"md5 {entry.md5}", f"md5 {found}", path=entry.path
        )


def _check_of(entry: ManifestEntry, complete: bool) -> Check:
    if complete and entry.md5 is not None:
        return "md5"
    if entry.version_id is not None:
        return "version"
    if entry.etag is not None and not entry.etag_weak:
        return "etag"
    return "none"


def check_reference_now(entry: ManifestEntry, rules: EgressRules) -> ObjectInfo:
    """The referenced object's current metadata; raises when it changed or is gone.

    Reads no content: the backend's ``stat`` is compared with the manifest, as
    ``Artifact.verify()`` does.
    """
    assert entry.ref is not None
    require_allowed(entry, rules)
    backend = backend_for(entry.ref)
    if backend is None:
        raise StorageError(f"{entry.ref} uses a scheme docket cannot read")
    info = backend.stat(object_ref(entry))
    expected, found = _difference(entry, info)
    if expected is not None and found is not None:
        raise ReferenceChangedError(entry.ref, expected, found, path=entry.path)
    return info


def _difference(
    entry: ManifestEntry, info: ObjectInfo
) -> tuple[str | None, str | None]:
    if not entry.is_checked:
        return None, None
    if entry.size is not None and info.size is not None and info.size != entry.size:
        return f"{entry.size} bytes", f"{info.size} bytes"
    if entry.version_id is None and entry.etag and info.etag != entry.etag:
        return f"etag {entry.etag}", f"etag {info.etag}"
    if (
        entry.etag is None
        and entry.last_modified
        and info.last_modified
        and info.last_modified != entry.last_modified
    ):
        return f"modified {entry.last_modified}", f"modified {info.last_modified}"
    return None, None
