"""Checking a downloaded copy, and the referenced sources, against a manifest.

Each check returns problems as sentences ("<path>: <what is wrong>"), so
``Artifact.verify`` can report all of them at once instead of the first.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from docket.errors import ReferenceMissingError
from docket.manifest import Manifest, ManifestEntry
from docket.sdk import session
from docket.sdk.download import target_path
from docket.storage import ObjectRef, backend_for
from docket.storage.hashcache import hash_with_cache
from docket.storage.hashing import FileStat
from docket.storage.local import path_of

STAT_WORKERS = 16


def extra_files(manifest: Manifest, root: Path) -> list[Path]:
    """Files under ``root`` that are not entries of the manifest."""
    if not root.is_dir():
        return []
    wanted = {str(target_path(root, p)) for p in manifest.entries}
    found = []
    for folder, _dirs, names in os.walk(root):
        for file_name in names:
            path = os.path.join(folder, file_name)
            if path not in wanted:
                found.append(Path(path))
    return found


def local_copy_problems(manifest: Manifest, root: Path) -> list[str]:
    """Missing, extra and altered files of a downloaded copy under ``root``."""
    problems = [f"{p}: extra file" for p in map(str, extra_files(manifest, root))]
    checkable: list[tuple[ManifestEntry, FileStat]] = []
    for entry in manifest:
        try:
            stat = FileStat.of(str(target_path(root, entry.path)))
        except (FileNotFoundError, NotADirectoryError):
            problems.append(f"{entry.path}: missing under {root}")
            continue
        if entry.size is not None and stat.size != entry.size:
            problems.append(f"{entry.path}: {stat.size} bytes, expected {entry.size}")
        elif entry.md5 is not None:
            checkable.append((entry, stat))
    digests = hash_with_cache(
        [s for _, s in checkable], session.hash_cache(), under=str(root)
    )
    for (entry, _), digest in zip(checkable, digests, strict=True):
        if digest != entry.md5:
            problems.append(f"{entry.path}: md5 {digest}, expected {entry.md5}")
    return problems


def reference_problems(manifest: Manifest) -> list[str]:
    """References whose source is gone or no longer holds the logged bytes."""
    local = [e for e in manifest if e.ref and e.ref.startswith("file:")]
    remote = [
        e for e in manifest if e.ref and e.is_checked and not e.ref.startswith("file:")
    ]
    return _local_reference_problems(local) + _remote_reference_problems(remote)


def _local_reference_problems(entries: list[ManifestEntry]) -> list[str]:
    checked: list[tuple[ManifestEntry, FileStat]] = []
    problems: list[str] = []
    for entry in entries:
        if entry.md5 is None or entry.ref is None:
            continue
        try:
            checked.append((entry, FileStat.of(path_of(entry.ref))))
        except (FileNotFoundError, NotADirectoryError):
            problems.append(f"{entry.path}: reference {entry.ref} is gone")
    digests = hash_with_cache([s for _, s in checked], session.hash_cache())
    for (entry, _), digest in zip(checked, digests, strict=True):
        if digest != entry.md5:
            problems.append(
                f"{entry.path}: reference {entry.ref} changed "
                f"(md5 {digest}, expected {entry.md5})"
            )
    return problems


def _remote_reference_problems(entries: list[ManifestEntry]) -> list[str]:
    """Stat every remote reference, concurrently, and compare with the manifest."""
    if not entries:
        return []
    with ThreadPoolExecutor(STAT_WORKERS, thread_name_prefix="verify") as pool:
        return [p for p in pool.map(_remote_problem, entries) if p is not None]


def _remote_problem(entry: ManifestEntry) -> str | None:
    assert entry.ref is not None
    backend = backend_for(entry.ref)
    if backend is None:
        return None
    ref = ObjectRef(
        entry.ref,
        entry.version_id,
        entry.etag,
        entry.size,
        entry.endpoint,
        entry.etag_weak,
        entry.last_modified,
    )
    where = f"{entry.path}: reference {entry.ref}"
    try:
        info = backend.stat(ref)
    except ReferenceMissingError:
        return f"{where} is gone"
    if entry.size is not None and info.size is not None and info.size != entry.size:
        return f"{where} has {info.size} bytes, expected {entry.size}"
    if entry.version_id is None and entry.etag and info.etag != entry.etag:
        return f"{where} has ETag {info.etag}, expected {entry.etag}"
    if (
        entry.etag is None
        and entry.last_modified
        and info.last_modified
        and info.last_modified != entry.last_modified
    ):
        return (
            f"{where} was modified {info.last_modified}, expected {entry.last_modified}"
        )
    return None
