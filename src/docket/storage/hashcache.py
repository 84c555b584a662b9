"""A cache of local files' MD5s, so that unchanged files are never read twice.

A digest is keyed by (path, size, mtime, inode). Files are grouped by the folder
they were hashed under: one row holds the whole folder as a marshalled mapping,
so checking 10,000 unchanged files is one indexed read instead of 10,000.
"""

from __future__ import annotations

import logging
import marshal
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from pathlib import Path

from docket.storage.hashing import FileStat, md5_files

log = logging.getLogger(__name__)

# A file modified within this many seconds of being hashed may change again
# without its mtime moving (coarse timestamps); such digests are not cached.
RACY_SECONDS = 1.0


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
        # A cache: losing the last write in a power cut costs a re-hash, so
        # commits need not wait for the disk.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS snapshots (root TEXT PRIMARY KEY, files BLOB)"
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
        # Keys are whole (path, size, mtime_ns, inode) tuples: a FileStat hashes
        # and compares as its tuple, so one dict probe checks all four.
        get = known.get
        return {s[0]: d for s in stats if (d := get(s)) is not None}

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
                paths = {s.path for s, _ in fresh}
                known = {
                    key: digest
                    for key, digest in self._load(conn, root).items()
                    if key[0] not in paths
                }
                known.update(
                    ((s.path, s.size, s.mtime_ns, s.inode), d) for s, d in fresh
                )
                conn.execute(
                    "INSERT OR REPLACE INTO snapshots VALUES (?, ?)",
                    (root, marshal.dumps(known)),
                )
                conn.execute("COMMIT")
        except (sqlite3.Error, ValueError, EOFError, TypeError) as exc:
            log.warning("hash cache %s not updated (%s)", self.path, exc)

    @staticmethod
    def _load(
        conn: sqlite3.Connection, root: str
    ) -> dict[tuple[str, int, int, int], str]:
        row = conn.execute(
            "SELECT files FROM snapshots WHERE root = ?", (root,)
        ).fetchone()
        if row is None:
            return {}
        known: dict[tuple[str, int, int, int], str] = marshal.loads(row[0])
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
