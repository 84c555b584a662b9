"""A content-addressed folder of stored files and manifests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from docket.errors import IntegrityError, NotFoundError, StorageError
from docket.progress import ProgressCallback


class BlobStore:
    """Blobs named by the digest of their content, written atomically.

    Files live under ``md5/ab/cdef...``; manifests under ``manifests/<sha256>``.
    A blob is never modified once written, so readers need no locks.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        algorithm, _, value = key.partition(":")
        if not value or "/" in value or algorithm not in ("md5", "sha256"):
            raise IntegrityError(f"{key!r} is not a blob key such as 'md5:<hex>'")
        folder = "md5" if algorithm == "md5" else "manifests"
        return self.root / folder / value[:2] / value[2:]

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_file(
        self, key: str, source: Path, *, on_progress: ProgressCallback | None = None
    ) -> None:
        """Store ``source`` as ``key``: a hard link when possible, else a copy."""
        target = self.path(key)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = _temporary_name(target)
            try:
                os.link(source, temporary)
            except OSError:
                shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        if on_progress is not None:
            on_progress(source.stat().st_size)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that the store does not hold yet."""
        return {key for key in keys if not self.has(key)}

    def copy_to(
        self, key: str, destination: Path, *, version_id: int | None = None
    ) -> None:
        """Write a copy of blob ``key`` to ``destination`` (never a link: blobs are
        shared by every version that holds the content). Any caller of the
        embedded store may read any version, so ``version_id`` is not needed."""
        try:
            shutil.copyfile(self.path(key), destination)
        except FileNotFoundError:
            raise StorageError(
                f"blob {key} is missing from {self.root}; the store is damaged, "
                f"restore it from a backup"
            ) from None

    def get_bytes(self, key: str, *, version_id: int | None = None) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"blob {key} is missing from {self.root}; the store is damaged, "
                f"restore it from a backup"
            ) from None


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".tmp-{os.getpid()}-{os.urandom(4).hex()}-{target.name}")
