"""Bringing back the bytes of a version: stored files and references alike.

Every file is written under a temporary name and renamed once its size (and MD5,
where the entry knows one) matched, so an interrupted download never leaves a
file that looks complete. Files already in place with the right digest are left
untouched; fetched references go through a content-addressed cache.

Downloads of references are hard links into that cache when the file system
allows it (else copies), and cache files are read-only: an in-place edit of a
download fails with a permission error rather than changing the other copies.
Replacing the file (what editors and ``open(path, "w")`` on a new path do) is
fine. A process that ignores permissions (root) can still alter a cache file
through a link; the next download notices the changed mtime, re-hashes and
fetches the file again. ``DOCKET_DOWNLOAD_LINKS=copy`` makes every download
an independent, writable copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from docket.errors import (
    DocketError,
    ReferenceChangedError,
    ReferenceMissingError,
    ValidationError,
)
from docket.manifest import ManifestEntry
from docket.manifest.paths import clean_entry_path
from docket.progress import ProgressCallback
from docket.storage import Backend, ObjectRef, backend_for
from docket.storage.hashcache import HashCache, hash_with_cache
from docket.storage.hashing import FileStat
from docket.store.protocol import BlobAPI

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 16


@dataclass
class DownloadReport:
    """What a download did, file by file."""

    fetched: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def target_path(root: Path, entry_path: str) -> Path:
    """Where an entry lands under ``root``; refuses paths that would escape it."""
    return root / clean_entry_path(entry_path)


class HashingWriter:
    """A binary sink that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO, on_progress: ProgressCallback | None) -> None:
        self.raw = raw
        self.md5 = hashlib.md5()
        self.size = 0
        self.on_progress = on_progress

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.size += len(data)
        if self.on_progress is not None:
            self.on_progress(len(data))
        return self.raw.write(data)


