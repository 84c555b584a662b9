"""``file://`` references: files on a local disk or a mounted share (NFS and alike)."""

from __future__ import annotations

import os
import re
import stat as stat_mode
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import quote, unquote

from docket.errors import (
    ReferenceChangedError,
    ReferenceMissingError,
    StorageError,
    TooManyObjectsError,
    ValidationError,
)
from docket.storage.base import ObjectInfo, ObjectRef, Sink
from docket.storage.hashcache import HashCache, hash_with_cache
from docket.storage.hashing import CHUNK, FileStat

ProgressCallback = Callable[[int], None]


_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/._~+=,@!$&'()*;-]")


def path_of(uri: str) -> str:
    """The absolute local path a ``file://`` URI names (percent-escapes decoded)."""
    rest = uri[len("file://") :] if uri[:7].lower() == "file://" else ""
    host, slash, path = rest.partition("/")
    if not slash or host not in ("", "localhost"):
        raise ValidationError(
            f"{uri!r} is not a local path; file:// references need three slashes "
            f"and an absolute path, e.g. 'file:///mount/datasets/mnist'"
        )
    # '?' and '#' are part of the file name here: paths are never queried.
    return os.path.normpath("/" + unquote(path))


def uri_of(path: str) -> str:
    """The ``file://`` URI of an absolute path, escaped so that it reads back."""
    if _NEEDS_QUOTING.search(path):
        path = quote(path, safe="/")
    return "file://" + path


class LocalBackend:
    """Lists, hashes and copies local files."""

    def __init__(
        self,
        hash_cache: HashCache | None = None,
        on_progress: ProgressCallback | None = None,
        on_total: ProgressCallback | None = None,
    ) -> None:
        self.hash_cache = hash_cache
        self.on_progress = on_progress
        self.on_total = on_total

    def resolve(self, uri: str, *, max_objects: int) -> Iterator[ObjectInfo]:
        root = path_of(uri)
        stats = self.list_files(root, uri=uri, max_objects=max_objects)
        if self.on_total is not None:
            self.on_total(sum(s.size for _, s in stats))
        digests = hash_with_cache(
            [s for _, s in stats],
            self.hash_cache,
            under=root,
            on_progress=self.on_progress,
        )
        root_uri = uri_of(root)
        for (name, st), digest in zip(stats, digests, strict=True):
            # Positional arguments: this loop runs once per file of a folder.
            yield ObjectInfo(
                uri_of(st.path) if name else root_uri,
                name,
                st.size,
                None,
                False,
                None,
                {"md5": digest},
                str(st.mtime_ns),
            )

    def list_files(
        self, root: str, *, uri: str, max_objects: int
    ) -> list[tuple[str, FileStat]]:
        """``(relative name, stat)`` of the file at ``root`` or every file below."""
        try:
            st = os.stat(root)
        except FileNotFoundError:
            raise ReferenceMissingError(uri) from None
        except OSError as exc:
            raise StorageError(f"cannot read {root}: {exc.strerror}") from exc
        if stat_mode.S_ISREG(st.st_mode):
            return [("", FileStat(root, st.st_size, st.st_mtime_ns, st.st_ino))]
        if not stat_mode.S_ISDIR(st.st_mode):
            raise ValidationError(f"{uri} is neither a file nor a directory")
        found: list[tuple[str, FileStat]] = []
        self._walk(root, "", {(st.st_dev, st.st_ino)}, found, uri, max_objects)
        found.sort()  # names are unique, so tuples order by name alone
        return found

    def _walk(
        self,
        folder: str,
        prefix: str,
        ancestors: set[tuple[int, int]],
        found: list[tuple[str, FileStat]],
        uri: str,
        max_objects: int,
    ) -> None:
        # Symlinks are followed; a directory that is its own ancestor is skipped,
        # so a link loop ends instead of recursing forever.
        with os.scandir(folder) as it:
            entries = list(it)
        for entry in entries:
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # a dangling symlink or a file deleted while listing
            name = prefix + entry.name
            if stat_mode.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key not in ancestors:
                    sub = ancestors | {key}
                    self._walk(entry.path, name + "/", sub, found, uri, max_objects)
            elif stat_mode.S_ISREG(st.st_mode):
                found.append(
                    (name, FileStat(entry.path, st.st_size, st.st_mtime_ns, st.st_ino))
                )
                if len(found) > max_objects:
                    raise TooManyObjectsError(uri, len(found), max_objects)

    def fetch(self, ref: ObjectRef, sink: Sink) -> ObjectInfo:
        path = path_of(ref.uri)
        try:
            with open(path, "rb") as source:
                size = _copy(source, sink)
        except (FileNotFoundError, IsADirectoryError):
            raise ReferenceMissingError(ref.uri) from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
        if ref.size is not None and size != ref.size:
            raise ReferenceChangedError(ref.uri, f"{ref.size} bytes", f"{size} bytes")
        return ObjectInfo(uri=ref.uri, name="", size=size)

    def stat(self, ref: ObjectRef) -> ObjectInfo:
        path = path_of(ref.uri)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise ReferenceMissingError(ref.uri) from None
        return ObjectInfo(
            uri=ref.uri, name="", size=st.st_size, last_modified=str(st.st_mtime_ns)
        )


def _copy(source: BinaryIO, sink: Sink) -> int:
    total = 0
    while chunk := source.read(CHUNK):
        sink.write(chunk)
        total += len(chunk)
    return total
