"""MD5 of local files: in parallel across cores, remembered across calls.

hashlib releases the GIL while it digests buffers larger than 2 KiB, so threads
hash on every core; small files are grouped into batches so that scheduling costs
stay below reading costs. The cache keys a digest by (path, size, mtime, inode):
re-adding an unchanged folder reads no file content at all.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

CHUNK = 1 << 20
BATCH_BYTES = 4 << 20
BATCH_FILES = 256
# A file modified within this many seconds of being hashed may change again
# without its mtime moving (coarse timestamps); such digests are not cached.
RACY_SECONDS = 1.0


class FileStat(NamedTuple):
    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str) -> FileStat:
        st = os.stat(path)
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)


def md5_file(path: str, size_hint: int = CHUNK) -> tuple[str, int]:
    """The MD5 hex digest of the file at ``path`` and the number of bytes read."""
    with open(path, "rb", buffering=0) as handle:
        if size_hint < CHUNK:
            # One read covers a small file; a 1 MiB buffer would cost more than it.
            first = handle.read(size_hint + 1)
            if len(first) <= size_hint:
                return hashlib.md5(first).hexdigest(), len(first)
            md5, total = hashlib.md5(first), len(first)
        else:
            md5, total = hashlib.md5(), 0
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            md5.update(view[:count])
            total += count
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
    digest, size = md5_file(stat.path, stat.size)
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

    Files are grouped by the folder they were hashed under: one row holds the
    whole folder as a marshalled mapping, so checking 10,000 unchanged files is
    one indexed read instead of 10,000 row reads. The cache is an optimisation
    only: when it cannot be read or written, docket logs a warning and hashes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS folders (root TEXT PRIMARY KEY, files BLOB)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS learned (identity TEXT PRIMARY KEY, md5 TEXT) "
            "WITHOUT ROWID"
        )
        return conn

    def learned(self, identities: Sequence[str]) -> dict[str, str]:
        """MD5s learned while downloading remote objects, by object identity.

        An identity names immutable bytes (a URI with its version or ETag), so the
        MD5 of bytes fetched once under it vouches for local copies later.
        """
        found: dict[str, str] = {}
        try:
            with closing(self._connect()) as conn:
                for start in range(0, len(identities), 500):
                    chunk = identities[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    found.update(
                        conn.execute(
                            "SELECT identity, md5 FROM learned "
                            f"WHERE identity IN ({marks})",
                            chunk,
                        ).fetchall()
                    )
        except sqlite3.Error as exc:
            log.warning("hash cache %s unreadable (%s)", self.path, exc)
        return found

    def learn(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Remember the MD5 of bytes fetched under each identity."""
        if not pairs:
            return
        try:
            with closing(self._connect()) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO learned VALUES (?, ?)", pairs)
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("hash cache %s not updated (%s)", self.path, exc)

    def lookup(
        self, stats: Sequence[FileStat], under: str | None = None
    ) -> dict[str, str]:
        """Digests of the files in ``stats`` whose recorded stat still matches.

        ``under`` names the folder the files were hashed under (by default
        their common path); it must match the one given to ``store``.
        """
        if not stats:
            return {}
        try:
            with closing(self._connect()) as conn:
                known = self._load(conn, under or _common_root(stats))
        except (sqlite3.Error, ValueError, EOFError, TypeError) as exc:
            log.warning(
                "hash cache %s unreadable (%s); hashing every file", self.path, exc
            )
            return {}
        hits: dict[str, str] = {}
        for stat in stats:
            row = known.get(stat[0])
            if row is not None and row[0] == stat[1] and row[1:3] == stat[2:]:
                hits[stat[0]] = row[3]
        return hits

    def store(
        self,
        items: Iterable[tuple[FileStat, str]],
        *,
        under: str | None = None,
        written: bool = False,
    ) -> None:
        """Remember digests, except those of files modified a moment ago.

        ``written`` marks files docket wrote itself from bytes it verified; their
        digests are known exactly, so even a fresh mtime is trusted.
        """
        horizon = time.time_ns() - (0 if written else int(RACY_SECONDS * 1e9))
        fresh = [(s, d) for s, d in items if s.mtime_ns < horizon]
        if not fresh:
            return
        root = under or _common_root([s for s, _ in fresh])
        try:
            with closing(self._connect()) as conn:
                conn.execute("BEGIN IMMEDIATE")
                known = self._load(conn, root)
                for s, digest in fresh:
                    known[s.path] = (s.size, s.mtime_ns, s.inode, digest)
                conn.execute(
                    "INSERT OR REPLACE INTO folders VALUES (?, ?)",
                    (root, marshal.dumps(known)),
                )
                conn.execute("COMMIT")
        except (sqlite3.Error, ValueError, EOFError, TypeError) as exc:
            log.warning("hash cache %s not updated (%s)", self.path, exc)

    @staticmethod
    def _load(
        conn: sqlite3.Connection, root: str
    ) -> dict[str, tuple[int, int, int, str]]:
        row = conn.execute(
            "SELECT files FROM folders WHERE root = ?", (root,)
        ).fetchone()
        if row is None:
            return {}
        known: dict[str, tuple[int, int, int, str]] = marshal.loads(row[0])
        return known


def _common_root(stats: Sequence[FileStat]) -> str:
    if len(stats) == 1:
        return stats[0].path
    return os.path.commonpath([s.path for s in stats])


def hash_with_cache(
    stats: Sequence[FileStat],
    cache: HashCache | None,
    *,
    under: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[str]:
    """MD5 of every file, reading only those the cache does not vouch for."""
    hits = cache.lookup(stats, under) if cache is not None else {}
    misses = [s for s in stats if s.path not in hits]
    if on_progress is not None and hits:
        on_progress(sum(s.size for s in stats if s.path in hits))
    fresh = md5_files(misses, on_progress=on_progress)
    if cache is not None and misses:
        cache.store(zip(misses, fresh, strict=True), under=under)
    computed = dict(zip((s.path for s in misses), fresh, strict=True))
    return [hits.get(s.path) or computed[s.path] for s in stats]
