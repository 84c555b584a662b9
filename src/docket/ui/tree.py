"""A version's entries as folders: what the file browser shows, built once.

Entry paths are flat (``images/train/0001.png``); the browser needs each folder's
subfolders and files, with counts and sizes. :class:`FolderIndex` derives them in
one pass over the manifest, and :class:`IndexCache` keeps the indexes of recently
viewed manifests. A manifest never changes once stored (its key is its digest),
so an index never goes stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from docket.errors import NotFoundError
from docket.manifest import Manifest, ManifestEntry


@dataclass(slots=True)
class Folder:
    """One folder: ``path`` is "" for the root, else ends with "/"."""

    path: str
    folders: dict[str, Folder] = field(default_factory=dict)
    files: list[ManifestEntry] = field(default_factory=list)
    entry_count: int = 0
    size: int = 0

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rpartition("/")[2]

    def subfolders(self) -> list[Folder]:
        return [self.folders[name] for name in sorted(self.folders)]


@dataclass(frozen=True, slots=True)
class Reproducibility:
    """How exactly a version's entries can be brought back, counted per kind.

    ``pinned``: references to an object version (version ID or generation);
    ``digest_only``: references checked by ETag or content MD5, whose bytes are
    gone once the object is overwritten; ``uri_only``: references logged with
    ``checksum=False``, which nothing can check.
    """

    stored: int = 0
    pinned: int = 0
    digest_only: int = 0
    uri_only: int = 0

    @property
    def references(self) -> int:
        return self.pinned + self.digest_only + self.uri_only


class FolderIndex:
    """Every folder of a manifest, keyed by its path."""

    def __init__(self, manifest: Manifest) -> None:
        self.entries = manifest.entries
        self.root = Folder("")
        self.folders: dict[str, Folder] = {"": self.root}
        counts = [0, 0, 0, 0]
        for path in sorted(self.entries):
            entry = self.entries[path]
            self._place(entry)
            counts[_kind(entry)] += 1
        self.reproducibility = Reproducibility(*counts)

    def _place(self, entry: ManifestEntry) -> None:
        size = entry.size or 0
        folder = self.root
        folder.entry_count += 1
        folder.size += size
        parts = entry.path.split("/")
        for depth in range(len(parts) - 1):
            name = parts[depth]
            child = folder.folders.get(name)
            if child is None:
                child = Folder(folder.path + name + "/")
                folder.folders[name] = child
                self.folders[child.path] = child
            child.entry_count += 1
            child.size += size
            folder = child
        folder.files.append(entry)

    def folder(self, path: str) -> Folder:
        key = path.strip("/")
        found = self.folders.get(key + "/" if key else "")
        if found is None:
            raise NotFoundError(f"folder {key!r} holds no entries of this version")
        return found

    def entry(self, path: str) -> ManifestEntry:
        found = self.entries.get(path)
        if found is None:
            raise NotFoundError(
                f"this version has no entry {path!r}; the file browser lists them"
            )
        return found


def _kind(entry: ManifestEntry) -> int:
    """Index into ``Reproducibility``'s fields: stored, pinned, digest, URI only."""
    if entry.ref is None:
        return 0
    if entry.version_id is not None:
        return 1
    return 2 if entry.is_checked else 3


class IndexCache:
    """The folder indexes of recently viewed manifests, bounded by entry count."""

    def __init__(self, max_entries: int = 2_000_000) -> None:
        self.max_entries = max_entries
        self._indexes: OrderedDict[str, FolderIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], Manifest]) -> FolderIndex:
        """The index of manifest ``key``, built from ``load()`` on a miss.

        Concurrent misses on one key build it once; other keys go on meanwhile.
        """
        with self._lock:
            found = self._recent(key)
            if found is not None:
                return found
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                found = self._recent(key)
            if found is None:
                found = FolderIndex(load())
                self._keep(key, found)
        with self._lock:
            self._building.pop(key, None)
        return found

    def _recent(self, key: str) -> FolderIndex | None:
        found = self._indexes.get(key)
        if found is not None:
            self._indexes.move_to_end(key)
        return found

    def _keep(self, key: str, index: FolderIndex) -> None:
        with self._lock:
            self._indexes[key] = index
            total = sum(len(i.entries) for i in self._indexes.values())
            while total > self.max_entries and len(self._indexes) > 1:
                _, dropped = self._indexes.popitem(last=False)
                total -= len(dropped.entries)
