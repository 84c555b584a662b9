"""One file of an artifact: a stored file or a reference to an object elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

NO_CHECKSUMS: Mapping[str, str] = MappingProxyType({})


class ManifestEntry(NamedTuple):
    """What an artifact records about one of its files.

    An immutable record; a named tuple rather than a dataclass because manifests of
    100,000 entries are built in one go and a tuple is three times cheaper to make.

    ``digest`` carries its algorithm: ``md5:<hex>`` for content hashes, ``etag:<etag>``
    for objects known by their ETag, ``lastmod:<time>/<size>`` for web servers that
    send no ETag, ``uri:<uri>`` for references logged without checksums. ``ref`` is
    set for references and ``None`` for stored files.
    """

    path: str
    digest: str
    size: int | None = None
    ref: str | None = None
    version_id: str | None = None
    etag: str | None = None
    etag_weak: bool = False
    checksums: Mapping[str, str] = NO_CHECKSUMS
    last_modified: str | None = None
    endpoint: str | None = None

    @property
    def is_reference(self) -> bool:
        return self.ref is not None

    @property
    def is_checked(self) -> bool:
        """False for references logged with ``checksum=False``: nothing to verify."""
        return not self.digest.startswith("uri:")

    @property
    def md5(self) -> str | None:
        """The content MD5 (hex) when the entry knows it, else ``None``."""
        if self.digest.startswith("md5:"):
            return self.digest[4:]
        return self.checksums.get("md5")

    @property
    def extra(self) -> dict[str, Any]:
        """W&B's view of the entry's metadata: ``etag`` and ``versionID``."""
        extra: dict[str, Any] = {}
        if self.etag is not None:
            extra["etag"] = self.etag
        if self.version_id is not None:
            extra["versionID"] = self.version_id
        return extra

    def renamed(self, path: str) -> ManifestEntry:
        return self._replace(path=path)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "digest": self.digest}
        for key in ("size", "ref", "version_id", "etag", "last_modified", "endpoint"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.etag_weak:
            data["etag_weak"] = True
        if self.checksums:
            data["checksums"] = dict(self.checksums)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestEntry:
        return cls(
            path=data["path"],
            digest=data["digest"],
            size=data.get("size"),
            ref=data.get("ref"),
            version_id=data.get("version_id"),
            etag=data.get("etag"),
            etag_weak=bool(data.get("etag_weak", False)),
            checksums=dict(data["checksums"]) if "checksums" in data else NO_CHECKSUMS,
            last_modified=data.get("last_modified"),
            endpoint=data.get("endpoint"),
        )
