"""MD5 of local files, on every core.

Large files are hashed by threads: hashlib releases the GIL while it digests, so
two threads keep two cores busy. Small files are dominated by per-file Python
work, which threads cannot spread; a folder of thousands of small files is split
between forked workers (``docket.storage.forking``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from docket.storage.forking import run_shares

log = logging.getLogger(__name__)

CHUNK = 1 << 20
SMALL = 1 << 20
# Below this many small files a fork costs more than it saves.
FORK_MIN_FILES = 2000


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
    """MD5 of every file, in order; a file that changed meanwhile is read again."""
    workers = workers or os.cpu_count() or 1
    results: list[str] = [""] * len(stats)
    small = [i for i, s in enumerate(stats) if s.size < SMALL]
    large = [i for i, s in enumerate(stats) if s.size >= SMALL]
    # Small files first: forking is only safe before the pool starts its threads.
    _hash_small(stats, small, results, workers, on_progress)
    if large:
        with ThreadPoolExecutor(workers, thread_name_prefix="md5") as pool:
            futures = [
                pool.submit(_hash_large, stats[i], results, i, on_progress)
                for i in large
            ]
            for future in futures:
                future.result()
    return results


def _hash_large(
    stat: FileStat,
    results: list[str],
    index: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    results[index] = _md5_stable(stat)
    if on_progress is not None:
        on_progress(stat.size)


def _md5_stable(stat: FileStat) -> str:
    digest, size = md5_file(stat.path, stat.size)
    if size != stat.size:
        log.warning("%s changed while it was hashed; hashing it again", stat.path)
        digest, size = md5_file(stat.path)
    return digest


def _md5_small_run(stats: Sequence[FileStat]) -> list[str]:
    """MD5 of small files in one tight loop: one open, read and close per file."""
    md5, open_, read, close, flags = (
        hashlib.md5,
        os.open,
        os.read,
        os.close,
        os.O_RDONLY,
    )
    digests = []
    for stat in stats:
        fd = open_(stat[0], flags)
        try:
            data = read(fd, stat[1] + 1)
        finally:
            close(fd)
        digests.append(
            md5(data).hexdigest() if len(data) == stat[1] else _md5_stable(stat)
        )
    return digests


def _hash_small(
    stats: Sequence[FileStat],
    indexes: list[int],
    results: list[str],
    workers: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    shares = [indexes[k::workers] for k in range(workers)] if workers > 1 else [indexes]
    shares = [share for share in shares if share]
    if len(indexes) < FORK_MIN_FILES:
        shares = [indexes]
    digests = run_shares(
        _md5_small_run, [[stats[i] for i in share] for share in shares]
    )
    for share, share_digests in zip(shares, digests, strict=True):
        for i, digest in zip(share, share_digests, strict=True):
            results[i] = digest
    if on_progress is not None:
        on_progress(sum(stats[i].size for i in indexes))
