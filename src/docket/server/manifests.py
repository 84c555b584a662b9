"""What the server must know about a manifest: its digest and its stored files.

Manifests are checked when uploaded (their key is their digest) and again before a
version is recorded, and every blob download asks which files a version stores;
summaries are kept in a bounded cache since a manifest never changes.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from docket.errors import NotFoundError, ValidationError
from docket.manifest import Manifest, ManifestEntry
from docket.manifest.paths import clean_entry_path
from docket.server.errors import MissingBlobsError
from docket.store.protocol import BlobAPI
from docket.store.records import NewVersion

_MD5_KEY = re.compile(r"^md5:[0-9a-f]{32}$")
_OPTIONAL_TEXT = ("ref", "version_id")
# About 64 bytes a key: a budget of two million keys stays under ~200 MB.
_CACHE_KEYS = 2_000_000


@dataclass(frozen=True, slots=True)
class ManifestSummary:
    digest: str
    size: int
    entry_count: int
    has_references: bool
    stored_keys: frozenset[str]


def summarize(raw: bytes, *, max_entries: int) -> ManifestSummary:
    """Parse and check a manifest; ``ValidationError`` says what is wrong with it."""
    items = _entry_dicts(raw, max_entries)
    try:
        manifest = Manifest(ManifestEntry.from_dict(item) for item in items)
        stored = {_check_entry(entry) for entry in manifest}
        digest = manifest.digest()
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValidationError(
            f"not a docket manifest ({type(exc).__name__}: {exc}); upload the "
            f"bytes of Manifest.to_json()"
        ) from None
    if len(manifest) != len(items):
        raise ValidationError("the manifest lists one entry path more than once")
    return ManifestSummary(
        digest=digest,
        size=manifest.size,
        entry_count=len(manifest),
        has_references=manifest.has_references,
        stored_keys=frozenset(key for key in stored if key is not None),
    )


def _entry_dicts(raw: bytes, max_entries: int) -> list[Any]:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValidationError("the manifest is not JSON") from None
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValidationError('a manifest is a JSON object with an "entries" list')
    if len(entries) > max_entries:
        raise ValidationError(
            f"the manifest has {len(entries):,} entries; this server accepts at "
            f"most {max_entries:,} per version, so split the artifact"
        )
    return entries


def _check_entry(entry: ManifestEntry) -> str | None:
    """The entry's blob key if the server stores it, after checking its fields."""
    if not isinstance(entry.path, str) or clean_entry_path(entry.path) != entry.path:
        raise ValueError(f"entry path {entry.path!r} is not a clean relative path")
    if not isinstance(entry.digest, str):
        raise TypeError(f"entry {entry.path} has a digest that is not a string")
    if entry.size is not None and (
        not isinstance(entry.size, int)
        or isinstance(entry.size, bool)
        or entry.size < 0
    ):
        raise ValueError(f"entry {entry.path} has size {entry.size!r}")
    for field in _OPTIONAL_TEXT:
        if getattr(entry, field) is not None and not isinstance(
            getattr(entry, field), str
        ):
            raise TypeError(f"entry {entry.path} has a {field} that is not a string")
    if entry.ref is not None:
        return None
    if not _MD5_KEY.match(entry.digest):
        raise ValueError(
            f"stored entry {entry.path} has digest {entry.digest!r}; stored files "
            f"are keyed by md5:<32 hex>"
        )
    return entry.digest


class ManifestIndex:
    """Manifest summaries by key, read from the blob store once and then cached."""

    def __init__(self, blobs: BlobAPI, *, max_entries: int) -> None:
        self.blobs = blobs
        self.max_entries = max_entries
        self._cache: OrderedDict[str, ManifestSummary] = OrderedDict()
        self._cached_keys = 0
        self._lock = threading.Lock()

    def summary(self, key: str) -> ManifestSummary:
        """The summary of stored manifest ``key``; ``NotFoundError`` if absent."""
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        summary = summarize(self.blobs.get_bytes(key), max_entries=self.max_entries)
        self.remember(key, summary)
        return summary

    def remember(self, key: str, summary: ManifestSummary) -> None:
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = summary
            self._cached_keys += len(summary.stored_keys) + 1
            while self._cached_keys > _CACHE_KEYS and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._cached_keys -= len(dropped.stored_keys) + 1

    def check_new_version(self, new: NewVersion) -> None:
        """Refuse a version whose manifest or stored files the server lacks, or
        whose fields disagree with its manifest."""
        try:
            summary = self.summary(new.manifest_key)
        except NotFoundError:
            raise MissingBlobsError(new.name, [new.manifest_key]) from None
        missing = self.blobs.missing(summary.stored_keys)
        if missing:
            raise MissingBlobsError(new.name, list(missing))
        _check_fields(new, summary)


def _check_fields(new: NewVersion, summary: ManifestSummary) -> None:
    expected = {
        "digest": summary.digest,
        "size": summary.size,
        "entry_count": summary.entry_count,
        "has_references": summary.has_references,
    }
    for field, value in expected.items():
        if getattr(new, field) != value:
            raise ValidationError(
                f"{field} is {getattr(new, field)!r} but manifest "
                f"{new.manifest_key} gives {value!r}; send the values computed "
                f"from the manifest"
            )