class Downloader:
    """Materialises manifest entries under a root folder.

    Work happens in batches so that the hash cache is read and written once per
    download, not once per file: find what is already in place, find what the
    cache holds, transfer the rest concurrently, then record what was written.
    """

    def __init__(
        self,
        *,
        blobs: BlobAPI,
        cache_dir: Path,
        hash_cache: HashCache,
        allow_missing_references: bool = False,
        skip_cache: bool = False,
        on_progress: ProgressCallback | None = None,
        workers: int = DEFAULT_WORKERS,
        link: bool = True,
        version_id: int | None = None,
    ) -> None:
        self.blobs = blobs
        self.version_id = version_id
        self.link = link
        self.cache_dir = cache_dir / "objects"
        self.hash_cache = hash_cache
        self.allow_missing = allow_missing_references
        self.skip_cache = skip_cache
        self.on_progress = on_progress
        self.workers = workers
        self._cached: set[str] = set()
        self._written: list[tuple[FileStat, str]] = []
        self._written_to_cache: list[tuple[FileStat, str]] = []
        self._learned: dict[str, str] = {}
        self._newly_learned: list[tuple[str, str]] = []
        self._folders: set[Path] = set()

    def download(self, entries: Sequence[ManifestEntry], root: Path) -> DownloadReport:
        report = DownloadReport()
        # Plain strings until a file must be written: building a Path per entry
        # costs more than checking 10,000 files that are already in place.
        base = str(root) + "/"
        targets = [(entry, base + clean_entry_path(entry.path)) for entry in entries]
        unknown = [i for e in entries if e.md5 is None and (i := _identity(e))]
        self._learned = self.hash_cache.learned(unknown) if unknown else {}
        present = self._present(targets, root)
        report.present = [e.path for e, _ in targets if e.path in present]
        todo = [(e, Path(t)) for e, t in targets if e.path not in present]
        if not self.skip_cache:
            self._cached = self._in_cache([e for e, _ in todo])
        try:
            self._transfer(todo, report)
        finally:
            self.hash_cache.learn(self._newly_learned)
            self.hash_cache.store(self._written, under=str(root), written=True)
            self.hash_cache.store(
                self._written_to_cache, under=str(self.cache_dir), written=True
            )
        if report.missing:
            log.warning(
                "skipped %d missing references: %s",
                len(report.missing),
                ", ".join(report.missing[:10])
                + (" ..." if len(report.missing) > 10 else ""),
            )
        return report

    def _transfer(
        self, todo: list[tuple[ManifestEntry, Path]], report: DownloadReport
    ) -> None:
        # Entries go to the pool in batches: one task per small file would spend
        # more time handing tasks and the GIL around than copying bytes.
        with ThreadPoolExecutor(self.workers, thread_name_prefix="download") as pool:
            futures = [pool.submit(self._materialize_batch, b) for b in _batches(todo)]
            for future in futures:
                for entry, error in future.result():
                    self._record(entry, error, report, pool)

    def _materialize_batch(
        self, batch: list[tuple[ManifestEntry, Path]]
    ) -> list[tuple[ManifestEntry, DocketError | None]]:
        outcomes: list[tuple[ManifestEntry, DocketError | None]] = []
        for entry, target in batch:
            try:
                self._materialize(entry, target)
                outcomes.append((entry, None))
            except DocketError as exc:
                outcomes.append((entry, exc))
                if not isinstance(exc, ReferenceMissingError) or not self.allow_missing:
                    break  # the download fails: no point in going on
        return outcomes

    def _record(
        self,
        entry: ManifestEntry,
        error: DocketError | None,
        report: DownloadReport,
        pool: ThreadPoolExecutor,
    ) -> None:
        if error is None:
            report.fetched.append(entry.path)
            return
        if isinstance(error, ReferenceMissingError) and self.allow_missing:
            report.missing.append(entry.path)
            return
        pool.shutdown(cancel_futures=True)
        if getattr(error, "path", "") is None:
            error.path = entry.path  # type: ignore[attr-defined]
        raise error

    def _present(
        self, targets: list[tuple[ManifestEntry, str]], root: Path
    ) -> set[str]:
        """Entries whose file is already in place with the recorded digest."""
        candidates = [
            (entry, md5, stat)
            for entry, target in targets
            if (md5 := entry.md5 or self._learned_md5(entry)) is not None
            and (stat := _stat_str(target)) is not None
            and stat.size == entry.size
        ]
        digests = hash_with_cache(
            [s for _, _, s in candidates], self.hash_cache, under=str(root)
        )
        pairs = zip(candidates, digests, strict=True)
        return {e.path for (e, md5, _), d in pairs if d == md5}

    def _md5_of(self, entry: ManifestEntry) -> str | None:
        """The MD5 the entry's bytes must have: recorded, or learned on a fetch."""
        return entry.md5 if entry.md5 is not None else self._learned_md5(entry)

    def _learned_md5(self, entry: ManifestEntry) -> str | None:
        if not self._learned:
            return None
        identity = _identity(entry)
        return self._learned.get(identity) if identity else None

    def _in_cache(self, entries: list[ManifestEntry]) -> set[str]:
        """Cache keys of the checked references whose cached copy is intact."""
        candidates = [
            (key, md5, stat)
            for entry in entries
            if entry.ref is not None
            and (md5 := self._md5_of(entry)) is not None
            and (stat := _stat(self.cache_dir / (key := _cache_key(entry)))) is not None
            and stat.size == entry.size
        ]
        digests = hash_with_cache(
            [s for _, _, s in candidates], self.hash_cache, under=str(self.cache_dir)
        )
        intact = set()
        for (key, md5, _), digest in zip(candidates, digests, strict=True):
            if digest == md5:
                intact.add(key)
            else:
                log.warning("cache file %s was altered; fetching it again", key)
        return intact

    def _materialize(self, entry: ManifestEntry, target: Path) -> None:
        self._ensure_dir(target.parent)
        if entry.ref is None:
            self._copy_blob(entry, target)
        elif not entry.is_checked:
            self._fetch_unchecked(entry, target)
            return
        elif self.skip_cache:
            self._fetch_verified(entry, target)
        else:
            _link_or_copy(self._from_cache(entry), target, link=self.link)
        md5 = self._md5_of(entry)
        if md5 is not None:
            self._written.append((FileStat.of(str(target)), md5))

    def _ensure_dir(self, folder: Path) -> None:
        # Thousands of files share a few folders; mkdir on an existing folder is
        # a failed system call each time, so remember the ones made already.
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)

    def _copy_blob(self, entry: ManifestEntry, target: Path) -> None:
        temporary = _temporary(target)
        try:
            self.blobs.copy_to(entry.digest, temporary, version_id=self.version_id)
            if self.on_progress is not None and entry.size:
                self.on_progress(entry.size)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def _from_cache(self, entry: ManifestEntry) -> Path:
        """The cache file holding the entry's bytes, fetched first if needed."""
        key = _cache_key(entry)
        cached = self.cache_dir / key
        if key not in self._cached:
            self._ensure_dir(cached.parent)
            self._fetch_verified(entry, cached)
            # Downloads are hard links to this file: read-only, so that an
            # in-place edit of one download fails instead of altering the others.
            cached.chmod(0o444)
            md5 = self._md5_of(entry)
            if md5 is not None:
                self._written_to_cache.append((FileStat.of(str(cached)), md5))
        return cached

    def _fetch_verified(self, entry: ManifestEntry, target: Path) -> None:
        assert entry.ref is not None
        ref = ObjectRef(
            uri=entry.ref,
            version_id=entry.version_id,
            etag=entry.etag,
            size=entry.size,
            endpoint=entry.endpoint,
            etag_weak=entry.etag_weak,
            last_modified=entry.last_modified,
        )
        temporary = _temporary(target)
        try:
            with open(temporary, "wb") as raw:
                sink = HashingWriter(raw, self.on_progress)
                _backend(entry.ref).fetch(ref, sink)
            _check(entry, sink)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        identity = _identity(entry) if entry.md5 is None else None
        if identity:
            md5 = sink.md5.hexdigest()
            self._learned[identity] = md5
            self._newly_learned.append((identity, md5))

    def _fetch_unchecked(self, entry: ManifestEntry, target: Path) -> None:
        # Logged with checksum=False: fetch whatever is there now, since nothing
        # recorded can vouch for it.
        assert entry.ref is not None
        log.warning(
            "%s was logged without checksums; its bytes cannot be verified", entry.ref
        )
        backend = _backend(entry.ref)
        for info in list(backend.resolve(entry.ref, max_objects=1_000_000)):
            dest = target_path(target, info.name) if info.name else target
            self._ensure_dir(dest.parent)
            temporary = _temporary(dest)
            with open(temporary, "wb") as raw:
                ref = ObjectRef(info.uri, info.version_id, endpoint=info.endpoint)
                backend.fetch(ref, HashingWriter(raw, self.on_progress))
            os.replace(temporary, dest)


