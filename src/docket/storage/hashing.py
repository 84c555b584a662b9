"""MD5 of local files: in parallel across cores, remembered across calls.

hashlib releases the GIL while it digests buffers larger than 2 KiB, so threads
hash on every core; small files are grouped into batches so that scheduling costs
stay below reading costs. The cache keys a digest by (path, size, mtime, inode):
re-adding an unchanged folder reads no file content at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK = 1 << 20
BATCH_BYTES = 4 << 20
BATCH_FILES = 256
# A file modified within this many seconds of being hashed may change again
# without its mtime moving (coarse timestamps); such digests are not cached.
RACY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class FileStat:
    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str) -> FileStat:
        st = os.stat(path)
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)


def md5_file(path: str) -> tuple[str, int]:
    """The MD5 hex digest of the file at ``path`` and the number of bytes read."""
    md5 = hashlib.md5()
    total = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        while chunk := os.read(fd, CHUNK):
            md5.update(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    return md5.hexdigest(), total


def md5_files(
    stats: Sequence[FileStat],
    *,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[str]:
    """MD5 of every file, in order; re-reads a file once if it changed meanwhile."""
    batches = _batches(stats)
    workers = workers or min(32, os.cpu_count() or 1)
    results: list[str] = [""] * len(stats)

    def run(batch: range) -> None:
        for i in batch:
            results[i] = _md5_stable(stats[i])
        if on_progress is not None:
            on_progress(sum(stats[i].size for i in batch))

    if workers == 1 or len(batches) == 1:
        for batch in batches:
            run(batch)
        return results
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="md5") as pool:
        for future in [pool.submit(run, b) for b in batches]:
            future.result()
    return results


def _md5_stable(stat: FileStat) -> str:
    digest, size = md5_file(stat.path)
    if size != stat.size:
        log.warning("%s changed while it was hashed; hashing it again", stat.path)
        digest, size = md5_file(stat.path)
    return digest


def _batches(stats: Sequence[FileStat]) -> list[range]:
    """Split indexes into runs of small files; every large file is a run of its own."""
    batches: list[range] = []
    start, nbytes = 0, 0
    for i, stat in enumerate(stats):
        count = i - start
        if count and (nbytes + stat.size > BATCH_BYTES or count >= BATCH_FILES):
            batches.append(range(start, i))
            start, nbytes = i, 0
        nbytes += stat.size
    if start < len(stats):
        batches.append(range(start, len(stats)))
    return batches


class HashCache:
    """Digests of local files keyed by (path, size, mtime, inode), kept in SQLite.

    The cache is an optimisation only: when it cannot be read or written, docket
    logs a warning and hashes the files.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS md5 (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, inode INTEGER, digest TEXT) WITHOUT ROWID"
        )
        return conn

    def lookup(self, stats: Sequence[FileStat]) -> dict[str, str]:
        """Digests of the files in ``stats`` whose recorded stat still matches."""
        if not stats:
            return {}
        low = (
            os.path.commonpath([s.path for s in stats])
            if len(stats) > 1
            else stats[0].path
        )
        try:
            with closing(self._connect()) as conn:
                rows = conn.execute(
                    "SELECT path, size, mtime_ns, inode, digest FROM md5 "
                    "WHERE path >= ? AND path < ?",
                    (low, low + "\U0010ffff"),
                ).fetchall()
        except sqlite3.Error as exc:
            log.warning(
                "hash cache %s unreadable (%s); hashing every file", self.path, exc
            )
            return {}
        known = {row[0]: row[1:] for row in rows}
        hits: dict[str, str] = {}
        for s in stats:
            row = known.get(s.path)
            if row is not None and row[:3] == (s.size, s.mtime_ns, s.inode):
                hits[s.path] = row[3]
        return hits

    def store(
        self, items: Iterable[tuple[FileStat, str]], *, written: bool = False
    ) -> None:
        """Remember digests, except those of files modified a moment ago.

        ``written`` marks files docket wrote itself from bytes it verified; their
        digests are known exactly, so even a fresh mtime is trusted.
        """
        horizon = time.time_ns() - (0 if written else int(RACY_SECONDS * 1e9))
        rows = [
            (s.path, s.size, s.mtime_ns, s.inode, digest)
            for s, digest in items
            if s.mtime_ns < horizon
        ]
        if not rows:
            return
        try:
            with closing(self._connect()) as conn:
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT OR REPLACE INTO md5 VALUES (?, ?, ?, ?, ?)", rows
                )
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("hash cache %s not updated (%s)", self.path, exc)


def hash_with_cache(
    stats: Sequence[FileStat],
    cache: HashCache | None,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> list[str]:
    """MD5 of every file, reading only those the cache does not vouch for."""
    hits = cache.lookup(stats) if cache is not None else {}
    misses = [s for s in stats if s.path not in hits]
    if on_progress is not None and hits:
        on_progress(sum(s.size for s in stats if s.path in hits))
    fresh = md5_files(misses, on_progress=on_progress)
    if cache is not None and misses:
        cache.store(zip(misses, fresh, strict=True))
    computed = dict(zip((s.path for s in misses), fresh, strict=True))
    return [hits.get(s.path) or computed[s.path] for s in stats]
