"""Turning a reference URI into manifest entries."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from docket.errors import ValidationError
from docket.manifest import ManifestEntry
from docket.manifest.entry import NO_CHECKSUMS
from docket.manifest.paths import clean_entry_path, join_entry_path
from docket.progress import ProgressCallback
from docket.storage import DEFAULT_MAX_OBJECTS, ObjectInfo, backend_for, scheme_of
from docket.storage.base import strip_secrets
from docket.storage.hashcache import HashCache
from docket.storage.local import LocalBackend


def reference_entries(
    uri: str,
    *,
    name: str | None = None,
    checksum: bool = True,
    max_objects: int | None = None,
    hash_cache: HashCache | None = None,
    on_progress: ProgressCallback | None = None,
    on_total: ProgressCallback | None = None,
) -> list[ManifestEntry]:
    """The entries that track ``uri``: one per object at or under it."""
    scheme = scheme_of(uri)
    limit = DEFAULT_MAX_OBJECTS if max_objects is None else max_objects
    if not isinstance(limit, int) or limit < 1:
        raise ValidationError(
            f"max_objects must be a positive integer, not {max_objects!r}"
        )
    if name is not None:
        name = clean_entry_path(name)
    backend = backend_for(uri)
    if isinstance(backend, LocalBackend):
        backend = LocalBackend(hash_cache, on_progress, on_total)
    if backend is None or not checksum:
        # Nothing is read from storage: the URI itself is what gets recorded,
        # minus any credential it carries (a SAS token, a presigned signature).
        uri = strip_secrets(uri)
        path = name or _basename(uri) or scheme
        return [ManifestEntry(path=path, digest=f"uri:{uri}", ref=uri)]
    objects = backend.resolve(uri, max_objects=limit)
    if scheme == "file":
        return _file_entries(objects, name, uri)
    return [_entry(info, name, uri, content_digest=False) for info in objects]


def _file_entries(
    objects: Iterable[ObjectInfo], name: str | None, uri: str
) -> list[ManifestEntry]:
    """Entries of local files, built in one tight pass (folders hold thousands).

    Names come from a directory walk, so they are clean by construction: no empty,
    "." or ".." segment can appear in them.
    """
    prefix = name + "/" if name else ""
    single = name or clean_entry_path(_basename(uri))
    return [
        ManifestEntry(
            prefix + info.name if info.name else single,
            "md5:" + info.checksums["md5"],
            info.size,
            info.uri,
            last_modified=info.last_modified,
        )
        for info in objects
    ]


def _entry(
    info: ObjectInfo, name: str | None, uri: str, *, content_digest: bool
) -> ManifestEntry:
    """The entry of one object; ``content_digest`` prefers the MD5 over the ETag."""
    if info.name:
        path = join_entry_path(name, info.name)
    else:
        path = name or clean_entry_path(_basename(uri))
    checksums = info.checksums
    md5 = checksums.get("md5")
    if content_digest and md5:
        digest = "md5:" + md5
        if len(checksums) == 1:
            checksums = NO_CHECKSUMS  # the digest already says it
    elif info.etag:
        digest = "etag:" + info.etag
    elif info.last_modified and info.size is not None:
        # A server without ETags: its Last-Modified time and length are all
        # there is to recognise the bytes by.
        digest = f"lastmod:{info.last_modified}/{info.size}"
    else:
        digest = "uri:" + info.uri
    return ManifestEntry(
        path,
        digest,
        info.size,
        info.uri,
        info.version_id,
        info.etag,
        info.etag_weak,
        checksums,
        info.last_modified,
        info.endpoint,
    )


def _basename(uri: str) -> str:
    return unquote(posixpath.basename(urlsplit(uri).path.rstrip("/")))