BATCH_FILES = 64
BATCH_BYTES = 8 << 20


def _batches(
    todo: list[tuple[ManifestEntry, Path]],
) -> list[list[tuple[ManifestEntry, Path]]]:
    """Group small entries (up to 64 files or 8 MiB); a large entry goes alone."""
    batches: list[list[tuple[ManifestEntry, Path]]] = []
    current: list[tuple[ManifestEntry, Path]] = []
    nbytes = 0
    for item in todo:
        size = item[0].size or 0
        if current and (len(current) >= BATCH_FILES or nbytes + size > BATCH_BYTES):
            batches.append(current)
            current, nbytes = [], 0
        current.append(item)
        nbytes += size
    if current:
        batches.append(current)
    return batches


def _stat_str(path: str) -> FileStat | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return FileStat(path, st.st_size, st.st_mtime_ns, st.st_ino)


def _stat(path: Path) -> FileStat | None:
    return _stat_str(str(path))


def _backend(uri: str) -> Backend:
    backend = backend_for(uri)
    if backend is None:
        raise ValidationError(
            f"{uri} uses a scheme docket only tracks by name; it cannot be downloaded"
        )
    return backend


def _check(entry: ManifestEntry, sink: HashingWriter) -> None:
    assert entry.ref is not None
    if entry.size is not None and sink.size != entry.size:
        raise ReferenceChangedError(
            entry.ref,
            f"{entry.size} bytes",
            f"{sink.size} bytes",
            path=entry.path,
            pinned=entry.version_id is not None,
        )
    found = sink.md5.hexdigest()
    if entry.md5 is not None and found != entry.md5:
        raise ReferenceChangedError(
            entry.ref,
            f"md5 {entry.md5}",
            f"md5 {found}",
            path=entry.path,
            pinned=entry.version_id is not None,
        )


def _identity(entry: ManifestEntry) -> str | None:
    """A name for the exact bytes a pinned reference stands for, if it has one."""
    if entry.ref is None or not entry.is_checked or entry.md5 is not None:
        return None
    return "\0".join((entry.ref, entry.version_id or "", entry.digest))


def _cache_key(entry: ManifestEntry) -> str:
    if entry.md5 is not None:
        key = f"md5-{entry.md5}"
    else:
        identity = "\0".join((entry.ref or "", entry.version_id or "", entry.digest))
        key = "ref-" + hashlib.sha256(identity.encode()).hexdigest()
    return f"{key[4:6]}/{key}"


def _temporary(target: Path) -> Path:
    return target.with_name(
        f".{target.name}.docket-{os.getpid()}-{os.urandom(3).hex()}"
    )


def _link_or_copy(source: Path, target: Path, *, link: bool) -> None:
    temporary = _temporary(target)
    try:
        if not link:
            raise OSError("copies requested")
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    os.replace(temporary, target)
