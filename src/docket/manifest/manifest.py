"""The manifest: every entry of an artifact version, keyed by its logical path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from docket.manifest.entry import ManifestEntry

FORMAT_VERSION = 1


class Manifest:
    """A mapping of logical path to entry, with the artifact digest derived from it."""

    def __init__(self, entries: Iterable[ManifestEntry] = ()) -> None:
        self.entries: dict[str, ManifestEntry] = {e.path: e for e in entries}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries.values())

    def __contains__(self, path: object) -> bool:
        return path in self.entries

    @property
    def size(self) -> int:
        """Total bytes of the entries whose size is known."""
        return sum(e.size for e in self.entries.values() if e.size is not None)

    @property
    def has_references(self) -> bool:
        return any(e.ref is not None for e in self.entries.values())

    def digest(self) -> str:
        """A digest of the sorted entries: equal content gives an equal digest.

        Only what identifies the bytes counts: path, digest, and for references the
        URI and the pinned version. Sizes and timestamps follow from those.
        """
        sha = hashlib.sha256()
        for path in sorted(self.entries):
            entry = self.entries[path]
            fields = (path, entry.digest, entry.ref or "", entry.version_id or "")
            sha.update("\0".join(fields).encode())
            sha.update(b"\n")
        return f"sha256:{sha.hexdigest()}"

    def to_json(self) -> bytes:
        entries = [self.entries[p].to_dict() for p in sorted(self.entries)]
        document: dict[str, Any] = {"format": FORMAT_VERSION, "entries": entries}
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        document = json.loads(raw)
        return cls(ManifestEntry.from_dict(item) for item in document["entries"])
